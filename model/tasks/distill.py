"""Collaborative distillation: SASRec's top predictions for training prefixes as extra targets of the sequential task.

Contract: `teacher_targets(scorer, train, held_out, top, prefixes)` asks the collaborative model (a trained SASRec)
for its top `top` items after each of up to `prefixes` prefixes of every user's training sequence (the whole training
sequence, the position the user's next, held-out item follows, then evenly spaced earlier ones), with their
probabilities renormalised over those items. A target is never an item of its own prefix and never one of the user's
`held_out` items (validation and test targets): SASRec read only training sequences, and these rules keep the LM's
extra targets free of any evaluation item too. `DistillTask.build(rng)` turns each prefix into one sample,
`[bos] codes(prefix) -> codes(target)` with the target drawn from the teacher's distribution (a fresh draw each
epoch, so over epochs the LM sees the teacher's soft target; loss on the target's code tokens only). It knows nothing
about how the teacher was trained.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from model.baselines.sasrec import SASRecScorer
from model.tasks.base import Sample, TaskContext, pair


@dataclass(frozen=True, slots=True)
class TeacherTarget:
    user: int
    end: int  # the prefix is train[user][:end] (its last max_items items go into the prompt)
    items: tuple[int, ...]  # the teacher's top items for it, best first
    probs: tuple[float, ...]  # their probabilities, renormalised to sum to 1


def _prefix_ends(length: int, prefixes: int) -> list[int]:
    """The whole sequence first, then evenly spaced shorter prefixes (each with at least one item)."""
    if length < 1:
        return []
    ends = {length}
    for j in range(1, prefixes):
        ends.add(max(1, round(length * (prefixes - j) / prefixes)))
    return sorted(ends, reverse=True)[:prefixes]


def teacher_targets(
    scorer: SASRecScorer,
    train: Sequence[Sequence[int]],
    held_out: Sequence[frozenset[int]],
    top: int = 5,
    prefixes: int = 1,
    batch_size: int = 512,
) -> list[TeacherTarget]:
    if len(held_out) != len(train):
        raise ValueError(f"{len(held_out)} held-out sets for {len(train)} users")
    if top < 1 or prefixes < 1:
        raise ValueError(f"top and prefixes must be >= 1, got {top} and {prefixes}")
    wanted = [(user, end) for user, seq in enumerate(train) for end in _prefix_ends(len(seq), prefixes)]
    out: list[TeacherTarget] = []
    for start in range(0, len(wanted), batch_size):
        chunk = wanted[start : start + batch_size]
        histories = [list(train[u][:end]) for u, end in chunk]
        with torch.no_grad():
            logp = torch.log_softmax(scorer.scores(histories).float(), dim=-1)
        for row, ((user, end), history) in enumerate(zip(chunk, histories, strict=True)):
            banned = set(history) | held_out[user]
            scores = logp[row].clone()
            if banned:
                scores[torch.tensor(sorted(banned))] = float("-inf")
            values, idx = scores.topk(min(top, int(torch.isfinite(scores).sum())))
            if idx.numel() == 0:
                continue
            probs = torch.softmax(values, dim=0)
            out.append(TeacherTarget(user, end, tuple(idx.tolist()), tuple(probs.tolist())))
    return out


class DistillTask:
    name = "distill"

    def __init__(self, ctx: TaskContext, targets: Sequence[TeacherTarget], max_items: int = 20) -> None:
        if max_items < 2:
            raise ValueError(f"max_items must be >= 2; got {max_items}")
        self.ctx = ctx
        self.targets = list(targets)
        self.max_prompt = max_items - 1

    def build(self, rng: np.random.Generator) -> list[Sample]:
        head = (self.ctx.bos,) if self.ctx.bos is not None else ()
        out = []
        for t in self.targets:
            prefix = tuple(int(i) for i in self.ctx.train[t.user][: t.end][-self.max_prompt :])
            target = int(t.items[int(rng.choice(len(t.items), p=np.asarray(t.probs) / sum(t.probs)))])
            prompt = head + self.ctx.history_ids(prefix)
            out.append(pair(self.name, prompt, self.ctx.item_ids(target), user=t.user, items=(*prefix, target)))
        return out
