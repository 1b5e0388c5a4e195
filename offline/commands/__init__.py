"""One module per CLI command; each exposes a typer command function registered in `offline.cli`."""
