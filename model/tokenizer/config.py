"""The tokenizer's hyper-parameters, one frozen record validated at construction.

Contract: `TokenizerConfig(...)` either holds a usable configuration or raises `UserError` naming the field and the
bad value. `check_capacity(n_items)` refuses a code space (codebook_size ** levels) too small for the catalogue,
before any training starts. It knows nothing about data or models.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from model.errors import UserError

METHODS = ("rq-vae", "rq-kmeans")


@dataclass(frozen=True, slots=True)
class TokenizerConfig:
    method: str = "rq-vae"  # rq-vae: trained encoder + codebooks; rq-kmeans: residual k-means, no gradient training
    balanced: bool = False  # rq-kmeans: equal-size clusters at every level (capacity ceil(n / C) per codeword)
    levels: int = 4  # L: code tokens per item (cascaded / residual codebooks)
    codebook_size: int = 256  # C: codewords per level
    latent_dim: int = 32  # width of the quantised latent
    hidden_dims: tuple[int, ...] = (128, 64)  # encoder MLP widths (the decoder mirrors them)
    epochs: int = 150  # passes over the catalogue with quantisation
    warmup_epochs: int = 10  # plain auto-encoder passes before k-means init, so codebooks start on a trained latent
    batch_size: int = 512  # items per step; also the pool of in-batch negatives for InfoNCE
    lr: float = 1e-3  # AdamW learning rate
    weight_decay: float = 1e-4
    commitment: float = 0.25  # beta: weight of ||z - sg[e]||^2 (codebook term ||sg[z] - e||^2 has weight 1)
    align: bool = True  # False = plain RQ-VAE (TIGER / LC-Rec style), the ablation
    align_weight: float = 0.5  # weight of the in-batch InfoNCE between projected quantised vector and text embedding
    align_cosine_weight: float = 0.1  # weight of the extra (1 - cosine) term
    temperature: float = 0.07  # InfoNCE temperature
    kmeans_iters: int = 25  # Lloyd iterations per level at initialisation
    probe_epochs: int = 60  # epochs of the contrastive linear probe that measures text information in the codes
    dead_code_restart: bool = True  # re-seed unused codewords from random residuals (first half of training)
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # free-form notes carried into meta.json

    def __post_init__(self) -> None:
        positive = {
            "levels": self.levels,
            "codebook_size": self.codebook_size,
            "latent_dim": self.latent_dim,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "kmeans_iters": self.kmeans_iters,
            "probe_epochs": self.probe_epochs,
        }
        for name, value in positive.items():
            if value < 1:
                raise UserError(f"tokenizer config: {name} must be >= 1, got {value}")
        if self.codebook_size < 2:
            raise UserError(f"tokenizer config: codebook_size must be >= 2, got {self.codebook_size}")
        if self.warmup_epochs < 0:
            raise UserError(f"tokenizer config: warmup_epochs must be >= 0, got {self.warmup_epochs}")
        for name, fvalue in {"lr": self.lr, "temperature": self.temperature}.items():
            if not fvalue > 0:
                raise UserError(f"tokenizer config: {name} must be > 0, got {fvalue}")
        for name, fvalue in {
            "commitment": self.commitment,
            "align_weight": self.align_weight,
            "align_cosine_weight": self.align_cosine_weight,
            "weight_decay": self.weight_decay,
        }.items():
            if fvalue < 0:
                raise UserError(f"tokenizer config: {name} must be >= 0, got {fvalue}")
        if any(h < 1 for h in self.hidden_dims):
            raise UserError(f"tokenizer config: hidden_dims must all be >= 1, got {self.hidden_dims}")
        if self.method not in METHODS:
            raise UserError(f"tokenizer config: method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.balanced and self.method != "rq-kmeans":
            raise UserError("tokenizer config: balanced clusters are an rq-kmeans option")

    @property
    def capacity(self) -> int:
        """How many distinct code tuples exist."""
        return int(self.codebook_size**self.levels)

    def check_capacity(self, n_items: int) -> None:
        if n_items > self.capacity:
            raise UserError(
                f"tokenizer config: {self.levels} levels x {self.codebook_size} codes give {self.capacity} distinct "
                f"codes, fewer than the {n_items} items; raise --levels or --codebook-size"
            )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["hidden_dims"] = list(self.hidden_dims)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenizerConfig:
        data = dict(data)
        data["hidden_dims"] = tuple(data.get("hidden_dims", ()))
        return cls(**data)
