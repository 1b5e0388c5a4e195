"""Excluded items and teacher-forced scores, on every backend path: the top-k over the non-excluded items equals
brute force over them (wide beam), and `score` equals brute force for any item list, in any order, with padding."""

from __future__ import annotations

import random

import numpy as np
import pytest

from model.errors import UserError
from model.generate.base import ScoredItem
from model.generate.hf_beam import HFBeamGenerator
from model.generate.reference import HFGenerateReference, brute_force_scores
from model.generate.stepwise import stepwise_score, stepwise_top_k
from tests.conftest import make_tiny_setup
from tests.generate_helpers import TOL, assert_same_ranking, hf_scorer, random_prompts


def _brute_top_k(scores: np.ndarray, k: int, banned: set[int]) -> list[ScoredItem]:
    order = [int(i) for i in np.lexsort((np.arange(scores.size), -scores)) if int(i) not in banned]
    return [ScoredItem(i, float(scores[i])) for i in order[:k]]


@pytest.mark.parametrize(("family", "attention"), [("qwen2", "shared_prefix"), ("llama", "generic")])
def test_excluded_items_never_come_back_and_the_rest_is_brute_force(family: str, attention: str) -> None:
    setup = make_tiny_setup(n_items=120, family=family, seed=7)
    prompts = random_prompts(setup, 5, 7)
    rng = random.Random(7)
    k = 15
    full = [brute_force_scores(setup.model, setup.trie, p) for p in prompts]
    # ban the brute-force top items (the ones a search would return first) and some random ones
    exclude = [{int(i) for i in np.argsort(-s)[: rng.randint(0, 12)]} | set(rng.sample(range(120), 5)) for s in full]
    exclude[1] = set()
    gen = HFBeamGenerator(setup.model, setup.trie, beam_width=120, batch_size=2, attention=attention)  # type: ignore[arg-type]
    ours = gen.top_k(prompts, k, exclude)
    for got, scores, banned in zip(ours, full, exclude, strict=True):
        assert not {s.item for s in got} & banned
        assert_same_ranking(got, _brute_top_k(scores, k, banned))


def test_exclusion_agrees_between_the_batched_and_the_stepwise_search() -> None:
    setup = make_tiny_setup(n_items=150, seed=3)
    prompts = random_prompts(setup, 4, 3)
    exclude = [set(random.Random(i).sample(range(150), 40)) for i in range(4)]
    k, width = 10, 16
    ours = HFBeamGenerator(setup.model, setup.trie, beam_width=width).top_k(prompts, k, exclude)

    step = stepwise_top_k(prompts, setup.trie, k, width, hf_scorer(setup.model)[1], exclude)
    for o, s, banned in zip(ours, step, exclude, strict=True):
        assert_same_ranking(o, s)
        assert not {x.item for x in o} & banned


@pytest.mark.parametrize(("family", "attention"), [("qwen2", "shared_prefix"), ("llama", "generic")])
def test_scores_of_listed_items_are_brute_force(family: str, attention: str) -> None:
    setup = make_tiny_setup(n_items=90, family=family, seed=11)
    prompts = random_prompts(setup, 5, 11)
    rng = random.Random(11)
    items = [rng.sample(range(90), rng.randint(0, 30)) for _ in prompts]  # uneven lists, one may be empty
    items[2] = []
    gen = HFBeamGenerator(setup.model, setup.trie, batch_size=3, attention=attention)  # type: ignore[arg-type]
    got = gen.score(prompts, items)
    for prompt, row, scores in zip(prompts, items, got, strict=True):
        full = brute_force_scores(setup.model, setup.trie, prompt)
        assert len(scores) == len(row)
        assert max((abs(a - full[i]) for a, i in zip(scores, row, strict=True)), default=0.0) < TOL


def test_search_scores_equal_forced_scores() -> None:
    """A candidate scored by `score` gets exactly what `top_k` gave it: fusion can mix both."""
    setup = make_tiny_setup(n_items=200, seed=5)
    prompts = random_prompts(setup, 4, 5)
    gen = HFBeamGenerator(setup.model, setup.trie, beam_width=30)
    found = gen.top_k(prompts, 30)
    forced = gen.score(prompts, [[s.item for s in row][::-1] for row in found])
    for row, scores in zip(found, forced, strict=True):
        assert max(abs(a.score - b) for a, b in zip(row[::-1], scores, strict=True)) < 1e-5


def test_stepwise_score_equals_brute_force() -> None:
    setup = make_tiny_setup(n_items=60, seed=2)
    prompts = random_prompts(setup, 2, 2)
    items = [[3, 17, 59], [0]]
    got = stepwise_score(prompts, setup.trie, items, hf_scorer(setup.model)[1])
    for prompt, row, scores in zip(prompts, items, got, strict=True):
        full = brute_force_scores(setup.model, setup.trie, prompt)
        assert max(abs(a - full[i]) for a, i in zip(scores, row, strict=True)) < TOL


def test_bad_arguments_name_themselves(tiny) -> None:  # type: ignore[no-untyped-def]
    gen = HFBeamGenerator(tiny.model, tiny.trie)
    prompt = random_prompts(tiny, 1, 0)
    with pytest.raises(UserError, match="exclude has 2 entries for 1 prompts"):
        gen.top_k(prompt, 5, [set(), set()])
    with pytest.raises(UserError, match=r"items\[0\] names item 100000"):
        gen.score(prompt, [[1, 100000]])
    with pytest.raises(UserError, match="items has 0 lists for 1 prompts"):
        gen.score(prompt, [])
    with pytest.raises(UserError, match="has no item exclusion"):
        HFGenerateReference(tiny.model, tiny.trie).top_k(prompt, 5, [{1}])
