"""Alignment task builders on a small fixture: right targets, loss only on responses, no validation/test item
leakage, negatives never equal to the positive, text tasks off without text, and reproducible epochs."""

from __future__ import annotations

import numpy as np
import pytest

from model.codes.item_codes import random_item_codes
from model.data.records import InteractionDataset, Item
from model.data.split import leave_one_out
from model.lm.extend import add_code_tokens
from model.lm.tiny import tiny_causal_lm, tiny_tokenizer
from model.tasks.base import IGNORE, Sample, TaskContext
from model.tasks.catalogue import CatalogueTask
from model.tasks.mixture import MixtureConfig, build_tasks, epoch_samples
from model.tasks.negatives import NegativeSampler, divergence
from model.tasks.query import QueryTask, describe
from model.tasks.sequential import SequentialTask, windows
from model.tasks.textual import TextualTask

LEVELS = (4, 4, 4)


def _dataset(n_items: int = 40, n_users: int = 15, text: bool = True, seed: int = 0) -> InteractionDataset:
    rng = np.random.default_rng(seed)
    items = [
        Item(i, str(i), f"Blue widget model {i}" if text else "", {"categories": "Tools,Widgets"} if text else {})
        for i in range(n_items)
    ]
    seqs = [rng.choice(n_items, size=int(rng.integers(3, 14)), replace=False).tolist() for _ in range(n_users)]
    return InteractionDataset("toy", items, [f"u{u}" for u in range(n_users)], seqs)


def _ctx(data: InteractionDataset, max_history: int = 30) -> tuple[TaskContext, object]:
    tok = tiny_tokenizer()
    model = tiny_causal_lm(len(tok), hidden_size=32, num_layers=1, intermediate_size=64)
    vocab = add_code_tokens(model, tok, LEVELS, mean_resizing=False)
    codes = random_item_codes(data.n_items, LEVELS, seed=1)
    split = leave_one_out(data, max_history=max_history)
    ctx = TaskContext(tok, codes, vocab, data.items, split.train, bos=tok.bos_token_id, eos=tok.eos_token_id)
    return ctx, split


def _response_items(ctx: TaskContext, s: Sample) -> list[tuple[int, ...]]:
    """The code paths whose tokens carry labels, in order, for code-token responses."""
    labelled = [t for t in s.labels if t != IGNORE]
    n = ctx.codes.n_levels
    return [tuple(labelled[i : i + n]) for i in range(0, len(labelled), n)]


def test_windows_cover_every_position() -> None:
    assert windows(5, 10, 5) == [(0, 5)]
    for length, size, stride in [(10, 4, 3), (10, 4, 4), (23, 5, 2), (7, 3, 1)]:
        ws = windows(length, size, stride)
        assert ws[-1][1] == length and ws[0][0] == 0
        assert all(e - s == size for s, e in ws)
        covered = {p for s, e in ws for p in range(s + 1, e)} | {0}
        assert covered == set(range(length))


def test_sequential_targets_every_item_after_the_first_and_no_leak() -> None:
    data = _dataset()
    ctx, split = _ctx(data)
    samples = SequentialTask(ctx, max_items=6, stride=3).build(np.random.default_rng(0))
    held_out = {(c.user, c.target) for c in split.valid} | {(c.user, c.target) for c in split.test}  # type: ignore[attr-defined]
    for s in samples:
        train = list(split.train[s.user])  # type: ignore[attr-defined]
        start = next(i for i in range(len(train)) if tuple(train[i : i + len(s.items)]) == s.items)
        assert start >= 0
        assert s.input_ids[0] == ctx.bos
        assert s.input_ids[1:] == ctx.history_ids(s.items)
        assert _response_items(ctx, s) == [ctx.item_ids(i) for i in s.items[1:]]
        assert all(s.labels[i] == IGNORE for i in range(1 + ctx.codes.n_levels))
        assert not any((s.user, i) in held_out and i not in train for i in s.items)
    users = {s.user for s in samples}
    assert users == {u for u, seq in enumerate(split.train) if len(seq) >= 2}  # type: ignore[attr-defined]


def test_negatives_never_equal_the_positive_and_mark_the_divergent_level() -> None:
    data = _dataset()
    ctx, _ = _ctx(data)
    for kind in ("uniform", "popularity", "hard"):
        sampler = NegativeSampler(kind, ctx.codes, np.arange(data.n_items))
        samples = SequentialTask(ctx, max_items=6, stride=3, negatives=sampler).build(np.random.default_rng(0))
        n_marked = 0
        for s in samples:
            assert len(s.negatives) == len(s.input_ids)
            for pos, tok in enumerate(s.negatives):
                if tok == IGNORE:
                    continue
                n_marked += 1
                assert s.labels[pos] != IGNORE and tok != s.labels[pos]
            # one negative per target item
            assert sum(t != IGNORE for t in s.negatives) == len(s.items) - 1
        assert n_marked > 0
    rng = np.random.default_rng(0)
    sampler = NegativeSampler("hard", ctx.codes)
    for pos in range(data.n_items):
        exclude = {pos, (pos + 1) % data.n_items}
        neg = sampler.sample(pos, exclude, rng)
        assert neg != pos and neg not in exclude
        assert ctx.codes.code(neg) != ctx.codes.code(pos)
        assert 0 <= divergence(ctx.codes.codes, pos, neg) < ctx.codes.n_levels


