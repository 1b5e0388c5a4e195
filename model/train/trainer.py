"""The fine-tuning loop: alignment-task samples in, a trained causal LM (best on validation) out.

Contract: `Trainer(model, config, checkpoint_dir).fit(samples_for_epoch, pad_id, validate)` trains with AdamW, linear
warm-up then cosine decay, gradient accumulation, gradient clipping and (when `config.bf16`) bf16 autocast. The loss is
cross-entropy on the response tokens only (labels != IGNORE) plus `ul_weight` x unlikelihood -log(1 - p(negative token))
where a sample marks negatives; with `label_smoothing` e the cross-entropy term is (1 - e) x NLL + e x the mean over the
whole vocabulary of -log p (the reported `ce` stays the plain NLL); logits are computed only at positions that carry a
target (the LM head is applied to those hidden states alone), which is what makes long all-positions sequences and text
prompts cheap. `samples_for_epoch(epoch)` must be deterministic in `epoch`, and the batch plan is seeded by (seed,
epoch), so a run is reproducible and a checkpoint can name "the next batch" by (epoch, index). A checkpoint (see
`checkpoint.py`) is written every `checkpoint_every` optimizer steps and after every epoch; a new Trainer on the same
folder resumes from it (model, optimizer, scheduler, RNG, and the `TrainState`: data position, early-stopping record,
history) and reaches the same state an uninterrupted run would. `validate(model) -> metrics` runs after each epoch
(every `eval_every`); the `select` metric picks the best epoch, whose weights are kept in `best.pt` and loaded back at
the end; `patience` epochs without improvement stop training; `max_minutes` stops at the next optimizer step (then
validates once more if the current weights were never validated). `stop_after_steps` simulates a kill (tests). Progress
(loss, tokens/s) goes to the log every `log_every` steps. Batches go to the device of the model's parameters (bf16
autocast on that device's type), so the caller chooses CPU or GPU by where it puts the model. It knows nothing about
tasks, codes or artifacts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from model.lm.device import autocast_device_type
from model.logs import get_logger
from model.tasks.base import IGNORE, Sample
from model.train.checkpoint import load_best, load_checkpoint, rng_state, save_best, save_checkpoint, set_rng_state
from model.train.collate import Batch, collate, plan_batches

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class TrainConfig:
    epochs: int = 20
    batch_size: int = 32
    grad_accum: int = 1
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    max_grad_norm: float = 1.0
    ul_weight: float = 0.5  # weight of the unlikelihood term on negative tokens
    label_smoothing: float = 0.0  # share of the target mass spread uniformly over the vocabulary
    bf16: bool = False  # bf16 autocast for forward/backward (weights and optimizer stay fp32)
    checkpoint_every: int = 200  # optimizer steps
    eval_every: int = 1  # epochs
    patience: int = 3  # validations without improvement before stopping
    select: str = "ndcg@10"  # the validation metric that picks the best epoch
    log_every: int = 50  # optimizer steps
    max_minutes: float | None = None  # wall-clock budget of this process's training
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    steps: int
    epochs_done: int
    best_epoch: int  # -1 when never validated
    best_metrics: dict[str, float]
    history: list[dict[str, Any]] = field(default_factory=list)  # one record per epoch: loss, tokens/s, metrics
    stopped: str = "epochs"  # epochs | early-stopping | time-budget | killed
    tokens_per_s: float = 0.0


def _head_parts(model: Any) -> tuple[Any, Any] | None:
    """(decoder returning hidden states, LM head) for Llama/Qwen2-style models (peft-wrapped too), else None."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder, head = getattr(base, "model", None), getattr(base, "lm_head", None)
    return (decoder, head) if decoder is not None and head is not None else None


