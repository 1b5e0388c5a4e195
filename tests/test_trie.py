"""CodeTrie: admits exactly the items' token paths; O(1) look-ups agree with a plain set of tuples."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from model.codes.item_codes import ItemCodes, random_item_codes
from model.codes.trie import CodeTrie
from model.codes.vocab import CodeVocab


def _vocab(sizes: tuple[int, ...], offset: int = 100) -> CodeVocab:
    """Token ids offset and interleaved per level, so codes and ids never coincide."""
    return CodeVocab([[offset + level + len(sizes) * c for c in range(size)] for level, size in enumerate(sizes)])


def _walk_all(trie: CodeTrie) -> set[tuple[int, ...]]:
    """Every complete path the trie admits, found by following `allowed` from the root."""
    paths: set[tuple[int, ...]] = set()
    frontier: list[tuple[int, ...]] = [()]
    while frontier:
        prefix = frontier.pop()
        if len(prefix) == trie.n_levels:
            paths.add(prefix)
            continue
        allowed = trie.allowed(prefix).tolist()
        assert allowed, f"dead end at {prefix}"
        frontier += [(*prefix, t) for t in allowed]
    return paths


def test_every_item_reachable_and_nothing_else() -> None:
    sizes = (4, 8, 8)
    codes = random_item_codes(150, sizes, seed=2)
    vocab = _vocab(sizes)
    trie = CodeTrie.build(codes, vocab)
    expected = {tuple(vocab.ids_of(codes.code(i))) for i in range(codes.n_items)}
    assert _walk_all(trie) == expected
    for i in range(codes.n_items):
        path = trie.path_of(i)
        assert trie.item_at(path) == i
        for level in range(len(sizes)):
            assert path[level] in trie.allowed(path[:level]).tolist()


def test_exhaustive_small_space_against_set() -> None:
    sizes = (3, 3, 3)
    codes = random_item_codes(10, sizes, seed=5)
    vocab = _vocab(sizes)
    trie = CodeTrie.build(codes, vocab)
    items = {tuple(vocab.ids_of(codes.code(i))): i for i in range(codes.n_items)}
    for code in itertools.product(*(range(s) for s in sizes)):
        path = tuple(vocab.ids_of(code))
        assert trie.item_at(path) == items.get(path)
        for level in range(len(sizes)):
            prefix = path[:level]
            nxt = sorted({p[level] for p in items if p[:level] == prefix})
            assert sorted(trie.allowed(prefix).tolist()) == nxt
            assert (trie.node_of(prefix) is None) == (level > 0 and not nxt)


def test_invalid_paths_rejected() -> None:
    sizes = (4, 4)
    codes = ItemCodes(np.array([[0, 1], [2, 3]]), sizes)
    vocab = _vocab(sizes)
    trie = CodeTrie.build(codes, vocab)
    p0 = trie.path_of(0)
    assert trie.item_at(p0[:1]) is None  # too short
    assert trie.item_at((*p0, p0[1])) is None  # too long
    assert trie.item_at((p0[1], p0[0])) is None  # levels swapped
    assert trie.item_at((p0[0], vocab.ids_of((0, 3))[1])) is None  # valid tokens, no such item
    assert trie.allowed(p0).size == 0  # complete path: nothing follows
    assert trie.allowed((12345,)).size == 0  # unknown prefix


def test_child_tables_and_mask_rows() -> None:
    sizes = (4, 4, 4)
    codes = random_item_codes(30, sizes, seed=7)
    vocab = _vocab(sizes)
    trie = CodeTrie.build(codes, vocab)
    assert trie.n_nodes[0] == 1
    assert [t.shape[1] for t in trie.children] == list(sizes)
    assert sorted(trie.children[-1][trie.children[-1] >= 0].tolist()) == list(range(30))  # each item at one leaf
    vocab_size = int(max(t.max() for t in trie.level_token_ids)) + 1
    for level in range(len(sizes)):
        nodes = np.arange(trie.n_nodes[level])
        mask = trie.allowed_mask(level, nodes, vocab_size)
        assert mask.sum() == (trie.children[level] >= 0).sum()
    path = trie.path_of(4)
    node = trie.node_of(path[:2])
    assert node is not None
    row = trie.allowed_mask(2, [node], vocab_size)[0]
    assert np.flatnonzero(row).tolist() == sorted(trie.allowed(path[:2]).tolist())


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple),
    data=st.data(),
)
def test_random_catalogues_match_set_semantics(sizes: tuple[int, ...], data: st.DataObject) -> None:
    space = list(itertools.product(*(range(s) for s in sizes)))
    chosen = data.draw(st.lists(st.sampled_from(space), min_size=1, max_size=len(space), unique=True))
    codes = ItemCodes(np.array(chosen).reshape(len(chosen), len(sizes)), sizes)
    vocab = _vocab(sizes, offset=data.draw(st.integers(0, 50)))
    trie = CodeTrie.build(codes, vocab)
    paths = {tuple(vocab.ids_of(c)): i for i, c in enumerate(chosen)}
    assert _walk_all(trie) == set(paths)
    probe = data.draw(st.sampled_from(space))
    path = tuple(vocab.ids_of(probe))
    assert trie.item_at(path) == paths.get(path)


def test_torch_tables_advance_and_mask_rows() -> None:
    import torch

    from model.generate.beam import TrieTables

    sizes = (4, 4, 4)
    codes = random_item_codes(25, sizes, seed=4)
    vocab = _vocab(sizes)
    trie = CodeTrie.build(codes, vocab)
    tables = TrieTables(trie)
    vocab_size = 200
    for item in range(codes.n_items):
        path = trie.path_of(item)
        node = torch.tensor([0])
        for level, token in enumerate(path):
            rows = tables.mask_rows(level, node, vocab_size)
            assert torch.nonzero(rows[0]).flatten().tolist() == sorted(trie.allowed(path[:level]).tolist())
            node = tables.advance(level, node, torch.tensor([token]))
        assert node.item() == item
    wrong_level = int(vocab.token_ids[1][0])
    assert tables.advance(0, torch.tensor([0]), torch.tensor([wrong_level])).item() == -1
    assert tables.advance(0, torch.tensor([0]), torch.tensor([10_000])).item() == -1
