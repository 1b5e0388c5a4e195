"""RecBole atomic files: `<name>.inter` (+ optional `<name>.item`), tab-separated with a typed header line.

Contract: the header names each column `name:type` (type one of token, token_seq, float, float_seq); columns are
found by name, never by position. `.inter` needs `user_id` and `item_id`; `timestamp` is optional (without it a
user's order is the file order); `rating` and other columns are ignored (every row is one interaction). `.item` needs
`item_id`; the title is `movie_title` or `title` (else ""); `release_year` becomes the field `year`, `class` the field
`genres` (", "-joined); every other column becomes a field under its own name. The catalogue is the item file in
raw-id order (items without interactions are kept); without an item file it is the set of items seen. Users are
ordered by raw id, interactions by timestamp (ties in file order). Rows with the wrong column count, bad numbers,
duplicate item ids and items not defined in the item file raise `DataFormatError` naming file, line and field.
It knows nothing about other formats or where the files come from.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from model.data.loaders.common import (
    ProgressFn,
    RawInteractions,
    RawItem,
    UnknownItemMode,
    build_from_interactions,
    iter_lines,
    raw_id_key,
)
from model.data.records import InteractionDataset
from model.errors import DataFormatError

_TYPES = {"token", "token_seq", "float", "float_seq"}
_TITLE_COLUMNS = ("movie_title", "title")
_RENAMED = {"release_year": "year", "class": "genres"}


def find_recbole_files(path: Path) -> tuple[Path, Path | None]:
    """(`.inter`, `.item` or None) for a folder holding exactly one `*.inter`, or for a `.inter` file itself."""
    if path.is_dir():
        inters = sorted(path.glob("*.inter"))
        if len(inters) != 1:
            found = ", ".join(p.name for p in inters) or "none"
            raise DataFormatError(path, f"expected exactly one *.inter file in the folder, found {found}")
        inter = inters[0]
    elif path.is_file():
        inter = path
    else:
        raise DataFormatError(path, "no such file or folder")
    item = inter.with_suffix(".item")
    return inter, (item if item.is_file() else None)


def load_recbole(
    path: Path,
    name: str | None = None,
    *,
    on_unknown_item: UnknownItemMode = "error",
    progress: ProgressFn | None = None,
) -> InteractionDataset:
    """Load a RecBole dataset from its folder or its `.inter` file (see the module contract)."""
    inter_path, item_path = find_recbole_files(path)
    catalogue = _read_items(item_path, progress) if item_path is not None else None
    interactions = _read_interactions(inter_path, progress)
    return build_from_interactions(
        name or inter_path.stem,
        interactions,
        catalogue,
        interactions_path=inter_path,
        on_unknown_item=on_unknown_item,
    )


def _parse_header(path: Path, line: str, required: tuple[str, ...]) -> list[str]:
    names: list[str] = []
    for column, spec in enumerate(line.split("\t"), start=1):
        name, sep, kind = spec.partition(":")
        if not sep or kind not in _TYPES or not name:
            raise DataFormatError(
                path,
                f"header column {column} is {spec!r}; expected 'name:type' with type in {sorted(_TYPES)}",
                line=1,
                field=name or spec,
            )
        if name in names:
            raise DataFormatError(path, "column appears twice in the header", line=1, field=name)
        names.append(name)
    for name in required:
        if name not in names:
            raise DataFormatError(path, f"header has no {name!r} column (columns: {', '.join(names)})", line=1)
    return names


def _table(
    path: Path, required: tuple[str, ...], progress: ProgressFn | None
) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """(column names, rows): rows are (line number, values) with the header's column count, blank lines skipped."""
    lines = iter_lines(path, progress=progress)
    first = next(lines, None)
    if first is None or not first[1].strip():
        raise DataFormatError(path, "file is empty (expected a typed header line such as 'user_id:token ...')", line=1)
    names = _parse_header(path, first[1], required)

    def rows() -> Iterator[tuple[int, list[str]]]:
        for lineno, line in lines:
            values = line.split("\t")
            if len(values) != len(names):
                if not line.strip():
                    continue
                raise DataFormatError(
                    path,
                    f"expected {len(names)} tab-separated columns ({', '.join(names)}), got {len(values)}",
                    line=lineno,
                    field=names[len(values)] if len(values) < len(names) else None,
                )
            yield lineno, values

    return names, rows()


def _read_interactions(path: Path, progress: ProgressFn | None) -> RawInteractions:
    names, rows = _table(path, ("user_id", "item_id"), progress)
    user_col, item_col = names.index("user_id"), names.index("item_id")
    time_col = names.index("timestamp") if "timestamp" in names else None
    out = RawInteractions()
    for lineno, values in rows:
        user, item = values[user_col].strip(), values[item_col].strip()
        if not user or not item:
            raise DataFormatError(path, "empty id", line=lineno, field="user_id" if not user else "item_id")
        if time_col is None:
            stamp = float(len(out))
        else:
            try:
                stamp = float(values[time_col])
            except ValueError:
                raise DataFormatError(
                    path, f"not a number: {values[time_col]!r}", line=lineno, field="timestamp"
                ) from None
        out.append(user, item, stamp, lineno)
    if not len(out):
        raise DataFormatError(path, "no interactions after the header", line=2)
    return out


def _read_items(path: Path, progress: ProgressFn | None) -> list[RawItem]:
    items: dict[str, RawItem] = {}
    first_line: dict[str, int] = {}
    names, rows = _table(path, ("item_id",), progress)
    for lineno, values in rows:
        row = dict(zip(names, values, strict=True))
        raw_id = row.pop("item_id").strip()
        if not raw_id:
            raise DataFormatError(path, "empty id", line=lineno, field="item_id")
        if raw_id in items:
            raise DataFormatError(
                path,
                f"item {raw_id!r} defined twice (first on line {first_line[raw_id]})",
                line=lineno,
                field="item_id",
            )
        title_column = next((c for c in _TITLE_COLUMNS if c in row), None)
        title = row.pop(title_column).strip() if title_column else ""
        fields: dict[str, str] = {}
        for column, value in row.items():
            key = _RENAMED.get(column, column)
            fields[key] = ", ".join(value.split()) if key == "genres" else value.strip()
        items[raw_id] = RawItem(raw_id, title, fields)
        first_line[raw_id] = lineno
    if not items:
        raise DataFormatError(path, "no items after the header", line=2)
    return [items[k] for k in sorted(items, key=raw_id_key)]
