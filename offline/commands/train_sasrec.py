"""`genrec train-sasrec DATASET`: train the SASRec baseline and write its artifact folder.

Contract: DATASET is read as `offline.common.load_dataset` says (the processed folder, else the built-in files).
The split is leave-one-out with `max_history = --max-len`; training reads only the training sequences, model
selection only the validation cases. The artifact (see `model.baselines.sasrec_artifact`) goes to --out, default
`WorkDir.sasrec(DATASET)`. Bad option values exit 2 naming the option. It knows
nothing about the model's internals: `model.baselines` does the work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from model.baselines.sasrec import SASRecConfig
from model.baselines.sasrec_artifact import SASRecMeta, save_sasrec
from model.baselines.sasrec_train import TrainConfig, train_sasrec
from model.data.split import leave_one_out
from model.errors import UserError
from model.logs import get_logger
from offline.common import apply_threads, load_dataset, settings_of

log = get_logger(__name__)


def train_sasrec_command(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset name (processed folder or built-in).", show_default=False)],
    epochs: Annotated[int, typer.Option(min=1, max=1000, help="Most epochs; early stopping may end sooner.")] = 50,
    hidden: Annotated[int, typer.Option(min=8, max=1024, help="Embedding / hidden width.")] = 64,
    layers: Annotated[int, typer.Option(min=1, max=12, help="Self-attention blocks.")] = 2,
    heads: Annotated[int, typer.Option(min=1, max=16, help="Attention heads; must divide --hidden.")] = 1,
    dropout: Annotated[float, typer.Option(min=0.0, max=0.9, help="Dropout on embeddings, attention, blocks.")] = 0.5,
    max_len: Annotated[int, typer.Option(min=2, max=1024, help="Most recent items the model reads.")] = 50,
    lr: Annotated[float, typer.Option(min=1e-6, max=1.0, help="Adam learning rate.")] = 1e-3,
    batch_size: Annotated[int, typer.Option(min=1, max=65536, help="Training windows per step.")] = 128,
    patience: Annotated[int, typer.Option(min=1, max=1000, help="Epochs without a better valid NDCG@10.")] = 5,
    valid_exclude_seen: Annotated[
        bool,
        typer.Option(
            "--valid-exclude-seen/--valid-keep-seen", help="Seen-item rule of the validation ranking (model selection)."
        ),
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Artifact folder. Default: <work_dir>/models/<DATASET>/sasrec/.")
    ] = None,
) -> None:
    """Train SASRec (full-softmax cross-entropy, early stopping on validation NDCG@10) and save it."""
    settings = settings_of(ctx)
    if hidden % heads:
        raise typer.BadParameter(f"--heads {heads} does not divide --hidden {hidden}", param_hint="--heads")
    apply_threads(settings)
    data, data_hash = load_dataset(settings, dataset)
    split = leave_one_out(data, max_history=max_len)
    if not split.valid:
        raise UserError(f"dataset {dataset!r} has no user with 3 or more interactions: nothing to validate on")
    if data.n_items < 20:
        raise UserError(f"dataset {dataset!r} has {data.n_items} items; SASRec's validation ranks the top 20")
    model_cfg = SASRecConfig(data.n_items, max_len, hidden, layers, heads, dropout)
    train_cfg = TrainConfig(epochs, batch_size, lr, patience, settings.seed, valid_exclude_seen)
    result = train_sasrec(split, model_cfg, train_cfg)
    folder = out or settings.workdir.sasrec(dataset)
    meta = SASRecMeta(
        config=model_cfg,
        train=train_cfg.to_dict(),
        dataset=data.name,
        content_hash=data_hash,
        seed=settings.seed,
        epochs_run=result.epochs_run,
        best_epoch=result.best_epoch,
        valid_metrics=result.best_valid,
        history=[
            {"epoch": e.epoch, "loss": round(e.loss, 5), "valid": e.valid, "seconds": e.seconds} for e in result.history
        ],
        train_seconds=result.seconds,
    )
    save_sasrec(folder, result.model, meta)
    log.info("saved sasrec", folder=str(folder), best_epoch=result.best_epoch)
    rule = "seen removed" if valid_exclude_seen else "seen kept"
    typer.echo(f"dataset      {data.name} ({data.n_users} users, {data.n_items} items)")
    typer.echo(f"epochs       {result.epochs_run} (best {result.best_epoch}), {result.seconds:.0f} s")
    typer.echo(
        f"valid        R@10 {result.best_valid['recall@10']:.4f}  N@10 {result.best_valid['ndcg@10']:.4f} ({rule})"
    )
    typer.echo(f"folder       {folder}")
