"""How many generated inputs the fuzz and property tests try, and a tally of what they sent.

`examples(default)` is the default run's budget per property, or GENREC_FUZZ_EXAMPLES when set (the bigger run whose
counts the README reports: tools/fuzz_inputs.py). `record(label)` counts one request by label (e.g. operation and
status) when GENREC_FUZZ_COUNTS names a file; the counts are written there as JSON when the process exits."""

from __future__ import annotations

import atexit
import json
import os
from collections import Counter
from pathlib import Path

_COUNTS: Counter[str] = Counter()


def examples(default: int) -> int:
    raw = os.environ.get("GENREC_FUZZ_EXAMPLES")
    return int(raw) if raw else default


def _dump(path: str) -> None:
    Path(path).write_text(json.dumps(dict(sorted(_COUNTS.items())), indent=1))


def record(label: str) -> None:
    path = os.environ.get("GENREC_FUZZ_COUNTS")
    if not path:
        return
    if not _COUNTS:
        atexit.register(_dump, path)
    _COUNTS[label] += 1
