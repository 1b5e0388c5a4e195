"""Processed dataset folders: the one on-disk form every later stage reads.

Contract: `save_processed(dataset, folder, source)` writes
- `items.jsonl`: one object per item in index order: {"index", "raw_id", "title", "fields"} (fields keep their order),
- `sequences.jsonl`: one object per user in index order: {"user": raw user id, "items": [item indices, oldest first]},
- `meta.json`: `DatasetMeta` (name, source, counts, content hash, created_at, format version),
and returns the meta. The content hash is the sha256 of the two data files' bytes (a canonical serialization:
orjson, one record per line), so the same dataset always gets the same hash and `created_at` does not enter it.
Files are written under temporary names and renamed, `meta.json` last, so a folder with a meta is complete.
`load_processed(folder)` re-hashes the files and refuses a folder whose content does not match its meta (edited or
truncated files), whose format version it does not know, or whose records are malformed, with a `DataFormatError`
naming the file. It knows nothing about where the dataset came from beyond the `source` string.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from model.data.loaders.common import read_json_object
from model.data.records import InteractionDataset, Item
from model.errors import DataFormatError
from model.workdir import META_FILE

FORMAT_VERSION = 1
ITEMS_FILE = "items.jsonl"
SEQUENCES_FILE = "sequences.jsonl"


@dataclass(frozen=True, slots=True)
class DatasetMeta:
    """What `meta.json` records about a processed dataset."""

    name: str
    source: str  # where it was loaded from, e.g. "recbole:/data/movielens-100k"
    n_users: int
    n_items: int
    n_interactions: int
    content_hash: str  # sha256 hex of items.jsonl + sequences.jsonl (see the module contract)
    created_at: str  # ISO 8601, UTC
    format_version: int = FORMAT_VERSION


def serialize(dataset: InteractionDataset) -> tuple[bytes, bytes]:
    """The canonical bytes of (items.jsonl, sequences.jsonl)."""
    items = b"".join(
        orjson.dumps({"index": it.index, "raw_id": it.raw_id, "title": it.title, "fields": dict(it.fields)}) + b"\n"
        for it in dataset.items
    )
    sequences = b"".join(
        orjson.dumps({"user": user, "items": list(seq)}) + b"\n"
        for user, seq in zip(dataset.user_ids, dataset.sequences, strict=True)
    )
    return items, sequences


def content_hash(items: bytes, sequences: bytes) -> str:
    digest = hashlib.sha256()
    for name, data in ((ITEMS_FILE, items), (SEQUENCES_FILE, sequences)):
        digest.update(f"{name}\n{len(data)}\n".encode())
        digest.update(data)
    return digest.hexdigest()


def save_processed(dataset: InteractionDataset, folder: Path, source: str) -> DatasetMeta:
    """Write the dataset's processed folder (see the module contract) and return its meta."""
    items, sequences = serialize(dataset)
    meta = DatasetMeta(
        name=dataset.name,
        source=source,
        n_users=dataset.n_users,
        n_items=dataset.n_items,
        n_interactions=dataset.n_interactions,
        content_hash=content_hash(items, sequences),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / META_FILE).unlink(missing_ok=True)  # the folder is incomplete until the new meta lands
    _write_atomic(folder / ITEMS_FILE, items)
    _write_atomic(folder / SEQUENCES_FILE, sequences)
    _write_atomic(folder / META_FILE, orjson.dumps(asdict(meta), option=orjson.OPT_INDENT_2) + b"\n")
    return meta


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(path)


def read_meta(folder: Path) -> DatasetMeta:
    """The meta of a processed folder, checked for shape and format version (the content is not checked here)."""
    path = folder / META_FILE
    if not path.is_file():
        raise DataFormatError(path, "no meta.json: not a processed dataset folder (run `genrec prepare` first)")
    raw = read_json_object(path)
    version = raw.get("format_version")
    if version != FORMAT_VERSION:
        raise DataFormatError(
            path, f"format version {version!r} is not supported (expected {FORMAT_VERSION})", field="format_version"
        )
    expected = {"name": str, "source": str, "n_users": int, "n_items": int, "n_interactions": int}
    expected |= {"content_hash": str, "created_at": str}
    for key, kind in expected.items():
        if not isinstance(raw.get(key), kind):
            raise DataFormatError(path, f"expected {kind.__name__}, got {raw.get(key)!r}", field=key)
    return DatasetMeta(**{k: raw[k] for k in (*expected, "format_version")})


def load_processed(folder: Path) -> tuple[InteractionDataset, DatasetMeta]:
    """Read a processed folder, verifying its content hash and records (see the module contract)."""
    meta = read_meta(folder)
    data: dict[str, bytes] = {}
    for name in (ITEMS_FILE, SEQUENCES_FILE):
        path = folder / name
        if not path.is_file():
            raise DataFormatError(path, "file is missing from the processed folder")
        data[name] = path.read_bytes()
    actual = content_hash(data[ITEMS_FILE], data[SEQUENCES_FILE])
    if actual != meta.content_hash:
        raise DataFormatError(
            folder / META_FILE,
            f"content hash mismatch: meta says {meta.content_hash[:16]}…, files hash to {actual[:16]}…; the files "
            "were changed after `genrec prepare` wrote them; prepare the dataset again",
            field="content_hash",
        )
    items = [_item(folder / ITEMS_FILE, n, rec) for n, rec in _records(folder / ITEMS_FILE, data[ITEMS_FILE])]
    users: list[str] = []
    sequences: list[list[int]] = []
    for n, rec in _records(folder / SEQUENCES_FILE, data[SEQUENCES_FILE]):
        user, seq = rec.get("user"), rec.get("items")
        if not isinstance(user, str):
            raise DataFormatError(folder / SEQUENCES_FILE, f"expected a string, got {user!r}", line=n, field="user")
        if not isinstance(seq, list) or not all(type(i) is int and 0 <= i < len(items) for i in seq):
            raise DataFormatError(
                folder / SEQUENCES_FILE, f"expected item indices in 0..{len(items) - 1}", line=n, field="items"
            )
        users.append(user)
        sequences.append(seq)
    dataset = InteractionDataset(meta.name, items, users, sequences)
    counts = (dataset.n_users, dataset.n_items, dataset.n_interactions)
    if counts != (meta.n_users, meta.n_items, meta.n_interactions):
        raise DataFormatError(
            folder / META_FILE, f"counts {counts} (users, items, interactions) do not match the meta", field="n_users"
        )
    return dataset, meta


def _records(path: Path, data: bytes) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for n, line in enumerate(data.splitlines(), start=1):
        try:
            rec = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise DataFormatError(path, f"invalid JSON: {exc}", line=n) from None
        if not isinstance(rec, dict):
            raise DataFormatError(path, "expected a JSON object", line=n)
        out.append((n, rec))
    return out


def _item(path: Path, line: int, rec: dict[str, Any]) -> Item:
    index, raw_id, title, fields = rec.get("index"), rec.get("raw_id"), rec.get("title"), rec.get("fields")
    if index != line - 1:
        raise DataFormatError(path, f"expected index {line - 1}, got {index!r}", line=line, field="index")
    for key, value in (("raw_id", raw_id), ("title", title)):
        if not isinstance(value, str):
            raise DataFormatError(path, f"expected a string, got {value!r}", line=line, field=key)
    if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
        raise DataFormatError(path, "expected an object of strings", line=line, field="fields")
    return Item(line - 1, str(raw_id), str(title), fields)
