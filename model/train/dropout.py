"""Training-time dropout for Llama/Qwen2-style causal LMs, which have none but attention dropout.

Contract: `add_dropout(model, p)` attaches forward hooks that apply dropout with probability `p` to the token
embeddings' output and to each decoder layer's two residual branches (the attention output projection and the MLP's
down projection): the places GPT-2's `embd_pdrop` / `resid_pdrop` and SASRec's dropout act. It also sets each
attention module's `attention_dropout`, which these families apply to attention weights in training. Hooks act only
while the module is in training mode, so evaluation, validation and generation see the plain model; they add no
parameters, so the saved weights are the same tensors either way. It returns a `DropoutHooks` whose `remove()`
detaches the hooks and restores the attention modules' `attention_dropout` (call it before saving or serving).
`p == 0` attaches nothing. A model whose layout it does not recognise raises ValueError naming what was missing.
It knows nothing about tasks, data or training loops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch.nn.functional as F
from torch import nn


@dataclass
class DropoutHooks:
    handles: list[Any] = field(default_factory=list)
    attention: list[tuple[Any, float]] = field(default_factory=list)  # (module, its attention_dropout before)

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        for module, before in self.attention:
            module.attention_dropout = before
        self.handles, self.attention = [], []


def _drop(p: float) -> Any:
    def hook(module: nn.Module, _inputs: Any, output: Any) -> Any:
        return F.dropout(output, p, module.training) if module.training else output

    return hook


def add_dropout(model: Any, p: float) -> DropoutHooks:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout must be in [0, 1); got {p}")
    hooks = DropoutHooks()
    if p == 0.0:
        return hooks
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder = getattr(base, "model", None)
    layers = getattr(decoder, "layers", None)
    embed = getattr(decoder, "embed_tokens", None)
    if layers is None or embed is None:
        raise ValueError(f"add_dropout: {type(base).__name__} has no model.layers / model.embed_tokens")
    targets: list[nn.Module] = [embed]
    for i, layer in enumerate(layers):
        attn = getattr(layer, "self_attn", None)
        o_proj = getattr(attn, "o_proj", None)
        down = getattr(getattr(layer, "mlp", None), "down_proj", None)
        if attn is None or o_proj is None or down is None:
            raise ValueError(f"add_dropout: layer {i} has no self_attn.o_proj / mlp.down_proj")
        targets += [o_proj, down]
        if hasattr(attn, "attention_dropout"):
            hooks.attention.append((attn, float(attn.attention_dropout)))
            attn.attention_dropout = p
    hooks.handles = [t.register_forward_hook(_drop(p)) for t in targets]
    return hooks