def test_hard_negatives_share_a_code_prefix_more_often_than_uniform() -> None:
    data = _dataset(n_items=60)
    ctx, _ = _ctx(data)
    rng = np.random.default_rng(0)
    depth = {}
    for kind in ("uniform", "hard"):
        sampler = NegativeSampler(kind, ctx.codes)
        depth[kind] = np.mean([divergence(ctx.codes.codes, p, sampler.sample(p, {p}, rng)) for p in range(60)])
    assert depth["hard"] > depth["uniform"]


def test_textual_and_query_tasks() -> None:
    data = _dataset()
    ctx, split = _ctx(data)
    textual = TextualTask(ctx).build(np.random.default_rng(0))
    assert len(textual) == 2 * data.n_items
    for s in textual:
        (item,) = s.items
        labelled = [t for t in s.labels if t != IGNORE]
        if labelled[: ctx.codes.n_levels] == list(ctx.item_ids(item)):
            assert s.input_ids[-ctx.codes.n_levels :] == ctx.item_ids(item)
        else:  # codes -> title, ending with eos
            assert labelled[-1] == ctx.eos
            assert ctx.tokenizer.decode(labelled[:-1]).strip() == data.items[item].title  # type: ignore[attr-defined]
    query = QueryTask(ctx).build(np.random.default_rng(0))
    for s in query:
        target = s.items[-1]
        train = list(split.train[s.user])  # type: ignore[attr-defined]
        assert target in train[1:]
        assert _response_items(ctx, s) == [ctx.item_ids(target)]
        assert ctx.item_ids(target) == s.input_ids[-ctx.codes.n_levels :]
    assert describe(data.items[3], np.random.default_rng(0)) == "widgets such as blue widget model"


def test_dataset_without_text_runs_only_what_it_can() -> None:
    data = _dataset(text=False)
    ctx, _ = _ctx(data)
    tasks, notes = build_tasks(ctx, MixtureConfig(catalogue=True))
    assert [t.name for t in tasks] == ["sequential", "catalogue"]  # the catalogue task needs only the codes
    assert "textual: off (dataset has no item text)" in notes
    assert "query: off (dataset has no item text)" in notes


def test_switches_and_weights() -> None:
    data = _dataset()
    ctx, _ = _ctx(data)
    tasks, notes = build_tasks(ctx, MixtureConfig(textual=False, negatives=False))
    assert [t.name for t in tasks] == ["sequential", "query"]
    assert "negatives: off (--no-negatives)" in notes
    assert "catalogue: off (switched off)" in notes
    samples = epoch_samples(tasks, {"sequential": 1.0, "query": 2.0}, seed=0, epoch=0)
    seq = sum(s.task == "sequential" for s in samples)
    q = sum(s.task == "query" for s in samples)
    assert q == 2 * len(tasks[1].build(np.random.default_rng(0)))
    assert seq == len(tasks[0].build(np.random.default_rng(0)))
    assert all(not s.negatives for s in samples)


def test_epochs_are_reproducible_and_differ() -> None:
    data = _dataset()
    ctx, _ = _ctx(data)
    tasks, _ = build_tasks(ctx, MixtureConfig())
    a = epoch_samples(tasks, {}, seed=3, epoch=1)
    b = epoch_samples(tasks, {}, seed=3, epoch=1)
    c = epoch_samples(tasks, {}, seed=3, epoch=2)
    assert a == b
    assert a != c


@pytest.mark.parametrize("bad", [0, 1])
def test_sequential_rejects_tiny_windows(bad: int) -> None:
    ctx, _ = _ctx(_dataset())
    with pytest.raises(ValueError, match="max_items"):
        SequentialTask(ctx, max_items=bad)


def test_catalogue_task_teaches_every_items_path_after_its_first_code() -> None:
    data = _dataset(text=False)
    ctx, _ = _ctx(data)
    samples = CatalogueTask(ctx).build(np.random.default_rng(0))
    assert [s.items for s in samples] == [(i,) for i in range(data.n_items)]
    for s in samples:
        item = s.items[0]
        assert s.input_ids == (ctx.bos, *ctx.item_ids(item))
        assert s.labels[:2] == (IGNORE, IGNORE)  # bos, and the level-0 code: no item preference is learnt here
        assert s.labels[2:] == ctx.item_ids(item)[1:]
        assert not s.negatives
    # the catalogue only: no interaction is read, so an empty training split gives the same samples
    empty = TaskContext(ctx.tokenizer, ctx.codes, ctx.vocab, ctx.items, [[] for _ in ctx.train], bos=ctx.bos)
    assert CatalogueTask(empty).build(np.random.default_rng(1)) == samples
    full = CatalogueTask(ctx, min_level=0).build(np.random.default_rng(0))
    assert full[0].labels == (IGNORE, *ctx.item_ids(0))
    with pytest.raises(ValueError, match="min_level"):
        CatalogueTask(ctx, min_level=len(LEVELS))
