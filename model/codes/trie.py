"""CodeTrie: the prefix tree of every item's code-token path, compact (CSR per level), built vectorised from the codes.

Contract: built from `ItemCodes` + `CodeVocab`, and optionally the item indices it holds (default every item; a
catalogue's removed items are left out but keep their index); a path of token ids is admitted iff it is a prefix of
some held item's path. Level l holds the nodes reached after l tokens (level 0: the root, node 0), numbered in sorted
prefix order. Per level, CSR arrays:
    offsets[l]     (n_nodes[l] + 1,)  node v's edges are offsets[l][v] .. offsets[l][v+1]-1
    edge_codes[l]  (n_edges[l],)      the code of each edge, ascending within a node (uint8 when C_l <= 256)
Because nodes and edges are both numbered in sorted prefix order, edge e of level l < L-1 leads to node e of level
l+1, so no child array is stored; the last level's edges lead to items, `leaf_items` (int32). Memory is about
n_nodes * 4 + n_edges bytes per level plus 4 bytes per held item and the items' codes (`nbytes`): ~15 bytes per item
at a million items of 4 levels x 256, against ~1 GB of tables and a Python object per node for the dense layout
(`model.codes.dense_trie.DenseCodeTrie`, the reference it is tested against; it numbers nodes the same way, so
`children_of` rows and `node_of` ids are equal). The build is a handful of numpy passes over the sorted codes, no
Python loop over items or nodes. `allowed(prefix)`, `node_of` and `item_at` walk the levels with a binary search
inside a node's edges (O(L log C)); `children_of(level, nodes)` gives the dense (..., C_l) child rows of many nodes at
once (what one decoding step needs), `max_degree[l]` bounds the edges per node. It knows nothing about models,
logits or beams.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from model.codes.item_codes import ItemCodes
from model.codes.vocab import CodeVocab


def held_items(n_items: int, items: Sequence[int] | None) -> npt.NDArray[np.int64]:
    """The sorted, distinct items a trie holds (all `n_items` when `items` is None); at least one, each in range."""
    held = np.arange(n_items) if items is None else np.unique(np.asarray(items, dtype=np.int64))
    if held.size == 0 or held[0] < 0 or held[-1] >= n_items:
        raise ValueError(f"a trie holds at least one item, each in 0..{n_items - 1}")
    return held


NO_CHILD = -1


def _small_uint(limit: int) -> type[np.unsignedinteger]:
    """The narrowest unsigned dtype holding 0..limit-1."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if limit <= np.iinfo(dtype).max + 1:
            return dtype
    return np.uint64


def _index_dtype(limit: int) -> type[np.signedinteger]:
    return np.int32 if limit < np.iinfo(np.int32).max else np.int64


def sort_codes(arr: npt.NDArray[np.int64], sizes: Sequence[int]) -> npt.NDArray[np.int64]:
    """The row order that sorts code tuples lexicographically (one argsort of a mixed-radix key when it fits)."""
    if float(np.prod(np.asarray(sizes, dtype=np.float64))) < 2.0**62:
        key = np.zeros(arr.shape[0], dtype=np.int64)
        for level, size in enumerate(sizes):
            key = key * int(size) + arr[:, level]
        return np.argsort(key, kind="stable")
    return np.lexsort(arr.T[::-1])


