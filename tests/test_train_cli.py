"""`genrec train` and `genrec evaluate --models lm:...` end to end on a toy prepared dataset: tokenizer stage (tiny
LM) -> alignment fine-tuning -> artifact -> evaluation table; missing inputs say what to run."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from model.artifact import load_artifact
from model.errors import UserError
from model.workdir import WorkDir
from offline.cli import _register, app
from tests.test_tokenizer_cli import SMALL, _work

_register()
runner = CliRunner()


def _run(work: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--work-dir", str(work), *args], env={"GENREC_PROGRESS": "0"})


def test_train_then_evaluate(tmp_path: Path) -> None:
    work = _work(tmp_path)
    assert _run(work, "train-tokenizer", "toy", *SMALL).exit_code == 0
    result = _run(
        work, "train", "toy", "--preset", "tiny", "--epochs", "1", "--eval-users", "5", "--fp32", "--patience", "2"
    )
    assert result.exit_code == 0, result.exception
    folder = WorkDir(work).model("toy", "lm-tiny")
    artifact = load_artifact(folder)
    assert artifact.version in result.stdout
    assert artifact.meta.training["codes"] == str(WorkDir(work).tokenizer("toy", "tiny"))
    assert "valid_ndcg@10" in artifact.meta.metrics
    assert artifact.meta.training["config"]["patience"] == 2  # --patience overrides the preset's 3
    assert any("textual: on" in t for t in artifact.meta.training["tasks"])
    report = WorkDir(work).reports() / "r.json"
    ev = _run(work, "evaluate", "toy", "--models", "popularity,lm:tiny", "--ks", "5,10", "--out", str(report))
    assert ev.exit_code == 0, ev.exception
    rows = json.loads(report.read_text())
    rows = rows if isinstance(rows, list) else rows.get("reports", rows)
    assert "lm:tiny" in ev.stdout and "popularity" in ev.stdout


def test_missing_tokenizer_unknown_artifact_and_bad_sampler(tmp_path: Path) -> None:
    work = _work(tmp_path)
    result = _run(work, "train", "toy", "--preset", "tiny")
    assert isinstance(result.exception, UserError)  # main() turns it into exit code 2 with this message
    assert "genrec train-tokenizer toy" in str(result.exception)
    ev = _run(work, "evaluate", "toy", "--models", "lm:nothing-here")
    assert isinstance(ev.exception, UserError)
    assert "no model artifact 'nothing-here'" in str(ev.exception)
    bad = _run(work, "train", "toy", "--sampler", "nearest", "--stand-in-codes", "random")
    assert bad.exit_code == 2 and "nearest" in bad.output
    bad = _run(work, "train", "toy", "--patience", "0", "--stand-in-codes", "random")
    assert bad.exit_code == 2 and "--patience" in bad.output
    bad = _run(work, "train", "toy", "--label-smoothing", "0.9", "--stand-in-codes", "random")
    assert bad.exit_code == 2 and "--label-smoothing" in bad.output