def batch_loss(
    model: Any, batch: Batch, ul_weight: float, bf16: bool, label_smoothing: float = 0.0
) -> tuple[torch.Tensor, float, float]:
    """(total loss, cross-entropy, unlikelihood) of one batch; see the module contract."""
    labels = batch.labels[:, 1:]
    negs = batch.negatives[:, 1:] if batch.negatives is not None else None
    keep = labels != IGNORE
    if negs is not None:
        keep = keep | (negs != IGNORE)
    with torch.autocast(autocast_device_type(batch.input_ids.device), dtype=torch.bfloat16, enabled=bf16):
        parts = _head_parts(model)
        if parts is not None:
            hidden = parts[0](input_ids=batch.input_ids, attention_mask=batch.attention_mask).last_hidden_state
            logits = parts[1](hidden[:, :-1][keep])
        else:
            logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits[:, :-1][keep]
    logp = F.log_softmax(logits.float(), dim=-1)
    kept_labels = labels[keep]
    has_label = kept_labels != IGNORE
    ce = F.nll_loss(logp[has_label], kept_labels[has_label]) if has_label.any() else logp.sum() * 0.0
    target_loss = ce
    if label_smoothing > 0 and has_label.any():
        target_loss = (1 - label_smoothing) * ce - label_smoothing * logp[has_label].mean(dim=-1).mean()
    ul = logp.sum() * 0.0
    if negs is not None and ul_weight > 0:
        kept_negs = negs[keep]
        has_neg = kept_negs != IGNORE
        if has_neg.any():
            p = logp[has_neg].gather(1, kept_negs[has_neg].unsqueeze(1)).squeeze(1).exp()
            ul = -torch.log1p(-p.clamp(max=1 - 1e-6)).mean()
    return target_loss + ul_weight * ul, float(ce.detach()), float(ul.detach())


def _schedule(warmup: int, total: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        progress = (step - warmup) / max(1, total - warmup)
        return max(0.02, 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))

    return factor


@dataclass
class TrainState:
    """Where a run stands; saved in every checkpoint (as a dict) so a resumed run continues from it exactly."""

    step: int = 0  # optimizer steps taken
    epoch: int = 0  # the epoch being run (epochs done, once it is finished)
    batch: int = 0  # the next batch of that epoch
    best: float = -math.inf  # the best validation score so far (the `select` metric)
    best_epoch: int = -1
    best_metrics: dict[str, float] = field(default_factory=dict)
    bad: int = 0  # validations in a row without improvement
    history: list[dict[str, Any]] = field(default_factory=list)  # per epoch: loss; per validation: its metrics
    validated_step: int = -1  # the step of the last validation
    stopped: str | None = None  # "early-stopping" once patience ran out (a time budget is per process, not saved)
    loss_sum: float = 0.0  # this epoch's summed batch losses so far (a resumed epoch reports the same mean)
    n_loss: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> TrainState:
        return cls(**saved)

    def mean_loss(self) -> float:
        return self.loss_sum / max(1, self.n_loss)


@dataclass
class _Throughput:
    tokens: int = 0
    seconds: float = 0.0

    def add(self, tokens: int, seconds: float) -> None:
        self.tokens += tokens
        self.seconds += seconds

    @property
    def per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


