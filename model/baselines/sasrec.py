"""SASRec (Kang & McAuley, 2018): a causal self-attention encoder over a user's recent items, scored against every item.

Contract: item i of the catalogue is embedding row i + 1; row 0 is padding. Histories are right-aligned into a window
of `max_len` slots (the most recent item always sits in the last slot, older items beyond the window are dropped), so
the learned position embedding means "distance from now". Blocks are pre-LN (LayerNorm before attention and before
the feed-forward, residual around each, one final LayerNorm). Attention is causal and never reads padding keys; a
padding slot attends only to itself so no row is empty. The score of item i for a history is the dot product of the
last slot's hidden state with item i's embedding (input and output embeddings are shared). `SASRecScorer` ranks
evaluation cases in batches under the `Scorer` contract. This module knows nothing about training or files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from model.data.split import EvalCase
from model.eval.scorer import top_k_from_scores


@dataclass(frozen=True, slots=True)
class SASRecConfig:
    n_items: int  # catalogue size, without the padding row
    max_len: int = 50  # most recent items the model reads
    hidden: int = 64  # embedding and hidden width
    layers: int = 2  # transformer blocks
    heads: int = 1  # attention heads; must divide hidden
    dropout: float = 0.5  # on embeddings, attention weights and both residual branches

    def __post_init__(self) -> None:
        problems = []
        if self.n_items < 1:
            problems.append(f"n_items must be >= 1, got {self.n_items}")
        if self.max_len < 1:
            problems.append(f"max_len must be >= 1, got {self.max_len}")
        if self.hidden < 1 or self.layers < 1 or self.heads < 1:
            problems.append(f"hidden, layers, heads must be >= 1, got {self.hidden}, {self.layers}, {self.heads}")
        elif self.hidden % self.heads:
            problems.append(f"heads ({self.heads}) must divide hidden ({self.hidden})")
        if not 0.0 <= self.dropout < 1.0:
            problems.append(f"dropout must be in [0, 1), got {self.dropout}")
        if problems:
            raise ValueError("; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Block(nn.Module):
    def __init__(self, cfg: SASRecConfig) -> None:
        super().__init__()
        self.heads = cfg.heads
        self.p = cfg.dropout
        self.ln_attn = nn.LayerNorm(cfg.hidden)
        self.qkv = nn.Linear(cfg.hidden, 3 * cfg.hidden)
        self.proj = nn.Linear(cfg.hidden, cfg.hidden)
        self.ln_ff = nn.LayerNorm(cfg.hidden)
        self.ff = nn.Sequential(
            nn.Linear(cfg.hidden, cfg.hidden), nn.GELU(), nn.Dropout(cfg.dropout), nn.Linear(cfg.hidden, cfg.hidden)
        )
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.ln_attn(x)).split(d, dim=-1)
        q, k, v = (t.view(b, n, self.heads, d // self.heads).transpose(1, 2) for t in (q, k, v))
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=self.p if self.training else 0.0)
        x = x + self.drop(self.proj(att.transpose(1, 2).reshape(b, n, d)))
        return x + self.drop(self.ff(self.ln_ff(x)))


class SASRec(nn.Module):
    def __init__(self, cfg: SASRecConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.item_emb = nn.Embedding(cfg.n_items + 1, cfg.hidden, padding_idx=0)
        self.pos_emb = nn.Embedding(cfg.max_len, cfg.hidden)
        self.emb_drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.layers))
        self.ln_out = nn.LayerNorm(cfg.hidden)
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
        if isinstance(module, nn.Embedding) and module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()

    def encode(self, window: torch.Tensor) -> torch.Tensor:
        """(B, L) right-aligned padded item rows (0 = padding), L <= max_len -> (B, L, hidden)."""
        _, n = window.shape
        if n > self.cfg.max_len:
            raise ValueError(f"window of {n} slots exceeds max_len {self.cfg.max_len}")
        real = window != 0
        positions = torch.arange(self.cfg.max_len - n, self.cfg.max_len, device=window.device)
        x = self.item_emb(window) * math.sqrt(self.cfg.hidden) + self.pos_emb(positions)
        x = self.emb_drop(x) * real.unsqueeze(-1)
        causal = torch.ones(n, n, dtype=torch.bool, device=window.device).tril()
        eye = torch.eye(n, dtype=torch.bool, device=window.device)
        allowed = (causal & real[:, None, :]) | eye  # (B, L, L): earlier real keys, plus oneself
        for block in self.blocks:
            x = block(x, allowed.unsqueeze(1))
        return self.ln_out(x)

    def item_weights(self) -> torch.Tensor:
        """(n_items, hidden): row i is item i (the padding row dropped)."""
        return self.item_emb.weight[1:]

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Scores over all items for any (..., hidden) states."""
        return hidden @ self.item_weights().T


def pad_histories(histories: Sequence[Sequence[int]], max_len: int) -> torch.Tensor:
    """Right-align the last `max_len` items of each history into a (B, max_len) tensor of rows (item + 1; 0 = pad)."""
    out = torch.zeros(len(histories), max_len, dtype=torch.long)
    for r, hist in enumerate(histories):
        tail = list(hist[-max_len:]) if max_len else []
        if tail:
            out[r, max_len - len(tail) :] = torch.tensor(tail, dtype=torch.long) + 1
    return out


class SASRecScorer:
    """Batched full ranking with a trained SASRec: history -> last hidden state -> dot with every item embedding."""

    name = "sasrec"

    def __init__(self, model: SASRec, batch_size: int = 1024) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model.eval()
        self.batch_size = batch_size

    @torch.no_grad()
    def scores(self, histories: Sequence[Sequence[int]]) -> torch.Tensor:
        """(len(histories), n_items) scores; higher is better."""
        window = pad_histories(histories, self.model.cfg.max_len)
        return self.model.logits(self.model.encode(window)[:, -1, :])

    def rank(self, cases: Sequence[EvalCase], k: int, exclude_seen: bool) -> list[list[int]]:
        result: list[list[int]] = []
        for start in range(0, len(cases), self.batch_size):
            batch = cases[start : start + self.batch_size]
            result += top_k_from_scores(self.scores([c.history for c in batch]), batch, k, exclude_seen)
        return result
