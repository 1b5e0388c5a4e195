"""Trie beam search against transformers' own constrained beam search and against brute force.

Real tiny random LMs (Qwen2, Llama, and Qwen3 for the generic path), a few hundred items, several seeds.
"""

from __future__ import annotations

import itertools
from typing import Literal

import pytest
import torch

from model.errors import UserError
from model.generate import make_generator
from model.generate.base import ScoredItem
from model.generate.hf_beam import HFBeamGenerator, shared_prefix_unsupported
from model.generate.reference import HFGenerateReference, brute_force_scores, brute_force_top_k
from tests.conftest import TinySetup, make_tiny_setup
from tests.generate_helpers import TOL, assert_same_ranking, random_prompts


def _assert_valid(result: list[ScoredItem], setup: TinySetup, k: int) -> None:
    items = [r.item for r in result]
    assert len(items) == k and len(set(items)) == k
    assert all(0 <= i < setup.codes.n_items for i in items)
    assert all(a.score >= b.score for a, b in itertools.pairwise(result))


@pytest.mark.parametrize(("family", "seed"), [("qwen2", 0), ("qwen2", 1), ("llama", 2), ("llama", 3)])
def test_matches_hf_generate_reference(family: str, seed: int) -> None:
    setup = make_tiny_setup(n_items=300, family=family, seed=seed)
    prompts = random_prompts(setup, 6, seed)
    k, width = 10, 12
    ours = HFBeamGenerator(setup.model, setup.trie, beam_width=width, batch_size=4).top_k(prompts, k)
    ref = HFGenerateReference(setup.model, setup.trie, beam_width=width, batch_size=1).top_k(prompts, k)
    for o, r in zip(ours, ref, strict=True):
        _assert_valid(o, setup, k)
        assert_same_ranking(o, r)


@pytest.mark.parametrize(("family", "seed"), [("qwen2", 4), ("llama", 5)])
def test_wide_beam_equals_brute_force(family: str, seed: int) -> None:
    setup = make_tiny_setup(n_items=200, family=family, seed=seed, tie_word_embeddings=False)
    prompts = random_prompts(setup, 3, seed)
    k = 20
    ours = HFBeamGenerator(setup.model, setup.trie, beam_width=setup.codes.n_items).top_k(prompts, k)
    for prompt, o in zip(prompts, ours, strict=True):
        assert_same_ranking(o, brute_force_top_k(setup.model, setup.trie, prompt, k))


def test_scores_are_full_vocabulary_log_probs(tiny: TinySetup) -> None:
    """Scores are not renormalised over allowed tokens: all items' probabilities sum to well below 1."""
    prompt = random_prompts(tiny, 1, 0)[0]
    full = brute_force_scores(tiny.model, tiny.trie, prompt)
    ours = HFBeamGenerator(tiny.model, tiny.trie, beam_width=tiny.codes.n_items).top_k([prompt], tiny.codes.n_items)[0]
    assert len(ours) == tiny.codes.n_items
    assert sorted(r.item for r in ours) == list(range(tiny.codes.n_items))
    assert max(abs(r.score - full[r.item]) for r in ours) < TOL
    assert torch.tensor(full).exp().sum() < 0.5


def test_generic_path_agrees_with_shared_prefix(tiny: TinySetup) -> None:
    prompts = random_prompts(tiny, 7, 11)
    fast = HFBeamGenerator(tiny.model, tiny.trie, beam_width=15, batch_size=3, attention="shared_prefix")
    generic = HFBeamGenerator(tiny.model, tiny.trie, beam_width=15, batch_size=3, attention="generic")
    assert fast.attention == "shared_prefix" and generic.attention == "generic"
    for a, b in zip(fast.top_k(prompts, 15), generic.top_k(prompts, 15), strict=True):
        assert_same_ranking(a, b)


def test_batching_and_padding_do_not_change_results(tiny: TinySetup) -> None:
    prompts = random_prompts(tiny, 9, 12)
    gen = HFBeamGenerator(tiny.model, tiny.trie, beam_width=10, batch_size=9)
    alone = [gen.top_k([p], 10)[0] for p in prompts]
    for a, b in zip(gen.top_k(prompts, 10), alone, strict=True):
        assert_same_ranking(a, b)


