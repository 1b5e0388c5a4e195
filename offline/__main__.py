"""`python -m offline ...` is the same as the `genrec` command."""

from offline.cli import main

main()
