"""Add the item-code tokens (`<a_0>` ... `<d_255>`) to a causal LM and its tokenizer.

Contract: `add_code_tokens(model, tokenizer, level_sizes)` adds one token per (level, code) as an added token that is
never normalised, stripped or merged, so the text `<a_1><b_2>` encodes to exactly those two ids and decodes back;
it grows the input embeddings (and an untied output layer) only when the vocabulary outgrows them, and returns the
`CodeVocab` (token id of every code). Running it twice is harmless: existing tokens are reused. `init_embeddings`
(shape (sum of level sizes, hidden), rows in level-then-code order) overwrites the new tokens' input embedding rows,
e.g. with projected codewords from the alignment tokenizer; untied output rows keep the resize initialisation.
It knows nothing about items, tries or training.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import torch
from tokenizers import AddedToken
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from model.codes.item_codes import code_token
from model.codes.vocab import CodeVocab
from model.errors import UserError


def add_code_tokens(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    level_sizes: Sequence[int],
    init_embeddings: npt.ArrayLike | torch.Tensor | None = None,
    mean_resizing: bool = True,
) -> CodeVocab:
    """Add the code tokens for `level_sizes`; resize the model; optionally set their input embeddings."""
    tokens = [code_token(level, c) for level, size in enumerate(level_sizes) for c in range(int(size))]
    tokenizer.add_tokens(
        [AddedToken(t, single_word=False, lstrip=False, rstrip=False, normalized=False, special=False) for t in tokens]
    )
    vocab = CodeVocab.from_tokenizer(tokenizer, level_sizes)
    needed = len(tokenizer)
    if needed > _input_weight(model).shape[0]:
        model.resize_token_embeddings(needed, mean_resizing=mean_resizing)
    weight = _input_weight(model)
    if init_embeddings is not None:
        rows = torch.as_tensor(
            np.asarray(init_embeddings) if not isinstance(init_embeddings, torch.Tensor) else init_embeddings
        )
        hidden = weight.shape[1]
        if rows.shape != (len(tokens), hidden):
            raise UserError(
                f"init_embeddings has shape {tuple(rows.shape)}; expected ({len(tokens)}, {hidden}) "
                f"(one row per code token, level by level, for level sizes {tuple(level_sizes)})"
            )
        ids = torch.as_tensor(np.concatenate(vocab.token_ids))
        with torch.no_grad():
            weight[ids] = rows.to(weight.dtype)
    return vocab


def _input_weight(model: PreTrainedModel) -> torch.Tensor:
    weight = model.get_input_embeddings().weight
    assert isinstance(weight, torch.Tensor)
    return weight
