"""Code placement for new items (model.catalogue.assign): never a taken code, deterministic, siblings of existing
prefixes by default, nearest codewords when free, refused when the code space is full."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.catalogue.assign import assign_codes
from model.errors import UserError


def _books(levels: int, size: int, dim: int, seed: int) -> np.ndarray:
    """Residual-like codebooks: each level an order of magnitude finer, so greedy quantisation recovers a code."""
    scale = 0.1 ** np.arange(levels)[:, None, None]
    return np.random.default_rng(seed).normal(size=(levels, size, dim)) * scale


def _latent(books: np.ndarray, code: tuple[int, ...]) -> np.ndarray:
    return sum(books[level][c] for level, c in enumerate(code))


@settings(max_examples=60, deadline=None)
@given(
    levels=st.integers(1, 3),
    size=st.integers(2, 5),
    data=st.data(),
)
def test_codes_are_never_taken_and_siblings_keep_to_existing_prefixes(
    levels: int, size: int, data: st.DataObject
) -> None:
    space = list(itertools.product(range(size), repeat=levels))
    taken = data.draw(st.lists(st.sampled_from(space), max_size=len(space) - 1, unique=True))
    n_new = data.draw(st.integers(1, len(space) - len(taken)))
    books = _books(levels, size, 3, data.draw(st.integers(0, 99)))
    latents = np.random.default_rng(1).normal(size=(n_new, 3))
    for placement in ("sibling", "free"):
        codes = assign_codes(latents, books, np.array(taken, dtype=np.int64).reshape(-1, levels), placement)  # type: ignore[arg-type]
        got = [tuple(c) for c in codes.tolist()]
        assert len(set(got)) == n_new and set(got).isdisjoint(taken)
        assert np.array_equal(codes, assign_codes(latents, books, np.array(taken).reshape(-1, levels), placement))  # type: ignore[arg-type]
        if placement == "sibling" and taken and levels > 1:
            # the first one placed goes under a prefix that existed when it came, unless every such prefix is full
            prefixes = {t[:-1] for t in taken}
            full = all(sum(t[:-1] == p for t in taken) == size for p in prefixes)
            assert got[0][:-1] in prefixes or full


def test_sibling_takes_the_nearest_existing_prefix_and_a_free_last_code() -> None:
    books = _books(3, 8, 4, seed=2)
    taken = np.array([[1, 2, 3], [5, 6, 7]])
    # a latent right at item 0's codes: the same prefix, and its last code is taken, so the next nearest free one
    (code,) = assign_codes(_latent(books, (1, 2, 3))[None, :], books, taken)
    assert tuple(code[:2]) == (1, 2) and code[2] != 3
    # far from both: free placement opens whatever branch is nearest, sibling still keeps to the two prefixes
    far = _latent(books, (0, 0, 0))[None, :]
    assert tuple(assign_codes(far, books, taken, "free")[0]) == (0, 0, 0)
    assert tuple(assign_codes(far, books, taken, "sibling")[0][:2]) in {(1, 2), (5, 6)}


def test_free_placement_passes_over_a_full_subtree() -> None:
    books = _books(2, 3, 2, seed=4)
    taken = np.array([[0, 0], [0, 1], [0, 2]])  # prefix (0,) holds its 3 items: full
    (code,) = assign_codes(_latent(books, (0, 1))[None, :], books, taken, "free")
    assert code[0] != 0


def test_earlier_rows_pick_first_and_a_full_space_is_refused() -> None:
    books = _books(2, 2, 2, seed=0)
    same = np.repeat(_latent(books, (1, 1))[None, :], 2, axis=0)
    codes = assign_codes(same, books, np.empty((0, 2), dtype=np.int64), "free")
    assert tuple(codes[0]) == (1, 1) and tuple(codes[1]) != (1, 1)
    with pytest.raises(UserError, match="do not fit: 3 of the 4 code tuples"):
        assign_codes(np.zeros((2, 2)), books, np.array([[0, 0], [0, 1], [1, 0]]))
