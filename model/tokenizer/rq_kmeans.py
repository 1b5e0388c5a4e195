"""Residual k-means codes (RQ-KMeans): each level's codebook is the k-means of what the levels above left over.

Contract: `train_rq_kmeans(collab, text, config)` standardises the collaborative item embeddings (the catalogue's own
mean and std), then for level l = 1..L fits C centroids to the residuals (plain k-means, or equal-size clusters with
`config.balanced`) and subtracts each item's nearest centroid; no encoder, decoder or codebook is trained by gradient
(GRID, snap-research, and cornac's reproductions found such codes as good as RQ-VAE's for generative retrieval).
With item text and `config.align`, the alignment still applies, after the k-means: a bias-free linear projection of
each item's quantised vector (the sum of its codewords) is trained against the LM's embedding of its text with the
same InfoNCE + cosine loss as the RQ-VAE, codebooks fixed, so the projected codewords can start the LM's code tokens.
Collisions are resolved as for the RQ-VAE, starting from the k-means assignments (which, balanced, are not each item's
nearest codeword). The result is a `TrainedTokenizer` whose model is the same network shape
(identity encoder and decoder over the standardised input), so it saves, loads and initialises the LM like any
other. Seeded: the same inputs and config give the same codes. It knows nothing about datasets, files or the LM.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from model.tokenizer.config import TokenizerConfig
from model.tokenizer.kmeans import balanced_kmeans, kmeans
from model.tokenizer.losses import cosine_loss, info_nce
from model.tokenizer.quantizer import AlignedRQVAE, network_for
from model.tokenizer.trainer import EpochReport, TrainedTokenizer, finish, validate_inputs


def _identity(layer: torch.nn.Module) -> None:
    with torch.no_grad():
        for module in layer.modules():
            if isinstance(module, torch.nn.Linear):
                module.weight.copy_(torch.eye(module.weight.shape[0], module.weight.shape[1]))
                module.bias.zero_()


def train_rq_kmeans(
    collab: np.ndarray,
    text: np.ndarray | None,
    config: TokenizerConfig,
    on_epoch: Callable[[EpochReport], None] | None = None,
) -> TrainedTokenizer:
    validate_inputs(collab, text, config)
    align = config.align and text is not None
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    x = torch.as_tensor(collab, dtype=torch.float32)
    t = torch.as_tensor(text, dtype=torch.float32) if align and text is not None else None
    dim = x.shape[1]
    lm_dim = t.shape[1] if t is not None else None
    model = network_for(
        config.method, dim, config.latent_dim, config.hidden_dims, config.levels, config.codebook_size, lm_dim
    )
    model.set_input_stats(x)
    _identity(model.encoder)
    _identity(model.decoder)
    residual = model.standardise(x)
    initial = np.empty((x.shape[0], config.levels), dtype=np.int64)  # each level's k-means assignment
    with torch.no_grad():
        for level in range(config.levels):
            if config.balanced:
                centroids, assign = balanced_kmeans(residual, config.codebook_size, config.kmeans_iters, gen)
            else:
                centroids = kmeans(residual, config.codebook_size, config.kmeans_iters, gen)
                assign = torch.cdist(residual, centroids).argmin(dim=1)
            model.quantizer.codebooks.data[level] = centroids
            initial[:, level] = assign.numpy()
            residual = residual - centroids[assign]
    for p in (*model.encoder.parameters(), *model.decoder.parameters(), model.quantizer.codebooks):
        p.requires_grad_(False)
    if t is not None and model.projection is not None:
        _align(model, x, t, config, gen, on_epoch)
    model.eval()
    return finish(model, x, collab, text, config, align, initial)


def _align(
    model: AlignedRQVAE,
    x: torch.Tensor,
    t: torch.Tensor,
    config: TokenizerConfig,
    gen: torch.Generator,
    on_epoch: Callable[[EpochReport], None] | None,
) -> None:
    """Train the projection alone: quantised vectors (fixed) against the items' text embeddings."""
    assert model.projection is not None
    with torch.no_grad():
        quantised = model.quantizer(model.encode(x)).quantized
    opt = torch.optim.AdamW(model.projection.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    for epoch in range(config.epochs):
        total, steps = 0.0, 0
        for batch in torch.randperm(x.shape[0], generator=gen).split(config.batch_size):
            projected = model.projection(quantised[batch])
            nce = info_nce(projected, t[batch], config.temperature)
            loss = config.align_weight * nce + config.align_cosine_weight * cosine_loss(projected, t[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, steps = total + float(nce.detach()), steps + 1
        if on_epoch is not None:
            mean = total / max(steps, 1)
            on_epoch(EpochReport(epoch + 1, config.epochs, mean, 0.0, mean))
