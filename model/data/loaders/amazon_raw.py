"""Raw Amazon Reviews 2018 files (McAuley): review JSON lines plus optional metadata JSON lines, plain or gzipped.

Contract: each review line is an object with `reviewerID`, `asin` (non-empty strings) and `unixReviewTime` (a
number); other keys (`overall`, `reviewText`, ...) are ignored. Each metadata line is an object with `asin`;
`title` (string), `description` (string or list), `brand` (string) and `category` (list) are read, HTML tags and
entities are stripped, and they become the item's title and the fields `description` (list parts joined by a space),
`brand`, `categories` (joined by ", ").
Processing, in order, each step logged with counts: repeated (user, item) reviews keep the earliest; with a metadata
file, reviews of items that have no metadata line are dropped (`on_unknown_item="error"` raises instead) and repeated
metadata lines keep the first; then the iterative k-core (default 5) on users and items. The catalogue is the
surviving items in raw-id order. Users are ordered by raw id, interactions by time (ties in file order). Malformed
lines raise `DataFormatError` naming file, line and field. It knows nothing about downloads or other formats.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from model.data.loaders.common import (
    ProgressFn,
    RawInteractions,
    RawItem,
    UnknownItemMode,
    build_from_interactions,
    iter_lines,
    parse_json_line,
    raw_id_key,
)
from model.data.loaders.kcore import k_core_mask, log_stats
from model.data.records import InteractionDataset
from model.errors import DataFormatError
from model.logs import get_logger

log = get_logger(__name__)

DEFAULT_K_CORE = 5
_SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz")
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def _has_json_suffix(path: Path) -> bool:
    return any(path.name.endswith(s) for s in _SUFFIXES)


def _stem(path: Path) -> str:
    return next(path.name[: -len(s)] for s in sorted(_SUFFIXES, key=len, reverse=True) if path.name.endswith(s))


def find_amazon_files(path: Path) -> tuple[Path, Path | None]:
    """(reviews, metadata or None) for a folder holding one review file and at most one `meta_*` file, or for a
    review file itself (its metadata is the sibling `meta_<Category>.json[.gz]`, with a `_5` suffix removed)."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and _has_json_suffix(p))
        metas = [p for p in files if p.name.startswith("meta_")]
        reviews = [p for p in files if not p.name.startswith("meta_")]
        if len(reviews) != 1 or len(metas) > 1:
            names = ", ".join(p.name for p in files) or "none"
            raise DataFormatError(
                path, f"expected one review file and at most one meta_* file (.json/.jsonl[.gz]), found {names}"
            )
        return reviews[0], (metas[0] if metas else None)
    if not path.is_file():
        raise DataFormatError(path, "no such file or folder")
    if not _has_json_suffix(path):
        raise DataFormatError(path, f"expected a review file ending in one of {', '.join(_SUFFIXES)}")
    stem = _stem(path).removesuffix("_5")
    candidates = [path.with_name(f"meta_{stem}{s}") for s in _SUFFIXES]
    return path, next((c for c in candidates if c.is_file()), None)


def load_amazon_raw(
    path: Path,
    name: str | None = None,
    *,
    meta_path: Path | None = None,
    k_core: int = DEFAULT_K_CORE,
    on_unknown_item: UnknownItemMode = "drop",
    progress: ProgressFn | None = None,
) -> InteractionDataset:
    """Load reviews (+ metadata) from a folder or a review file (see the module contract)."""
    reviews_path, found_meta = find_amazon_files(path)
    meta_path = meta_path or found_meta
    name = name or _stem(reviews_path)
    meta = _read_meta(meta_path, progress) if meta_path is not None else None
    reviews = _read_reviews(reviews_path, progress)

    if meta is not None:
        known = [item in meta for item in reviews.items]
        if not all(known):
            first = known.index(False)
            if on_unknown_item == "error":
                raise DataFormatError(
                    reviews_path,
                    f"item {reviews.items[first]!r} has no line in {meta_path}",
                    line=reviews.lines[first],
                    field="asin",
                )
            log.warning("dropped reviews of items without metadata", dataset=name, reviews=known.count(False))
            reviews = reviews.subset(known)

    keep, stats = k_core_mask(reviews.users, reviews.items, k_core)
    log_stats(name, stats)
    reviews = reviews.subset(keep)
    if not len(reviews):
        raise DataFormatError(reviews_path, f"no interactions left after the {k_core}-core filter")

    kept_items = sorted(set(reviews.items), key=raw_id_key)
    catalogue = [meta[a] if meta is not None else RawItem(a, "", {}) for a in kept_items]
    return build_from_interactions(name, reviews, catalogue, interactions_path=reviews_path)


def _string(path: Path, lineno: int, record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value.strip():
        got = "missing" if value is None else repr(value)
        raise DataFormatError(path, f"expected a non-empty string, got {got}", line=lineno, field=key)
    return value.strip()


def _read_reviews(path: Path, progress: ProgressFn | None) -> RawInteractions:
    first: dict[tuple[str, str], int] = {}  # (user, item) -> its position in `out`
    out = RawInteractions()
    repeated = 0
    for lineno, line in iter_lines(path, progress=progress):
        if not line.strip():
            continue
        record = parse_json_line(path, lineno, line)
        user = _string(path, lineno, record, "reviewerID")
        item = _string(path, lineno, record, "asin")
        stamp = record.get("unixReviewTime")
        if isinstance(stamp, bool) or not isinstance(stamp, int | float):
            got = "missing" if stamp is None else repr(stamp)
            raise DataFormatError(path, f"expected a number, got {got}", line=lineno, field="unixReviewTime")
        position = first.get((user, item))
        if position is None:
            first[(user, item)] = len(out)
            out.append(user, item, float(stamp), lineno)
            continue
        repeated += 1
        if stamp < out.times[position]:  # keep the earliest review of the pair
            out.times[position], out.lines[position] = float(stamp), lineno
    if not len(out):
        raise DataFormatError(path, "file is empty (expected one review JSON object per line)", line=1)
    if repeated:
        log.info("dropped repeated reviews of the same item by the same user", file=path.name, reviews=repeated)
    return out


def _read_meta(path: Path, progress: ProgressFn | None) -> dict[str, RawItem]:
    items: dict[str, RawItem] = {}
    repeated = 0
    for lineno, line in iter_lines(path, progress=progress):
        if not line.strip():
            continue
        record = parse_json_line(path, lineno, line)
        asin = _string(path, lineno, record, "asin")
        if asin in items:
            repeated += 1
            continue
        title = _text(path, lineno, record, "title", joiner=" ")
        fields = {
            "description": _text(path, lineno, record, "description", joiner=" "),
            "brand": _text(path, lineno, record, "brand"),
            "categories": _text(path, lineno, record, "category"),
        }
        items[asin] = RawItem(asin, title, fields)
    if not items:
        raise DataFormatError(path, "file is empty (expected one metadata JSON object per line)", line=1)
    if repeated:
        log.info("ignored repeated metadata lines (kept the first)", file=path.name, lines=repeated)
    return items


def _text(path: Path, lineno: int, record: dict[str, Any], key: str, joiner: str = ", ") -> str:
    """A metadata value as clean text: strings as is, lists of strings joined, missing as ""."""
    value = record.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        parts = [value]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        parts = value
    else:
        raise DataFormatError(
            path, f"expected text or a list of text, got {type(value).__name__}", line=lineno, field=key
        )
    cleaned = (_SPACE.sub(" ", html.unescape(_TAG.sub(" ", p))).strip() for p in parts)
    return joiner.join(p for p in cleaned if p)
