"""The input of `genrec catalogue add`: new items as JSON lines, checked line by line before anything is written.

Contract: one JSON object per non-blank line:
    {"id": "B00X1", "title": "Digital caliper", "description": "...", "brand": "...", "embedding": [0.1, ...]}
`id` (a string, or an integer written as one) is required: non-empty, at most 256 characters, no comma (the API's
`exclude` parameter separates ids with commas), no control characters, no surrounding whitespace, and unique in the
file. `title` is an optional string. `embedding` is an optional list of finite numbers: the item's collaborative
embedding, in the space the tokenizer was trained on (SASRec's item embeddings). Every other key is a text field
whose value is a string or a list of strings (joined with ", ", as the dataset loaders do). Anything else raises
`DataFormatError` naming the file, the line and the field. `read_items_file(path)` returns the `NewItem`s in file
order; `read_id_list(path)` reads the input of `catalogue remove` (one id per line, or JSON lines with an `id`).
It knows nothing about artifacts, codes or whether an id already exists.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from model.data.loaders.common import parse_json_line
from model.errors import DataFormatError, UserError

MAX_ID_CHARS = 256
ID_KEY, TITLE_KEY, EMBEDDING_KEY = "id", "title", "embedding"


@dataclass(frozen=True)
class NewItem:
    path: Path  # the file it came from, for messages
    line: int  # 1-based line in that file
    raw_id: str
    title: str
    fields: Mapping[str, str] = field(default_factory=dict)  # text fields, in file order
    embedding: npt.NDArray[np.float32] | None = None  # collaborative embedding, when given

    @property
    def has_text(self) -> bool:
        return bool(self.title.strip()) or any(v.strip() for v in self.fields.values())

    def error(self, problem: str, field: str | None = None) -> DataFormatError:
        return DataFormatError(self.path, f"item {self.raw_id!r}: {problem}", line=self.line, field=field)


def check_item_id(value: Any) -> str:
    """The raw id as a string, or ValueError saying what is wrong with it."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"expected a string id, got {value!r}")
    raw = str(value)
    if not raw or len(raw) > MAX_ID_CHARS:
        raise ValueError(f"an id has 1..{MAX_ID_CHARS} characters, got {len(raw)}")
    if raw != raw.strip():
        raise ValueError(f"id {raw!r} has leading or trailing whitespace")
    if "," in raw:
        raise ValueError(f"id {raw!r} contains a comma (the API separates ids in `exclude` with commas)")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in raw):
        raise ValueError(f"id {raw!r} contains a control character")
    return raw


def read_items_file(path: Path) -> list[NewItem]:
    """Every item of a `catalogue add` file, checked (see the module contract); an empty file is an error."""
    items: list[NewItem] = []
    first_line: dict[str, int] = {}
    for line, rec in _objects(path):
        try:
            raw_id = check_item_id(rec.get(ID_KEY))
        except ValueError as exc:
            raise DataFormatError(path, str(exc), line=line, field=ID_KEY) from None
        if raw_id in first_line:
            raise DataFormatError(
                path, f"id {raw_id!r} already given on line {first_line[raw_id]}", line=line, field=ID_KEY
            )
        first_line[raw_id] = line
        title = rec.get(TITLE_KEY, "")
        if not isinstance(title, str):
            raise DataFormatError(path, f"expected a string, got {title!r}", line=line, field=TITLE_KEY)
        fields: dict[str, str] = {}
        for key, value in rec.items():
            if key in (ID_KEY, TITLE_KEY, EMBEDDING_KEY):
                continue
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                value = ", ".join(value)
            if not isinstance(value, str):
                raise DataFormatError(
                    path, f"a text field is a string or a list of strings, got {value!r}", line=line, field=key
                )
            fields[key] = value
        embedding = _embedding(path, line, rec[EMBEDDING_KEY]) if EMBEDDING_KEY in rec else None
        items.append(NewItem(path, line, raw_id, title, fields, embedding))
    if not items:
        raise DataFormatError(path, "no items in the file (one JSON object per line: id, title, text fields)")
    return items


def _embedding(path: Path, line: int, value: Any) -> npt.NDArray[np.float32]:
    ok = isinstance(value, list) and value and all(type(v) in (int, float) and math.isfinite(v) for v in value)
    if not ok:
        raise DataFormatError(path, "expected a non-empty list of finite numbers", line=line, field=EMBEDDING_KEY)
    return np.asarray(value, dtype=np.float32)


def read_id_list(path: Path) -> list[str]:
    """Item ids, one per non-blank line (a bare id, or a JSON object with an `id`), in file order, checked."""
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    out: list[str] = []
    for line, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = text.strip()
        if not text:
            continue
        value: Any = text
        if text.startswith("{"):
            value = parse_json_line(path, line, text).get(ID_KEY)
        try:
            out.append(check_item_id(value))
        except ValueError as exc:
            raise DataFormatError(path, str(exc), line=line, field=ID_KEY) from None
    if not out:
        raise DataFormatError(path, "no item ids in the file")
    return out


def _objects(path: Path) -> list[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    out = []
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        out.append((line, parse_json_line(path, line, raw)))
    return out
