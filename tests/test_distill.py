"""The collaborative distillation task: the teacher's targets never hold a held-out (validation or test) item nor an
item of their own prefix, are the teacher's own top items with renormalised probabilities, and become samples whose
only loss is the drawn target's codes; `genrec train --distill` uses them end to end and refuses bad values by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from model.baselines.sasrec import SASRec, SASRecConfig, SASRecScorer
from model.baselines.sasrec_artifact import SASRecMeta, save_sasrec
from model.data.processed import content_hash, load_processed, serialize
from model.tasks.base import IGNORE
from model.tasks.distill import DistillTask, _prefix_ends, teacher_targets
from model.tasks.mixture import MixtureConfig, build_tasks
from model.workdir import WorkDir
from offline.cli import _register, app
from tests.test_tasks import _ctx, _dataset
from tests.test_tokenizer_cli import SMALL, _work

_register()


def _teacher(n_items: int, seed: int = 0) -> SASRecScorer:
    torch.manual_seed(seed)
    return SASRecScorer(SASRec(SASRecConfig(n_items, max_len=10, hidden=16, layers=1, heads=1, dropout=0.0)))


def test_targets_never_hold_a_held_out_or_prefix_item() -> None:
    data = _dataset(n_items=30, n_users=40)
    _, split = _ctx(data)
    held_out = [frozenset(full[len(part) :]) for full, part in zip(data.sequences, split.train, strict=True)]
    assert sum(len(h) for h in held_out) > 40  # most users hold a validation and a test item
    teacher = _teacher(data.n_items)
    targets = teacher_targets(teacher, split.train, held_out, top=8, prefixes=3)
    assert targets and {t.user for t in targets} == {u for u, s in enumerate(split.train) if s}
    for t in targets:
        prefix = set(split.train[t.user][: t.end])
        assert not set(t.items) & held_out[t.user], (t, held_out[t.user])
        assert not set(t.items) & prefix
        assert sum(t.probs) == pytest.approx(1.0) and list(t.probs) == sorted(t.probs, reverse=True)
        # the teacher's own top items among the allowed ones
        scores = teacher.scores([list(split.train[t.user][: t.end])])[0]
        allowed = [i for i in range(data.n_items) if i not in prefix | held_out[t.user]]
        best = sorted(allowed, key=lambda i: -float(scores[i]))[: len(t.items)]
        assert set(t.items) == set(best)
    again = teacher_targets(teacher, split.train, held_out, top=8, prefixes=3)
    assert again == targets


def test_the_whole_training_sequence_comes_first_then_shorter_prefixes() -> None:
    assert _prefix_ends(10, 1) == [10] and _prefix_ends(10, 3) == [10, 7, 3] and _prefix_ends(1, 4) == [1]
    assert _prefix_ends(0, 2) == []


def test_samples_teach_only_the_drawn_targets_codes() -> None:
    data = _dataset(n_items=30, n_users=20)
    ctx, split = _ctx(data)
    held_out = [frozenset(full[len(part) :]) for full, part in zip(data.sequences, split.train, strict=True)]
    targets = teacher_targets(_teacher(data.n_items), split.train, held_out, top=3, prefixes=2)
    task = DistillTask(ctx, targets, max_items=6)
    rng = np.random.default_rng(0)
    samples = task.build(rng)
    assert len(samples) == len(targets)
    drawn = set()
    for s, t in zip(samples, targets, strict=True):
        labelled = [x for x in s.labels if x != IGNORE]
        target = s.items[-1]
        assert target in t.items and labelled == list(ctx.item_ids(target))
        assert s.items[:-1] == tuple(split.train[t.user][: t.end][-5:])  # at most max_items - 1 in the prompt
        drawn.add((t.user, t.end, target))
    more = {(t.user, t.end, s.items[-1]) for s, t in zip(task.build(np.random.default_rng(1)), targets, strict=True)}
    assert more != drawn  # a fresh draw per epoch: the soft target, over epochs
    tasks, notes = build_tasks(ctx, MixtureConfig(distill=True), targets)
    assert tasks[-1].name == "distill" and any(n.startswith("distill: on") for n in notes)
    _, notes = build_tasks(ctx, MixtureConfig(distill=True), None)
    assert "distill: off (no teacher targets)" in notes


def test_train_with_distillation_end_to_end_and_bad_values(tmp_path: Path) -> None:
    work = _work(tmp_path)
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, ["--work-dir", str(work), *args], env={"GENREC_PROGRESS": "0"})

    assert run("train-tokenizer", "toy", *SMALL).exit_code == 0
    missing = run("train", "toy", "--preset", "tiny", "--distill", "--epochs", "1")
    assert "--distill needs a trained SASRec" in str(missing.exception)
    data, meta = load_processed(WorkDir(work).dataset("toy"))
    cfg = SASRecConfig(data.n_items, max_len=10, hidden=16, layers=1, heads=1, dropout=0.0)
    save_sasrec(
        WorkDir(work).sasrec("toy"),
        SASRec(cfg),
        SASRecMeta(cfg, {}, "toy", content_hash(*serialize(data)), 0, 1, 1, {"ndcg@10": 0.0}),
    )
    result = run(
        "train", "toy", "--preset", "tiny", "--distill", "--distill-top", "3", "--epochs", "1",
        "--eval-users", "5", "--fp32", "--tune-users", "8",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "validation (8 users, seen removed); chosen by ndcg@10" in result.output  # --ranking auto: tuned
    from model.artifact import load_artifact

    artifact = load_artifact(WorkDir(work).model("toy", "lm-tiny-distill"))
    assert any(t.startswith("distill: on") for t in artifact.meta.training["tasks"])
    assert artifact.meta.training["teacher"] == str(WorkDir(work).sasrec("toy"))
    selection = artifact.ranking.selection
    assert selection["split"] == "valid" and selection["seen_removed"]["cases"] == 8  # type: ignore[index]
    assert artifact.version in result.output  # the version printed is the one with the stored ranking
    assert meta.content_hash == artifact.meta.dataset_hash
    for args, words in (
        (["--distill-top", "0"], "--distill-top"),
        (["--distill-weight", "-1"], "--distill-weight"),
        (["--distill-prefixes", "99"], "--distill-prefixes"),
        (["--ranking", "fused"], "--ranking"),
    ):
        bad = run("train", "toy", "--stand-in-codes", "random", *args)
        assert bad.exit_code == 2 and words in bad.output, bad.output
