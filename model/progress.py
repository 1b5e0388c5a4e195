"""Progress bars for long work, one look for every command.

Contract: `progress()` returns a rich Progress writing to stderr (so stdout stays clean for tables and JSON); callers
update a task's `description` to show status (loss, users/s). GENREC_PROGRESS=0 turns bars off (CI, logs to files).
It knows nothing about the work it shows.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def progress() -> Progress:
    enabled = os.environ.get("GENREC_PROGRESS", "1") != "0"
    console = Console(file=sys.stderr)
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
        transient=False,
    )
