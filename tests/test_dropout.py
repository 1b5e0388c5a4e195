"""Training-time dropout hooks: active in train mode only, no new weights, removable, refused on unknown layouts."""

import pytest
import torch
from torch import nn

from model.lm.tiny import tiny_causal_lm
from model.train.dropout import add_dropout


def _model(family: str = "llama") -> nn.Module:
    return tiny_causal_lm(97, family=family, hidden_size=32, intermediate_size=64, init_std=0.02, seed=1)  # type: ignore[arg-type]


@pytest.mark.parametrize("family", ["llama", "qwen2"])
def test_dropout_acts_in_training_only_and_leaves_eval_untouched(family: str) -> None:
    model = _model(family)
    ids = torch.tensor([[1, 5, 9, 13, 17, 21]])
    with torch.no_grad():
        plain = model(input_ids=ids).logits
    keys = set(model.state_dict())
    hooks = add_dropout(model, 0.3)
    assert len(hooks.handles) == 1 + 2 * model.config.num_hidden_layers
    assert set(model.state_dict()) == keys  # no parameters or buffers added: saved artifacts are unchanged
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids).logits, plain)  # eval mode: identity
        model.train()
        torch.manual_seed(0)
        first = model(input_ids=ids).logits
        second = model(input_ids=ids).logits
    assert not torch.allclose(first, second)  # a fresh mask each call
    assert not torch.allclose(first, plain)
    assert all(layer.self_attn.attention_dropout == 0.3 for layer in model.model.layers)
    hooks.remove()
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids).logits, plain)  # removed: train mode is deterministic again
    assert all(layer.self_attn.attention_dropout == 0.0 for layer in model.model.layers)


def test_zero_dropout_attaches_nothing() -> None:
    assert add_dropout(_model(), 0.0).handles == []


def test_bad_probability_and_unknown_layout_are_refused() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        add_dropout(_model(), 1.0)
    with pytest.raises(ValueError, match=r"model\.layers"):
        add_dropout(nn.Linear(3, 3), 0.1)
