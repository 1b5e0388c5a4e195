"""Alignment losses between projected quantised vectors and the LM's text embeddings of the same items.

Contract: both inputs are (B, d) with row i of one belonging to row i of the other; the other rows of the batch are
the negatives. `info_nce` is symmetric (item→text and text→item) on cosine similarities over a temperature;
`cosine_loss` is mean (1 - cos). Neither knows where the vectors come from.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(projected: torch.Tensor, text: torch.Tensor, temperature: float) -> torch.Tensor:
    a = F.normalize(projected, dim=-1)
    b = F.normalize(text, dim=-1)
    logits = a @ b.T / temperature
    target = torch.arange(a.shape[0])
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def cosine_loss(projected: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
    return (1.0 - F.cosine_similarity(projected, text, dim=-1)).mean()
