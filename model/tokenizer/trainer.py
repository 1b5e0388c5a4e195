"""Training of the aligned residual quantiser, from plain arrays to unique codes and LM-space codewords.

Contract: `train_tokenizer(collab, text, config)` takes collaborative item embeddings (n_items × d, row i = item i)
and, optionally, the LM's text embeddings of the same items (n_items × d_lm). It validates shapes and capacity
before training, then: a short plain auto-encoder warm-up, k-means initialisation of each level's codebook on the
residuals of the levels above, and training with reconstruction + codebook + commitment losses (straight-through)
and, when text is given and `config.align` is on, the alignment loss (in-batch InfoNCE + cosine) between the
projected quantised vector and the text embedding. It ends by resolving collisions and measuring the result.
Seeded: the same inputs and config give the same codes on the same machine. It knows nothing about datasets,
files or the LM itself; the LM's embedding norm comes in as a number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from model.errors import UserError
from model.tokenizer.collisions import assign_codes, collision_rate, max_items_per_code, resolve_collisions
from model.tokenizer.config import TokenizerConfig
from model.tokenizer.losses import cosine_loss, info_nce
from model.tokenizer.metrics import TokenizerMetrics, codebook_usage, contrastive_probe, retrieval_accuracy
from model.tokenizer.quantizer import AlignedRQVAE, network_for


class EpochReport(NamedTuple):
    epoch: int  # 1-based, warm-up epochs included
    total: int
    loss: float  # mean training loss of the epoch
    recon: float
    align: float  # mean InfoNCE; 0.0 when alignment is off


@dataclass(frozen=True)
class TrainedTokenizer:
    config: TokenizerConfig
    model: AlignedRQVAE
    codes: np.ndarray  # (n_items, L) unique code tuples, row i = item i
    codes_before: np.ndarray  # (n_items, L) nearest-codeword codes before collision resolution
    metrics: TokenizerMetrics
    input_dim: int
    lm_dim: int | None  # width of the LM space the projection maps into; None when no projection was trained

    def code_token_embeddings(self, target_norm: float) -> list[np.ndarray] | None:
        """Per level, the projected codewords (C × d_lm), all scaled by one factor so that their mean row norm is
        `target_norm` (the LM's mean embedding-row norm).

        One factor for every level keeps the levels' relative sizes (coarse levels carry more) and makes the sum of
        an item's code-token embeddings exactly a scaled copy of its projected quantised vector, the vector that was
        aligned with its text. None when there is no trained projection (no alignment): the LM's own
        initialisation of new tokens applies then.
        """
        if self.model.projection is None:
            return None
        rows = [r.numpy().astype(np.float32) for r in self.model.projected_codewords()]
        mean_norm = float(np.linalg.norm(np.concatenate(rows), axis=1).mean())
        scale = target_norm / max(mean_norm, 1e-12)
        return [r * scale for r in rows]


def validate_inputs(collab: np.ndarray, text: np.ndarray | None, config: TokenizerConfig) -> None:
    if collab.ndim != 2 or collab.shape[0] == 0 or collab.shape[1] == 0:
        raise UserError(f"collaborative embeddings must be a non-empty (n_items, dim) matrix, got shape {collab.shape}")
    if not np.isfinite(collab).all():
        raise UserError("collaborative embeddings contain NaN or infinite values")
    if text is not None:
        if text.ndim != 2 or text.shape[0] != collab.shape[0]:
            raise UserError(
                f"text embeddings have shape {text.shape} but the collaborative embeddings have "
                f"{collab.shape[0]} items: need one text row per item, ({collab.shape[0]}, d_lm)"
            )
        if not np.isfinite(text).all():
            raise UserError("text embeddings contain NaN or infinite values")
    config.check_capacity(collab.shape[0])


def train_tokenizer(
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
    model = network_for(
        config.method,
        x.shape[1],
        config.latent_dim,
        config.hidden_dims,
        config.levels,
        config.codebook_size,
        t.shape[1] if t is not None else None,
    )
    model.set_input_stats(x)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    total = config.warmup_epochs + config.epochs
    for epoch in range(total):
        warm = epoch < config.warmup_epochs
        if epoch == config.warmup_epochs:
            with torch.no_grad():
                model.quantizer.init_kmeans(model.encode(x), config.kmeans_iters, gen)
        sums = np.zeros(3)
        steps = 0
        model.train()
        for batch in torch.randperm(x.shape[0], generator=gen).split(config.batch_size):
            loss, recon, align_loss = _step_loss(model, x[batch], t[batch] if t is not None else None, config, warm)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sums += (loss.item(), recon.item(), align_loss.item())
            steps += 1
        if not warm and config.dead_code_restart and epoch < config.warmup_epochs + config.epochs // 2:
            _restart_dead_codes(model, x, gen)
        if on_epoch is not None:
            mean = sums / max(steps, 1)
            on_epoch(EpochReport(epoch + 1, total, float(mean[0]), float(mean[1]), float(mean[2])))
    model.eval()
    return finish(model, x, collab, text, config, align)


def _step_loss(
    model: AlignedRQVAE, xb: torch.Tensor, tb: torch.Tensor | None, config: TokenizerConfig, warm: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    latent = model.encode(xb)
    target = model.standardise(xb)
    align_loss = latent.new_zeros(())
    if warm:
        recon = F.mse_loss(model.decoder(latent), target)
        loss = recon
        aligned_vec = latent
    else:
        quant = model.quantizer(latent)
        recon = F.mse_loss(model.decoder(quant.quantized), target)
        loss = recon + quant.codebook_loss + config.commitment * quant.commitment_loss
        # value = quantised vector; gradient reaches both the chosen codewords and the encoder latent
        hard = model.quantizer.lookup(quant.codes)
        aligned_vec = hard + latent - latent.detach()
    if tb is not None and model.projection is not None:
        projected = model.projection(aligned_vec)
        align_loss = info_nce(projected, tb, config.temperature)
        loss = loss + config.align_weight * align_loss
        if config.align_cosine_weight > 0:
            loss = loss + config.align_cosine_weight * cosine_loss(projected, tb)
    return loss, recon, align_loss


@torch.no_grad()
def _restart_dead_codes(model: AlignedRQVAE, x: torch.Tensor, gen: torch.Generator) -> None:
    """Codewords no item chose this epoch are moved onto the residuals of random items at that level."""
    residual = model.encode(x)
    books = model.quantizer.codebooks
    for level in range(books.shape[0]):
        idx = torch.cdist(residual, books[level]).argmin(dim=1)
        dead = torch.bincount(idx, minlength=books.shape[1]) == 0
        n_dead = int(dead.sum())
        if n_dead:
            donors = torch.randint(0, x.shape[0], (n_dead,), generator=gen)
            books.data[level, dead] = residual[donors]
            idx = torch.cdist(residual, books[level]).argmin(dim=1)
        residual = residual - books[level][idx]


@torch.no_grad()
def finish(
    model: AlignedRQVAE,
    x: torch.Tensor,
    collab: np.ndarray,
    text: np.ndarray | None,
    config: TokenizerConfig,
    align: bool,
    initial: np.ndarray | None = None,
) -> TrainedTokenizer:
    """Resolve collisions (from `initial` codes when given, else the nearest codewords) and measure the result."""
    latent = model.encode(x).numpy().astype(np.float64)
    books = model.quantizer.codebooks.detach().numpy().astype(np.float64)
    before = assign_codes(latent, books) if initial is None else initial
    codes = resolve_collisions(latent, books, initial)
    quantised = model.quantizer.lookup(torch.as_tensor(codes))
    recon = float(F.mse_loss(model.decoder(quantised), model.standardise(x)))
    utilisation, perplexity = codebook_usage(codes, config.codebook_size)
    q = quantised.numpy()
    align_scores: dict[int, float] | None = None
    probe_scores: dict[int, float] | None = None
    if model.projection is not None and text is not None:
        align_scores = retrieval_accuracy(model.projection(quantised).numpy(), text)
    if text is not None:
        probe = contrastive_probe(q, text, config.temperature, config.probe_epochs, config.batch_size, config.seed)
        probe_scores = retrieval_accuracy(probe, text)
    if text is None:
        note = "no item text: alignment loss off"
    elif not align:
        note = "alignment off (--no-align): plain RQ-VAE"
    else:
        note = "alignment on"
    if config.method == "rq-kmeans":
        note = "RQ-KMeans; " + note.replace("plain RQ-VAE", "codes only").replace("on", "on (after the k-means)", 1)
    metrics = TokenizerMetrics(
        n_items=int(collab.shape[0]),
        levels=config.levels,
        codebook_size=config.codebook_size,
        recon_mse=recon,
        utilisation=utilisation,
        perplexity=perplexity,
        collision_rate_before=collision_rate(before),
        collision_rate_after=collision_rate(codes),
        max_items_per_code_before=max_items_per_code(before),
        align_active=align,
        align_top1=align_scores[1] if align_scores else None,
        align_top10=align_scores[10] if align_scores else None,
        probe_top1=probe_scores[1] if probe_scores else None,
        probe_top10=probe_scores[10] if probe_scores else None,
        note=note,
    )
    lm_dim = model.projection.out_features if model.projection is not None else None
    return TrainedTokenizer(config, model, codes, before, metrics, int(collab.shape[1]), lm_dim)
