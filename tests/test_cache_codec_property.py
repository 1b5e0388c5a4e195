"""Cache codec properties beyond tests/test_cache_codec.py (Hypothesis): the batch encoder writes exactly what the
single encoder writes; any damage to a valid list's header or length (a changed magic, version, id width or count,
bytes appended) is refused with `CodecError` or decodes to a list consistent with the bytes; the service's fast
decoder agrees with `decode` on every input, valid or not. Budget: `tests.fuzz_budget.examples` per property."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.cache.codec import HEADER_SIZE, CodecError, decode, encode, encode_batch
from service.fastcodec import decode_tuples
from tests.fuzz_budget import examples

FUZZ = settings(max_examples=examples(200), deadline=None)
_ids = st.sampled_from([2**16 - 1, 2**24 - 1, 2**32 - 1]).flatmap(lambda top: st.integers(0, top))


@st.composite
def lists(draw: st.DrawFn, max_len: int = 60) -> tuple[list[int], list[float], int]:
    n = draw(st.integers(0, max_len))
    items = draw(st.lists(_ids, min_size=n, max_size=n))
    scores = draw(st.lists(st.floats(-60.0, 0.0), min_size=n, max_size=n))
    return items, scores, draw(st.integers(0, 2**32 - 1))


@FUZZ
@given(st.integers(1, 6).flatmap(lambda rows: st.tuples(st.just(rows), st.integers(0, 30))), st.data())
def test_batch_encoder_writes_what_the_single_encoder_writes(shape: tuple[int, int], data: st.DataObject) -> None:
    rows, k = shape
    items = np.array(data.draw(st.lists(st.lists(_ids, min_size=k, max_size=k), min_size=rows, max_size=rows)))
    items = items.reshape(rows, k)
    scores = np.array(
        data.draw(st.lists(st.lists(st.floats(-60.0, 0.0), min_size=k, max_size=k), min_size=rows, max_size=rows))
    ).reshape(rows, k)
    ts = data.draw(st.integers(0, 2**32 - 1))
    assert encode_batch(items, scores, ts) == [encode(items[r], scores[r], ts) for r in range(rows)]


@FUZZ
@given(lists(), st.integers(0, HEADER_SIZE - 1), st.integers(1, 255))
def test_a_damaged_header_is_refused_or_consistent(case: tuple[list[int], list[float], int], at: int, xor: int) -> None:
    blob = bytearray(encode(*case))
    blob[at] ^= xor
    try:
        out = decode(bytes(blob))
    except CodecError:
        return
    # only a change that still frames the bytes (e.g. in generated_at, or a width/count that happens to fit) decodes
    assert encode(out.items, out.scores, out.generated_at)[:HEADER_SIZE] == bytes(blob[:HEADER_SIZE])


@FUZZ
@given(lists(), st.binary(min_size=1, max_size=20))
def test_bytes_appended_to_a_list_are_refused(case: tuple[list[int], list[float], int], extra: bytes) -> None:
    with pytest.raises(CodecError, match="should be"):
        decode(encode(*case) + extra)


@FUZZ
@given(st.one_of(lists().map(lambda c: encode(*c)), st.binary(max_size=300)))
def test_fast_decoder_agrees_with_decode_on_any_bytes(blob: bytes) -> None:
    try:
        want = decode(blob)
    except CodecError:
        with pytest.raises(CodecError):
            decode_tuples(blob)
        return
    items, scores, generated_at = decode_tuples(blob)
    assert list(items) == want.items.tolist() and generated_at == want.generated_at
    np.testing.assert_array_equal(np.asarray(scores, dtype=np.float32), want.scores)
