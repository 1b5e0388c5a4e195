"""The task mixture: which builders run, with what weight, and one epoch's shuffled samples.

Contract: `MixtureConfig` names the switches (textual, query, catalogue, negatives and the sampler kind, distill with
its teacher's top items and prefixes per user) and the weights; `build_tasks(ctx, config, teacher)` returns the enabled
builders (distillation needs the teacher's targets, `model.tasks.distill.teacher_targets`) plus a list of notes saying
what was switched off and why (e.g. "textual: off (dataset has no item text)"), so a dataset without text runs only what
it can and says so. `epoch_samples(tasks, weights, seed, epoch)` builds every task's samples from an rng seeded by
(seed, epoch, task), keeps round(weight * n) of each (drawn without replacement; weight > 1 repeats), and shuffles them
all together: the same (seed, epoch) always gives the same list. It knows nothing about models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from model.tasks import query, textual
from model.tasks.base import Sample, TaskBuilder, TaskContext
from model.tasks.catalogue import CatalogueTask
from model.tasks.distill import DistillTask, TeacherTarget
from model.tasks.negatives import NegativeSampler
from model.tasks.query import QueryTask
from model.tasks.sequential import SequentialTask
from model.tasks.textual import TextualTask


@dataclass(frozen=True, slots=True)
class MixtureConfig:
    textual: bool = True
    query: bool = True
    catalogue: bool = False  # measured: helps neither Scientific nor Beauty on validation (README, Quality)
    negatives: bool = True
    sampler: str = "hard"  # uniform | popularity | hard
    max_items: int = 20  # items per sequential window (the generation prompt holds max_items - 1)
    stride: int | None = None  # window step; default max_items - 1 (windows share one item)
    distill: bool = False  # SASRec's top predictions for training prefixes as extra targets (model.tasks.distill)
    distill_top: int = 5  # the teacher's top items a target is drawn from
    distill_prefixes: int = 2  # prefixes per user the teacher predicts after (the whole training sequence first)
    weights: Mapping[str, float] = field(
        default_factory=lambda: {"sequential": 1.0, "textual": 0.2, "query": 0.3, "catalogue": 1.0, "distill": 1.0}
    )


def build_tasks(
    ctx: TaskContext, config: MixtureConfig, teacher: Sequence[TeacherTarget] | None = None
) -> tuple[list[TaskBuilder], list[str]]:
    notes: list[str] = []
    sampler = None
    if config.negatives:
        counts = np.zeros(ctx.codes.n_items)
        for seq in ctx.train:
            np.add.at(counts, np.asarray(seq, dtype=np.int64), 1)
        sampler = NegativeSampler(config.sampler, ctx.codes, counts)
        notes.append(f"negatives: on ({config.sampler} sampler, unlikelihood at the first differing code level)")
    else:
        notes.append("negatives: off (--no-negatives)")
    tasks: list[TaskBuilder] = [SequentialTask(ctx, config.max_items, config.stride, sampler)]
    for name, enabled, ok, make in (  # this order fixes each task's rng stream (see epoch_samples)
        ("catalogue", config.catalogue, True, lambda: CatalogueTask(ctx)),
        ("textual", config.textual, textual.available(ctx), lambda: TextualTask(ctx)),
        ("query", config.query, query.available(ctx), lambda: QueryTask(ctx, min(config.max_items, 20))),
    ):
        if not enabled:
            notes.append(f"{name}: off (switched off)")
        elif not ok:
            notes.append(f"{name}: off (dataset has no item text)")
        elif config.weights.get(name, 1.0) <= 0:
            notes.append(f"{name}: off (weight 0)")
        else:
            tasks.append(make())
            notes.append(f"{name}: on (weight {config.weights.get(name, 1.0)})")
    if not config.distill:
        notes.append("distill: off (switched off)")
    elif not teacher:
        notes.append("distill: off (no teacher targets)")
    else:  # last, so the other tasks keep their rng streams
        tasks.append(DistillTask(ctx, teacher, config.max_items))
        notes.append(
            f"distill: on (weight {config.weights.get('distill', 1.0)}, {len(teacher)} prefixes, the teacher's top "
            f"{config.distill_top})"
        )
    return tasks, notes


def epoch_samples(tasks: Sequence[TaskBuilder], weights: Mapping[str, float], seed: int, epoch: int) -> list[Sample]:
    out: list[Sample] = []
    for t_index, task in enumerate(tasks):
        rng = np.random.default_rng([seed, epoch, t_index])
        samples = task.build(rng)
        w = float(weights.get(task.name, 1.0))
        n = round(w * len(samples))
        if n <= 0 or not samples:
            continue
        reps, rest = divmod(n, len(samples))
        picked = list(range(len(samples))) * reps + rng.permutation(len(samples))[:rest].tolist()
        out.extend(samples[i] for i in picked)
    order = np.random.default_rng([seed, epoch, 1_000_003]).permutation(len(out))
    return [out[i] for i in order]
