"""How many generated inputs the fuzz and property tests try: `examples(default)` is the default run's budget, or
GENREC_FUZZ_EXAMPLES when set (the bigger run whose counts the README reports: scripts/fuzz_inputs.py)."""

from __future__ import annotations

import os


def examples(default: int) -> int:
    raw = os.environ.get("GENREC_FUZZ_EXAMPLES")
    return int(raw) if raw else default
