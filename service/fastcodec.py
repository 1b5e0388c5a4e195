"""Decode a cached list (model.cache.codec format) into plain Python tuples for the hot path.

Contract: `decode_tuples(blob)` returns (item indices, scores, generated_at) equal to `codec.decode(blob)` (tested),
using `struct` instead of numpy: a K=50 list decodes in ~2 µs against ~10 µs through numpy, and the hot path wants
Python ints and floats anyway (to filter and to format). 3-byte ids, which `struct` cannot read, go through
`codec.decode`. Bad bytes raise `CodecError` as there. It knows nothing about Redis or HTTP.
"""

from __future__ import annotations

import struct

from model.cache.codec import FORMAT_VERSION, HEADER_SIZE, MAGIC, CodecError, decode

_HEADER = struct.Struct("<2sBBHI")
_ID_FORMAT = {2: "H", 4: "I"}
_CACHE: dict[tuple[int, int], struct.Struct] = {}


def _body(width: int, count: int) -> struct.Struct:
    fmt = _CACHE.get((width, count))
    if fmt is None:
        fmt = _CACHE[(width, count)] = struct.Struct(f"<{count}{_ID_FORMAT[width]}{count}e")
    return fmt


def decode_tuples(blob: bytes) -> tuple[tuple[int, ...], tuple[float, ...], int]:
    if len(blob) < HEADER_SIZE:
        raise CodecError(f"cached list too short: {len(blob)} bytes, header needs {HEADER_SIZE}")
    magic, version, width, count, generated_at = _HEADER.unpack_from(blob)
    if magic != MAGIC or version != FORMAT_VERSION or width not in _ID_FORMAT:
        cached = decode(blob)  # raises CodecError for foreign bytes; handles 3-byte ids
        return tuple(cached.items.tolist()), tuple(cached.scores.tolist()), cached.generated_at
    body = _body(width, count)
    if len(blob) != HEADER_SIZE + body.size:
        raise CodecError(f"cached list of {count} items should be {HEADER_SIZE + body.size} bytes, got {len(blob)}")
    values = body.unpack_from(blob, HEADER_SIZE)
    return values[:count], values[count:], int(generated_at)
