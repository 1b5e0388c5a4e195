"""Items' text embedded in a causal LM's own input-embedding space: the alignment target of the tokenizer.

Contract: `text_embeddings(texts, model, tokenizer)` returns an (n_texts × d_lm) float32 array. Default mode
`"input"`: the IDF-weighted mean of the LM's input-embedding rows over the text's tokens (IDF over this catalogue,
so tokens every item shares — field labels, separators — weigh ~0). Why this and not hidden states: it needs no
forward pass (12k items take seconds on 2 CPU cores, a forward pass minutes), and it lies in exactly the space the
code tokens' input embeddings live in, which is where the projected codewords are placed. Mode `"hidden"`:
attention-masked mean of the last hidden states (contextual, slower). An empty text gives a zero row.
`idf_reference` (input mode) takes the document frequencies from other texts, e.g. the catalogue a tokenizer was
trained on when embedding items added later, so a new item is weighed exactly as the trained ones were. It knows
nothing about items beyond their strings, nor about codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch

from model.data.records import Item

Mode = Literal["input", "hidden"]


def item_texts(items: Sequence[Item], max_chars: int = 512) -> list[str]:
    """Title plus description and the other text fields of each item, in item order."""
    return [item.text(max_chars) for item in items]


def text_embeddings(
    texts: Sequence[str],
    model: Any,
    tokenizer: Any,
    mode: Mode = "input",
    max_tokens: int = 128,
    batch_size: int = 32,
    idf_reference: Sequence[str] | None = None,
) -> np.ndarray:
    def encode(batch: Sequence[str]) -> list[list[int]]:
        return [
            tokenizer(t, add_special_tokens=False, truncation=True, max_length=max_tokens)["input_ids"] for t in batch
        ]

    ids = encode(texts)
    if mode == "input":
        reference = ids if idf_reference is None else encode(idf_reference)
        return _idf_mean(ids, model.get_input_embeddings().weight.detach(), reference)
    if mode == "hidden":
        return _hidden_mean(ids, model, batch_size)
    raise ValueError(f"text embedding mode must be 'input' or 'hidden', got {mode!r}")


def _idf_mean(ids: list[list[int]], table: torch.Tensor, reference: list[list[int]]) -> np.ndarray:
    vocab = table.shape[0]
    df = np.zeros(vocab, dtype=np.float64)
    for row in reference:
        df[np.unique(np.asarray(row, dtype=np.int64))] += 1
    idf = np.log((1 + len(reference)) / (1 + df))
    weights = table.float().numpy()
    out = np.zeros((len(ids), weights.shape[1]), dtype=np.float32)
    for i, row in enumerate(ids):
        if not row:
            continue
        tok = np.asarray(row, dtype=np.int64)
        w = idf[tok]
        if w.sum() <= 0:  # every token is in every text: fall back to a plain mean
            w = np.ones_like(w)
        out[i] = (w[:, None] * weights[tok]).sum(0) / w.sum()
    return out


@torch.no_grad()
def _hidden_mean(ids: list[list[int]], model: Any, batch_size: int) -> np.ndarray:
    width = model.config.hidden_size
    out = np.zeros((len(ids), width), dtype=np.float32)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths together: less padding
    for start in range(0, len(order), batch_size):
        chunk = [i for i in order[start : start + batch_size] if ids[i]]
        if not chunk:
            continue
        length = max(len(ids[i]) for i in chunk)
        input_ids = torch.zeros(len(chunk), length, dtype=torch.long)
        mask = torch.zeros(len(chunk), length, dtype=torch.long)
        for r, i in enumerate(chunk):
            input_ids[r, : len(ids[i])] = torch.tensor(ids[i])
            mask[r, : len(ids[i])] = 1
        hidden = model(input_ids=input_ids, attention_mask=mask, output_hidden_states=True).hidden_states[-1]
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        out[chunk] = pooled.float().numpy()
    return out