@dataclass(frozen=True, eq=False)
class CodeTrie:
    """CSR child lists per level (see the module contract). Build with `CodeTrie.build`."""

    level_token_ids: tuple[npt.NDArray[np.int64], ...]  # [l][c] = token id of code c at level l
    offsets: tuple[npt.NDArray[np.signedinteger], ...]  # [l] (n_nodes[l] + 1,)
    edge_codes: tuple[npt.NDArray[np.unsignedinteger], ...]  # [l] (n_edges[l],), ascending within each node
    leaf_items: npt.NDArray[np.signedinteger]  # (n_live,) item at the end of each last-level edge
    max_degree: tuple[int, ...]  # [l] the most edges any node of level l has
    n_items: int  # size of the item index space (items not held keep their index)
    _codes: npt.NDArray[np.unsignedinteger]  # (n_items, L) every item's codes, for its token path
    _code_of: tuple[dict[int, int], ...]  # [l] token id -> code

    @classmethod
    def build(cls, codes: ItemCodes, vocab: CodeVocab, items: Sequence[int] | None = None) -> CodeTrie:
        vocab.check_compatible(codes)
        held = held_items(codes.n_items, items)
        sizes = vocab.level_sizes
        arr = codes.codes[held].astype(np.int64)
        order = sort_codes(arr, sizes)
        s, leaves = arr[order], held[order]
        n = s.shape[0]
        new = np.zeros(n, dtype=bool)  # row starts a new prefix of the current length
        new[0] = True
        node = np.zeros(n, dtype=np.int64)  # each row's node at the current level
        n_nodes = 1
        offsets, edge_codes, max_degree = [], [], []
        for level, size in enumerate(sizes):
            if n > 1:
                new[1:] |= s[1:, level] != s[:-1, level]
            first = np.flatnonzero(new)  # one edge per distinct prefix of length level + 1
            counts = np.bincount(node[first], minlength=n_nodes)
            off = np.zeros(n_nodes + 1, dtype=_index_dtype(first.size + 1))
            np.cumsum(counts, out=off[1:])
            edge_codes.append(s[first, level].astype(_small_uint(size)))
            offsets.append(off)
            max_degree.append(int(counts.max()))
            node = np.cumsum(new) - 1
            n_nodes = first.size
        code_dtype = _small_uint(max(sizes))
        for a in (*offsets, *edge_codes):
            a.setflags(write=False)
        leaf = leaves.astype(_index_dtype(codes.n_items))
        all_codes = codes.codes.astype(code_dtype)
        leaf.setflags(write=False)
        all_codes.setflags(write=False)
        return cls(
            level_token_ids=tuple(vocab.token_ids[level] for level in range(codes.n_levels)),
            offsets=tuple(offsets),
            edge_codes=tuple(edge_codes),
            leaf_items=leaf,
            max_degree=tuple(max_degree),
            n_items=codes.n_items,
            _codes=all_codes,
            _code_of=tuple({int(t): c for c, t in enumerate(ids.tolist())} for ids in vocab.token_ids),
        )

    @property
    def n_levels(self) -> int:
        return len(self.offsets)

    @property
    def n_nodes(self) -> tuple[int, ...]:
        return tuple(int(o.shape[0]) - 1 for o in self.offsets)

    @property
    def n_live(self) -> int:
        """Items the trie holds (reachable)."""
        return int(self.leaf_items.shape[0])

    @property
    def held_items(self) -> npt.NDArray[np.int64]:
        """The item indices the trie holds, ascending."""
        return np.sort(self.leaf_items.astype(np.int64))

    @property
    def level_sizes(self) -> tuple[int, ...]:
        return tuple(int(t.shape[0]) for t in self.level_token_ids)

    @property
    def nbytes(self) -> int:
        """Bytes of every array the trie holds."""
        arrays = (*self.offsets, *self.edge_codes, self.leaf_items, self._codes, *self.level_token_ids)
        return int(sum(a.nbytes for a in arrays))

    def _edge(self, level: int, node: int, token: int) -> int | None:
        """The edge of `node` at `level` labelled with `token`, or None."""
        code = self._code_of[level].get(int(token))
        if code is None:
            return None
        off = self.offsets[level]
        lo, hi = int(off[node]), int(off[node + 1])
        at = lo + int(np.searchsorted(self.edge_codes[level][lo:hi], code))
        return at if at < hi and int(self.edge_codes[level][at]) == code else None

    def node_of(self, prefix: Sequence[int]) -> int | None:
        """The node (at level len(prefix)) a token-id prefix leads to; None if no held item's path starts with it."""
        if len(prefix) >= self.n_levels:
            return None
        node = 0
        for level, token in enumerate(prefix):
            edge = self._edge(level, node, token)
            if edge is None:
                return None
            node = edge
        return node

    def allowed(self, prefix: Sequence[int]) -> npt.NDArray[np.int64]:
        """Token ids that may follow `prefix`, in ascending code order; empty for a complete path or a dead prefix."""
        node = self.node_of(prefix)
        if node is None:
            return np.empty(0, dtype=np.int64)
        level = len(prefix)
        off = self.offsets[level]
        return self.level_token_ids[level][self.edge_codes[level][int(off[node]) : int(off[node + 1])]]

    def item_at(self, path: Sequence[int]) -> int | None:
        """The item whose full token-id path is `path`; None if it is not a complete path of a held item."""
        if len(path) != self.n_levels:
            return None
        node = self.node_of(path[:-1])
        if node is None:
            return None
        edge = self._edge(self.n_levels - 1, node, path[-1])
        return None if edge is None else int(self.leaf_items[edge])

    def path_of(self, item: int) -> tuple[int, ...]:
        """Item `item`'s token-id path (whether or not the trie holds it)."""
        return tuple(int(self.level_token_ids[lv][c]) for lv, c in enumerate(self._codes[item].tolist()))

    @property
    def item_codes(self) -> npt.NDArray[np.unsignedinteger]:
        """(n_items, L) codes of every item (read-only)."""
        return self._codes

    @property
    def item_paths(self) -> npt.NDArray[np.int64]:
        """(n_items, L) token-id paths; row i is item i's (computed on each call: keep it if you need it often)."""
        return np.stack([self.level_token_ids[lv][self._codes[:, lv]] for lv in range(self.n_levels)], axis=1).astype(
            np.int64
        )

    def children_of(self, level: int, nodes: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Dense rows (..., C_l): entry c is the node (item at the last level) the code-c edge leads to, or -1."""
        node_arr = np.asarray(nodes, dtype=np.int64)
        flat = node_arr.reshape(-1)
        off = self.offsets[level]
        start = off[flat].astype(np.int64)
        degree = off[flat + 1].astype(np.int64) - start
        steps = np.arange(self.max_degree[level])
        valid = steps[None, :] < degree[:, None]
        edge = np.where(valid, start[:, None] + steps[None, :], 0)
        size = int(self.level_token_ids[level].shape[0])
        code = np.where(valid, self.edge_codes[level][edge].astype(np.int64), size)
        target = edge if level < self.n_levels - 1 else self.leaf_items[edge].astype(np.int64)
        out = np.full((flat.size, size + 1), NO_CHILD, dtype=np.int64)
        np.put_along_axis(out, code, np.where(valid, target, NO_CHILD), axis=1)
        return out[:, :size].reshape(*node_arr.shape, size)

    def allowed_mask(self, level: int, nodes: npt.ArrayLike, vocab_size: int) -> npt.NDArray[np.bool_]:
        """Boolean rows (len(nodes), vocab_size): True where the token may follow each node at `level`.

        For logits processors that mask a full vocabulary row (one masked write per step)."""
        node_arr = np.asarray(nodes, dtype=np.int64).reshape(-1)
        mask = np.zeros((node_arr.size, vocab_size), dtype=bool)
        mask[:, self.level_token_ids[level]] = self.children_of(level, node_arr) >= 0
        return mask
