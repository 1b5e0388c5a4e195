"""The generator interface: prompts (token ids) in, each prompt's top-K items with scores out.

Contract: `Generator.top_k(prompts, k)` returns, per prompt, at most k `ScoredItem`s in descending score order; every
item is a real catalogue item (its code path is in the trie) and no item appears twice. A score is the log-probability
of the item's code tokens given the prompt, summed over the L tokens, each under the LM's FULL-vocabulary
log-softmax (the trie masks candidates, it never renormalises). The search is beam search of width W >= k over the
trie, exact in the sense of beam search: with W >= the number of items it is exhaustive and equals brute force.
k larger than the catalogue returns every item, ranked (k is clamped to `trie.n_live`, the items the trie holds). k <
1, a beam width below k, or an empty prompt raise `UserError`. `exclude[i]` (optional) holds items prompt i must not
get: they are banned where the search completes an item (the last code level), so the top-k is over the other items (a
prompt may then get fewer than k when fewer remain). `score(prompts, items)` returns each listed item's score under
the same definition (teacher forcing along its code path; exact, no search), so a caller can score candidates the
search did not reach. Backends know nothing about users, histories, Redis or how prompts were built.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from typing import NamedTuple

from model.codes.trie import CodeTrie
from model.errors import UserError


class ScoredItem(NamedTuple):
    item: int  # catalogue item index
    score: float  # sum of the code tokens' full-vocabulary log-probabilities (<= 0)


class Generator(ABC):
    """A constrained top-K generator over one trie."""

    trie: CodeTrie
    beam_width: int | None  # W; None means W = k

    @abstractmethod
    def top_k(
        self, prompts: Sequence[Sequence[int]], k: int, exclude: Sequence[Collection[int]] | None = None
    ) -> list[list[ScoredItem]]:
        """Each prompt's top-k items, best first, without the items of `exclude[i]`."""

    @abstractmethod
    def score(self, prompts: Sequence[Sequence[int]], items: Sequence[Sequence[int]]) -> list[list[float]]:
        """For each prompt, the score of each item of `items[i]` (same order)."""

    def _check_exclude(self, prompts: Sequence[Sequence[int]], exclude: Sequence[Collection[int]] | None) -> None:
        if exclude is not None and len(exclude) != len(prompts):
            raise UserError(f"exclude has {len(exclude)} entries for {len(prompts)} prompts")

    def _check_items(self, prompts: Sequence[Sequence[int]], items: Sequence[Sequence[int]]) -> None:
        if len(items) != len(prompts):
            raise UserError(f"items has {len(items)} lists for {len(prompts)} prompts")
        n = self.trie.n_items
        for i, row in enumerate(items):
            bad = [int(x) for x in row if not 0 <= int(x) < n]
            if bad:
                raise UserError(f"items[{i}] names item {bad[0]}, not in the catalogue of {n} items")

    def _plan(self, prompts: Sequence[Sequence[int]], k: int) -> tuple[int, int]:
        """Validate the arguments; return (effective k, beam width)."""
        return plan_search(prompts, k, self.beam_width, self.trie.n_live)


def plan_search(prompts: Sequence[Sequence[int]], k: int, beam_width: int | None, n_items: int) -> tuple[int, int]:
    """(effective k, beam width W) for a call, or UserError naming the bad argument."""
    if k < 1:
        raise UserError(f"k must be >= 1; got k={k}")
    for i, p in enumerate(prompts):
        if len(p) == 0:
            raise UserError(f"prompt {i} is empty: the generator needs at least one prompt token")
    k_eff = min(k, n_items)
    if beam_width is None:
        return k_eff, k_eff
    if beam_width < k_eff:
        raise UserError(f"beam_width={beam_width} is smaller than k={k_eff}: the beam must hold the top-k")
    return k_eff, beam_width
