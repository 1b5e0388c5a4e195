"""Training loop for SASRec: full-softmax cross-entropy at every position, Adam, early stopping on validation NDCG@10.

Contract: reads only `split.train` (training sequences, which never hold a validation or test target) for gradients
and `split.valid` for model selection; never touches `split.test`. Each training sequence is cut into windows of
`max_len + 1` items from the most recent end (consecutive windows share one item, so every next-item transition is a
target exactly once); inside a window, slot t predicts the item at slot t + 1 with a cross-entropy over ALL items.
The best epoch's weights (by validation NDCG@10) are returned. With the same seed, data and thread count the run is
deterministic on CPU. It knows nothing about files or the command line.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F

from model.baselines.sasrec import SASRec, SASRecConfig, SASRecScorer
from model.data.split import LeaveOneOutSplit
from model.eval.metrics import ranking_metrics
from model.logs import get_logger
from model.progress import progress

log = get_logger(__name__)

SELECT_METRIC = "ndcg@10"


@dataclass(frozen=True, slots=True)
class TrainConfig:
    epochs: int = 50  # upper bound; early stopping usually ends sooner
    batch_size: int = 128  # windows per step
    lr: float = 1e-3  # Adam learning rate
    patience: int = 5  # evaluations without a better validation NDCG@10 before stopping
    seed: int = 0
    valid_exclude_seen: bool = False  # seen-item rule of the validation ranking used for model selection
    valid_every: int = 1  # epochs between validation rankings

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "patience", "valid_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class EpochLog:
    epoch: int
    loss: float  # mean cross-entropy per predicted position
    valid: dict[str, float]  # validation metrics ({} when not evaluated this epoch)
    seconds: float
    windows_per_s: float


@dataclass(frozen=True, slots=True)
class TrainResult:
    model: SASRec  # weights of the best epoch, in eval mode
    best_epoch: int
    epochs_run: int
    best_valid: dict[str, float]
    history: tuple[EpochLog, ...]
    seconds: float


def training_windows(train: Sequence[Sequence[int]], max_len: int) -> torch.Tensor:
    """(N, max_len + 1) right-aligned windows of item rows (item + 1; 0 = padding); sequences of < 2 items skipped."""
    span = max_len + 1
    windows: list[list[int]] = []
    for seq in train:
        end = len(seq)
        while end >= 2:
            start = max(0, end - span)
            rows = [i + 1 for i in seq[start:end]]
            windows.append([0] * (span - len(rows)) + rows)
            end = start + 1  # the next window ends where this one starts: that item is its last target
            if start == 0:
                break
    if not windows:
        raise ValueError("no training sequence has 2 or more items")
    return torch.tensor(windows, dtype=torch.long)


def _batches(lengths: torch.Tensor, batch_size: int, gen: torch.Generator) -> list[torch.Tensor]:
    """Shuffled batches of window indices, grouped by similar length so little compute goes to padding.

    Shuffle, sort by length within pools of 50 batches, cut into batches, shuffle the batch order.
    """
    perm = torch.randperm(len(lengths), generator=gen)
    pool = 50 * batch_size
    batches: list[torch.Tensor] = []
    for start in range(0, len(perm), pool):
        chunk = perm[start : start + pool]
        chunk = chunk[torch.argsort(lengths[chunk], stable=True)]
        batches += list(chunk.split(batch_size))
    order = torch.randperm(len(batches), generator=gen).tolist()
    return [batches[i] for i in order]


def _validate(model: SASRec, split: LeaveOneOutSplit, exclude_seen: bool) -> dict[str, float]:
    scorer = SASRecScorer(model)
    ranked = scorer.rank(split.valid, 20, exclude_seen)
    model.train()
    return ranking_metrics(split.valid, ranked, (10, 20))


def train_sasrec(
    split: LeaveOneOutSplit,
    model_cfg: SASRecConfig,
    train_cfg: TrainConfig,
    on_epoch: Callable[[EpochLog], None] | None = None,
) -> TrainResult:
    """Train from scratch; see the module docstring. `on_epoch` sees each epoch's record as it ends."""
    if not split.valid:
        raise ValueError("the split has no validation cases (every user has fewer than 3 interactions)")
    if model_cfg.n_items < 20:
        raise ValueError(f"validation ranks the top 20, so the catalogue needs >= 20 items, got {model_cfg.n_items}")
    torch.manual_seed(train_cfg.seed)
    gen = torch.Generator().manual_seed(train_cfg.seed)
    windows = training_windows(split.train, model_cfg.max_len)
    model = SASRec(model_cfg)
    model.train()
    optim = torch.optim.Adam(model.parameters(), lr=train_cfg.lr)
    lengths = (windows != 0).sum(dim=1)
    n = windows.shape[0]
    log.info("sasrec_start", windows=n, n_items=model_cfg.n_items, valid=len(split.valid))

    best_score = -1.0
    best_state: dict[str, torch.Tensor] | None = None
    best_epoch = 0
    best_valid: dict[str, float] = {}
    since_best = 0
    history: list[EpochLog] = []
    started = time.perf_counter()
    with progress() as bar:
        for epoch in range(1, train_cfg.epochs + 1):
            epoch_batches = _batches(lengths, train_cfg.batch_size, gen)
            task = bar.add_task(f"epoch {epoch}", total=len(epoch_batches))
            t0 = time.perf_counter()
            done = 0
            total_loss = 0.0
            total_targets = 0
            for rows in epoch_batches:
                span = int(lengths[rows].max())  # trim the all-padding columns on the left
                batch = windows[rows, -span:]
                inputs, targets = batch[:, :-1], batch[:, 1:]
                hidden = model.encode(inputs)
                keep = (targets != 0) & (inputs != 0)
                logits = model.logits(hidden[keep])
                loss = F.cross_entropy(logits, targets[keep] - 1)
                optim.zero_grad(set_to_none=True)
                loss.backward()
                optim.step()
                count = int(keep.sum())
                total_loss += loss.item() * count
                total_targets += count
                done += len(rows)
                rate = done / max(time.perf_counter() - t0, 1e-9)
                bar.update(
                    task, advance=1, description=f"epoch {epoch} loss {total_loss / total_targets:.4f} {rate:.0f} win/s"
                )
            train_seconds = time.perf_counter() - t0
            valid: dict[str, float] = {}
            if epoch % train_cfg.valid_every == 0 or epoch == train_cfg.epochs:
                valid = _validate(model, split, train_cfg.valid_exclude_seen)
            record = EpochLog(
                epoch=epoch,
                loss=total_loss / max(total_targets, 1),
                valid=valid,
                seconds=round(time.perf_counter() - t0, 2),
                windows_per_s=round(n / max(train_seconds, 1e-9), 1),
            )
            history.append(record)
            log.info(
                "sasrec_epoch",
                epoch=epoch,
                loss=round(record.loss, 4),
                valid_r10=round(valid.get("recall@10", float("nan")), 4),
                valid_n10=round(valid.get("ndcg@10", float("nan")), 4),
                seconds=record.seconds,
                windows_per_s=record.windows_per_s,
            )
            if on_epoch is not None:
                on_epoch(record)
            if not valid:
                continue
            if valid[SELECT_METRIC] > best_score:
                best_score, best_epoch, best_valid, since_best = valid[SELECT_METRIC], epoch, valid, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                since_best += 1
                if since_best >= train_cfg.patience:
                    log.info("sasrec_early_stop", epoch=epoch, best_epoch=best_epoch, best_ndcg10=round(best_score, 4))
                    break
    assert best_state is not None  # the last epoch always validates
    model.load_state_dict(best_state)
    model.eval()
    return TrainResult(
        model=model,
        best_epoch=best_epoch,
        epochs_run=len(history),
        best_valid=best_valid,
        history=tuple(history),
        seconds=round(time.perf_counter() - started, 2),
    )
