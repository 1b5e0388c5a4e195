"""Shared pieces of the generation tests: random prompts over a tiny setup and the ordered top-K comparison."""

from __future__ import annotations

import random

from model.generate.base import ScoredItem
from model.prompts import PromptBuilder
from tests.conftest import TinySetup

TOL = 1e-4  # score tolerance between backends (fp32)


def random_prompts(setup: TinySetup, n: int, seed: int, max_history: int = 8, max_len: int = 10) -> list[list[int]]:
    """`n` prompts from random histories of 1..max_len items (seeded)."""
    rng = random.Random(seed)
    builder = PromptBuilder(setup.tokenizer, setup.codes, setup.vocab, max_history=max_history)
    return [builder.ids([rng.randrange(setup.codes.n_items) for _ in range(rng.randint(1, max_len))]) for _ in range(n)]


def assert_same_ranking(ours: list[ScoredItem], ref: list[ScoredItem]) -> None:
    """Same items in the same order, scores within TOL."""
    assert [r.item for r in ours] == [r.item for r in ref]
    for a, b in zip(ours, ref, strict=True):
        assert abs(a.score - b.score) < TOL, (a, b)
