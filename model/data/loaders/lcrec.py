"""LC-Rec style JSON: `<Name>.inter.json` = {user: [item, ...]} in time order, optional `<Name>.item.json` =
{item: {title, description, brand, categories, ...}}.

Contract: keys are kept as raw ids (strings); item references in sequences are integers or strings and are compared
as strings. With an item file, the catalogue is its keys in raw-id order (items without interactions are kept), the
title is the `title` value and every other string value becomes a field (lists are ", "-joined); items referenced
but not defined raise `DataFormatError` (or are dropped and counted with `on_unknown_item="drop"`). Without an item
file (Amazon Beauty) the catalogue is the set of items seen, with empty titles. Users are ordered by raw id; each
sequence keeps its given order (the files carry no timestamps). Users with an empty list are dropped and counted.
Wrong JSON shapes, duplicate keys and bad values raise `DataFormatError` naming the file, the line and the key.
It knows nothing about where the files come from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from model.data.loaders.common import (
    ProgressFn,
    RawItem,
    UnknownItemMode,
    build_dataset,
    line_of_key,
    open_text,
    raw_id_key,
    read_json,
)
from model.data.records import InteractionDataset
from model.errors import DataFormatError
from model.logs import get_logger

log = get_logger(__name__)

INTER_SUFFIX = ".inter.json"
ITEM_SUFFIX = ".item.json"


def find_lcrec_files(path: Path) -> tuple[Path, Path | None]:
    """(`.inter.json`, `.item.json` or None) for a folder holding exactly one `*.inter.json`, or for that file."""
    if path.is_dir():
        inters = sorted(path.glob("*" + INTER_SUFFIX))
        if len(inters) != 1:
            found = ", ".join(p.name for p in inters) or "none"
            raise DataFormatError(path, f"expected exactly one *{INTER_SUFFIX} file in the folder, found {found}")
        inter = inters[0]
    elif path.is_file() and path.name.endswith(INTER_SUFFIX):
        inter = path
    else:
        raise DataFormatError(path, f"not a folder or a *{INTER_SUFFIX} file")
    item = inter.with_name(inter.name[: -len(INTER_SUFFIX)] + ITEM_SUFFIX)
    return inter, (item if item.is_file() else None)


def load_lcrec(
    path: Path,
    name: str | None = None,
    *,
    on_unknown_item: UnknownItemMode = "error",
    progress: ProgressFn | None = None,
) -> InteractionDataset:
    """Load from a folder holding one `*.inter.json` (and maybe its `*.item.json`), or from the file itself."""
    inter_path, item_path = find_lcrec_files(path)
    catalogue = _read_items(item_path, progress) if item_path is not None else None
    interactions = _read_sequences(inter_path, progress)
    return build_dataset(
        name or inter_path.name[: -len(INTER_SUFFIX)],
        interactions,
        catalogue,
        interactions_path=inter_path,
        on_unknown_item=on_unknown_item,
        locate=lambda user, _position: _line(inter_path, user),
    )


def _text(path: Path) -> str:
    with open_text(path) as handle:
        return handle.read()


def _read_sequences(path: Path, progress: ProgressFn | None) -> dict[str, list[str]]:
    data = read_json(path, progress=progress)
    if not isinstance(data, dict):
        raise DataFormatError(path, f"expected a JSON object {{user: [item, ...]}}, got {type(data).__name__}", line=1)
    out: dict[str, list[str]] = {}
    empty = 0
    for user, seq in data.items():
        if not isinstance(seq, list):
            raise DataFormatError(
                path, f"expected a list of item ids, got {type(seq).__name__}", line=_line(path, user), field=user
            )
        if not seq:
            empty += 1
            continue
        if not all(type(item) is int for item in seq):  # the fast path covers every published file
            _check_ids(path, user, seq)
        out[user] = [str(item) for item in seq]
    if empty:
        log.warning("dropped users with empty sequences", file=str(path), users=empty)
    if not out:
        raise DataFormatError(path, "no interactions in the file")
    return out


def _check_ids(path: Path, user: str, seq: list[Any]) -> None:
    for position, item in enumerate(seq):
        if isinstance(item, bool) or not isinstance(item, int | str) or (isinstance(item, str) and not item.strip()):
            raise DataFormatError(
                path,
                f"item at position {position} is {item!r}; expected an integer or a non-empty string id",
                line=_line(path, user),
                field=user,
            )


def _read_items(path: Path, progress: ProgressFn | None) -> list[RawItem]:
    data = read_json(path, progress=progress)
    if not isinstance(data, dict) or not data:
        raise DataFormatError(path, "expected a non-empty JSON object {item: {title, ...}}", line=1)
    items: list[RawItem] = []
    for raw_id, record in data.items():
        if not isinstance(record, dict):
            raise DataFormatError(
                path, f"expected an object, got {type(record).__name__}", line=_line(path, raw_id), field=raw_id
            )
        title = record.get("title", "")
        if not isinstance(title, str):
            raise DataFormatError(
                path, f"title must be a string, got {title!r}", line=_line(path, raw_id), field=f"{raw_id}.title"
            )
        fields: dict[str, str] = {}
        for key, value in record.items():
            if key == "title":
                continue
            fields[key] = _field_text(path, raw_id, key, value)
        items.append(RawItem(raw_id, title.strip(), fields))
    return sorted(items, key=lambda it: raw_id_key(it.raw_id))


def _field_text(path: Path, raw_id: str, key: str, value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(v.strip() for v in value if v.strip())
    if value is None:
        return ""
    raise DataFormatError(
        path, f"expected text or a list of text, got {value!r:.60}", line=_line(path, raw_id), field=f"{raw_id}.{key}"
    )


def _line(path: Path, key: str) -> int | None:
    """The line where `key` is defined; re-reads the file, which only happens on the way to an error."""
    return line_of_key(_text(path), key)
