"""The language model side: loading base LMs, embedding item text in their space, adding code tokens."""
