"""Compact binary encoding of one user's cached top-K list.

Contract: `encode(items, scores, generated_at)` -> bytes and `decode(bytes)` -> `CachedList` are inverse up to the
score precision (float16: about 3 significant digits, enough to order and show; exact order is kept by position,
not re-sorted on read). Layout, little-endian:
    magic b"GR" | format version u8 | id width u8 | count u16 | generated_at u32 (unix seconds)
    | ids (count x id width) | scores (count x float16)
The id width is the fewest bytes (2, 3 or 4) that hold the largest id in the list, so catalogues under 65,536 items
take 10 + 100 + 100 = 210 bytes at K=50 (plain JSON of the same list: ~860 B). Redis rounds allocations to jemalloc
size classes, so these few bytes decide between ~310 and ~410 bytes of Redis memory per user.
`decode` rejects truncated, oversized or foreign bytes with `CodecError`. It knows nothing about keys or Redis.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MAGIC = b"GR"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<2sBBHI")
HEADER_SIZE = _HEADER.size  # 10
MAX_ITEMS = 65_535
_WIDTHS = (2, 3, 4)


class CodecError(ValueError):
    """Bytes that are not a cached list of this format."""


@dataclass(frozen=True, slots=True)
class CachedList:
    items: np.ndarray  # int64 item indices, best first
    scores: np.ndarray  # float32 log-probabilities (float16 precision), same order
    generated_at: int  # unix seconds when the list was generated

    def __len__(self) -> int:
        return int(self.items.shape[0])


def encode(items: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray, generated_at: int) -> bytes:
    ids = np.asarray(items, dtype=np.int64)
    sc = np.asarray(scores, dtype=np.float32)
    if ids.ndim != 1 or sc.shape != ids.shape:
        raise ValueError(f"items and scores must be 1-D of equal length, got {ids.shape} and {sc.shape}")
    if ids.size > MAX_ITEMS:
        raise ValueError(f"a cached list holds at most {MAX_ITEMS} items, got {ids.size}")
    if ids.size and (ids.min() < 0 or ids.max() >= 1 << 32):
        raise ValueError(f"item indices must be in [0, 2^32), got range [{ids.min()}, {ids.max()}]")
    if not 0 <= generated_at < 1 << 32:
        raise ValueError(f"generated_at must be unix seconds in [0, 2^32), got {generated_at}")
    top = int(ids.max()) if ids.size else 0
    width = next(w for w in _WIDTHS if top < 1 << (8 * w))
    raw = ids.astype("<u4").view(np.uint8).reshape(-1, 4)[:, :width]
    header = _HEADER.pack(MAGIC, FORMAT_VERSION, width, ids.size, generated_at)
    return header + raw.tobytes() + sc.astype("<f2").tobytes()


def encode_batch(items: np.ndarray, scores: np.ndarray, generated_at: int) -> list[bytes]:
    """`encode` for B lists of equal length at once, vectorised: ~20x faster per list than a loop of `encode`."""
    ids = np.asarray(items, dtype=np.int64)
    sc = np.asarray(scores, dtype=np.float32)
    if ids.ndim != 2 or sc.shape != ids.shape:
        raise ValueError(f"items and scores must be 2-D (users x K) of equal shape, got {ids.shape} and {sc.shape}")
    n, k = ids.shape
    if n == 0:
        return []
    if k > MAX_ITEMS:
        raise ValueError(f"a cached list holds at most {MAX_ITEMS} items, got {k}")
    if k and (ids.min() < 0 or ids.max() >= 1 << 32):
        raise ValueError(f"item indices must be in [0, 2^32), got range [{ids.min()}, {ids.max()}]")
    if not 0 <= generated_at < 1 << 32:
        raise ValueError(f"generated_at must be unix seconds in [0, 2^32), got {generated_at}")
    tops = ids.max(axis=1) if k else np.zeros(n, dtype=np.int64)
    out: list[bytes] = [b""] * n
    for width in _WIDTHS:  # rows are grouped by the id width their largest id needs
        low = 0 if width == _WIDTHS[0] else 1 << (8 * (width - 1))
        rows = np.nonzero((tops >= low) & (tops < 1 << (8 * width)))[0]
        if rows.size == 0:
            continue
        header = np.frombuffer(_HEADER.pack(MAGIC, FORMAT_VERSION, width, k, generated_at), dtype=np.uint8)
        row_len = HEADER_SIZE + k * (width + 2)
        buf = np.empty((rows.size, row_len), dtype=np.uint8)
        buf[:, :HEADER_SIZE] = header
        raw = ids[rows].astype("<u4").view(np.uint8).reshape(rows.size, k, 4)[:, :, :width]
        buf[:, HEADER_SIZE : HEADER_SIZE + k * width] = raw.reshape(rows.size, k * width)
        buf[:, HEADER_SIZE + k * width :] = sc[rows].astype("<f2").view(np.uint8).reshape(rows.size, k * 2)
        flat = buf.tobytes()
        for j, row in enumerate(rows.tolist()):
            out[row] = flat[j * row_len : (j + 1) * row_len]
    return out


def decode(blob: bytes) -> CachedList:
    if len(blob) < HEADER_SIZE:
        raise CodecError(f"cached list too short: {len(blob)} bytes, header needs {HEADER_SIZE}")
    magic, version, width, count, generated_at = _HEADER.unpack_from(blob)
    if magic != MAGIC:
        raise CodecError(f"not a cached list: magic {magic!r}, expected {MAGIC!r}")
    if version != FORMAT_VERSION:
        raise CodecError(f"cached list format version {version} is not supported (expected {FORMAT_VERSION})")
    if width not in _WIDTHS:
        raise CodecError(f"cached list id width {width} is not one of {_WIDTHS}")
    expected = HEADER_SIZE + count * (width + 2)
    if len(blob) != expected:
        raise CodecError(f"cached list of {count} items should be {expected} bytes, got {len(blob)}")
    ids_end = HEADER_SIZE + count * width
    raw = np.frombuffer(blob, dtype=np.uint8, count=count * width, offset=HEADER_SIZE).reshape(count, width)
    padded = np.zeros((count, 4), dtype=np.uint8)
    padded[:, :width] = raw
    items = padded.view("<u4").reshape(count).astype(np.int64)
    scores = np.frombuffer(blob, dtype="<f2", count=count, offset=ids_end).astype(np.float32)
    return CachedList(items, scores, int(generated_at))
