"""One training job end to end: dataset + item codes + preset + task mixture -> a saved model artifact.

Contract: `run_job(job)` splits the dataset leave-one-out, builds the LM (`presets.build_lm`), the task builders
(`model.tasks.mixture`) and a validation scorer over a fixed random subsample of `eval_users` validation users
(constrained beam search of width `beam`, Recall/NDCG at 5 and 10, under the product's seen-item rule unless
`valid_exclude_seen` is off), distillation targets from `teacher` when the mixture asks for them, trains on `device`
(`model.lm.device`: the GPU when CUDA is present) with checkpoints in `checkpoint_dir` (resuming when `resume` and a
checkpoint is there, else starting clean), and writes the artifact with `model.artifact.save_artifact`: the
best-on-validation weights, the codes, a `PromptConfig` matching the sequential task's training format exactly (bos +
history code tokens, no head/sep/tail, at most max_items - 1 items, the longest context a target had in training), and
meta holding the dataset / codes hashes, the validation metrics (`valid_recall@10`, ...) and the training record
(config, task notes, tokens/s, seconds). It returns a `JobResult`. The test split is never read. It knows nothing about
the command line.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model.artifact import ArtifactMeta, PromptConfig, save_artifact
from model.baselines.popularity import PopularityScorer
from model.baselines.sasrec_artifact import load_sasrec
from model.codes.item_codes import ItemCodes
from model.data.records import InteractionDataset
from model.data.split import leave_one_out
from model.errors import UserError
from model.eval.generative import GenerativeScorer
from model.eval.metrics import ranking_metrics
from model.lm.device import resolve_device
from model.logs import get_logger
from model.tasks.base import TaskContext
from model.tasks.distill import TeacherTarget, teacher_targets
from model.tasks.mixture import MixtureConfig, build_tasks, epoch_samples
from model.train.dropout import add_dropout
from model.train.presets import Preset, build_lm
from model.train.trainer import Trainer, TrainResult

log = get_logger(__name__)


@dataclass(frozen=True)
class TrainJob:
    dataset: InteractionDataset
    dataset_source: str
    codes: ItemCodes
    codes_source: str  # where the codes came from (tokenizer folder, or the stand-in used)
    tokenizer_dir: Path | None
    preset: Preset
    mixture: MixtureConfig
    out: Path
    checkpoint_dir: Path
    resume: bool = False
    eval_users: int = 500
    beam: int = 20
    seed: int = 0
    device: str = "auto"  # where training runs (model.lm.device.resolve_device): the GPU when CUDA is present
    teacher: Path | None = None  # the SASRec whose predictions the distillation task learns (mixture.distill)
    valid_exclude_seen: bool = True  # seen-item rule of the validation that picks the best epoch (the product's)
    extra: dict[str, Any] = field(default_factory=dict)  # recorded in the artifact's training meta


@dataclass(frozen=True)
class JobResult:
    meta: ArtifactMeta
    train: TrainResult
    notes: list[str]
    seconds: float


def run_job(job: TrainJob) -> JobResult:
    started = time.perf_counter()
    data = job.dataset
    split = leave_one_out(data, max_history=job.mixture.max_items - 1)
    texts = [it.text(200) for it in data.items if it.title] if data.has_text else []
    lm = build_lm(job.preset, job.codes, job.tokenizer_dir, texts, seed=job.seed)
    device = resolve_device(job.device)
    lm.model.to(device)
    tok = lm.tokenizer
    bos = tok.bos_token_id
    ctx = TaskContext(tok, job.codes, lm.vocab, data.items, split.train, bos=bos, eos=tok.eos_token_id)
    tasks, notes = build_tasks(ctx, job.mixture, _teacher(job, data.sequences, split.train))
    for note in notes:
        log.info("task", note=note)
    prompt = PromptConfig(max_history=job.mixture.max_items - 1, head="", sep="", tail="", add_bos=bos is not None)
    rng = np.random.default_rng(job.seed)
    valid = list(split.valid)
    picked = sorted(rng.choice(len(valid), size=min(job.eval_users, len(valid)), replace=False).tolist())
    cases = [valid[i] for i in picked]
    gen_model = lm.model.get_base_model() if hasattr(lm.model, "get_base_model") else lm.model
    scorer = GenerativeScorer("lm", gen_model, tok, job.codes, prompt, beam_width=job.beam)

    def validate(_: Any) -> dict[str, float]:
        t0 = time.perf_counter()
        metrics = ranking_metrics(cases, scorer.rank(cases, 10, exclude_seen=job.valid_exclude_seen), ks=(5, 10))
        log.info("validated", users=len(cases), seconds=round(time.perf_counter() - t0, 1))
        return metrics

    if not job.resume:
        shutil.rmtree(job.checkpoint_dir, ignore_errors=True)
    pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
    trainer = Trainer(lm.model, job.preset.train, job.checkpoint_dir)
    dropout = add_dropout(lm.model, job.preset.dropout)
    try:
        result = trainer.fit(lambda e: epoch_samples(tasks, job.mixture.weights, job.seed, e), int(pad), validate)
    finally:
        dropout.remove()
    model = lm.model.merge_and_unload() if hasattr(lm.model, "merge_and_unload") else lm.model
    popular = PopularityScorer.fit(split.train, data.n_items).order
    metrics = {f"valid_{k}": round(v, 5) for k, v in result.best_metrics.items()}
    training = {
        "preset": job.preset.name,
        "lm": lm.note,
        "dropout": job.preset.dropout,
        "codes": job.codes_source,
        "mixture": {**asdict(job.mixture), "weights": dict(job.mixture.weights)},
        "tasks": notes,
        "config": job.preset.train.to_dict(),
        "validation": {
            "users": len(cases),
            "of": len(valid),
            "beam_width": job.beam,
            "select": "ndcg@10",
            "seen": "removed" if job.valid_exclude_seen else "kept",
        },
        "teacher": str(job.teacher) if job.mixture.distill and job.teacher else None,
        "result": {
            "steps": result.steps,
            "epochs_done": result.epochs_done,
            "best_epoch": result.best_epoch,
            "stopped": result.stopped,
            "tokens_per_s": round(result.tokens_per_s),
            "history": result.history,
        },
        "seconds": round(time.perf_counter() - started, 1),
        "device": device,
        **job.extra,
    }
    meta = save_artifact(
        job.out,
        model,
        tok,
        job.codes,
        data,
        job.dataset_source,
        popular,
        base_lm=lm.base_lm,
        prompt=prompt,
        metrics=metrics,
        training=training,
    )
    log.info("artifact written", folder=str(job.out), version=meta.version[:16], **metrics)
    return JobResult(meta, result, notes, time.perf_counter() - started)


def _teacher(
    job: TrainJob, sequences: Sequence[Sequence[int]], train: Sequence[Sequence[int]]
) -> list[TeacherTarget] | None:
    """The distillation task's targets from the job's SASRec, or None when distillation is off."""
    if not job.mixture.distill:
        return None
    if job.teacher is None:
        raise UserError("distillation needs a teacher: pass a SASRec folder (genrec train --teacher)")
    scorer, meta = load_sasrec(job.teacher)
    if meta.config.n_items != job.codes.n_items:
        raise UserError(f"the teacher in {job.teacher} ranks {meta.config.n_items} items, not {job.codes.n_items}")
    held_out = [frozenset(int(i) for i in full[len(part) :]) for full, part in zip(sequences, train, strict=True)]
    targets = teacher_targets(scorer, train, held_out, job.mixture.distill_top, job.mixture.distill_prefixes)
    log.info("teacher targets", prefixes=len(targets), teacher=str(job.teacher))
    return targets
