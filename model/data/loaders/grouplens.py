"""GroupLens MovieLens 100K as published: `u.data` (+ `u.item`) in one folder.

Contract: `u.data` has no header; each row is `user \t item \t rating \t timestamp` (integers). `u.item` is
pipe-separated latin-1: `id|title|release date|video release date|IMDb URL|` then 19 genre flags (0/1) in the order of
`GENRES`. A trailing "(1995)" is cut from the title and becomes the field `year` (else the year of the release
date); flagged genres become the field `genres` (", "-joined). The catalogue is `u.item` in raw-id order; without
`u.item` it is the set of items seen. Every row is one interaction (the rating is not used); users are ordered by
raw id, interactions by timestamp (ties in file order). Malformed rows raise `DataFormatError` naming file, line and
field. It knows nothing about downloads (see `model.data.registry`).
"""

from __future__ import annotations

import re
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

GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
_DATA_FIELDS = ("user_id", "item_id", "rating", "timestamp")
_ITEM_FIELDS = ("item_id", "title", "release_date", "video_release_date", "imdb_url", *GENRES)
_TITLE_YEAR = re.compile(r"^(.*?)\s*\((\d{4})\)\s*$")
_DATE_YEAR = re.compile(r"(\d{4})\s*$")


def load_grouplens(
    path: Path,
    name: str = "movielens-100k",
    *,
    on_unknown_item: UnknownItemMode = "error",
    progress: ProgressFn | None = None,
) -> InteractionDataset:
    """Load from a folder holding `u.data` (and usually `u.item`), or from the `u.data` file itself."""
    data_path = path / "u.data" if path.is_dir() else path
    if not data_path.is_file():
        raise DataFormatError(data_path, "no such file (a GroupLens folder holds u.data and u.item)")
    item_path = data_path.parent / "u.item"
    catalogue = _read_items(item_path, progress) if item_path.is_file() else None
    interactions = _read_data(data_path, progress)
    return build_from_interactions(
        name, interactions, catalogue, interactions_path=data_path, on_unknown_item=on_unknown_item
    )


def _read_data(path: Path, progress: ProgressFn | None) -> RawInteractions:
    out = RawInteractions()
    for lineno, line in iter_lines(path, progress=progress):
        if not line.strip():
            continue
        values = line.split("\t")
        if len(values) != len(_DATA_FIELDS):
            raise DataFormatError(
                path,
                f"expected 4 tab-separated columns (user, item, rating, timestamp), got {len(values)}",
                line=lineno,
                field=_DATA_FIELDS[len(values)] if len(values) < len(_DATA_FIELDS) else None,
            )
        for field, value in zip(_DATA_FIELDS, values, strict=True):
            if not value.strip().isdigit():
                raise DataFormatError(path, f"expected a non-negative integer, got {value!r}", line=lineno, field=field)
        out.append(values[0].strip(), values[1].strip(), float(values[3]), lineno)
    if not out:
        raise DataFormatError(path, "file is empty (expected user, item, rating, timestamp rows)", line=1)
    return out


def _read_items(path: Path, progress: ProgressFn | None) -> list[RawItem]:
    items: dict[str, RawItem] = {}
    first_line: dict[str, int] = {}
    for lineno, line in iter_lines(path, encoding="latin-1", progress=progress):
        if not line.strip():
            continue
        values = line.split("|")
        if len(values) != len(_ITEM_FIELDS):
            raise DataFormatError(
                path,
                f"expected {len(_ITEM_FIELDS)} '|'-separated columns (id, title, dates, URL, 19 genre flags), "
                f"got {len(values)}",
                line=lineno,
                field=_ITEM_FIELDS[len(values)] if len(values) < len(_ITEM_FIELDS) else None,
            )
        raw_id = values[0].strip()
        if not raw_id.isdigit():
            raise DataFormatError(path, f"expected an integer item id, got {raw_id!r}", line=lineno, field="item_id")
        if raw_id in items:
            raise DataFormatError(
                path,
                f"item {raw_id!r} defined twice (first on line {first_line[raw_id]})",
                line=lineno,
                field="item_id",
            )
        flags = values[5:]
        for genre, flag in zip(GENRES, flags, strict=True):
            if flag.strip() not in ("0", "1"):
                raise DataFormatError(path, f"genre flag must be 0 or 1, got {flag!r}", line=lineno, field=genre)
        title, year = _split_title(values[1].strip(), values[2].strip())
        fields = {"year": year, "genres": ", ".join(g for g, f in zip(GENRES, flags, strict=True) if f.strip() == "1")}
        items[raw_id] = RawItem(raw_id, title, fields)
        first_line[raw_id] = lineno
    if not items:
        raise DataFormatError(path, "file is empty (expected one '|'-separated row per movie)", line=1)
    return [items[k] for k in sorted(items, key=raw_id_key)]


def _split_title(title: str, release_date: str) -> tuple[str, str]:
    """("Toy Story", "1995") from "Toy Story (1995)"; the year falls back to the release date's ("01-Jan-1995")."""
    match = _TITLE_YEAR.match(title)
    if match:
        return match.group(1), match.group(2)
    date = _DATE_YEAR.search(release_date)
    return title, (date.group(1) if date else "")
