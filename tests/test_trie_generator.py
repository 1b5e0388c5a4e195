"""The generator's outputs do not depend on the trie's layout: the compact CodeTrie gives exactly (bit for bit) the
items and scores the dense DenseCodeTrie gives, on both attention paths, with excluded items, for scoring given
items, and with items left out of the trie (a catalogue's removed items), which are then never returned."""

from __future__ import annotations

import pytest

from model.codes.dense_trie import DenseCodeTrie
from model.codes.trie import CodeTrie
from model.generate.hf_beam import HFBeamGenerator
from model.generate.reference import brute_force_top_k
from tests.conftest import make_tiny_setup
from tests.generate_helpers import assert_same_ranking, random_prompts


@pytest.fixture(autouse=True)
def _csr_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """These catalogues are small enough for every level to be held dense as well: make the steps read the CSR."""
    monkeypatch.setattr("model.generate.beam.DENSE_LEVEL_ENTRIES", 0)


@pytest.mark.parametrize(
    ("family", "attention", "seed"),
    [("qwen2", "shared_prefix", 0), ("llama", "shared_prefix", 1), ("qwen2", "generic", 2)],
)
def test_dense_and_compact_tries_give_identical_outputs(family: str, attention: str, seed: int) -> None:
    setup = make_tiny_setup(n_items=300, family=family, seed=seed)
    dense = DenseCodeTrie.build(setup.codes, setup.vocab)
    prompts = random_prompts(setup, 10, seed)
    exclude = [set(range(i, 300, 7)) for i in range(10)]
    items = [[(i * 13 + j) % 300 for j in range(5)] for i in range(10)]
    for k, width in ((10, 10), (20, 32)):
        runs = []
        for trie in (dense, setup.trie):
            gen = HFBeamGenerator(setup.model, trie, beam_width=width, batch_size=4, attention=attention)  # type: ignore[arg-type]
            runs.append((gen.top_k(prompts, k), gen.top_k(prompts, k, exclude), gen.score(prompts, items)))
        assert runs[0] == runs[1]  # same items, same float scores, same order


def test_items_left_out_of_the_trie_are_never_generated() -> None:
    setup = make_tiny_setup(n_items=120, seed=4)
    removed = set(range(0, 120, 3))
    held = [i for i in range(120) if i not in removed]
    trie = CodeTrie.build(setup.codes, setup.vocab, held)
    prompts = random_prompts(setup, 6, 4)
    gen = HFBeamGenerator(setup.model, trie, beam_width=120)
    full = gen.top_k(prompts, 120)
    assert all(sorted(s.item for s in row) == held for row in full)  # every held item, and only those
    dense = HFBeamGenerator(setup.model, DenseCodeTrie.build(setup.codes, setup.vocab, held), beam_width=120)
    assert dense.top_k(prompts, 120) == full
    for prompt, row in zip(prompts, gen.top_k(prompts, 10), strict=True):
        assert_same_ranking(row, brute_force_top_k(setup.model, trie, prompt, 10))
    assert gen.score(prompts[:1], [[0, 1]])[0][0] == float("-inf")  # a removed item has no path to score
