"""`genrec train DATASET --preset tiny|smollm2-135m`: fine-tune an LM on the alignment tasks; write the model artifact.
Contract: reads the dataset like the other commands (`train_sasrec.load_dataset`) and the item codes from the
tokenizer stage's folder (`--tokenizer DIR`; default the first of `<work_dir>/tokenizers/<DATASET>/<lm>[-noalign]` for
lm = the preset's base, then smollm2-135m, then tiny (codes aligned to a real LM's text space come first); `--no-
align` picks the `-noalign` folder, the ablation of tokenization without the alignment loss). `--stand-in-codes
random` trains without a tokenizer folder (random unique codes, named as such in the artifact). Task switches: --no-
textual, --no-query, --no-negatives, --sampler, --catalogue and --distill (add a task; --distill learns SASRec's top
predictions for training prefixes, `model.tasks.distill`). Writes the artifact to
`<work_dir>/models/<DATASET>/lm-<preset>[-noalign][-notext][-noquery][-cat][-noneg]/` (or --out), checkpoints to
`<work_dir>/checkpoints/<DATASET>/<the artifact folder's name>/` (so two runs with different --out never share one);
`--resume` continues a killed run. Then, with `--ranking auto` (the default) and a SASRec trained on the same data
(`WorkDir.sasrec(DATASET)`), the product's ranking is chosen on validation and stored in the artifact
(`offline.commands.rank.tune_and_store`: the LM alone, or fused with SASRec when that ranks better); `--ranking lm`
keeps the LM alone. Prints the validation metrics and the model version (the artifact's content hash) on stdout.
Bad inputs exit with code 2 and say what to run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from model.codes.item_codes import META_FILE as CODES_META_FILE
from model.codes.item_codes import ItemCodes, random_item_codes
from model.errors import UserError
from model.logs import get_logger
from model.settings import Settings
from model.tasks.mixture import MixtureConfig
from model.tasks.negatives import KINDS
from model.tokenizer.build import read_meta as read_tokenizer_meta
from model.train.pipeline import TrainJob, run_job
from model.train.presets import PRESETS, get_preset
from model.workdir import META_FILE
from offline.commands.rank import print_trials, tune_and_store
from offline.common import apply_threads, load_dataset, settings_of

log = get_logger(__name__)


def _tokenizer_dir(settings: Settings, dataset: str, base: str, no_align: bool) -> Path | None:
    suffix = "-noalign" if no_align else ""
    for lm in dict.fromkeys([base if base != "scratch" else "smollm2-135m", "smollm2-135m", "tiny"]):
        folder = settings.workdir.tokenizer(dataset, f"{lm}{suffix}")
        if (folder / CODES_META_FILE).is_file():
            return folder
    return None


def _codes_from(folder: Path, n_items: int, dataset_hash: str) -> ItemCodes:
    codes = ItemCodes.load(folder)
    if codes.n_items != n_items:
        raise UserError(f"the codes in {folder} cover {codes.n_items} items but the dataset has {n_items}")
    if (folder / META_FILE).is_file():
        theirs = read_tokenizer_meta(folder).inputs.get("dataset_hash")
        if theirs and theirs != dataset_hash:
            raise UserError(
                f"the tokenizer in {folder} was trained on other data (hash {theirs[:12]}…, dataset is "
                f"{dataset_hash[:12]}…); run `genrec train-tokenizer` again"
            )
    return codes


def train(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset name (processed folder or built-in).", show_default=False)],
    preset: Annotated[str, typer.Option(help=f"Training preset: {', '.join(PRESETS)}.")] = "tiny",
    tokenizer: Annotated[
        Path | None, typer.Option(help="Tokenizer-stage folder (item codes + LM). Default: see the module docs.")
    ] = None,
    no_align: Annotated[bool, typer.Option("--no-align", help="Use the tokenizer trained without alignment.")] = False,
    stand_in_codes: Annotated[
        str | None, typer.Option(help="'random': random unique codes, when no tokenizer folder exists.")
    ] = None,
    no_textual: Annotated[bool, typer.Option("--no-textual", help="Switch off the textual tasks.")] = False,
    no_query: Annotated[bool, typer.Option("--no-query", help="Switch off the query-oriented task.")] = False,
    catalogue: Annotated[
        bool, typer.Option("--catalogue", help="Add the catalogue task (every item's code path; off by default).")
    ] = False,
    no_negatives: Annotated[bool, typer.Option("--no-negatives", help="Switch off negative sampling.")] = False,
    distill: Annotated[
        bool, typer.Option("--distill", help="Add SASRec's top predictions for training prefixes as extra targets.")
    ] = False,
    distill_weight: Annotated[float, typer.Option(min=0.0, max=10.0, help="Weight of the distillation task.")] = 1.0,
    distill_top: Annotated[
        int, typer.Option(min=1, max=100, help="The teacher's top items a target is drawn from.")
    ] = 5,
    distill_prefixes: Annotated[
        int, typer.Option(min=1, max=20, help="Prefixes per user the teacher predicts after.")
    ] = 2,
    teacher: Annotated[
        Path | None, typer.Option(help="--distill's SASRec folder. Default: <work_dir>/models/DATASET/sasrec/.")
    ] = None,
    valid_keep_seen: Annotated[
        bool, typer.Option("--valid-keep-seen", help="Pick the best epoch with seen items kept (default: removed).")
    ] = False,
    sampler: Annotated[str, typer.Option(help=f"Negative sampler: {', '.join(KINDS)}.")] = "hard",
    max_items: Annotated[int, typer.Option(min=2, help="Items per sequential window.")] = 20,
    epochs: Annotated[int | None, typer.Option(min=1, help="Override the preset's epochs.")] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="Override the preset's batch size.")] = None,
    lr: Annotated[float | None, typer.Option(help="Override the preset's learning rate.")] = None,
    lora: Annotated[
        bool, typer.Option("--lora", help="LoRA instead of full fine-tuning (pretrained presets).")
    ] = False,
    bf16: Annotated[
        bool | None, typer.Option("--bf16/--fp32", help="bf16 autocast; default: on where the CPU supports it.")
    ] = None,
    max_minutes: Annotated[float | None, typer.Option(help="Stop training after this many minutes.")] = None,
    dropout: Annotated[
        float | None,
        typer.Option(min=0.0, max=0.95, help="Override the preset's training dropout (embeddings, residuals)."),
    ] = None,
    label_smoothing: Annotated[
        float | None,
        typer.Option(min=0.0, max=0.5, help="Share of each target's mass spread over the vocabulary (default 0)."),
    ] = None,
    code_init: Annotated[
        str | None,
        typer.Option(help="From-scratch presets: code-token rows 'random' or from the tokenizer's 'codebook'."),
    ] = None,
    patience: Annotated[
        int | None, typer.Option(min=1, help="Override the preset's early-stopping patience (validations).")
    ] = None,
    eval_users: Annotated[int, typer.Option(min=1, help="Validation users sampled for model selection.")] = 500,
    beam: Annotated[int, typer.Option(min=1, help="Beam width of validation generation.")] = 20,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint.")] = False,
    ranking: Annotated[
        str,
        typer.Option(help="auto: choose LM alone or fused with SASRec on validation (needs a SASRec); lm: LM alone."),
    ] = "auto",
    tune_users: Annotated[
        int | None, typer.Option(min=1, help="Validation users the ranking is chosen on (default all).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Artifact folder. Default: <work_dir>/models/DATASET/lm-...")] = None,
) -> None:
    """Fine-tune an LM on the alignment-task mixture and save the model artifact."""
    from dataclasses import replace

    settings = settings_of(ctx)
    apply_threads(settings)
    if sampler not in KINDS:
        raise typer.BadParameter(f"{sampler!r} is not one of {', '.join(KINDS)}", param_hint="--sampler")
    if ranking not in ("auto", "lm"):
        raise typer.BadParameter(f"{ranking!r} is not auto or lm", param_hint="--ranking")
    chosen = get_preset(preset, bf16, code_init)
    overrides: dict[str, Any] = {"seed": settings.seed}
    for key, value in (
        ("epochs", epochs),
        ("batch_size", batch_size),
        ("lr", lr),
        ("patience", patience),
        ("label_smoothing", label_smoothing),
        ("max_minutes", max_minutes),
    ):
        if value is not None:
            overrides[key] = value
    chosen = replace(chosen, train=replace(chosen.train, **overrides), lora=lora or chosen.lora)
    if dropout is not None:
        chosen = replace(chosen, dropout=dropout)
    data, data_hash = load_dataset(settings, dataset)
    folder = tokenizer or _tokenizer_dir(settings, data.name, chosen.base, no_align)
    if stand_in_codes is not None:
        if stand_in_codes != "random":
            raise typer.BadParameter("only 'random' is offered", param_hint="--stand-in-codes")
        codes = random_item_codes(data.n_items, (256, 256, 256, 256)[: 3 if data.n_items < 256**2 else 4])
        codes_source = "STAND-IN: random unique codes (no tokenizer stage)"
    elif folder is None:
        raise UserError(
            f"no tokenizer folder for {data.name!r} under {settings.workdir.tokenizers(data.name)}; run "
            f"`genrec train-tokenizer {data.name}{' --no-align' if no_align else ''}`, pass --tokenizer, "
            "or --stand-in-codes random"
        )
    else:
        codes = _codes_from(folder, data.n_items, data_hash)
        codes_source = str(folder)
    mixture = MixtureConfig(
        textual=not no_textual,
        query=not no_query,
        catalogue=catalogue,
        negatives=not no_negatives,
        sampler=sampler,
        max_items=max_items,
        distill=distill,
        distill_top=distill_top,
        distill_prefixes=distill_prefixes,
        weights={**MixtureConfig().weights, "distill": distill_weight},
    )
    teacher_dir = teacher or settings.workdir.sasrec(data.name)
    if distill and not (teacher_dir / META_FILE).is_file():
        raise UserError(f"--distill needs a trained SASRec in {teacher_dir}; run `genrec train-sasrec {data.name}`")
    name = f"lm-{chosen.name}" + "".join(
        s
        for s, on in (
            ("-noalign", no_align),
            ("-notext", no_textual),
            ("-noquery", no_query),
            ("-cat", catalogue),
            ("-noneg", no_negatives),
            ("-distill", distill),
        )
        if on
    )
    target = out or settings.workdir.model(data.name, name)
    job = TrainJob(
        dataset=data,
        dataset_source=str(settings.workdir.dataset(data.name)),
        codes=codes,
        codes_source=codes_source,
        tokenizer_dir=folder,
        preset=chosen,
        mixture=mixture,
        out=target,
        checkpoint_dir=settings.workdir.checkpoints(data.name, target.name),  # one per artifact folder
        resume=resume,
        eval_users=eval_users,
        beam=beam,
        seed=settings.seed,
        teacher=teacher_dir if distill else None,
        valid_exclude_seen=not valid_keep_seen,
        extra={
            "command": f"genrec train {dataset} --preset {preset}" + (" --no-align" if no_align else ""),
            "code_init": chosen.code_init,
        },
    )
    result = run_job(job)
    for note in result.notes:
        typer.echo(f"task  {note}")
    for key, value in result.meta.metrics.items():
        typer.echo(f"{key:<18} {value:.4f}")
    typer.echo(
        f"stopped      {result.train.stopped} after {result.train.epochs_done} epochs, "
        f"best epoch {result.train.best_epoch}"
    )
    typer.echo(f"tokens/s     {result.train.tokens_per_s:.0f}")
    version = result.meta.version
    sasrec = settings.workdir.sasrec(data.name)
    if ranking == "auto" and (sasrec / META_FILE).is_file():
        picked, results, version = tune_and_store(settings, data.name, target, sasrec, users=tune_users)
        print_trials(results)
        typer.echo(f"ranking      seen removed: {picked.seen_removed.describe()}; kept: {picked.seen_kept.describe()}")
    elif ranking == "auto":
        typer.echo(f"ranking      LM alone (no SASRec in {sasrec} to fuse with: run `genrec train-sasrec {data.name}`)")
    typer.echo(f"artifact     {target}\nversion      {version}")
