"""Tiny causal LMs and a tokenizer built in code, for tests, demos and benchmarks. Nothing is loaded from a hub.

Contract: `tiny_tokenizer()` trains a byte-level BPE on a few built-in strings (any text encodes, no unknown token) and
wraps it in a `PreTrainedTokenizerFast` with `<pad>`, `<s>` (bos) and `</s>` (eos). `tiny_causal_lm(vocab_size, ...)`
builds a randomly initialised Llama- or Qwen2-style `*ForCausalLM` in eval mode; `init_std` larger than the usual
0.02 gives peaked next-token distributions, so beam-search comparisons are not decided by float noise.
It knows nothing about items, codes or tries.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
)

Family = Literal["qwen2", "llama"]

PAD, BOS, EOS = "<pad>", "<s>", "</s>"
_CORPUS = (
    "User history: Next item:",
    "The user bought these items and will buy the next item.",
    "Title: a small microscope slide set, brand, categories, description.",
    "Which item matches this query? Recommend the next one, not the rejected ones.",
    "0123456789 , . : ; ( ) [ ] - _ < > / | ? !",
)


def tiny_tokenizer(extra_texts: Iterable[str] = (), vocab_size: int = 300) -> PreTrainedTokenizerFast:
    """A byte-level BPE trained on a few strings (plus `extra_texts`), with pad/bos/eos."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([*_CORPUS, *extra_texts], trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, bos_token=BOS, eos_token=EOS)


def tiny_causal_lm(
    vocab_size: int,
    family: Family = "qwen2",
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 128,
    tie_word_embeddings: bool = True,
    init_std: float = 0.2,
    seed: int = 0,
) -> PreTrainedModel:
    """A randomly initialised causal LM in eval mode (fp32, eager-free: the default attention implementation)."""
    common: dict[str, Any] = {
        "vocab_size": vocab_size,
        "hidden_size": hidden_size,
        "num_hidden_layers": num_layers,
        "num_attention_heads": num_heads,
        "num_key_value_heads": num_kv_heads,
        "intermediate_size": intermediate_size,
        "max_position_embeddings": 2048,
        "tie_word_embeddings": tie_word_embeddings,
        "initializer_range": init_std,
        "pad_token_id": 0,
        "bos_token_id": 1,
        "eos_token_id": 2,
    }
    torch.manual_seed(seed)
    model: PreTrainedModel
    if family == "qwen2":
        model = Qwen2ForCausalLM(Qwen2Config(**common))
    elif family == "llama":
        model = LlamaForCausalLM(LlamaConfig(**common))
    else:
        raise ValueError(f"unknown tiny LM family {family!r}; expected 'qwen2' or 'llama'")
    return model.eval()
