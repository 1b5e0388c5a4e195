"""Real (tiny, randomly initialised) model artifacts for tests of the refresh job and the service, and for the
benchmarks and fault scenarios that run them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from model.artifact import ArtifactMeta, PromptConfig, save_artifact
from model.baselines.popularity import PopularityScorer
from model.baselines.sasrec import SASRec, SASRecConfig
from model.baselines.sasrec_artifact import SASRecMeta, save_sasrec
from model.codes.item_codes import random_item_codes
from model.data.processed import content_hash, serialize
from model.data.records import InteractionDataset, Item
from model.lm.extend import add_code_tokens
from model.lm.tiny import tiny_causal_lm, tiny_tokenizer
from tests.conftest import TinySetup, make_tiny_setup


def tiny_dataset(n_items: int, n_users: int, seed: int = 0) -> InteractionDataset:
    """Users "0".."n_users-1" with 3-8 distinct random items each; titles "item <i>"."""
    rng = np.random.default_rng(seed)
    items = [Item(i, str(1000 + i), f"item {i}") for i in range(n_items)]
    seqs = [rng.choice(n_items, size=int(rng.integers(3, 9)), replace=False).tolist() for _ in range(n_users)]
    return InteractionDataset("toy", items, [str(u) for u in range(n_users)], seqs)


def save_setup(
    folder: Path, setup: TinySetup, dataset: InteractionDataset, metrics: dict[str, float] | None = None
) -> ArtifactMeta:
    """Save a tiny setup's model and codes with `dataset` as an artifact (popularity from the dataset)."""
    return save_artifact(
        folder,
        setup.model,
        setup.tokenizer,
        setup.codes,
        dataset,
        "test",
        PopularityScorer.fit(dataset.sequences, dataset.n_items).order,
        base_lm="tiny",
        prompt=PromptConfig(max_history=5),
        metrics=metrics,
    )


def save_tiny_artifact(folder: Path, n_items: int = 120, n_users: int = 40, seed: int = 3) -> ArtifactMeta:
    setup = make_tiny_setup(n_items=n_items, level_sizes=(6, 6, 6), seed=seed)
    return save_setup(folder, setup, tiny_dataset(n_items, n_users, seed))


def save_random_artifact(folder: Path, users: int, n_items: int, seed: int) -> InteractionDataset:
    """The benchmarks' and fault scenarios' artifact: a random tiny Qwen2 over `n_items` random codes (3 levels of
    8), users "1".."users" with 5-19 distinct random items each; returns the dataset."""
    rng = np.random.default_rng(seed)
    levels = (8, 8, 8)
    tokenizer = tiny_tokenizer()
    model = tiny_causal_lm(len(tokenizer), seed=seed)
    add_code_tokens(model, tokenizer, levels, mean_resizing=False)
    codes = random_item_codes(n_items, levels, seed=seed)
    items = [Item(i, str(100_000 + i), f"Item number {i}") for i in range(n_items)]
    seqs = [rng.choice(n_items, size=int(rng.integers(5, 20)), replace=False).tolist() for _ in range(users)]
    data = InteractionDataset("bench", items, [str(u) for u in range(1, users + 1)], seqs)
    counts = np.bincount([i for s in seqs for i in s], minlength=n_items)
    save_artifact(
        folder, model, tokenizer, codes, data, "bench", np.argsort(-counts), base_lm="tiny", prompt=PromptConfig()
    )
    return data


def save_random_sasrec(folder: Path, dataset: InteractionDataset, seed: int = 0, max_len: int = 10) -> Path:
    """A randomly initialised SASRec over `dataset`'s items saved at `folder` (what a fused ranking needs); returns
    `folder`."""
    torch.manual_seed(seed)
    cfg = SASRecConfig(dataset.n_items, max_len=max_len, hidden=16, layers=1, heads=1, dropout=0.1)
    meta = SASRecMeta(cfg, {}, dataset.name, content_hash(*serialize(dataset)), seed, 1, 1, {"ndcg@10": 0.0})
    save_sasrec(folder, SASRec(cfg).eval(), meta)
    return folder