class Trainer:
    def __init__(self, model: Any, config: TrainConfig, checkpoint_dir: Path) -> None:
        self.model = model
        self.config = config
        self.dir = checkpoint_dir
        self.device = next(model.parameters()).device
        params = [p for p in model.parameters() if p.requires_grad]
        decay = [p for p in params if p.ndim >= 2]
        no_decay = [p for p in params if p.ndim < 2]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=config.lr,
        )
        self.scheduler: torch.optim.lr_scheduler.LambdaLR | None = None
        self.state = TrainState()

    def fit(
        self,
        samples_for_epoch: Callable[[int], Sequence[Sample]],
        pad_id: int,
        validate: Callable[[Any], dict[str, float]] | None = None,
        stop_after_steps: int | None = None,
    ) -> TrainResult:
        cfg = self.config
        started = time.perf_counter()
        first = samples_for_epoch(0)
        steps_per_epoch = math.ceil(math.ceil(len(first) / cfg.batch_size) / cfg.grad_accum)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, _schedule(cfg.warmup_steps, max(1, steps_per_epoch * cfg.epochs))
        )
        torch.manual_seed(cfg.seed)
        self._resume()
        self.model.train()
        st, speed = self.state, _Throughput()
        stopped = st.stopped
        while stopped is None and st.epoch < cfg.epochs:
            epoch = st.epoch
            samples = first if epoch == 0 else samples_for_epoch(epoch)
            deadline = started + cfg.max_minutes * 60 if cfg.max_minutes is not None else None
            ended = self._run_epoch(samples, pad_id, speed, deadline, stop_after_steps)
            if ended == "killed":
                self._checkpoint()
                return self._result("killed", speed)
            if ended is None:  # the epoch ran to its end
                st.history = [*st.history, {"epoch": epoch, "step": st.step, "loss": round(st.mean_loss(), 5)}]
                st.epoch, st.batch, st.loss_sum, st.n_loss = epoch + 1, 0, 0.0, 0
                if (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs:
                    self._validate(validate, epoch)
                    if st.bad >= cfg.patience:
                        stopped = "early-stopping"
            else:  # the time budget ran out inside the epoch: judge the weights reached, once
                stopped = ended
                if st.validated_step != st.step:
                    self._validate(validate, epoch)
            st.stopped = stopped if stopped == "early-stopping" else None  # a time budget is per process
            self._checkpoint()
        best = load_best(self.dir) if validate is not None else None
        if best is not None:
            self.model.load_state_dict(best)
        self.model.eval()
        return self._result(stopped or "epochs", speed)

    def _run_epoch(
        self,
        samples: Sequence[Sample],
        pad_id: int,
        speed: _Throughput,
        deadline: float | None,
        stop_after_steps: int | None,
    ) -> str | None:
        """Run the current epoch from its next batch; None when it ended, else why it stopped early."""
        cfg, st = self.config, self.state
        assert self.scheduler is not None
        rng = np.random.default_rng([cfg.seed, st.epoch])
        plan = plan_batches([len(s.input_ids) for s in samples], cfg.batch_size, rng)
        ce_sum, ul_sum, n_micro, micro = 0.0, 0.0, 0, 0
        self.optimizer.zero_grad(set_to_none=True)
        for b in range(st.batch, len(plan)):
            t0 = time.perf_counter()
            batch = collate([samples[i] for i in plan[b]], pad_id).to(self.device)
            loss, ce, ul = batch_loss(self.model, batch, cfg.ul_weight, cfg.bf16, cfg.label_smoothing)
            (loss / cfg.grad_accum).backward()
            micro += 1
            st.loss_sum += float(loss.detach())
            st.n_loss += 1
            ce_sum, ul_sum, n_micro = ce_sum + ce, ul_sum + ul, n_micro + 1
            if micro % cfg.grad_accum and b != len(plan) - 1:
                speed.add(batch.n_tokens, time.perf_counter() - t0)
                continue
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm)
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
            micro = 0
            st.step += 1
            st.batch = b + 1
            speed.add(batch.n_tokens, time.perf_counter() - t0)
            if st.step % cfg.log_every == 0:
                log.info(
                    "train",
                    epoch=st.epoch,
                    step=st.step,
                    batch=f"{b + 1}/{len(plan)}",
                    loss=round(st.mean_loss(), 4),
                    ce=round(ce_sum / n_micro, 4),
                    ul=round(ul_sum / n_micro, 4),
                    lr=f"{self.scheduler.get_last_lr()[0]:.2e}",
                    tokens_per_s=round(speed.per_s),
                )
            if st.step % cfg.checkpoint_every == 0:
                self._checkpoint()
            if stop_after_steps is not None and st.step >= stop_after_steps:
                return "killed"
            if deadline is not None and time.perf_counter() > deadline:
                return "time-budget"
        return None

    def _validate(self, validate: Callable[[Any], dict[str, float]] | None, epoch: int) -> None:
        if validate is None:
            return
        cfg, st = self.config, self.state
        self.model.eval()
        metrics = validate(self.model)
        self.model.train()
        st.validated_step = st.step
        score = metrics.get(cfg.select, -math.inf)
        record = {"epoch": epoch, "step": st.step, **{k: round(v, 5) for k, v in metrics.items()}}
        st.history = [*st.history, record]
        if score > st.best:
            st.best, st.best_epoch, st.best_metrics, st.bad = score, epoch, dict(metrics), 0
            save_best(self.dir, self.model.state_dict())
        else:
            st.bad += 1
        log.info("validation", **record, best_epoch=st.best_epoch)

    def _resume(self) -> None:
        saved = load_checkpoint(self.dir)
        if saved is None:
            return
        assert self.scheduler is not None
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        set_rng_state(saved["rng"])
        self.state = TrainState.from_dict(saved["trainer"])
        st = self.state
        log.info("resumed", folder=str(self.dir), step=st.step, epoch=st.epoch, batch=st.batch)

    def _checkpoint(self) -> None:
        save_checkpoint(
            self.dir,
            {
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler else {},
                "rng": rng_state(),
                "trainer": self.state.to_dict(),
            },
        )

    def _result(self, stopped: str, speed: _Throughput) -> TrainResult:
        st = self.state
        return TrainResult(
            steps=st.step,
            epochs_done=st.epoch,
            best_epoch=st.best_epoch,
            best_metrics=dict(st.best_metrics),
            history=list(st.history),
            stopped=stopped,
            tokens_per_s=speed.per_s,
        )
