"""Trainer on a real tiny LM: loss goes down, a killed run resumes to exactly the uninterrupted state, and a
trained artifact reloads and generates the same top-K as the in-memory model."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from model.artifact import load_artifact
from model.data.split import leave_one_out
from model.eval.generative import GenerativeScorer
from model.lm.extend import add_code_tokens
from model.lm.tiny import tiny_causal_lm
from model.tasks.mixture import MixtureConfig, build_tasks, epoch_samples
from model.train.checkpoint import load_checkpoint
from model.train.collate import collate, plan_batches
from model.train.pipeline import TrainJob, run_job
from model.train.presets import Preset
from model.train.trainer import TrainConfig, Trainer, batch_loss
from tests.test_tasks import LEVELS, _ctx, _dataset

CFG = TrainConfig(epochs=2, batch_size=8, lr=3e-3, warmup_steps=2, checkpoint_every=1, log_every=1000, seed=0)


def _setup(seed: int = 0):  # type: ignore[no-untyped-def]
    data = _dataset()
    ctx, _ = _ctx(data)
    torch.manual_seed(0)
    model = tiny_causal_lm(len(ctx.tokenizer), hidden_size=32, num_layers=1, intermediate_size=64, init_std=0.02)
    # ctx's tokenizer already holds the code tokens; the model only needs the rows
    add_code_tokens(model, ctx.tokenizer, LEVELS, mean_resizing=False)  # type: ignore[arg-type]
    tasks, _ = build_tasks(ctx, MixtureConfig())
    return model.train(), (lambda e: epoch_samples(tasks, {}, seed, e))


def _validate(model) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """A deterministic stand-in metric: minus the weight norm (changes every step)."""
    return {"ndcg@10": -float(sum(p.detach().double().norm() for p in model.parameters()))}


def test_a_few_steps_reduce_the_loss(tmp_path: Path) -> None:
    model, samples = _setup()
    batch = collate(list(samples(0))[:16], pad_id=0)
    before = float(batch_loss(model, batch, 0.5, False)[0].detach())
    Trainer(model, replace(CFG, epochs=3, checkpoint_every=1000), tmp_path).fit(samples, pad_id=0)
    model.train()
    after = float(batch_loss(model, batch, 0.5, False)[0].detach())
    assert after < before - 0.5


def test_label_smoothing_matches_torch_cross_entropy() -> None:
    """With ul_weight 0 the loss is torch's label-smoothed cross-entropy over the whole vocabulary; `ce` stays the
    plain NLL, so runs with and without smoothing report comparable numbers."""
    model, samples = _setup()
    model.eval()
    batch = collate(list(samples(0))[:8], pad_id=0)
    with torch.no_grad():
        logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits[:, :-1].float()
        labels = batch.labels[:, 1:]
        plain = torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels, ignore_index=-100)
        smooth = torch.nn.functional.cross_entropy(
            logits.transpose(1, 2), labels, ignore_index=-100, label_smoothing=0.2
        )
        loss0, ce0, _ = batch_loss(model, batch, 0.0, False)
        loss, ce, _ = batch_loss(model, batch, 0.0, False, label_smoothing=0.2)
    assert torch.allclose(loss0, plain, atol=1e-5) and abs(ce0 - float(plain)) < 1e-5
    assert torch.allclose(loss, smooth, atol=1e-5) and abs(ce - float(plain)) < 1e-5
    assert abs(float(smooth) - float(plain)) > 1e-3  # the smoothing term is not a no-op on this batch


def test_resume_after_a_kill_reaches_the_uninterrupted_state(tmp_path: Path) -> None:
    model_a, samples = _setup()
    full = Trainer(model_a, CFG, tmp_path / "a").fit(samples, pad_id=0, validate=_validate)
    steps_per_epoch = len(
        plan_batches([len(s.input_ids) for s in samples(0)], CFG.batch_size, np.random.default_rng(0))
    )
    kill_at = steps_per_epoch + 2  # inside epoch 1, after one validation

    model_b, samples_b = _setup()
    killed = Trainer(model_b, CFG, tmp_path / "b").fit(
        samples_b, pad_id=0, validate=_validate, stop_after_steps=kill_at
    )
    assert killed.stopped == "killed" and killed.steps == kill_at
    state = load_checkpoint(tmp_path / "b")
    assert state is not None
    assert (state["trainer"]["epoch"], state["trainer"]["batch"]) == (1, 2)  # the next batch to run

    model_c, samples_c = _setup()  # a fresh process: new model object, same checkpoint folder
    resumed_trainer = Trainer(model_c, CFG, tmp_path / "b")
    resumed = resumed_trainer.fit(samples_c, pad_id=0, validate=_validate)
    assert resumed.steps == full.steps
    assert resumed.history == full.history
    assert resumed.best_epoch == full.best_epoch
    for (name, a), (_, c) in zip(model_a.state_dict().items(), model_c.state_dict().items(), strict=True):
        assert torch.equal(a, c), name
    opt_a = load_checkpoint(tmp_path / "a")["optimizer"]["state"]  # type: ignore[index]
    opt_c = load_checkpoint(tmp_path / "b")["optimizer"]["state"]  # type: ignore[index]
    for key in opt_a:
        assert torch.equal(opt_a[key]["exp_avg"], opt_c[key]["exp_avg"])


def test_resume_without_checkpoint_differs_from_a_fresh_start_check(tmp_path: Path) -> None:
    """Guard for the test above: a run killed and restarted from scratch would NOT match (the test can fail)."""
    model_a, samples = _setup()
    Trainer(model_a, replace(CFG, epochs=1), tmp_path / "a").fit(samples, pad_id=0)
    model_b, samples_b = _setup()
    Trainer(model_b, replace(CFG, epochs=1), tmp_path / "b").fit(samples_b, pad_id=0, stop_after_steps=2)
    (tmp_path / "b" / "checkpoint.pt").unlink()
    Trainer(model_b, replace(CFG, epochs=1), tmp_path / "b").fit(samples_b, pad_id=0)
    assert any(not torch.equal(a, b) for a, b in zip(model_a.parameters(), model_b.parameters(), strict=True))


def test_artifact_reloads_and_generates_the_same_top_k(tmp_path: Path) -> None:
    data = _dataset(n_items=40, n_users=20)
    ctx, _ = _ctx(data)
    preset = Preset(
        "tiny", "scratch", replace(CFG, epochs=2), hidden=32, layers=1, heads=4, kv_heads=2, intermediate=64
    )
    job = TrainJob(
        dataset=data,
        dataset_source="test",
        codes=ctx.codes,
        codes_source="test: random codes",
        tokenizer_dir=None,
        preset=preset,
        mixture=MixtureConfig(max_items=6),
        out=tmp_path / "art",
        checkpoint_dir=tmp_path / "ckpt",
        eval_users=10,
        beam=10,
    )
    result = run_job(job)
    assert set(result.meta.metrics) == {"valid_recall@5", "valid_recall@10", "valid_ndcg@5", "valid_ndcg@10"}
    assert result.meta.prompt.head == "" and result.meta.prompt.sep == "" and result.meta.prompt.max_history == 5
    artifact = load_artifact(tmp_path / "art")
    assert artifact.version == result.meta.version
    split = leave_one_out(data, max_history=5)
    cases = list(split.test)
    reloaded = GenerativeScorer.from_artifact(tmp_path / "art", beam_width=10)
    first = reloaded.rank(cases, 10, exclude_seen=False)
    assert all(len(r) == 10 and len(set(r)) == 10 for r in first)
    model, tok, _ = artifact.load_lm()
    in_memory = GenerativeScorer("lm", model, tok, artifact.codes, artifact.meta.prompt, beam_width=10)
    assert in_memory.rank(cases, 10, exclude_seen=False) == first
    excluded = reloaded.rank(cases, 5, exclude_seen=True)
    for case, ranked in zip(cases, excluded, strict=True):
        assert len(ranked) == 5 and not ({i for i in ranked if i != case.target} & case.seen)
