"""Shared pieces of the generation tests: random prompts over a tiny setup and the ordered top-K comparison."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import torch

from model.generate.base import ScoredItem
from model.generate.stepwise import NextTokenScorer, ScoreRequest
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


def hf_scorer(model: torch.nn.Module) -> tuple[list[int], NextTokenScorer]:
    """A NextTokenScorer running `model` once per request; also returns a list that counts requests per call."""
    calls: list[int] = []

    @torch.inference_mode()
    def score(requests: Sequence[ScoreRequest]) -> list[npt.NDArray[np.float64]]:
        calls.append(len(requests))
        out = []
        for req in requests:
            logits = model(input_ids=torch.tensor([req.tokens])).logits[0, -1].float()
            out.append(torch.log_softmax(logits, -1)[torch.from_numpy(req.candidates)].double().numpy())
        return out

    return calls, score
