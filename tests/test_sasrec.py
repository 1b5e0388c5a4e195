"""SASRec: windows, padding never changes a score, it learns a sequential pattern popularity cannot, it is
deterministic, and a saved model scores exactly like the one in memory."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from model.baselines.popularity import PopularityScorer
from model.baselines.sasrec import SASRec, SASRecConfig, SASRecScorer, pad_histories
from model.baselines.sasrec_artifact import SASRecMeta, load_item_embeddings, load_sasrec, save_sasrec
from model.baselines.sasrec_train import TrainConfig, train_sasrec, training_windows
from model.data.records import InteractionDataset, Item
from model.data.split import LeaveOneOutSplit, leave_one_out
from model.errors import UserError
from model.eval.metrics import evaluate_scorer

N_ITEMS = 30


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny models: a second intra-op thread only adds synchronisation (10x slower on a busy 2-core machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _cyclic_split(n_users: int = 120, seed: int = 0) -> LeaveOneOutSplit:
    """Every user walks the catalogue in order (i -> i + 1 mod N) from a random start: next item is predictable."""
    rng = np.random.default_rng(seed)
    seqs = []
    for _ in range(n_users):
        start, length = int(rng.integers(N_ITEMS)), int(rng.integers(5, 12))
        seqs.append([(start + t) % N_ITEMS for t in range(length)])
    items = [Item(i, str(i), "") for i in range(N_ITEMS)]
    ds = InteractionDataset("cyclic", items, [f"u{u}" for u in range(n_users)], seqs)
    return leave_one_out(ds, max_history=8)


def _small(**kw: object) -> SASRecConfig:
    return SASRecConfig(n_items=N_ITEMS, max_len=8, hidden=16, layers=1, heads=2, dropout=0.1, **kw)  # type: ignore[arg-type]


def test_training_windows_cover_each_transition_once() -> None:
    w = training_windows([[0, 1, 2, 3, 4, 5, 6], [7], [8, 9]], max_len=3)
    # rows are item + 1, right-aligned, 0 = padding; windows share one item
    assert w.tolist() == [[4, 5, 6, 7], [1, 2, 3, 4], [0, 0, 9, 10]]


def test_padding_does_not_change_the_score() -> None:
    torch.manual_seed(0)
    model = SASRec(_small()).eval()
    hist = [[3, 4, 5]]
    with torch.no_grad():
        full = model.encode(pad_histories(hist, 8))[:, -1]
        tight = model.encode(pad_histories(hist, 8)[:, -3:])[:, -1]
    assert torch.allclose(full, tight, atol=1e-5)


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match=r"heads \(3\) must divide hidden \(16\)"):
        SASRecConfig(n_items=5, hidden=16, heads=3)
    with pytest.raises(ValueError, match="dropout"):
        SASRecConfig(n_items=5, dropout=1.0)


def test_learns_a_sequential_pattern_and_beats_popularity() -> None:
    split = _cyclic_split()
    result = train_sasrec(split, _small(), TrainConfig(epochs=10, batch_size=32, lr=1e-2, patience=10))
    sasrec = evaluate_scorer(SASRecScorer(result.model), split.test, dataset="c", split="test", exclude_seen=False)
    pop = PopularityScorer.fit(split.train, N_ITEMS)
    base = evaluate_scorer(pop, split.test, dataset="c", split="test", exclude_seen=False)
    assert sasrec.metrics["ndcg@5"] > 0.8
    assert sasrec.metrics["ndcg@5"] > base.metrics["ndcg@5"] + 0.5
    assert result.best_valid["ndcg@10"] == max(e.valid["ndcg@10"] for e in result.history)
    assert result.history[-1].loss < result.history[0].loss


def test_same_seed_same_weights_and_save_load_round_trip(tmp_path: Path) -> None:
    split = _cyclic_split(n_users=40)
    cfg = TrainConfig(epochs=2, batch_size=8, seed=3)
    a = train_sasrec(split, _small(), cfg)
    b = train_sasrec(split, _small(), cfg)
    for key, value in a.model.state_dict().items():
        assert torch.equal(value, b.model.state_dict()[key]), key

    meta = SASRecMeta(
        config=a.model.cfg,
        train=cfg.to_dict(),
        dataset="cyclic",
        content_hash="abc",
        seed=3,
        epochs_run=a.epochs_run,
        best_epoch=a.best_epoch,
        valid_metrics=a.best_valid,
    )
    save_sasrec(tmp_path / "m", a.model, meta)
    scorer, meta_back = load_sasrec(tmp_path / "m")
    assert meta_back == meta
    before = SASRecScorer(a.model)
    histories = [c.history for c in split.test]
    assert torch.equal(before.scores(histories), scorer.scores(histories))
    assert before.rank(split.test, 10, True) == scorer.rank(split.test, 10, True)
    emb = load_item_embeddings(tmp_path / "m")
    assert emb.shape == (N_ITEMS, 16)
    assert np.array_equal(emb[5], a.model.item_emb.weight[6].detach().numpy())


def test_missing_artifact_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="train-sasrec"):
        load_sasrec(tmp_path)
