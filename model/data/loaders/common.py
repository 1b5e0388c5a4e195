"""What every loader shares: reading text files (plain or gzipped) line by line with progress, parsing JSON (lines or a
whole-file object) with errors that name the file and line, ordering raw ids, and assembling an `InteractionDataset`
from raw interactions.

Contract: `build_dataset` is the one place where dense indices are assigned: items in the order the catalogue is given
(loaders pass it sorted by `raw_id_key`), users sorted by `raw_id_key`; `RawInteractions.by_user` orders each user's
interactions by time with ties kept in file order (a stable sort). Interactions whose item is not in the catalogue
raise `DataFormatError` (mode "error") or are dropped and counted (mode "drop"); users with no interaction are dropped
and counted. Every drop is logged with its count. This module knows nothing about any particular file format.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal, TextIO

from model.data.records import InteractionDataset, Item
from model.errors import DataFormatError
from model.logs import get_logger

log = get_logger(__name__)

# Called as progress(label, bytes_done, bytes_total) while a file is read; bytes are on-disk (compressed) bytes.
ProgressFn = Callable[[str, int, int], None]
UnknownItemMode = Literal["error", "drop"]

_PROGRESS_EVERY = 20_000  # lines between progress calls
_DIGITS = re.compile(r"\d+")


def raw_id_key(raw_id: str) -> tuple[int, int, str]:
    """Sort key for raw ids: decimal ids numerically ("2" < "10"), then every other id as a string."""
    if _DIGITS.fullmatch(raw_id):
        return (0, int(raw_id), "")
    return (1, 0, raw_id)


def open_text(path: Path, encoding: str = "utf-8") -> TextIO:
    """Open a text file, transparently gunzipping `*.gz`; a missing or unreadable file is a user error."""
    try:
        if path.suffix == ".gz":
            return gzip.open(path, "rt", encoding=encoding, newline="")
        return path.open(encoding=encoding, newline="")
    except OSError as exc:
        raise DataFormatError(path, f"cannot open file: {exc.strerror or exc}") from None


def _open_binary(path: Path) -> tuple[BinaryIO, BinaryIO | gzip.GzipFile]:
    """(the file on disk, the stream of its content: the same file, or a gunzipping reader over it)."""
    try:
        raw: BinaryIO = path.open("rb")
    except OSError as exc:
        raise DataFormatError(path, f"cannot open file: {exc.strerror or exc}") from None
    return raw, (gzip.GzipFile(fileobj=raw) if path.suffix == ".gz" else raw)


def iter_lines(path: Path, encoding: str = "utf-8", progress: ProgressFn | None = None) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line without its newline); decoding and gzip errors name the exact line."""
    raw, stream = _open_binary(path)
    total = path.stat().st_size
    lineno = 0
    with raw, stream:
        try:
            for lineno, data in enumerate(stream, start=1):
                try:
                    line = data.decode(encoding)
                except UnicodeDecodeError as exc:
                    raise DataFormatError(path, f"not valid {encoding} text ({exc.reason})", line=lineno) from None
                yield lineno, line.rstrip("\r\n")
                if progress is not None and lineno % _PROGRESS_EVERY == 0:
                    progress(path.name, raw.tell(), total)
        except (OSError, EOFError, zlib.error) as exc:  # truncated or corrupt gzip (a bad block is a zlib.error)
            raise DataFormatError(path, f"cannot read file: {exc}", line=lineno + 1) from None
    if progress is not None:
        progress(path.name, total, total)


