"""Code tokens in a tokenizer and model: exact encoding, decode round trip, resizing, initial embedding rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model.codes.vocab import CodeVocab
from model.errors import UserError
from model.lm.extend import add_code_tokens
from model.lm.tiny import tiny_causal_lm, tiny_tokenizer


def test_code_tokens_encode_exactly_and_decode_back() -> None:
    tok = tiny_tokenizer()
    n_before = len(tok)
    model = tiny_causal_lm(n_before)
    vocab = add_code_tokens(model, tok, (4, 5, 6), mean_resizing=False)
    assert len(tok) == n_before + 15
    assert model.get_input_embeddings().weight.shape[0] == len(tok)
    ids = tok("<a_1><b_2><c_3>", add_special_tokens=False)["input_ids"]
    assert ids == vocab.ids_of((1, 2, 3))
    assert all(i >= n_before for i in ids)
    assert tok.decode(ids) == "<a_1><b_2><c_3>"
    text = "User history: <a_0><b_4><c_5>, <a_3><b_0><c_0> Next item:"
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text


def test_adding_twice_reuses_tokens() -> None:
    tok = tiny_tokenizer()
    model = tiny_causal_lm(len(tok))
    first = add_code_tokens(model, tok, (3, 3), mean_resizing=False)
    size = len(tok)
    second = add_code_tokens(model, tok, (3, 3), mean_resizing=False)
    assert len(tok) == size
    assert [a.tolist() for a in first.token_ids] == [a.tolist() for a in second.token_ids]
    assert CodeVocab.from_tokenizer(tok, (3, 3)).level_sizes == (3, 3)


def test_untied_output_layer_grows_too() -> None:
    tok = tiny_tokenizer()
    model = tiny_causal_lm(len(tok), tie_word_embeddings=False)
    add_code_tokens(model, tok, (4, 4), mean_resizing=False)
    assert model.get_output_embeddings().weight.shape[0] == len(tok)
    logits = model(input_ids=torch.tensor([[1, len(tok) - 1]])).logits
    assert logits.shape[-1] == len(tok)


def test_initial_embedding_rows() -> None:
    tok = tiny_tokenizer()
    model = tiny_causal_lm(len(tok), hidden_size=32)
    rows = np.arange(7 * 32, dtype=np.float32).reshape(7, 32)
    vocab = add_code_tokens(model, tok, (3, 4), init_embeddings=rows, mean_resizing=False)
    weight = model.get_input_embeddings().weight
    assert torch.equal(weight[int(vocab.token_ids[0][0])], torch.from_numpy(rows[0]))
    assert torch.equal(weight[int(vocab.token_ids[1][3])], torch.from_numpy(rows[6]))
    with pytest.raises(UserError, match=r"expected \(7, 32\)"):
        add_code_tokens(model, tok, (3, 4), init_embeddings=rows[:6])


def test_missing_code_token_is_named() -> None:
    with pytest.raises(UserError, match="no token '<a_0>'"):
        CodeVocab.from_tokenizer(tiny_tokenizer(), (2,))
