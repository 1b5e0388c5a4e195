"""`genrec train-sasrec` and `genrec evaluate` through the CLI: artifact written, side-by-side table and report files,
and bad inputs (model name, K, split, heads, missing or stale artifact) refused with a message that says what to do."""

from pathlib import Path

import numpy as np
import orjson
import pytest
from typer.testing import CliRunner

from model.data.processed import save_processed
from model.data.records import InteractionDataset, Item
from model.errors import UserError
from model.workdir import WorkDir
from offline.cli import _register, app

_register()
runner = CliRunner()
N_ITEMS = 30
ENV = {"GENREC_PROGRESS": "0", "GENREC_THREADS": "1"}


def _prepare(work: Path, name: str = "toy", shift: int = 1) -> None:
    rng = np.random.default_rng(0)
    seqs = []
    for _ in range(60):
        start, length = int(rng.integers(N_ITEMS)), int(rng.integers(5, 10))
        seqs.append([(start + shift * t) % N_ITEMS for t in range(length)])
    items = [Item(i, f"i{i}", f"item {i}") for i in range(N_ITEMS)]
    save_processed(
        InteractionDataset(name, items, [f"u{u}" for u in range(60)], seqs), WorkDir(work).dataset(name), "test"
    )


def _flat(text: str) -> str:
    """The error panel's text as one line (rich wraps it inside a box)."""
    return " ".join(text.replace("│", " ").split())


def _run(work: Path, *args: str) -> tuple[int, str, str, BaseException | None]:
    result = runner.invoke(app, ["--work-dir", str(work), *args], env=ENV)
    return result.exit_code, result.stdout, result.stderr, result.exception


def _train(work: Path) -> None:
    code, out, err, _ = _run(
        work, "train-sasrec", "toy", "--epochs", "2", "--hidden", "16", "--layers", "1", "--max-len", "8"
    )
    assert code == 0, err
    assert "best" in out


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("work")
    _prepare(work)
    _train(work)
    return work


def test_train_writes_the_artifact(trained: Path) -> None:
    folder = WorkDir(trained).sasrec("toy")
    assert {p.name for p in folder.iterdir()} == {"model.safetensors", "meta.json", "item_embeddings.npy"}
    meta = orjson.loads((folder / "meta.json").read_bytes())
    assert meta["dataset"] == "toy" and len(meta["content_hash"]) == 64
    assert meta["config"]["max_len"] == 8 and meta["epochs_run"] == 2
    assert np.load(folder / "item_embeddings.npy").shape == (N_ITEMS, 16)


def test_evaluate_prints_models_side_by_side_and_writes_reports(trained: Path) -> None:
    code, out, err, _ = _run(trained, "evaluate", "toy", "--models", "popularity,sasrec", "--exclude-seen")
    assert code == 0, err
    assert "| model | R@5 | R@10 | R@20 | N@5 | N@10 | N@20 |" in out
    assert "| popularity |" in out and "| sasrec |" in out and "seen items removed" in out
    reports = orjson.loads(WorkDir(trained).report("toy", "test", exclude_seen=True).read_bytes())
    assert [r["model"] for r in reports] == ["popularity", "sasrec"]
    assert all(r["n_cases"] == 60 and r["exclude_seen"] is True for r in reports)
    assert WorkDir(trained).report("toy", "test", exclude_seen=True).with_suffix(".md").read_text() in out


def test_evaluate_out_path_split_and_ks(trained: Path, tmp_path: Path) -> None:
    code, out, err, _ = _run(
        trained, "evaluate", "toy", "--models", "popularity", "--split", "valid", "--ks", "1,3", "--out",
        str(tmp_path / "r.json"),
    )  # fmt: skip
    assert code == 0, err
    assert "| model | R@1 | R@3 | N@1 | N@3 |" in out and "valid split" in out and "seen items kept" in out
    assert (tmp_path / "r.json").is_file() and (tmp_path / "r.md").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--models", "popularity,bert4rec"], "unknown model 'bert4rec'; known: popularity, sasrec"),
        (["--models", ","], "unknown model (none given)"),
        (["--ks", "0,5"], "cut-offs must be positive"),
        (["--ks", "ten"], "not a comma-separated list of integers"),
        (["--ks", "31"], "K 31 exceeds the 30 items"),
        (["--split", "train"], "'train' is not test or valid"),
    ],
)
def test_evaluate_bad_options_exit_2(trained: Path, args: list[str], message: str) -> None:
    code, _, err, _ = _run(trained, "evaluate", "toy", *args)
    assert code == 2
    assert message in _flat(err)


def test_missing_artifact_says_run_train_sasrec(tmp_path: Path) -> None:
    _prepare(tmp_path)
    _, _, _, exc = _run(tmp_path, "evaluate", "toy", "--models", "sasrec")
    assert isinstance(exc, UserError)
    assert "run `genrec train-sasrec toy`" in str(exc)


def test_artifact_of_other_data_is_refused(trained: Path, tmp_path: Path) -> None:
    _prepare(tmp_path, shift=2)  # same name, other sequences: another content hash
    (tmp_path / "models").symlink_to(trained / "models")
    _, _, _, exc = _run(tmp_path, "evaluate", "toy", "--models", "sasrec")
    assert isinstance(exc, UserError)
    assert "trained on other data" in str(exc)


def test_unknown_dataset_and_bad_heads(tmp_path: Path) -> None:
    _, _, _, exc = _run(tmp_path, "evaluate", "nope", "--models", "popularity")
    assert isinstance(exc, UserError) and "genrec prepare nope" in str(exc)
    _prepare(tmp_path)
    code, _, err, _ = _run(tmp_path, "train-sasrec", "toy", "--hidden", "16", "--heads", "3")
    assert code == 2 and "--heads 3 does not divide --hidden 16" in _flat(err)