def read_json(path: Path, reject_duplicate_keys: bool = True, progress: ProgressFn | None = None) -> Any:
    """Parse a whole JSON file; syntax errors and duplicate object keys name the file, line and key."""
    total = path.stat().st_size if path.is_file() else 0
    if progress is not None:
        progress(path.name, 0, total)
    try:
        with open_text(path) as handle:
            text = handle.read()
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, f"not valid utf-8 text ({exc.reason})") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFormatError(path, f"cannot read file: {exc}") from None
    if not text.strip():
        raise DataFormatError(path, "file is empty (expected a JSON object)", line=1)

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out and reject_duplicate_keys:
                raise DataFormatError(path, "duplicate key", line=line_of_key(text, key), field=key)
            out[key] = value
        return out

    try:
        value = json.loads(text, object_pairs_hook=pairs_hook)
    except json.JSONDecodeError as exc:
        raise DataFormatError(path, f"invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno) from None
    if progress is not None:
        progress(path.name, total, total)
    return value


def read_json_object(path: Path) -> dict[str, Any]:
    """A whole file that must hold one JSON object (a meta or state file), with errors naming the file."""
    try:
        value = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataFormatError(path, f"invalid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise DataFormatError(path, f"expected a JSON object, got {type(value).__name__}")
    return value


def parse_json_line(path: Path, lineno: int, line: str) -> dict[str, Any]:
    """One JSON-lines record, which must be an object."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataFormatError(path, f"invalid JSON: {exc.msg} (column {exc.colno})", line=lineno) from None
    if not isinstance(value, dict):
        raise DataFormatError(path, f"expected a JSON object, got {type(value).__name__}", line=lineno)
    return value


def line_of_key(text: str, key: str) -> int | None:
    """Line of the first occurrence of `"key":` in a JSON text (for messages about a parsed value), if found."""
    match = re.search(re.escape(json.dumps(key)) + r"\s*:", text)
    return None if match is None else text.count("\n", 0, match.start()) + 1


@dataclass(slots=True)
class RawInteractions:
    """Interactions as read from a file, before indices exist: parallel columns, one entry per interaction."""

    users: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # seconds, or the position in a list for time-less sources
    lines: list[int] = field(default_factory=list)  # where each was read (for messages); empty for JSON sources

    def __len__(self) -> int:
        return len(self.users)

    def append(self, user: str, item: str, time: float, line: int) -> None:
        self.users.append(user)
        self.items.append(item)
        self.times.append(time)
        self.lines.append(line)

    def subset(self, keep: Sequence[bool]) -> RawInteractions:
        """The interactions whose flag in `keep` is True, in their order."""
        chosen = [i for i, flag in enumerate(keep) if flag]
        return RawInteractions(
            [self.users[i] for i in chosen],
            [self.items[i] for i in chosen],
            [self.times[i] for i in chosen],
            [self.lines[i] for i in chosen] if self.lines else [],
        )

    def by_user(self) -> dict[str, list[tuple[str, int]]]:
        """user -> [(item, line)] in time order; sorted() is stable, so equal times keep their file order."""
        grouped: dict[str, list[int]] = {}
        for position, user in enumerate(self.users):
            grouped.setdefault(user, []).append(position)
        times, items = self.times, self.items
        lines = self.lines or [0] * len(self.users)
        return {
            user: [(items[p], lines[p]) for p in sorted(positions, key=times.__getitem__)]
            for user, positions in grouped.items()
        }


@dataclass(frozen=True, slots=True)
class RawItem:
    """One catalogue entry as read from a file."""

    raw_id: str
    title: str
    fields: Mapping[str, str]


def build_dataset(
    name: str,
    sequences: Mapping[str, Sequence[str]],
    catalogue: Sequence[RawItem] | None,
    *,
    interactions_path: Path,
    on_unknown_item: UnknownItemMode = "error",
    locate: Callable[[str, int], int | None] | None = None,
) -> InteractionDataset:
    """Assign dense indices and assemble the dataset (see the module contract).

    `sequences` maps each raw user id to its raw item ids, already in time order. `catalogue` None means the source
    has no item file: the items are those seen, sorted by `raw_id_key`, with empty titles. `locate(user, position)`
    gives the file line of an interaction, for error messages.
    """
    if catalogue is None:
        seen = {item for seq in sequences.values() for item in seq}
        catalogue = [RawItem(raw, "", {}) for raw in sorted(seen, key=raw_id_key)]
    index_of = {raw.raw_id: i for i, raw in enumerate(catalogue)}
    items = [Item(i, raw.raw_id, raw.title, dict(raw.fields)) for i, raw in enumerate(catalogue)]

    user_ids: list[str] = []
    indexed: list[list[int]] = []
    dropped_items = dropped_users = 0
    for user in sorted(sequences, key=raw_id_key):
        raw_seq = sequences[user]
        try:
            seq = [index_of[item] for item in raw_seq]
        except KeyError:
            seq = []
            for position, item in enumerate(raw_seq):
                if item in index_of:
                    seq.append(index_of[item])
                elif on_unknown_item == "error":
                    raise DataFormatError(
                        interactions_path,
                        f"item {item!r} of user {user!r} is not defined in the item file",
                        line=locate(user, position) if locate else None,
                        field="item_id",
                    ) from None
                else:
                    dropped_items += 1
        if seq:
            user_ids.append(user)
            indexed.append(seq)
        else:
            dropped_users += 1
    if dropped_items:
        log.warning("dropped interactions with undefined items", dataset=name, interactions=dropped_items)
    if dropped_users:
        log.warning("dropped users without interactions", dataset=name, users=dropped_users)
    used = len({i for seq in indexed for i in seq})
    if used < len(items):
        log.info("catalogue items without interactions kept", dataset=name, items=len(items) - used)
    return InteractionDataset(name, items, user_ids, indexed)


def build_from_interactions(
    name: str,
    raw: RawInteractions,
    catalogue: Sequence[RawItem] | None,
    *,
    interactions_path: Path,
    on_unknown_item: UnknownItemMode = "error",
) -> InteractionDataset:
    """`build_dataset` for line-based sources: groups `raw` by user in time order and locates errors by line."""
    grouped = raw.by_user()
    sequences = {user: [item for item, _ in pairs] for user, pairs in grouped.items()}
    return build_dataset(
        name,
        sequences,
        catalogue,
        interactions_path=interactions_path,
        on_unknown_item=on_unknown_item,
        locate=lambda user, position: grouped[user][position][1] or None,
    )
