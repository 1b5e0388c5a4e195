"""Collision-free codes for new items: residual quantisation of their latents around the codes already taken.

Contract: `assign_codes(latents, codebooks, taken)` gives each latent (row, in order) the code tuple residual
quantisation picks (nearest codeword to what the levels above left over, the tokenizer's own rule), except that a
codeword whose subtree is full is passed over for the next nearest one: at level l a prefix of l + 1 codes holds at
most C ** (L - 1 - l) items, so at the last level a code already taken (by a trained item, a removed one, or a new item
earlier in the list) is never given again. The result is unique against `taken` and within itself; an earlier row
gets first pick, ties go to the lower code, and there is no randomness, so the same inputs always give the same codes.
More items than free tuples raise `UserError`. It changes no codebook and knows nothing about items or text.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from model.errors import UserError


def assign_codes(latents: npt.ArrayLike, codebooks: npt.ArrayLike, taken: npt.ArrayLike) -> npt.NDArray[np.int64]:
    z = np.asarray(latents, dtype=np.float64)
    books = np.asarray(codebooks, dtype=np.float64)  # (L, C, D)
    used = np.asarray(taken, dtype=np.int64).reshape(-1, books.shape[0])
    levels, size, dim = books.shape
    if z.ndim != 2 or z.shape[1] != dim:
        raise UserError(f"latents have shape {z.shape}; the codebooks take (n, {dim})")
    if used.shape[0] + z.shape[0] > size**levels:
        raise UserError(
            f"{z.shape[0]} new items do not fit: {used.shape[0]} of the {size**levels} code tuples of "
            f"{levels} levels x {size} are taken"
        )
    # counts[l][key of a prefix of l codes] = items under it; a prefix of l codes may hold size ** (levels - l)
    counts: list[dict[int, int]] = [{} for _ in range(levels + 1)]
    key = np.zeros(used.shape[0], dtype=np.int64)
    for level in range(levels):
        key = key * size + used[:, level]
        uniq, cnt = np.unique(key, return_counts=True)
        counts[level + 1] = dict(zip(uniq.tolist(), cnt.tolist(), strict=True))
    out = np.empty((z.shape[0], levels), dtype=np.int64)
    norms = (books * books).sum(axis=2)  # (L, C)
    for row in range(z.shape[0]):
        residual = z[row].copy()
        prefix = 0
        for level in range(levels):
            dist = norms[level] - 2.0 * (books[level] @ residual)  # + |residual|^2, the same for every codeword
            capacity = size ** (levels - 1 - level)
            level_counts = counts[level + 1]
            for code in np.argsort(dist, kind="stable").tolist():
                if level_counts.get(prefix * size + code, 0) < capacity:
                    break
            else:  # the parent had room, so some child has: cannot happen
                raise AssertionError("no free code under a prefix with room")
            out[row, level] = code
            prefix = prefix * size + code
            residual -= books[level][code]
        prefix = 0
        for level in range(levels):
            prefix = prefix * size + int(out[row, level])
            counts[level + 1][prefix] = counts[level + 1].get(prefix, 0) + 1
    return out
