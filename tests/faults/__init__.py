"""Fault injection with real processes: a private redis-server we may kill or pause, the service under uvicorn, the
refresh job as a subprocess, and a client load recording every answer. `python -m tools.faults --help` runs the
scenarios and prints the README's table; tests/test_faults*.py run short versions of the same scenarios."""
