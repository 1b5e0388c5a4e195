"""CodeTrie: the prefix tree of every item's code-token path, as dense per-level tables over token ids.

Contract: built from `ItemCodes` + `CodeVocab`; a path of token ids is admitted iff it is a prefix of some item's path.
Nodes are numbered per level (level l holds the nodes reached after l tokens; level 0 is the single root, node 0).
`children[l]` is an int32 table of shape (n_nodes[l], C_l): entry [node, c] is the node at level l+1 reached by
the code-c token of level l, or -1; at the last level the entry is the item index instead of a node. So one decoding
step for many beams is one gather (`children[l][nodes]`) plus one gather of `level_token_ids[l]` from the logits;
`allowed(prefix)` and `item_at(path)` are dictionary look-ups (O(1) per step, no scan of the codebook).
Memory is sum_l n_nodes[l] * C_l int32 entries (about n_items * C_last * 4 bytes at the last level).
It knows nothing about models, logits or beams.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from model.codes.item_codes import ItemCodes
from model.codes.vocab import CodeVocab

NO_CHILD = -1


@dataclass(frozen=True, eq=False)
class CodeTrie:
    """Dense per-level child tables plus O(1) prefix look-ups. Build with `CodeTrie.build`."""

    level_token_ids: tuple[npt.NDArray[np.int64], ...]  # [l][c] = token id of code c at level l
    children: tuple[npt.NDArray[np.int32], ...]  # [l] (n_nodes[l], C_l): next node / item at the last level / -1
    n_items: int
    _prefix_node: dict[tuple[int, ...], int]  # token-id prefix (length 0..L-1) -> node at level len(prefix)
    _allowed: tuple[tuple[npt.NDArray[np.int64], ...], ...]  # [l][node] = allowed token ids, ascending code order
    _paths: npt.NDArray[np.int64]  # (n_items, L) token-id path of each item
    _last_code: dict[int, int]  # token id -> code, for the last level

    @classmethod
    def build(cls, codes: ItemCodes, vocab: CodeVocab) -> CodeTrie:
        vocab.check_compatible(codes)
        n_levels = codes.n_levels
        arr = codes.codes.astype(np.int64)
        # node id of each item's length-l prefix, for l = 0..L-1
        node_ids: list[npt.NDArray[np.int64]] = [np.zeros(codes.n_items, dtype=np.int64)]
        n_nodes = [1]
        for level in range(1, n_levels):
            _, inverse = np.unique(arr[:, :level], axis=0, return_inverse=True)
            inverse = inverse.reshape(-1)
            node_ids.append(inverse)
            n_nodes.append(int(inverse.max()) + 1)
        children = []
        for level in range(n_levels):
            table = np.full((n_nodes[level], vocab.level_sizes[level]), NO_CHILD, dtype=np.int32)
            target = node_ids[level + 1] if level + 1 < n_levels else np.arange(codes.n_items)
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
            for path, node in zip(paths[:, :level].tolist(), node_ids[level].tolist(), strict=True):
                prefix_node[tuple(path)] = node
        return cls(
            level_token_ids=tuple(vocab.token_ids[level] for level in range(n_levels)),
            children=tuple(children),
            n_items=codes.n_items,
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
        """The item whose full token-id path is `path`; None if it is not a complete item path."""
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
        """Item `item`'s token-id path."""
        return tuple(int(t) for t in self._paths[item])

    @property
    def item_paths(self) -> npt.NDArray[np.int64]:
        """(n_items, L) token-id paths; row i is item i's."""
        return self._paths

    def allowed_mask(self, level: int, nodes: npt.ArrayLike, vocab_size: int) -> npt.NDArray[np.bool_]:
        """Boolean rows (len(nodes), vocab_size): True where the token may follow each node at `level`.

        For logits processors that mask a full vocabulary row (one masked write per step)."""
        node_arr = np.asarray(nodes, dtype=np.int64)
        mask = np.zeros((node_arr.size, vocab_size), dtype=bool)
        mask[:, self.level_token_ids[level]] = self.children[level][node_arr] >= 0
        return mask
