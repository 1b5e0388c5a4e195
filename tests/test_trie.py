"""CodeTrie: admits exactly the items' token paths; its look-ups agree with a plain set of tuples, and the compact
layout answers exactly like the dense reference (DenseCodeTrie) on random catalogues, down to node numbers."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from model.codes.dense_trie import DenseCodeTrie
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
    rows = [trie.children_of(level, np.arange(trie.n_nodes[level])) for level in range(len(sizes))]
    assert [r.shape[1] for r in rows] == list(sizes)
    assert sorted(rows[-1][rows[-1] >= 0].tolist()) == list(range(30))  # each item at one leaf
    vocab_size = int(max(t.max() for t in trie.level_token_ids)) + 1
    for level in range(len(sizes)):
        nodes = np.arange(trie.n_nodes[level])
        mask = trie.allowed_mask(level, nodes, vocab_size)
        assert mask.sum() == (rows[level] >= 0).sum()
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


def _prefixes(paths: list[tuple[int, ...]], n_levels: int) -> set[tuple[int, ...]]:
    return {p[:level] for p in paths for level in range(n_levels + 1)}


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 9), min_size=1, max_size=4).map(tuple),
    data=st.data(),
)
def test_compact_trie_answers_exactly_like_the_dense_one(sizes: tuple[int, ...], data: st.DataObject) -> None:
    import torch

    from model.generate.beam import TrieTables

    space = list(itertools.product(*(range(s) for s in sizes)))
    chosen = data.draw(st.lists(st.sampled_from(space), min_size=1, max_size=min(len(space), 60), unique=True))
    codes = ItemCodes(np.array(chosen).reshape(len(chosen), len(sizes)), sizes)
    held = data.draw(
        st.none() | st.lists(st.integers(0, codes.n_items - 1), min_size=1, max_size=codes.n_items, unique=True)
    )
    vocab = _vocab(sizes, offset=data.draw(st.integers(0, 50)))
    dense, compact = DenseCodeTrie.build(codes, vocab, held), CodeTrie.build(codes, vocab, held)
    assert (compact.n_nodes, compact.n_items, compact.n_live) == (dense.n_nodes, dense.n_items, dense.n_live)
    assert compact.held_items.tolist() == dense.held_items.tolist()
    assert np.array_equal(compact.item_paths, dense.item_paths)
    paths = [tuple(vocab.ids_of(c)) for c in space]  # every code tuple of the space, held or not
    for prefix in _prefixes(paths, len(sizes)) | {(12345,), (*paths[0][:-1], 99999)}:
        assert compact.node_of(prefix) == dense.node_of(prefix), prefix
        assert compact.allowed(prefix).tolist() == dense.allowed(prefix).tolist(), prefix
        assert compact.item_at(prefix) == dense.item_at(prefix), prefix
    for item in range(codes.n_items):
        assert compact.path_of(item) == dense.path_of(item)
    vocab_size = int(max(t.max() for t in vocab.token_ids)) + 1
    csr = data.draw(st.booleans())  # every level through the CSR arrays, or the small ones as dense rows
    dense_tables, compact_tables = TrieTables(dense), TrieTables(compact, dense_entries=0 if csr else None)
    for level in range(len(sizes)):
        nodes = np.arange(dense.n_nodes[level])
        assert np.array_equal(compact.children_of(level, nodes), dense.children_of(level, nodes))
        assert np.array_equal(
            compact.allowed_mask(level, nodes, vocab_size), dense.allowed_mask(level, nodes, vocab_size)
        )
        grid = torch.as_tensor(data.draw(st.lists(st.sampled_from(nodes.tolist()), min_size=1, max_size=12)))
        batch = grid.reshape(1, -1).expand(2, -1)  # the (B, beams) shape a decoding step passes
        assert torch.equal(compact_tables.children_of(level, batch), dense_tables.children_of(level, batch))
        code = torch.as_tensor(
            data.draw(st.lists(st.integers(0, sizes[level] - 1), min_size=grid.numel(), max_size=grid.numel()))
        )
        assert torch.equal(compact_tables.child(level, grid, code), dense_tables.child(level, grid, code))
        tokens = vocab.token_ids[level][code.numpy()]
        assert torch.equal(
            compact_tables.advance(level, grid, torch.as_tensor(tokens)),
            dense_tables.advance(level, grid, torch.as_tensor(tokens)),
        )
        assert torch.equal(
            compact_tables.mask_rows(level, grid, vocab_size), dense_tables.mask_rows(level, grid, vocab_size)
        )


def test_items_left_out_keep_their_index_and_path_but_are_not_reachable() -> None:
    sizes = (4, 4, 4)
    codes = random_item_codes(30, sizes, seed=9)
    vocab = _vocab(sizes)
    held = [i for i in range(30) if i % 3]
    trie = CodeTrie.build(codes, vocab, held)
    assert trie.n_items == 30 and trie.n_live == 20 and trie.held_items.tolist() == held
    assert _walk_all(trie) == {trie.path_of(i) for i in held}
    assert trie.item_at(trie.path_of(0)) is None and trie.path_of(0) == tuple(vocab.ids_of(codes.code(0)))


def test_a_hundred_thousand_items_take_under_64_bytes_each() -> None:
    codes = random_item_codes(100_000, (256, 256, 256, 256), seed=1)
    vocab = _vocab((256, 256, 256, 256))
    trie = CodeTrie.build(codes, vocab)
    assert trie.nbytes / codes.n_items <= 64
    assert trie.edge_codes[0].dtype == np.uint8 and trie.max_degree[0] == 256
    for item in (0, 4_242, 99_999):
        assert trie.item_at(trie.path_of(item)) == item
