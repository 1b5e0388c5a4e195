"""`genrec prepare`: processed folder written where promised, counts printed, bad options and bad files exit 2."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from model.data.processed import load_processed
from model.errors import UserError
from model.workdir import WorkDir
from offline.cli import _register, app
from tests.paths import REPO_ROOT, SHARED_DATA
from tests.test_loaders_recbole import INTER_HEADER, ITEM_HEADER, ITEMS

_register()

runner = CliRunner()


def _recbole_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "toy.inter").write_text(INTER_HEADER + "u1\t2\t5\t100\nu1\t7\t5\t200\nu2\t10\t1\t50\n")
    (folder / "toy.item").write_text(ITEM_HEADER + ITEMS)
    return folder


def _invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"GENREC_PROGRESS": "0"})
    return result.exit_code, result.stdout, result.stderr


def test_prepare_user_files_into_the_default_folder(tmp_path: Path) -> None:
    src = _recbole_folder(tmp_path)
    code, out, err = _invoke("--work-dir", str(tmp_path / "w"), "prepare", "mine", "--path", str(src))
    assert code == 0, err
    assert "users         2" in out and "items         3" in out and "interactions  3" in out
    ds, meta = load_processed(WorkDir(tmp_path / "w").dataset("mine"))
    assert (ds.name, ds.n_users, ds.n_items) == ("mine", 2, 3)
    assert meta.source == f"recbole:{src.resolve()}"  # the format was guessed from the folder
    assert meta.content_hash in out


def test_same_input_same_hash(tmp_path: Path) -> None:
    src = _recbole_folder(tmp_path)
    hashes = []
    for out in ("a", "b"):
        code, _, err = _invoke(
            "prepare", "mine", "--path", str(src), "--format", "recbole", "--out", str(tmp_path / out)
        )
        assert code == 0, err
        hashes.append(load_processed(tmp_path / out)[1].content_hash)
    assert hashes[0] == hashes[1]


def test_k_core_option_filters(tmp_path: Path) -> None:
    src = _recbole_folder(tmp_path)
    code, _, err = _invoke("prepare", "mine", "--path", str(src), "--k-core", "1", "--out", str(tmp_path / "o"))
    assert code == 0, err
    assert load_processed(tmp_path / "o")[0].n_items == 3  # each of the three items has an interaction
    args = ["prepare", "mine", "--path", str(src), "--k-core", "2", "--out", str(tmp_path / "p")]
    result = runner.invoke(app, args, env={"GENREC_PROGRESS": "0"})
    assert isinstance(result.exception, UserError)  # no item has two interactions: nothing is left
    assert "2-core" in str(result.exception) and not (tmp_path / "p").exists()


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="no ../shared/data beside this checkout")
def test_prepare_builtin_from_a_data_dir(tmp_path: Path) -> None:
    code, out, err = _invoke(
        "--work-dir", str(tmp_path), "--data-dir", str(SHARED_DATA), "prepare", "amazon-scientific"
    )
    assert code == 0, err
    assert "users         8317" in out and "items         4344" in out and "interactions  58492" in out
    assert load_processed(WorkDir(tmp_path).dataset("amazon-scientific"))[1].n_interactions == 58492


def test_the_default_dataset_needs_no_data_dir_and_no_network(tmp_path: Path) -> None:
    """The demo's data step on a fresh machine: no --data-dir, no GENREC_DATA_DIR, run from a folder with nothing
    beside it, and downloads pointed at a dead address; MovieLens-100K comes from the recbole package."""
    env = {k: v for k, v in os.environ.items() if k != "GENREC_DATA_DIR"}
    env.update(
        GENREC_PROGRESS="0",
        PYTHONPATH=str(REPO_ROOT),
        http_proxy="http://127.0.0.1:9",
        https_proxy="http://127.0.0.1:9",
    )
    done = subprocess.run(
        [sys.executable, "-m", "offline", "--work-dir", str(tmp_path / "w"), "prepare", "movielens-100k"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "users         943" in done.stdout and "items         1682" in done.stdout
    dataset, meta = load_processed(WorkDir(tmp_path / "w").dataset("movielens-100k"))
    assert (dataset.n_users, dataset.n_items, meta.n_interactions) == (943, 1682, 100_000)
    assert not (tmp_path / "w" / "cache").exists()  # nothing was downloaded


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["prepare", "mine", "--path", "{src}", "--format", "csv"], "--format"),
        (["prepare", "mine", "--path", "{src}", "--k-core", "-1"], "--k-core"),
        (["prepare", "netflix"], "not a built-in dataset"),
        (["prepare", "mine", "--path", "{tmp}/nowhere"], "does not exist"),
        (["prepare", "movielens-100k", "--format", "recbole"], "--format needs --path"),
        (["prepare", "../escape", "--path", "{src}"], "not a usable dataset name"),
    ],
)
def test_bad_option_values_exit_2_with_a_clear_message(tmp_path: Path, args: list[str], words: str) -> None:
    src = _recbole_folder(tmp_path)
    code, _, err = _invoke(*(a.format(src=src, tmp=tmp_path) for a in args))
    assert code == 2
    assert words in " ".join(err.replace("│", " ").split())  # rich draws and wraps a box around the message


def test_malformed_file_exits_2_naming_file_line_and_field(tmp_path: Path) -> None:
    src = _recbole_folder(tmp_path)
    (src / "toy.inter").write_text(INTER_HEADER + "u1\t2\t5\t100\nu1\t7\t5\tlater\n")
    env = {**os.environ, "GENREC_PROGRESS": "0", "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "offline", "--work-dir", str(tmp_path / "w"), "prepare", "mine", "--path", str(src)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert f"{src / 'toy.inter'}:3: field 'timestamp': not a number: 'later'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (WorkDir(tmp_path / "w").dataset("mine")).exists()


def test_help_describes_the_command() -> None:
    code, out, _ = _invoke("prepare", "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "processed folder" in text and "--k-core" in text and "amazon-raw" in text


def test_prepare_raw_amazon_files_with_a_guessed_format(tmp_path: Path) -> None:
    from tests.test_loaders_amazon_raw import _write

    src = _write(tmp_path / "amazon", gz=True)
    code, _, err = _invoke("prepare", "toys", "--path", str(src), "--k-core", "2", "--out", str(tmp_path / "o"))
    assert code == 0, err
    ds, meta = load_processed(tmp_path / "o")
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (3, 3, 7)
    assert meta.source.startswith("amazon-raw:")
