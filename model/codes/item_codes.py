"""ItemCodes: the frozen map item index ↔ code tuple (L levels, level sizes C_0..C_{L-1}) ↔ code token strings.

Contract: built from an int array of shape (n_items, L) and the level sizes; every code lies in [0, C_l) and every item
has its own tuple (a duplicate is an error that names both items). Item i's tokens are `<a_{c0}><b_{c1}>...` (level
letter a, b, c, ... then the code). `save(dir)` writes `item_codes.npy` + `item_codes.json` (level sizes, item count,
content hash); `load(dir)` checks them and the hash. `content_hash` depends only on the level sizes and the codes.
It knows nothing about tokenizers, token ids or models (see `CodeVocab` for ids).
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from model.errors import DataFormatError, UserError

FORMAT_VERSION = 1
CODES_FILE = "item_codes.npy"
META_FILE = "item_codes.json"


def level_letter(level: int) -> str:
    """The letter that names a level in code tokens: 0 → 'a', 1 → 'b', ..."""
    if not 0 <= level < len(string.ascii_lowercase):
        raise UserError(f"code level {level} out of range: at most {len(string.ascii_lowercase)} levels (a..z)")
    return string.ascii_lowercase[level]


def code_token(level: int, code: int) -> str:
    """The token string of one code at one level, e.g. code_token(1, 7) == '<b_7>'."""
    return f"<{level_letter(level)}_{code}>"


@dataclass(frozen=True, eq=False)
class ItemCodes:
    """Each item's code tuple; `codes[i]` is item i's tuple. Immutable (the array is made read-only)."""

    codes: npt.NDArray[np.int32]  # (n_items, n_levels), codes[i, l] in [0, level_sizes[l])
    level_sizes: tuple[int, ...]  # C_l per level, e.g. (256, 256, 256, 256)

    def __init__(self, codes: npt.ArrayLike, level_sizes: Sequence[int]) -> None:
        arr = np.asarray(codes)
        sizes = tuple(int(s) for s in level_sizes)
        if arr.ndim != 2:
            raise UserError(f"item codes must be a 2-d array (n_items, n_levels); got shape {arr.shape}")
        if not np.issubdtype(arr.dtype, np.integer):
            raise UserError(f"item codes must be integers; got dtype {arr.dtype}")
        if arr.shape[0] == 0:
            raise UserError("item codes: the catalogue is empty (0 items)")
        if arr.shape[1] != len(sizes):
            raise UserError(f"item codes have {arr.shape[1]} levels but {len(sizes)} level sizes were given: {sizes}")
        for level, size in enumerate(sizes):
            level_letter(level)
            if size < 1:
                raise UserError(f"level size {level} must be >= 1; got {size}")
            col = arr[:, level]
            bad = np.flatnonzero((col < 0) | (col >= size))
            if bad.size:
                i = int(bad[0])
                raise UserError(
                    f"item {i}: code {int(col[i])} at level {level} ({level_letter(level)}) is outside [0, {size})"
                )
        arr = np.ascontiguousarray(arr, dtype=np.int32)
        _check_unique(arr)
        arr.setflags(write=False)
        object.__setattr__(self, "codes", arr)
        object.__setattr__(self, "level_sizes", sizes)

    @property
    def n_items(self) -> int:
        return int(self.codes.shape[0])

    @property
    def n_levels(self) -> int:
        return len(self.level_sizes)

    def code(self, item: int) -> tuple[int, ...]:
        """Item `item`'s code tuple."""
        self._check_item(item)
        return tuple(int(c) for c in self.codes[item])

    def tokens(self, item: int) -> str:
        """Item `item`'s code tokens as one string, e.g. '<a_12><b_7><c_201><d_3>'."""
        return "".join(code_token(level, c) for level, c in enumerate(self.code(item)))

    def item_of(self, code: Sequence[int]) -> int:
        """The item whose tuple is `code`; UserError if no item has it."""
        index = self._index()
        key = tuple(int(c) for c in code)
        if key not in index:
            raise UserError(f"no item has the code {key}")
        return index[key]

    def _index(self) -> dict[tuple[int, ...], int]:
        cached: dict[tuple[int, ...], int] | None = self.__dict__.get("_index_cache")
        if cached is None:
            cached = {tuple(int(c) for c in row): i for i, row in enumerate(self.codes)}
            object.__setattr__(self, "_index_cache", cached)
        return cached

    def _check_item(self, item: int) -> None:
        if not 0 <= item < self.n_items:
            raise UserError(f"unknown item index {item}: the catalogue has items 0..{self.n_items - 1}")

    @property
    def content_hash(self) -> str:
        """sha256 over the level sizes and the codes (int32, little-endian, row-major); 16 hex digits."""
        h = hashlib.sha256()
        h.update(json.dumps(list(self.level_sizes)).encode())
        h.update(self.codes.astype("<i4", copy=False).tobytes(order="C"))
        return h.hexdigest()[:16]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ItemCodes):
            return NotImplemented
        return self.level_sizes == other.level_sizes and np.array_equal(self.codes, other.codes)

    def __hash__(self) -> int:
        return hash(self.content_hash)

    def __repr__(self) -> str:
        return f"ItemCodes(n_items={self.n_items}, level_sizes={self.level_sizes}, hash={self.content_hash})"

    def save(self, directory: Path | str) -> Path:
        """Write `item_codes.npy` and `item_codes.json` into `directory` (created if missing); returns the directory."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        np.save(out / CODES_FILE, self.codes)
        meta = {
            "format_version": FORMAT_VERSION,
            "n_items": self.n_items,
            "level_sizes": list(self.level_sizes),
            "content_hash": self.content_hash,
        }
        (out / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        return out

    @classmethod
    def load(cls, directory: Path | str) -> ItemCodes:
        """Read what `save` wrote; DataFormatError naming the file and field if anything disagrees."""
        src = Path(directory)
        meta_path, codes_path = src / META_FILE, src / CODES_FILE
        for p in (meta_path, codes_path):
            if not p.is_file():
                raise DataFormatError(p, "missing (expected the output of ItemCodes.save)")
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError as e:
            raise DataFormatError(meta_path, f"not valid JSON: {e.msg}", line=e.lineno) from e
        for key in ("format_version", "n_items", "level_sizes", "content_hash"):
            if key not in meta:
                raise DataFormatError(meta_path, "missing", field=key)
        if meta["format_version"] != FORMAT_VERSION:
            raise DataFormatError(
                meta_path,
                f"unsupported version {meta['format_version']!r} (expected {FORMAT_VERSION})",
                field="format_version",
            )
        try:
            arr = np.load(codes_path, allow_pickle=False)
        except ValueError as e:
            raise DataFormatError(codes_path, f"not a readable .npy array: {e}") from e
        try:
            codes = cls(arr, meta["level_sizes"])
        except UserError as e:
            raise DataFormatError(codes_path, str(e)) from e
        if codes.n_items != meta["n_items"]:
            raise DataFormatError(
                meta_path, f"says {meta['n_items']} items but {codes_path.name} holds {codes.n_items}", field="n_items"
            )
        if codes.content_hash != meta["content_hash"]:
            raise DataFormatError(
                meta_path,
                f"hash {meta['content_hash']!r} does not match the codes in {codes_path.name} ({codes.content_hash})",
                field="content_hash",
            )
        return codes


def _check_unique(arr: npt.NDArray[np.int32]) -> None:
    _, first, counts = np.unique(arr, axis=0, return_index=True, return_counts=True)
    if (counts == 1).all():
        return
    dup_row = arr[first[int(np.flatnonzero(counts > 1)[0])]]
    items = np.flatnonzero((arr == dup_row).all(axis=1))
    raise UserError(
        f"items {int(items[0])} and {int(items[1])} share the code {tuple(int(c) for c in dup_row)}; "
        f"{int((counts - 1).sum())} duplicate(s) in all: every item needs its own code tuple"
    )


def random_item_codes(n_items: int, level_sizes: Sequence[int], seed: int = 0) -> ItemCodes:
    """Unique random code tuples (for tests, demos and benchmarks before a trained tokenizer exists)."""
    sizes = tuple(int(s) for s in level_sizes)
    total = int(np.prod(sizes, dtype=np.float64))
    if n_items > total:
        raise UserError(f"{n_items} items cannot have unique codes with level sizes {sizes} ({total} tuples)")
    rng = np.random.default_rng(seed)
    flat: set[int] = set()
    while len(flat) < n_items:
        flat.update(int(x) for x in rng.integers(0, total, size=n_items - len(flat)))
    order = np.array(sorted(flat), dtype=np.int64)
    rng.shuffle(order)
    codes = np.stack(np.unravel_index(order, sizes), axis=1)
    return ItemCodes(codes, sizes)
