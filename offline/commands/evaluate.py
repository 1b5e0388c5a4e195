"""`genrec evaluate DATASET --models popularity,sasrec,lm:NAME,rec:NAME`: rank every evaluation case with each model.

Contract: one leave-one-out split of DATASET (read as `offline.common.load_dataset` says), one split (test or valid)
and one seen-item rule (--exclude-seen / --keep-seen, default keep: the generative papers' protocol) or both
(--both-rules: every model under each rule, in the same run) for all models; full ranking over all items; Recall@K and
NDCG@K for each K of --ks. Models: `popularity`; `sasrec` (WorkDir.sasrec(DATASET)) or `sasrec:FOLDER` (another
SASRec, e.g. one of a tuning grid: a folder or a name under the dataset's models folder); `lm:NAME` (an artifact's LM
alone, beam --beam-width) and `rec:NAME` (the artifact's own ranking: what refresh and the service serve, the fused
ranking when the artifact holds one), both through `model.recommender.Recommender`, in --dtype (default float32). It
prints a markdown table on stdout and writes `<stem>.json` + `<stem>.md` (default `WorkDir.report`). A model name it
does not know, a model that was never trained, or one trained on other data is a `UserError` that says what to run.
New models join by adding a loader to `MODELS`. It knows nothing about how the models work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from model.artifact import SASREC_DIR, load_artifact
from model.baselines.popularity import PopularityScorer
from model.baselines.sasrec_artifact import load_sasrec, read_meta
from model.data.records import InteractionDataset
from model.data.split import LeaveOneOutSplit, leave_one_out
from model.errors import UserError
from model.eval.generative import RecommenderScorer
from model.eval.metrics import KS, MetricReport, evaluate_scorer
from model.eval.report import markdown_table, write_report
from model.eval.scorer import Scorer
from model.logs import get_logger
from model.rank.config import LM_ONLY
from model.recommender import Recommender
from model.settings import Settings
from model.workdir import META_FILE
from offline.commands.rank import find_artifact
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


def _sasrec_at(ctx: EvalContext, folder: Path, name: str) -> tuple[Scorer, dict[str, Any]]:
    if not (folder / META_FILE).is_file():
        raise UserError(
            f"no trained SASRec for {ctx.dataset.name!r} in {folder}; run `genrec train-sasrec {ctx.dataset.name}`"
        )
    scorer, meta = load_sasrec(folder)
    if meta.content_hash != ctx.content_hash or meta.config.n_items != ctx.dataset.n_items:
        raise UserError(
            f"the SASRec in {folder} was trained on other data (hash {meta.content_hash[:12]}…, dataset is "
            f"{ctx.content_hash[:12]}…); run `genrec train-sasrec {ctx.dataset.name}` again"
        )
    scorer.name = name
    return scorer, {"best_epoch": meta.best_epoch, "config": meta.config.to_dict(), "folder": str(folder)}


def _sasrec(ctx: EvalContext) -> tuple[Scorer, dict[str, Any]]:
    return _sasrec_at(ctx, ctx.settings.workdir.sasrec(ctx.dataset.name), "sasrec")


def _sasrec_folder(settings: Settings, dataset: str, spec: str) -> Path:
    return next(
        (p for p in (Path(spec), settings.workdir.model(dataset, spec)) if (p / META_FILE).is_file()), Path(spec)
    )


def _artifact_scorer(ctx: EvalContext, name: str, options: EvalOptions) -> tuple[Scorer, dict[str, Any]]:
    kind, _, spec = name.partition(":")
    folder = find_artifact(ctx.settings, ctx.dataset.name, spec)
    artifact = load_artifact(folder)
    if ctx.content_hash not in (artifact.meta.dataset_hash, artifact.state.trained_dataset):  # items added since count
        raise UserError(f"the model in {folder} was trained on other data; run `genrec train {ctx.dataset.name}` again")
    if kind == "lm":
        width = max(options.beam_width, options.k)
        recommender = Recommender(artifact, "transformers", options.dtype, beam_width=width, ranking=LM_ONLY)
        ranking = f"LM alone, beam {width}"
    else:
        recommender = Recommender(artifact, "transformers", options.dtype)
        ranking = (
            f"seen removed: {artifact.ranking.seen_removed.describe()}; kept: {artifact.ranking.seen_kept.describe()}"
        )
    extra = {
        "version": artifact.version[:16],
        "ranking": ranking,
        "base_lm": artifact.meta.base_lm,
        "codes": artifact.meta.training.get("codes"),
        "tasks": artifact.meta.training.get("tasks"),
    }
    return RecommenderScorer(name, recommender), extra


@dataclass(frozen=True, slots=True)
class EvalOptions:
    beam_width: int  # lm:* models
    dtype: str  # lm:* and rec:* models
    k: int  # the largest cut-off


MODELS: dict[str, Callable[[EvalContext], tuple[Scorer, dict[str, Any]]]] = {
    "popularity": _popularity,
    "sasrec": _sasrec,
}
PREFIXED = ("lm:", "rec:", "sasrec:")


def _loader(name: str, options: EvalOptions) -> Callable[[EvalContext], tuple[Scorer, dict[str, Any]]]:
    """`lm:` / `rec:` name a model artifact, `sasrec:` another SASRec; other names come from MODELS."""
    if name.startswith("sasrec:"):
        return lambda ctx: _sasrec_at(ctx, _sasrec_folder(ctx.settings, ctx.dataset.name, name[7:]), name)
    if name.startswith(("lm:", "rec:")):
        return lambda ctx: _artifact_scorer(ctx, name, options)
    return MODELS[name]


def _parse_models(value: str) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODELS and not any(n.startswith(p) and len(n) > len(p) for p in PREFIXED)]
    if not names or unknown:
        raise typer.BadParameter(
            f"unknown model {', '.join(map(repr, unknown)) or '(none given)'}; "
            f"known: {', '.join(MODELS)}, lm:<artifact>, rec:<artifact>, sasrec:<folder>",
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
    """The longest history any of the models reads (SASRec's max_len, a fused artifact's SASRec's)."""
    folders = []
    for name in models:
        if name == "sasrec":
            folders.append(settings.workdir.sasrec(dataset))
        elif name.startswith("sasrec:"):
            folders.append(_sasrec_folder(settings, dataset, name[7:]))
        elif name.startswith("rec:"):
            folders.append(find_artifact(settings, dataset, name[4:]) / SASREC_DIR)
    lengths = [read_meta(f).config.max_len for f in folders if (f / META_FILE).is_file()]
    return max([DEFAULT_HISTORY, *lengths])


def evaluate(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset name (processed folder or built-in).", show_default=False)],
    models: Annotated[
        str,
        typer.Option(
            help=f"Comma-separated models: {', '.join(MODELS)}, sasrec:<folder>, lm:<artifact> (the LM alone), "
            "rec:<artifact> (the artifact's ranking)."
        ),
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
    both_rules: Annotated[
        bool, typer.Option("--both-rules", help="Evaluate every model under both seen-item rules in this run.")
    ] = False,
    dtype: Annotated[str, typer.Option(help="lm:/rec: models' dtype: float32, bfloat16 or auto.")] = "float32",
) -> None:
    """Rank every user's held-out item with each model; print and save Recall@K / NDCG@K side by side."""
    settings = settings_of(ctx)
    names = _parse_models(models)
    cutoffs = _parse_ks(ks)
    if split not in ("test", "valid"):
        raise typer.BadParameter(f"{split!r} is not test or valid", param_hint="--split")
    if dtype not in ("float32", "bfloat16", "auto"):
        raise typer.BadParameter(f"{dtype!r} is not float32, bfloat16 or auto", param_hint="--dtype")
    apply_threads(settings)
    data, data_hash = load_dataset(settings, dataset)
    if cutoffs[-1] > data.n_items:
        raise typer.BadParameter(f"K {cutoffs[-1]} exceeds the {data.n_items} items of {dataset!r}", param_hint="--ks")
    loo = leave_one_out(data, max_history=_history_needed(settings, data.name, names))
    cases = loo.test if split == "test" else loo.valid
    if not cases:
        raise UserError(f"dataset {dataset!r} has no user with 3 or more interactions: nothing to evaluate")
    context = EvalContext(settings, data, data_hash, loo)
    options = EvalOptions(beam_width, dtype, cutoffs[-1])
    scorers = [_loader(name, options)(context) for name in names]  # load all first: a missing model fails first
    rules = (False, True) if both_rules else (exclude_seen,)
    reports: list[MetricReport] = []
    for rule in rules:
        for scorer, extra in scorers:
            rep = evaluate_scorer(
                scorer, cases, dataset=data.name, split=split, exclude_seen=rule, ks=cutoffs, extra=extra
            )
            metrics = {k: round(v, 4) for k, v in rep.metrics.items()}
            log.info("evaluated", model=rep.model, exclude_seen=rule, seconds=rep.seconds, **metrics)
            reports.append(rep)
    target = out or settings.workdir.report(data.name, split, None if both_rules else exclude_seen)
    json_path, md_path = write_report(reports, target.parent, target.stem)
    typer.echo(markdown_table(reports), nl=False)
    typer.echo(f"\nwritten: {json_path} {md_path}")
