"""The language model side: tiny local models for tests and demos, and adding the code tokens to an LM's vocabulary."""
