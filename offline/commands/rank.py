"""`genrec tune-ranking DATASET --model NAME`: choose the product's ranking on validation and store it in the artifact.

Contract: loads the model artifact (a folder, or a name under `WorkDir.models(DATASET)`) and a SASRec (`--sasrec`,
default `WorkDir.sasrec(DATASET)`, refused when trained on other data), builds every validation case's candidates
once per seen-item rule (the LM's top `--lm-candidates` and SASRec's top `--sasrec-candidates`,
`model.rank.candidates`), scores the LM alone and each fusion of `model.rank.tuning.DEFAULT_GRID` on them, and stores
the best per rule (by `--metric`, default ndcg@10) with the SASRec in the artifact (`model.artifact.set_ranking`: a
new model version). When no fusion beats the LM alone under a rule, that rule keeps the LM alone. Only the validation
split is read. `--users N` tunes on a seeded sample of N validation users (default: all). It prints every trial and
the new version. `tune_and_store` is the same step for `genrec train`. Bad values exit 2 naming the option.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import TaskID

from model.artifact import load_artifact, set_ranking
from model.baselines.sasrec_artifact import load_sasrec
from model.data.split import leave_one_out
from model.errors import UserError
from model.eval.metrics import KS
from model.logs import get_logger
from model.progress import progress
from model.rank.config import RankingConfig
from model.rank.tuning import TuningResult, tune_fusion
from model.recommender import Recommender
from model.settings import Settings
from model.workdir import META_FILE
from offline.common import apply_threads, load_dataset, settings_of

log = get_logger(__name__)
METRICS = tuple(f"{m}@{k}" for m in ("ndcg", "recall") for k in KS)


def find_artifact(settings: Settings, dataset: str, spec: str) -> Path:
    """A model artifact named by `spec`: a folder, or a name under the dataset's models folder (`lm-` optional)."""
    candidates = [Path(spec), settings.workdir.model(dataset, spec), settings.workdir.model(dataset, f"lm-{spec}")]
    folder = next((c for c in candidates if (c / META_FILE).is_file()), None)
    if folder is None:
        raise UserError(f"no model artifact {spec!r} (looked in {', '.join(map(str, candidates))}); run `genrec train`")
    return folder


def tune_and_store(
    settings: Settings,
    dataset: str,
    artifact_folder: Path,
    sasrec_folder: Path,
    users: int | None = None,
    lm_candidates: int = 50,
    sasrec_candidates: int = 50,
    metric: str = "ndcg@10",
) -> tuple[RankingConfig, list[TuningResult], str]:
    """Tune both seen-item rules on validation and store the result; returns (ranking, results, new version)."""
    data, data_hash = load_dataset(settings, dataset)
    artifact = load_artifact(artifact_folder)
    if artifact.meta.dataset_hash != data_hash:
        raise UserError(f"the model in {artifact_folder} was trained on other data than {dataset!r}")
    scorer, sasrec_meta = load_sasrec(sasrec_folder)
    if sasrec_meta.content_hash != data_hash:
        raise UserError(f"the SASRec in {sasrec_folder} was trained on other data; run `genrec train-sasrec {dataset}`")
    history = max(artifact.meta.prompt.max_history, sasrec_meta.config.max_len)
    cases = list(leave_one_out(data, max_history=history).valid)
    if users is not None and users < len(cases):
        cases = random.Random(settings.seed).sample(cases, users)
    base = RankingConfig(lm_candidates=lm_candidates, sasrec_candidates=sasrec_candidates)
    recommender = Recommender(artifact, backend="transformers", dtype="float32", ranking=base, sasrec=scorer)
    results = []
    with progress() as bar:
        for rule in (True, False):
            task = bar.add_task(f"fusion, seen {'removed' if rule else 'kept'}", total=len(cases))

            def advance(n: int, task: TaskID = task) -> None:
                bar.advance(task, n)

            results.append(tune_fusion(recommender, cases, rule, metric=metric, on_batch=advance))
    removed, kept = results
    ranking = RankingConfig(
        seen_removed=removed.best,
        seen_kept=kept.best,
        lm_candidates=lm_candidates,
        sasrec_candidates=sasrec_candidates,
        selection={"split": "valid", "seen_removed": removed.record(), "seen_kept": kept.record()},
    )
    meta = set_ranking(artifact_folder, ranking, sasrec_folder if ranking.uses_sasrec else None)
    log.info(
        "ranking stored",
        artifact=str(artifact_folder),
        seen_removed=removed.best.describe(),
        seen_kept=kept.best.describe(),
        version=meta.version[:16],
    )
    return ranking, results, meta.version


def print_trials(results: list[TuningResult]) -> None:
    for result in results:
        rule = "seen removed" if result.exclude_seen else "seen kept"
        typer.echo(
            f"\nvalidation ({result.n_cases} users, {rule}); chosen by {result.metric}: {result.best.describe()}"
        )
        typer.echo("| fusion | R@5 | R@10 | N@5 | N@10 |\n|---|---:|---:|---:|---:|")
        for t in result.trials:
            m: dict[str, Any] = t.metrics
            mark = " **(chosen)**" if t.fusion == result.best else ""
            typer.echo(
                f"| {t.fusion.describe()}{mark} | {m['recall@5']:.4f} | {m['recall@10']:.4f} | "
                f"{m['ndcg@5']:.4f} | {m['ndcg@10']:.4f} |"
            )


def tune_ranking(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset name (processed folder or built-in).", show_default=False)],
    model: Annotated[str, typer.Option(help="Model artifact: a folder, or a name under <work_dir>/models/DATASET/.")],
    sasrec: Annotated[
        Path | None, typer.Option(help="SASRec folder to fuse with. Default: <work_dir>/models/DATASET/sasrec/.")
    ] = None,
    users: Annotated[
        int | None, typer.Option(min=1, help="Tune on a seeded sample of this many validation users (default all).")
    ] = None,
    lm_candidates: Annotated[int, typer.Option(min=1, max=1000, help="N: the LM search's candidates.")] = 50,
    sasrec_candidates: Annotated[int, typer.Option(min=0, max=1000, help="M: SASRec's candidates joined.")] = 50,
    metric: Annotated[str, typer.Option(help=f"Validation metric to choose by: {', '.join(METRICS)}.")] = "ndcg@10",
) -> None:
    """Choose the ranking (LM alone or fused with SASRec) on validation and store it in the model artifact."""
    settings = settings_of(ctx)
    if metric not in METRICS:
        raise typer.BadParameter(f"{metric!r} is not one of {', '.join(METRICS)}", param_hint="--metric")
    apply_threads(settings)
    folder = find_artifact(settings, dataset, model)
    sasrec_folder = sasrec or settings.workdir.sasrec(dataset)
    _, results, version = tune_and_store(
        settings, dataset, folder, sasrec_folder, users, lm_candidates, sasrec_candidates, metric
    )
    print_trials(results)
    typer.echo(f"\nartifact     {folder}\nversion      {version}")
