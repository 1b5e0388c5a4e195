"""The networks: an MLP encoder to a latent, L cascaded (residual) codebooks, an MLP decoder, and a bias-free
linear projection of the quantised latent into the LM's embedding space.

Contract: `ResidualQuantizer(z)` picks, level by level, the codeword nearest to what the previous levels left over (the
residual), and returns the codes, the quantised latent with straight-through gradients, and the codebook and commitment
losses. `AlignedRQVAE` holds encoder, quantiser, decoder and projection; its trainer (`model.tokenizer.trainer`) runs
them step by step (the warm-up skips the quantiser). Because the projection is linear without bias, the projection of an
item's quantised latent is exactly the sum of its projected codewords — which is why projected codewords are a sound
start for the code tokens' input embeddings. Inputs are standardised with buffers set once from the catalogue. This
module knows nothing about text, items or training schedules.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from model.tokenizer.kmeans import kmeans


class QuantOutput(NamedTuple):
    quantized: torch.Tensor  # (B, D) sum of chosen codewords, straight-through: gradients flow to the latent
    codes: torch.Tensor  # (B, L) int64
    codebook_loss: torch.Tensor  # sum over levels of ||sg[r_l] - e_l||^2 (moves codewords)
    commitment_loss: torch.Tensor  # sum over levels of ||r_l - sg[e_l]||^2 (moves the encoder)


class ResidualQuantizer(nn.Module):
    def __init__(self, levels: int, codebook_size: int, dim: int) -> None:
        super().__init__()
        self.levels = levels
        self.codebook_size = codebook_size
        self.codebooks = nn.Parameter(torch.randn(levels, codebook_size, dim) * 0.1)

    def forward(self, z: torch.Tensor) -> QuantOutput:
        residual = z
        quantized = torch.zeros_like(z)
        codes = []
        codebook_loss = z.new_zeros(())
        commitment_loss = z.new_zeros(())
        for level in range(self.levels):
            book = self.codebooks[level]
            idx = torch.cdist(residual.detach(), book.detach()).argmin(dim=1)
            chosen = book[idx]
            codebook_loss = codebook_loss + F.mse_loss(chosen, residual.detach())
            commitment_loss = commitment_loss + F.mse_loss(residual, chosen.detach())
            quantized = quantized + chosen
            residual = residual - chosen.detach()
            codes.append(idx)
        straight_through = z + (quantized - z).detach()
        return QuantOutput(straight_through, torch.stack(codes, dim=1), codebook_loss, commitment_loss)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """Quantised latent (B, D) of code tuples (B, L)."""
        out = torch.zeros(codes.shape[0], self.codebooks.shape[-1], dtype=self.codebooks.dtype)
        for level in range(self.levels):
            out = out + self.codebooks[level][codes[:, level]]
        return out

    @torch.no_grad()
    def init_kmeans(self, z: torch.Tensor, iters: int, generator: torch.Generator) -> None:
        """Codebook l := k-means centroids of the residuals left by levels < l."""
        residual = z.detach().clone()
        for level in range(self.levels):
            centroids = kmeans(residual, self.codebook_size, iters, generator)
            self.codebooks.data[level] = centroids
            idx = torch.cdist(residual, centroids).argmin(dim=1)
            residual = residual - centroids[idx]


def _mlp(dims: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class AlignedRQVAE(nn.Module):
    input_mean: torch.Tensor  # buffers: per-feature mean and std of the catalogue's inputs
    input_std: torch.Tensor

    def __init__(
        self,
        input_dim: int,
        latent_dim: int,
        hidden_dims: tuple[int, ...],
        levels: int,
        codebook_size: int,
        lm_dim: int | None,
    ) -> None:
        super().__init__()
        self.encoder = _mlp([input_dim, *hidden_dims, latent_dim])
        self.decoder = _mlp([latent_dim, *reversed(hidden_dims), input_dim])
        self.quantizer = ResidualQuantizer(levels, codebook_size, latent_dim)
        self.projection = nn.Linear(latent_dim, lm_dim, bias=False) if lm_dim else None
        self.register_buffer("input_mean", torch.zeros(input_dim))
        self.register_buffer("input_std", torch.ones(input_dim))

    def set_input_stats(self, x: torch.Tensor) -> None:
        self.input_mean.copy_(x.mean(0))
        self.input_std.copy_(x.std(0).clamp_min(1e-6))

    def standardise(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.input_mean) / self.input_std

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latent (B, D) of raw inputs (B, d_in)."""
        return self.encoder(self.standardise(x))

    def projected_codewords(self) -> list[torch.Tensor]:
        """Per level, the projection of every codeword (C × d_lm); their sum over an item's codes is its projection."""
        if self.projection is None:
            raise ValueError("this tokenizer has no projection into an LM's space")
        with torch.no_grad():
            return [self.projection(self.quantizer.codebooks[level]) for level in range(self.quantizer.levels)]


def network_for(method: str, input_dim: int, latent_dim: int, hidden_dims: tuple[int, ...], levels: int,
                codebook_size: int, lm_dim: int | None) -> AlignedRQVAE:  # fmt: skip
    """The network a tokenizer of `method` uses: rq-vae the configured MLPs; rq-kmeans quantises the standardised
    input itself (one-layer encoder and decoder of the input's width, set to the identity by its trainer)."""
    if method == "rq-kmeans":
        return AlignedRQVAE(input_dim, input_dim, (), levels, codebook_size, lm_dim)
    return AlignedRQVAE(input_dim, latent_dim, hidden_dims, levels, codebook_size, lm_dim)
