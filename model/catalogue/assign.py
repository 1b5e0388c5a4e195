"""Collision-free codes for new items: residual quantisation of their latents around the codes already taken.

Contract: `assign_codes(latents, codebooks, taken, placement)` gives each latent (row, in order) a code tuple no taken
code (a trained item's, a removed one's, or a new item's earlier in the list) has, by residual quantisation (the
tokenizer's rule: at each level the codeword nearest to what the levels above left over), in one of two placements:
- `sibling` (the default): the first L-1 codes follow the prefixes that already exist. A beam of `beam` prefixes
  descends the existing tree level by level, scoring each by the squared distance of the latent to the prefix's
  codewords' sum; the item takes the nearest of them that has a free last code, and there its nearest free codeword.
  A new item is so a sibling of trained items: a trained LM generates it as soon as it generates their shared prefix
  (a path of codes it has never produced before it would almost never generate). An item whose every beam prefix is
  full falls back to `free`.
- `free`: the nearest codeword at every level, except that a codeword whose subtree is full is passed over for the
  next nearest one (a prefix of l + 1 codes holds at most C ** (L - 1 - l) items); this can open new branches.
Ties go to the lower code and an earlier row gets first pick; there is no randomness, so the same inputs always give
the same codes. More items than free tuples raise `UserError`. It changes no codebook and knows nothing about items
or text.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from model.errors import UserError

Placement = Literal["sibling", "free"]
PLACEMENTS: tuple[str, ...] = ("sibling", "free")
BEAM = 16


class _Tree:
    """Counts of taken codes under every prefix, and the existing children of every prefix (prefixes as ints)."""

    def __init__(self, taken: npt.NDArray[np.int64], size: int, levels: int) -> None:
        self.size, self.levels = size, levels
        self.counts: list[dict[int, int]] = [{} for _ in range(levels + 1)]  # [l][prefix of l codes] = items under it
        self.children: list[dict[int, list[int]]] = [{} for _ in range(levels)]  # [l][prefix of l codes] = codes
        key = np.zeros(taken.shape[0], dtype=np.int64)
        for level in range(levels):
            parent = key
            key = key * size + taken[:, level]
            uniq, cnt = np.unique(key, return_counts=True)
            self.counts[level + 1] = dict(zip(uniq.tolist(), cnt.tolist(), strict=True))
            pairs = np.unique(np.stack([parent, taken[:, level]], axis=1), axis=0) if taken.size else np.empty((0, 2))
            for p, c in pairs.tolist():
                self.children[level].setdefault(int(p), []).append(int(c))

    def free(self, level: int, prefix: int, code: int) -> bool:
        return self.counts[level + 1].get(prefix * self.size + code, 0) < self.size ** (self.levels - 1 - level)

    def add(self, code: npt.NDArray[np.int64]) -> None:
        prefix = 0
        for level in range(self.levels):
            parent, prefix = prefix, prefix * self.size + int(code[level])
            self.counts[level + 1][prefix] = self.counts[level + 1].get(prefix, 0) + 1
            kids = self.children[level].setdefault(parent, [])
            if int(code[level]) not in kids:
                kids.append(int(code[level]))


def assign_codes(
    latents: npt.ArrayLike,
    codebooks: npt.ArrayLike,
    taken: npt.ArrayLike,
    placement: Placement = "sibling",
    beam: int = BEAM,
) -> npt.NDArray[np.int64]:
    z = np.asarray(latents, dtype=np.float64)
    books = np.asarray(codebooks, dtype=np.float64)  # (L, C, D)
    used = np.asarray(taken, dtype=np.int64).reshape(-1, books.shape[0])
    levels, size, dim = books.shape
    if placement not in PLACEMENTS:
        raise UserError(f"placement must be one of {', '.join(PLACEMENTS)}; got {placement!r}")
    if z.ndim != 2 or z.shape[1] != dim:
        raise UserError(f"latents have shape {z.shape}; the codebooks take (n, {dim})")
    if used.shape[0] + z.shape[0] > size**levels:
        raise UserError(
            f"{z.shape[0]} new items do not fit: {used.shape[0]} of the {size**levels} code tuples of "
            f"{levels} levels x {size} are taken"
        )
    tree = _Tree(used, size, levels)
    norms = (books * books).sum(axis=2)  # (L, C)
    out = np.empty((z.shape[0], levels), dtype=np.int64)
    for row in range(z.shape[0]):
        code = None
        if placement == "sibling" and used.shape[0] and levels > 1:
            code = _sibling(z[row], books, norms, tree, beam)
        out[row] = code if code is not None else _free(z[row], books, norms, tree)
        tree.add(out[row])
    return out


def _free(
    z: npt.NDArray[np.float64], books: npt.NDArray[np.float64], norms: npt.NDArray[np.float64], tree: _Tree
) -> npt.NDArray[np.int64]:
    levels, size, _ = books.shape
    residual = z.copy()
    prefix = 0
    code = np.empty(levels, dtype=np.int64)
    for level in range(levels):
        dist = norms[level] - 2.0 * (books[level] @ residual)  # + |residual|^2, the same for every codeword
        for c in np.argsort(dist, kind="stable").tolist():
            if tree.free(level, prefix, c):
                break
        else:  # the parent had room, so some child has: cannot happen
            raise AssertionError("no free code under a prefix with room")
        code[level] = c
        prefix = prefix * size + c
        residual -= books[level][c]
    return code


def _sibling(
    z: npt.NDArray[np.float64],
    books: npt.NDArray[np.float64],
    norms: npt.NDArray[np.float64],
    tree: _Tree,
    beam: int,
) -> npt.NDArray[np.int64] | None:
    levels, size, _ = books.shape
    # (squared distance of z to the prefix's codeword sum, prefix key, codes so far, residual)
    frontier: list[tuple[float, int, tuple[int, ...], npt.NDArray[np.float64]]] = [(float(z @ z), 0, (), z)]
    for level in range(levels - 1):
        grown = []
        for _, key, codes, residual in frontier:
            kids = np.asarray(sorted(tree.children[level].get(key, [])), dtype=np.int64)
            if kids.size == 0:
                continue
            rest = residual[None, :] - books[level][kids]  # (k, D)
            dist = (rest * rest).sum(axis=1)
            for j in np.argsort(dist, kind="stable")[:beam].tolist():
                c = int(kids[j])
                grown.append((float(dist[j]), key * size + c, (*codes, c), rest[j]))
        grown.sort(key=lambda entry: (entry[0], entry[2]))
        frontier = grown[:beam]
    best: tuple[float, tuple[int, ...]] | None = None
    last = levels - 1
    for _, key, codes, residual in frontier:
        dist = norms[last] - 2.0 * (books[last] @ residual) + float(residual @ residual)
        for c in np.argsort(dist, kind="stable").tolist():
            if tree.free(last, key, c):
                if best is None or (float(dist[c]), (*codes, c)) < best:
                    best = (float(dist[c]), (*codes, c))
                break
    return None if best is None else np.asarray(best[1], dtype=np.int64)
