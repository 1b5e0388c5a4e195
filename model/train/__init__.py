"""LM fine-tuning on the alignment-task mixture: collation, the trainer with checkpoint/resume, and presets."""
