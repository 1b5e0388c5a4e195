"""Alignment tasks: builders of training samples (prompt + response token ids) from the training split only."""
