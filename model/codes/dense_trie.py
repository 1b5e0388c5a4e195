"""DenseCodeTrie: the prefix tree of every item's code-token path as dense per-level tables over token ids: the
reference the compact `model.codes.trie.CodeTrie` is tested and measured against.

Contract: built from `ItemCodes` + `CodeVocab` (and optionally the item indices it holds; default every item); a path
of token ids is admitted iff it is a prefix of some held item's path. Nodes are numbered per level in sorted prefix
order (level l holds the nodes reached after l tokens; level 0 is the single root, node 0), exactly as `CodeTrie`
numbers them. `children[l]` is an int32 table of shape (n_nodes[l], C_l): entry [node, c] is the node at level l+1
reached by the code-c token of level l, or -1; at the last level the entry is the item index instead of a node.
`allowed(prefix)` and `item_at(path)` are dictionary look-ups. Memory is sum_l n_nodes[l] * C_l int32 entries (about
n_items * C_last * 4 bytes at the last level, ~1 GB at a million items of 4 x 256) plus a Python dict entry and a
small array per node: fine for tests and small catalogues, not for large ones. It knows nothing about models, logits
or beams.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from model.codes.item_codes import ItemCodes
from model.codes.trie import held_items
from model.codes.vocab import CodeVocab

NO_CHILD = -1


@dataclass(frozen=True, eq=False)
class DenseCodeTrie:
    """Dense per-level child tables plus dictionary prefix look-ups. Build with `DenseCodeTrie.build`."""

    level_token_ids: tuple[npt.NDArray[np.int64], ...]  # [l][c] = token id of code c at level l
    children: tuple[npt.NDArray[np.int32], ...]  # [l] (n_nodes[l], C_l): next node / item at the last level / -1
    n_items: int  # size of the item index space (items not held keep their index)
    n_live: int  # items held (reachable)
    _prefix_node: dict[tuple[int, ...], int]  # token-id prefix (length 0..L-1) -> node at level len(prefix)
    _allowed: tuple[tuple[npt.NDArray[np.int64], ...], ...]  # [l][node] = allowed token ids, ascending code order
    _paths: npt.NDArray[np.int64]  # (n_items, L) token-id path of each item
    _last_code: dict[int, int]  # token id -> code, for the last level

    @classmethod
    def build(cls, codes: ItemCodes, vocab: CodeVocab, items: Sequence[int] | None = None) -> DenseCodeTrie:
        vocab.check_compatible(codes)
        held = held_items(codes.n_items, items)
        n_levels = codes.n_levels
        arr = codes.codes.astype(np.int64)[held]
        # node id of each held item's length-l prefix, for l = 0..L-1
        node_ids: list[npt.NDArray[np.int64]] = [np.zeros(held.size, dtype=np.int64)]
        n_nodes = [1]
        for level in range(1, n_levels):
            _, inverse = np.unique(arr[:, :level], axis=0, return_inverse=True)
            inverse = inverse.reshape(-1)
            node_ids.append(inverse)
            n_nodes.append(int(inverse.max()) + 1)
        children = []
        for level in range(n_levels):
            table = np.full((n_nodes[level], vocab.level_sizes[level]), NO_CHILD, dtype=np.int32)
            target = node_ids[level + 1] if level + 1 < n_levels else held
            table[node_ids[level], arr[:, level]] = target
            table.setflags(write=False)
            children.append(table)
        allowed = tuple(
            tuple(vocab.token_ids[level][np.flatnonzero(row >= 0)] for row in children[level])
            for level in range(n_levels)
        )
        paths = vocab.item_paths(codes)
        paths.setflags(write=False)
        prefix_node: dict[tuple[int, ...], int] = {(): 0}
        for level in range(1, n_levels):
            for path, node in zip(paths[held, :level].tolist(), node_ids[level].tolist(), strict=True):
                prefix_node[tuple(path)] = node
        return cls(
            level_token_ids=tuple(vocab.token_ids[level] for level in range(n_levels)),
            children=tuple(children),
            n_items=codes.n_items,
            n_live=int(held.size),
            _prefix_node=prefix_node,
            _allowed=allowed,
            _paths=paths,
            _last_code={int(t): c for c, t in enumerate(vocab.token_ids[n_levels - 1].tolist())},
        )

    @property
    def n_levels(self) -> int:
        return len(self.children)

    @property
    def n_nodes(self) -> tuple[int, ...]:
        return tuple(int(t.shape[0]) for t in self.children)

    @property
    def held_items(self) -> npt.NDArray[np.int64]:
        """The item indices the trie holds, ascending."""
        last = self.children[-1]
        return np.sort(last[last >= 0].astype(np.int64))

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays (tables, allowed lists, paths); the per-node Python objects are not counted."""
        return (
            sum(t.nbytes for t in self.children)
            + sum(a.nbytes for level in self._allowed for a in level)
            + self._paths.nbytes
        )

    def node_of(self, prefix: Sequence[int]) -> int | None:
        """The node (at level len(prefix)) a token-id prefix leads to; None if no item's path starts with it."""
        return self._prefix_node.get(tuple(int(t) for t in prefix))

    def allowed(self, prefix: Sequence[int]) -> npt.NDArray[np.int64]:
        """Token ids that may follow `prefix`; empty for a complete path or a prefix of no item."""
        if len(prefix) >= self.n_levels:
            return np.empty(0, dtype=np.int64)
        node = self.node_of(prefix)
        if node is None:
            return np.empty(0, dtype=np.int64)
        return self._allowed[len(prefix)][node]

    def item_at(self, path: Sequence[int]) -> int | None:
        """The item whose full token-id path is `path`; None if it is not a complete path of a held item."""
        if len(path) != self.n_levels:
            return None
        node = self.node_of(path[:-1])
        if node is None:
            return None
        code = self._last_code.get(int(path[-1]))
        if code is None:
            return None
        item = int(self.children[-1][node, code])
        return None if item == NO_CHILD else item

    def path_of(self, item: int) -> tuple[int, ...]:
        """Item `item`'s token-id path (whether or not the trie holds it)."""
        return tuple(int(t) for t in self._paths[item])

    @property
    def item_paths(self) -> npt.NDArray[np.int64]:
        """(n_items, L) token-id paths; row i is item i's."""
        return self._paths

    def children_of(self, level: int, nodes: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Rows (..., C_l) of the child table for `nodes` at `level` (-1: no child)."""
        return self.children[level][np.asarray(nodes, dtype=np.int64)].astype(np.int64)

    def allowed_mask(self, level: int, nodes: npt.ArrayLike, vocab_size: int) -> npt.NDArray[np.bool_]:
        """Boolean rows (len(nodes), vocab_size): True where the token may follow each node at `level`."""
        node_arr = np.asarray(nodes, dtype=np.int64)
        mask = np.zeros((node_arr.size, vocab_size), dtype=bool)
        mask[:, self.level_token_ids[level]] = self.children[level][node_arr] >= 0
        return mask
