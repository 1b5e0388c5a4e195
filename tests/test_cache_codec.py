"""Cache value codec: round trip, precision, and rejection of truncated or foreign bytes."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from model.cache.codec import HEADER_SIZE, CodecError, decode, encode, encode_batch

_lists = st.integers(min_value=0, max_value=120).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(min_value=0, max_value=2**32 - 1), min_size=n, max_size=n),
        st.lists(st.floats(min_value=-60.0, max_value=0.0), min_size=n, max_size=n),
        st.integers(min_value=0, max_value=2**32 - 1),
    )
)


@given(_lists)
def test_round_trip_keeps_order_ids_and_scores(case: tuple[list[int], list[float], int]) -> None:
    items, scores, ts = case
    out = decode(encode(items, scores, ts))
    assert out.items.tolist() == items
    assert out.generated_at == ts
    np.testing.assert_allclose(out.scores, np.asarray(scores, dtype=np.float16).astype(np.float32))


@pytest.mark.parametrize(("top", "width"), [(0, 2), (65_535, 2), (65_536, 3), (2**24 - 1, 3), (2**24, 4)])
def test_id_width_is_the_fewest_bytes_that_hold_the_largest_id(top: int, width: int) -> None:
    items = [top, *range(49)]
    blob = encode(items, [-float(i) for i in range(50)], 1_700_000_000)
    assert len(blob) == HEADER_SIZE + 50 * width + 50 * 2
    assert decode(blob).items.tolist() == items


@given(_lists, st.data())
def test_truncated_bytes_rejected(case: tuple[list[int], list[float], int], data: st.DataObject) -> None:
    blob = encode(*case)
    cut = data.draw(st.integers(min_value=0, max_value=len(blob) - 1))
    with pytest.raises(CodecError):
        decode(blob[:cut])


@given(st.binary(max_size=400))
def test_foreign_bytes_rejected_or_consistent(blob: bytes) -> None:
    try:
        out = decode(blob)
    except CodecError:
        return
    assert encode(out.items, out.scores, out.generated_at)[:HEADER_SIZE] == blob[:HEADER_SIZE]


def test_json_and_extra_bytes_rejected() -> None:
    with pytest.raises(CodecError, match="magic"):
        decode(b'[{"id": 1, "score": -0.5}]')
    with pytest.raises(CodecError, match="should be"):
        decode(encode([1, 2], [-1.0, -2.0], 0) + b"\x00")


@pytest.mark.parametrize(
    ("items", "scores", "ts", "message"),
    [([1, 2], [-1.0], 0, "equal length"), ([-1], [-1.0], 0, "item indices"), ([1], [-1.0], -5, "generated_at")],
)
def test_bad_input_to_encode(items: list[int], scores: list[float], ts: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode(items, scores, ts)


@given(st.integers(min_value=0, max_value=30), st.integers(min_value=0, max_value=8), st.integers(0, 2**32 - 1))
def test_batch_encoding_equals_one_by_one(k: int, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    tops = rng.choice([2**8, 2**16, 2**24, 2**32], size=n)
    items = np.stack([rng.integers(0, t, size=k) for t in tops]) if n else np.zeros((0, k), dtype=np.int64)
    scores = -rng.uniform(0, 30, size=(n, k)).astype(np.float32)
    assert encode_batch(items, scores, 123) == [encode(items[i], scores[i], 123) for i in range(n)]


def test_batch_encoding_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="2-D"):
        encode_batch(np.zeros(3, dtype=np.int64), np.zeros(3), 0)