def test_auto_picks_generic_for_unsupported_layout() -> None:
    from transformers import Qwen3Config, Qwen3ForCausalLM

    from model.lm.extend import add_code_tokens
    from model.lm.tiny import tiny_tokenizer

    setup = make_tiny_setup(n_items=150, seed=8)
    tok = tiny_tokenizer()
    torch.manual_seed(8)
    cfg = Qwen3Config(
        vocab_size=len(tok), hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        head_dim=16, intermediate_size=128, initializer_range=0.2,
    )  # fmt: skip
    model = Qwen3ForCausalLM(cfg).eval()
    vocab = add_code_tokens(model, tok, (8, 8, 8, 8), mean_resizing=False)
    from model.codes.trie import CodeTrie

    trie = CodeTrie.build(setup.codes, vocab)
    assert shared_prefix_unsupported(model) is not None
    gen = HFBeamGenerator(model, trie, beam_width=trie.n_items)
    assert gen.attention == "generic"
    with pytest.raises(UserError, match="cannot run this model"):
        HFBeamGenerator(model, trie, attention="shared_prefix")
    prompt = tok("User history: <a_1><b_2><c_3><d_4> Next item:", add_special_tokens=False)["input_ids"]
    assert_same_ranking(gen.top_k([prompt], 10)[0], brute_force_top_k(model, trie, prompt, 10))


def test_bf16_runs_and_mostly_agrees(tiny: TinySetup) -> None:
    prompts = random_prompts(tiny, 4, 13)
    fp32 = HFBeamGenerator(tiny.model, tiny.trie, beam_width=20).top_k(prompts, 20)
    bf16_gen = HFBeamGenerator(tiny.model, tiny.trie, beam_width=20, dtype="bfloat16")
    assert bf16_gen.model.dtype == torch.bfloat16 and tiny.model.dtype == torch.float32  # caller's model untouched
    for a, b in zip(fp32, bf16_gen.top_k(prompts, 20), strict=True):
        _assert_valid(b, tiny, 20)
        assert len({r.item for r in a} & {r.item for r in b}) >= 14
        assert abs(a[0].score - b[0].score) < 0.5


def test_k_beyond_catalogue_returns_every_item_ranked() -> None:
    setup = make_tiny_setup(n_items=20, level_sizes=(3, 3, 3), seed=9)
    prompt = random_prompts(setup, 1, 9)[0]
    result = HFBeamGenerator(setup.model, setup.trie).top_k([prompt], 50)[0]
    assert_same_ranking(result, brute_force_top_k(setup.model, setup.trie, prompt, 20))


def test_small_first_level_leaves_no_empty_results() -> None:
    """A first level with fewer codes than the beam width: the empty slots never surface as results."""
    setup = make_tiny_setup(n_items=60, level_sizes=(2, 8, 8), seed=10)
    prompts = random_prompts(setup, 2, 10)
    exact = [brute_force_top_k(setup.model, setup.trie, p, 5) for p in prompts]
    attention: Literal["shared_prefix", "generic"]
    for attention in ("shared_prefix", "generic"):
        gen = HFBeamGenerator(setup.model, setup.trie, beam_width=30, attention=attention)
        for best, result in zip(exact, gen.top_k(prompts, 30), strict=True):
            _assert_valid(result, setup, 30)
            assert_same_ranking(result[:5], best)


def test_argument_errors(tiny: TinySetup) -> None:
    gen = HFBeamGenerator(tiny.model, tiny.trie, beam_width=5)
    with pytest.raises(UserError, match="beam_width=5 is smaller than k=6"):
        gen.top_k([[1, 2]], 6)
    with pytest.raises(UserError, match="k must be >= 1"):
        gen.top_k([[1, 2]], 0)
    with pytest.raises(UserError, match="prompt 1 is empty"):
        gen.top_k([[1, 2], []], 3)
    assert gen.top_k([], 3) == []
    with pytest.raises(UserError, match="dtype"):
        HFBeamGenerator(tiny.model, tiny.trie, dtype="int8")
    small = make_tiny_setup(n_items=10, level_sizes=(4, 4))
    big = make_tiny_setup(n_items=10, level_sizes=(64, 64, 64, 64))
    with pytest.raises(UserError, match="vocabulary has"):
        HFBeamGenerator(small.model, big.trie)


def test_make_generator_backends(tiny: TinySetup) -> None:
    assert isinstance(make_generator("transformers", tiny.model, tiny.trie, beam_width=4), HFBeamGenerator)
    assert isinstance(make_generator("auto", tiny.model, tiny.trie), HFBeamGenerator)  # no GPU here
    with pytest.raises(UserError, match="unknown generator backend"):
        make_generator("onnx", tiny.model, tiny.trie)  # type: ignore[arg-type]
