"""`genrec train-tokenizer DATASET`: turn SASRec's item embeddings into unique code tuples aligned with an LM.

Contract: reads the processed dataset `<work_dir>/data/<DATASET>/` (from `genrec prepare`) and the collaborative
item embeddings (default: SASRec's `item_embeddings.npy` in `WorkDir.sasrec(DATASET)`, one row per item), embeds the
items' text in the base LM's space (when the dataset has text), trains the aligned residual quantiser (`--method
rq-vae`, model.tokenizer.trainer) or fits residual k-means codes and aligns after them (`--method rq-kmeans`,
model.tokenizer.rq_kmeans) and writes the artifact folder `WorkDir.tokenizer(DATASET, <LM>[-rqkmeans][-noalign])`
(see `model.tokenizer.build`). It prints the
metrics and the artifact's hash on stdout; progress goes to stderr. Missing inputs and bad options exit with code 2
and a message saying what to run or change. It knows nothing about how the embeddings or the LM were trained.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from model.baselines.sasrec_artifact import EMBEDDINGS
from model.data.processed import load_processed
from model.errors import UserError
from model.hashing import file_sha256
from model.lm.smollm2 import SMOLLM2_NAME, lm_label, load_base_lm
from model.lm.text_embed import item_texts, text_embeddings
from model.logs import get_logger
from model.progress import progress
from model.tokenizer.build import TokenizerInputs, write_artifact
from model.tokenizer.config import METHODS, TokenizerConfig
from model.tokenizer.metrics import TokenizerMetrics
from model.tokenizer.rq_kmeans import train_rq_kmeans
from model.tokenizer.trainer import EpochReport
from model.tokenizer.trainer import train_tokenizer as fit
from offline.common import apply_threads, settings_of

log = get_logger(__name__)
TEXT_EMBEDDING = "idf-weighted mean of the LM's input-embedding rows over the item text's tokens (title + fields)"


def train_tokenizer(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="A prepared dataset name (see `genrec prepare`).", show_default=False)],
    lm: Annotated[str, typer.Option(help="Base LM: tiny, smollm2-135m, or a local HF model folder.")] = SMOLLM2_NAME,
    levels: Annotated[int, typer.Option(min=1, help="Code levels L (tokens per item).")] = 4,
    codebook_size: Annotated[int, typer.Option(min=2, help="Codewords per level C.")] = 256,
    no_align: Annotated[bool, typer.Option("--no-align", help="No alignment loss (ablation).")] = False,
    method: Annotated[
        str, typer.Option(help=f"Codes from a trained RQ-VAE, or from residual k-means: {', '.join(METHODS)}.")
    ] = "rq-vae",
    balanced: Annotated[
        bool, typer.Option("--balanced", help="rq-kmeans: equal-size clusters at every level.")
    ] = False,
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs after the warm-up.")] = 150,
    warmup_epochs: Annotated[int, typer.Option(min=0, help="Auto-encoder epochs before k-means init.")] = 10,
    batch_size: Annotated[int, typer.Option(min=2, help="Items per step (and in-batch negatives).")] = 512,
    latent_dim: Annotated[int, typer.Option(min=1, help="Width of the quantised latent.")] = 32,
    align_weight: Annotated[float, typer.Option(min=0.0, help="Weight of the InfoNCE alignment loss.")] = 0.5,
    embeddings: Annotated[
        Path | None,
        typer.Option(help="Item embeddings .npy (n_items x d). Default: <work_dir>/models/DATASET/sasrec/."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Artifact folder. Default: <work_dir>/tokenizers/DATASET/LM[-rqkmeans[-balanced]][-noalign]/."
        ),
    ] = None,
) -> None:
    """Train the alignment tokenizer and write codes + extended LM + meta."""
    settings = settings_of(ctx)
    apply_threads(settings)
    if method not in METHODS:
        raise typer.BadParameter(f"{method!r} is not one of {', '.join(METHODS)}", param_hint="--method")
    if balanced and method != "rq-kmeans":
        raise typer.BadParameter("--balanced needs --method rq-kmeans", param_hint="--balanced")
    config = TokenizerConfig(
        method=method,
        balanced=balanced,
        levels=levels,
        codebook_size=codebook_size,
        latent_dim=latent_dim,
        epochs=epochs,
        warmup_epochs=warmup_epochs,
        batch_size=batch_size,
        align=not no_align,
        align_weight=align_weight,
        seed=settings.seed,
    )
    data, data_meta = load_processed(settings.workdir.dataset(dataset))
    config.check_capacity(data.n_items)
    emb_path = embeddings or settings.workdir.sasrec(dataset) / EMBEDDINGS
    collab = _load_embeddings(emb_path, data.n_items)
    texts = item_texts(data.items) if data.has_text else []
    base = load_base_lm(lm, settings.workdir, texts=texts[:2000])
    text = None
    if data.has_text:
        text = text_embeddings(texts, base.model, base.tokenizer)
        log.info("text embedded", items=len(texts), dim=text.shape[1], how="idf-mean of input embeddings")
    else:
        log.info("alignment off: dataset has no item text", dataset=dataset)
    with progress() as bar:
        total = config.epochs if method == "rq-kmeans" else config.warmup_epochs + config.epochs
        task = bar.add_task("tokenizer", total=total)

        def on_epoch(r: EpochReport) -> None:
            bar.update(task, completed=r.epoch, description=f"tokenizer loss {r.loss:.3f} recon {r.recon:.3f}")

        train = train_rq_kmeans if method == "rq-kmeans" else fit
        trained = train(collab, text, config, on_epoch=on_epoch)
    kind = {"rq-vae": "", "rq-kmeans": "-rqkmeans"}[method] + ("-balanced" if balanced else "")
    label = lm_label(lm) + kind + ("-noalign" if no_align else "")
    folder = out or settings.workdir.tokenizer(dataset, label)
    inputs = TokenizerInputs(
        dataset=dataset,
        dataset_hash=data_meta.content_hash,
        embeddings_path=str(emb_path),
        embeddings_sha256=file_sha256(emb_path),
        lm=lm_label(lm),
        lm_source=base.source,
        text_embedding=TEXT_EMBEDDING if text is not None else None,
    )
    meta = write_artifact(folder, trained, base, inputs)
    log.info("tokenizer written", folder=str(folder), content_hash=meta.content_hash[:16])
    _print(trained.metrics, folder, meta.content_hash)


def _load_embeddings(path: Path, n_items: int) -> np.ndarray:
    if not path.is_file():
        raise UserError(f"{path}: no item embeddings; train SASRec on this dataset first, or pass --embeddings")
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise UserError(f"{path}: not a readable .npy array ({exc})") from None
    if arr.ndim != 2 or arr.shape[0] != n_items:
        raise UserError(f"{path}: shape {arr.shape}, expected ({n_items}, d): one row per item of the dataset")
    return arr.astype(np.float32)


def _print(m: TokenizerMetrics, folder: Path, content_hash: str) -> None:
    table = Table(title=f"tokenizer {folder}")
    table.add_column("metric")
    table.add_column("value")
    table.add_row("items / levels x codes", f"{m.n_items} / {m.levels} x {m.codebook_size}")
    table.add_row("reconstruction mse", f"{m.recon_mse:.4f}")
    table.add_row("utilisation per level", " ".join(f"{u:.3f}" for u in m.utilisation))
    table.add_row("perplexity per level", " ".join(f"{p:.1f}" for p in m.perplexity))
    table.add_row("collisions before / after", f"{m.collision_rate_before:.4f} / {m.collision_rate_after:.4f}")
    table.add_row("max items per code before", str(m.max_items_per_code_before))
    table.add_row("alignment", m.note)
    if m.align_top1 is not None and m.align_top10 is not None:
        table.add_row("align top-1 / top-10 (projection)", f"{m.align_top1:.4f} / {m.align_top10:.4f}")
    if m.probe_top1 is not None and m.probe_top10 is not None:
        table.add_row("align top-1 / top-10 (linear probe)", f"{m.probe_top1:.4f} / {m.probe_top10:.4f}")
    console = Console()
    console.print(table)
    console.print(f"folder        {folder}\ncontent hash  {content_hash}", soft_wrap=True)
