"""Benchmark output: one markdown table on stdout and the same rows as JSON, so README numbers come from a file.

Contract: `emit(title, rows, out)` prints a table (columns = the first row's keys, in order) and writes {"title",
"rows", "machine"} (the CPU model, core count, Python, date) to `out` when given. It knows nothing about what was
measured.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from tools.machine import cpu_model


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return "(no rows)"
    cols = list(rows[0].keys())
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(_cell(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def emit(title: str, rows: Sequence[Mapping[str, Any]], out: Path | None) -> None:
    print(f"\n## {title}\n")
    print(markdown_table(rows))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        machine = {
            "cpu": cpu_model(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "when": time.strftime("%F %T"),
        }
        out.write_bytes(
            orjson.dumps({"title": title, "rows": list(rows), "machine": machine}, option=orjson.OPT_INDENT_2)
        )
