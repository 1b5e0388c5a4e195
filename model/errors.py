"""Errors a user can fix (bad input files, bad options): caught at the edges and shown as one clear message.

Contract: a `UserError`'s message alone must tell the user what is wrong and where (file, line, field, value).
"""

from __future__ import annotations

from pathlib import Path


class UserError(Exception):
    """A problem with the user's input or configuration, not a bug."""


class DataFormatError(UserError):
    """A malformed input file: the message names the file, the line (when there is one) and the field."""

    def __init__(self, path: Path | str, problem: str, line: int | None = None, field: str | None = None) -> None:
        where = str(path) + (f":{line}" if line is not None else "")
        what = f" field {field!r}:" if field else ""
        super().__init__(f"{where}:{what} {problem}")
        self.path = Path(path)
        self.line = line
        self.field = field
