"""`genrec evaluate DATASET --models popularity,sasrec`: rank every evaluation case with each model, side by side.

Contract: one leave-one-out split of DATASET (see `train_sasrec.load_dataset` for where it is read from), one
seen-item rule (--exclude-seen / --keep-seen, default keep: the generative papers' protocol) and one split (test or
valid) for all models; full ranking over all items; Recall@K and NDCG@K for each K of --ks. It prints a markdown
table on stdout and writes `<stem>.json` + `<stem>.md` (default `<work_dir>/reports/<DATASET>-<split>-<rule>`).
A model name it does not know, a model that was never trained, or one trained on other data is a `UserError` that
says what to run. New models join by adding a loader to `MODELS`. It knows nothing about how the models work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from model.baselines.popularity import PopularityScorer
from model.baselines.sasrec_artifact import load_sasrec, read_meta
from model.data.records import InteractionDataset
from model.data.split import LeaveOneOutSplit, leave_one_out
from model.errors import UserError
from model.eval.metrics import KS, MetricReport, evaluate_scorer
from model.eval.report import markdown_table, write_report
from model.eval.scorer import Scorer
from model.logs import get_logger
from model.settings import Settings
from model.workdir import META_FILE
from offline.common import apply_threads, load_dataset, settings_of

log = get_logger(__name__)

DEFAULT_HISTORY = 50


@dataclass(frozen=True, slots=True)
class EvalContext:
    settings: Settings
    dataset: InteractionDataset
    content_hash: str
    split: LeaveOneOutSplit


def _popularity(ctx: EvalContext) -> tuple[Scorer, dict[str, Any]]:
    return PopularityScorer.fit(ctx.split.train, ctx.dataset.n_items), {}


def _sasrec(ctx: EvalContext) -> tuple[Scorer, dict[str, Any]]:
    folder = ctx.settings.workdir.sasrec(ctx.dataset.name)
    if not folder.is_dir():
        raise UserError(
            f"no trained SASRec for {ctx.dataset.name!r} in {folder}; run `genrec train-sasrec {ctx.dataset.name}`"
        )
    scorer, meta = load_sasrec(folder)
    if meta.content_hash != ctx.content_hash or meta.config.n_items != ctx.dataset.n_items:
        raise UserError(
            f"the SASRec in {folder} was trained on other data (hash {meta.content_hash[:12]}…, dataset is "
            f"{ctx.content_hash[:12]}…); run `genrec train-sasrec {ctx.dataset.name}` again"
        )
    return scorer, {"best_epoch": meta.best_epoch, "config": meta.config.to_dict()}


MODELS: dict[str, Callable[[EvalContext], tuple[Scorer, dict[str, Any]]]] = {
    "popularity": _popularity,
    "sasrec": _sasrec,
}


def _loader(name: str, beam_width: int) -> Callable[[EvalContext], tuple[Scorer, dict[str, Any]]]:
    """`lm:<artifact folder or name>` is an aligned LM (offline/commands/train.py); other names come from MODELS."""
    if name.startswith("lm:"):
        from offline.commands.train import lm_scorer

        return lambda ctx: lm_scorer(ctx.settings, ctx.dataset.name, ctx.content_hash, name[3:], beam_width)
    return MODELS[name]


def _parse_models(value: str) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODELS and not (n.startswith("lm:") and len(n) > 3)]
    if not names or unknown:
        raise typer.BadParameter(
            f"unknown model {', '.join(map(repr, unknown)) or '(none given)'}; "
            f"known: {', '.join(MODELS)}, lm:<artifact>",
            param_hint="--models",
        )
    return list(dict.fromkeys(names))


def _parse_ks(value: str) -> list[int]:
    try:
        ks = sorted({int(k) for k in value.split(",") if k.strip()})
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a comma-separated list of integers", param_hint="--ks") from None
    if not ks or ks[0] < 1:
        raise typer.BadParameter(f"cut-offs must be positive integers, got {value!r}", param_hint="--ks")
    return ks


def _history_needed(settings: Settings, dataset: str, models: list[str]) -> int:
    needed = DEFAULT_HISTORY
    folder = settings.workdir.sasrec(dataset)
    if "sasrec" in models and (folder / META_FILE).is_file():
        needed = max(needed, read_meta(folder).config.max_len)
    return needed


def evaluate(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset name (processed folder or built-in).", show_default=False)],
    models: Annotated[
        str, typer.Option(help=f"Comma-separated models: {', '.join(MODELS)}, lm:<artifact folder or name>.")
    ] = "popularity,sasrec",
    split: Annotated[str, typer.Option(help="Which targets to rank: test or valid.")] = "test",
    exclude_seen: Annotated[
        bool,
        typer.Option(
            "--exclude-seen/--keep-seen",
            help="Remove items the user already interacted with (except the target) from the ranking.",
        ),
    ] = False,
    ks: Annotated[str, typer.Option(help="Comma-separated cut-offs K.")] = ",".join(map(str, KS)),
    out: Annotated[
        Path | None, typer.Option(help="Report JSON path (a .md is written beside it). Default: <work_dir>/reports/.")
    ] = None,
    beam_width: Annotated[int, typer.Option(min=1, help="Beam width of lm:* models (at least max K).")] = 20,
) -> None:
    """Rank every user's held-out item with each model; print and save Recall@K / NDCG@K side by side."""
    settings = settings_of(ctx)
    names = _parse_models(models)
    cutoffs = _parse_ks(ks)
    if split not in ("test", "valid"):
        raise typer.BadParameter(f"{split!r} is not test or valid", param_hint="--split")
    apply_threads(settings)
    data, data_hash = load_dataset(settings, dataset)
    if cutoffs[-1] > data.n_items:
        raise typer.BadParameter(f"K {cutoffs[-1]} exceeds the {data.n_items} items of {dataset!r}", param_hint="--ks")
    loo = leave_one_out(data, max_history=_history_needed(settings, data.name, names))
    cases = loo.test if split == "test" else loo.valid
    if not cases:
        raise UserError(f"dataset {dataset!r} has no user with 3 or more interactions: nothing to evaluate")
    context = EvalContext(settings, data, data_hash, loo)
    scorers = [
        _loader(name, beam_width)(context) for name in names
    ]  # load all first: a missing model fails before any work
    reports: list[MetricReport] = []
    for scorer, extra in scorers:
        rep = evaluate_scorer(
            scorer, cases, dataset=data.name, split=split, exclude_seen=exclude_seen, ks=cutoffs, extra=extra
        )
        log.info("evaluated", model=rep.model, seconds=rep.seconds, **{k: round(v, 4) for k, v in rep.metrics.items()})
        reports.append(rep)
    target = out or settings.workdir.report(data.name, split, exclude_seen)
    json_path, md_path = write_report(reports, target.parent, target.stem)
    typer.echo(markdown_table(reports), nl=False)
    typer.echo(f"\nwritten: {json_path} {md_path}")
