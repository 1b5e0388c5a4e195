"""ItemCodes: validation, token strings, save/load round trip, content hash; CodeVocab look-ups."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model.codes.item_codes import ItemCodes, random_item_codes
from model.codes.vocab import CodeVocab
from model.errors import DataFormatError, UserError


def _codes() -> ItemCodes:
    return ItemCodes(np.array([[12, 7, 201, 3], [0, 0, 0, 0], [12, 7, 201, 4]]), (256, 256, 256, 256))


def test_tuples_and_token_strings() -> None:
    codes = _codes()
    assert codes.n_items == 3 and codes.n_levels == 4
    assert codes.code(0) == (12, 7, 201, 3)
    assert codes.tokens(0) == "<a_12><b_7><c_201><d_3>"
    assert codes.item_of((12, 7, 201, 4)) == 2
    with pytest.raises(UserError, match="no item has the code"):
        codes.item_of((1, 2, 3, 4))
    with pytest.raises(UserError, match="unknown item index 3"):
        codes.code(3)


def test_codes_are_read_only() -> None:
    with pytest.raises(ValueError):
        _codes().codes[0, 0] = 1


def test_duplicate_codes_name_both_items() -> None:
    arr = np.array([[1, 2], [3, 4], [1, 2]])
    with pytest.raises(UserError, match=r"items 0 and 2 share the code \(1, 2\)"):
        ItemCodes(arr, (8, 8))


@pytest.mark.parametrize(
    ("arr", "sizes", "message"),
    [
        ([[1, 8]], (8, 8), r"item 0: code 8 at level 1 \(b\) is outside \[0, 8\)"),
        ([[1, -1]], (8, 8), "outside"),
        ([[1, 2]], (8, 8, 8), "2 levels but 3 level sizes"),
        ([1, 2], (8,), "2-d array"),
        ([[0.5, 1.0]], (8, 8), "integers"),
        (np.zeros((0, 2), dtype=int), (8, 8), "empty"),
    ],
)
def test_invalid_codes_are_rejected(arr: object, sizes: tuple[int, ...], message: str) -> None:
    with pytest.raises(UserError, match=message):
        ItemCodes(np.asarray(arr), sizes)


def test_save_load_round_trip(tmp_path: Path) -> None:
    codes = random_item_codes(500, (16, 16, 16), seed=3)
    codes.save(tmp_path)
    loaded = ItemCodes.load(tmp_path)
    assert loaded == codes
    assert loaded.content_hash == codes.content_hash
    assert json.loads((tmp_path / "item_codes.json").read_text())["n_items"] == 500


def test_load_detects_tampering_and_missing_files(tmp_path: Path) -> None:
    codes = random_item_codes(50, (8, 8), seed=1)
    codes.save(tmp_path)
    arr = np.load(tmp_path / "item_codes.npy")
    arr[[0, 1]] = arr[[1, 0]]  # same set of tuples, different assignment
    np.save(tmp_path / "item_codes.npy", arr)
    with pytest.raises(DataFormatError, match="content_hash"):
        ItemCodes.load(tmp_path)
    (tmp_path / "item_codes.json").unlink()
    with pytest.raises(DataFormatError, match=r"item_codes\.json.*missing"):
        ItemCodes.load(tmp_path)


def test_hash_depends_on_codes_and_level_sizes() -> None:
    a = ItemCodes(np.array([[1, 2], [3, 4]]), (8, 8))
    assert a.content_hash == ItemCodes(np.array([[1, 2], [3, 4]]), (8, 8)).content_hash
    assert a.content_hash != ItemCodes(np.array([[3, 4], [1, 2]]), (8, 8)).content_hash
    assert a.content_hash != ItemCodes(np.array([[1, 2], [3, 4]]), (8, 16)).content_hash


def test_random_codes_are_unique_and_bounded() -> None:
    codes = random_item_codes(4000, (4, 32, 32), seed=0)
    assert len({tuple(r) for r in codes.codes.tolist()}) == 4000
    assert (codes.codes.max(axis=0) < np.array([4, 32, 32])).all()
    with pytest.raises(UserError, match="cannot have unique codes"):
        random_item_codes(17, (4, 4))


def test_vocab_paths_and_compatibility() -> None:
    vocab = CodeVocab([[10, 11, 12], [20, 21, 22]])
    codes = ItemCodes(np.array([[0, 2], [2, 1]]), (3, 3))
    assert vocab.item_paths(codes).tolist() == [[10, 22], [12, 21]]
    assert vocab.ids_of((1, 0)) == [11, 20]
    with pytest.raises(UserError, match="share a token id"):
        CodeVocab([[1, 2], [2, 3]])
    with pytest.raises(UserError, match="do not fit"):
        vocab.check_compatible(ItemCodes(np.array([[0, 3]]), (3, 4)))
