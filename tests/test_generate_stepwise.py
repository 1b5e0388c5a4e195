"""The step-wise beam-search driver (what the vLLM backend runs) with a transformers next-token scorer, no vLLM.

It must give the transformers backend's and brute force's results: same items, same order, same scores.
"""

from __future__ import annotations

import pytest

from model.generate.hf_beam import HFBeamGenerator
from model.generate.reference import brute_force_top_k
from model.generate.stepwise import stepwise_top_k
from tests.conftest import TinySetup, make_tiny_setup
from tests.generate_helpers import assert_same_ranking, hf_scorer, random_prompts


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_transformers_backend(seed: int) -> None:
    setup = make_tiny_setup(n_items=120, level_sizes=(6, 6, 6), seed=seed)
    prompts = random_prompts(setup, 3, seed, max_history=6, max_len=6)
    calls, score = hf_scorer(setup.model)
    ours = stepwise_top_k(prompts, setup.trie, 8, 10, score)
    ref = HFBeamGenerator(setup.model, setup.trie, beam_width=10).top_k(prompts, 8)
    for o, r in zip(ours, ref, strict=True):
        assert len({x.item for x in o}) == 8
        assert_same_ranking(o, r)
    assert calls[0] == 3 and len(calls) == setup.trie.n_levels  # one request per live beam, one call per level
    assert all(c <= 3 * 10 for c in calls)


def test_wide_beam_equals_brute_force() -> None:
    setup = make_tiny_setup(n_items=60, level_sizes=(4, 4, 4), seed=2)
    prompt = random_prompts(setup, 1, 2, max_history=6, max_len=6)[0]
    _, score = hf_scorer(setup.model)
    ours = stepwise_top_k([prompt], setup.trie, 60, 60, score)[0]
    assert_same_ranking(ours, brute_force_top_k(setup.model, setup.trie, prompt, 60))


def test_a_scorer_that_drops_requests_is_an_error(tiny: TinySetup) -> None:
    with pytest.raises(RuntimeError, match="answered 0 of 1 requests"):
        stepwise_top_k([[5, 6]], tiny.trie, 3, 3, lambda reqs: [])
