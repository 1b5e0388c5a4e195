"""`genrec demo`: the product's main job end to end on a built-in dataset, one resumable step at a time.

Contract: runs the same commands a user would run, in order, each one skipped when its output is already there
(`--force` reruns them): prepare the dataset, train SASRec, evaluate Popularity and SASRec side by side. Its
steps are listed in `_steps`, so the chain grows by adding a step. It knows nothing about how each step works.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from model.logs import get_logger
from model.settings import Settings

log = get_logger(__name__)


@dataclass(frozen=True)
class Step:
    name: str
    done_when: Path | None  # the step is skipped when this file exists (None: always runs)
    run: Callable[[], None]


def _steps(ctx: typer.Context, dataset: str, epochs: int) -> list[Step]:
    from offline.commands import evaluate, prepare, train_sasrec

    settings: Settings = ctx.obj
    work = settings.work_dir
    return [
        Step("prepare", work / "data" / dataset / "meta.json", lambda: prepare.prepare(ctx, dataset)),
        Step(
            "train-sasrec",
            work / "models" / dataset / "sasrec" / "meta.json",
            lambda: train_sasrec.train_sasrec_command(
                ctx, dataset, epochs=epochs, dropout=0.2, lr=2e-3, patience=3, valid_exclude_seen=True
            ),
        ),
        Step("evaluate", None, lambda: evaluate.evaluate(ctx, dataset, models="popularity,sasrec")),
    ]


def demo(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Option(help="Built-in dataset to run on.")] = "movielens-100k",
    epochs: Annotated[
        int, typer.Option(min=1, max=200, help="Most SASRec epochs (early stopping may end sooner).")
    ] = 20,
    force: Annotated[bool, typer.Option(help="Rerun steps whose output already exists.")] = False,
) -> None:
    """Run the main job end to end on a built-in dataset (default: MovieLens-100K)."""
    steps = _steps(ctx, dataset, epochs)
    for number, step in enumerate(steps, start=1):
        if not force and step.done_when is not None and step.done_when.exists():
            log.info("step already done, skipped", step=step.name, output=str(step.done_when))
            continue
        typer.secho(f"[{number}/{len(steps)}] {step.name}", err=True, bold=True)
        step.run()
    typer.secho(f"demo finished: outputs under {ctx.obj.work_dir}", err=True, fg=typer.colors.GREEN)
