"""Shared fixtures: a tiny local LM with code tokens and a small catalogue (here), and a real Redis with per-test
key prefixes (tests/redis_fixtures.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import torch

from model.codes.item_codes import ItemCodes, random_item_codes
from model.codes.trie import CodeTrie
from model.codes.vocab import CodeVocab
from model.lm.extend import add_code_tokens
from model.lm.tiny import tiny_causal_lm, tiny_tokenizer

pytest_plugins = ["tests.redis_fixtures"]


@dataclass
class TinySetup:
    model: Any
    tokenizer: Any
    vocab: CodeVocab
    codes: ItemCodes
    trie: CodeTrie


def make_tiny_setup(
    n_items: int = 300, level_sizes: tuple[int, ...] = (8, 8, 8, 8), family: str = "qwen2", seed: int = 0, **lm: Any
) -> TinySetup:
    """A fresh tiny LM + tokenizer with code tokens, and `n_items` random unique codes (both seeded)."""
    tokenizer = tiny_tokenizer()
    model = tiny_causal_lm(len(tokenizer), family=family, seed=seed, **lm)  # type: ignore[arg-type]
    vocab = add_code_tokens(model, tokenizer, level_sizes, mean_resizing=False)
    codes = random_item_codes(n_items, level_sizes, seed=seed)
    return TinySetup(model, tokenizer, vocab, codes, CodeTrie.build(codes, vocab))


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> Iterator[None]:
    """Every model in the tests is tiny: intra-op threads gain nothing, and on a shared 2-core machine their
    hand-offs made some test files 5-7x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny() -> TinySetup:
    return make_tiny_setup()
