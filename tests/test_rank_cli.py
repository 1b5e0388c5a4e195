"""`genrec tune-ranking` and the ranking options of `genrec evaluate` refuse bad values by name (exit 2), and
tune-ranking refuses a SASRec trained on other data before any work."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from model.errors import UserError
from offline.cli import _register, app
from tests.test_tokenizer_cli import _work

_register()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["tune-ranking", "toy", "--model", "lm-tiny", "--metric", "mrr@10"], "--metric"),
        (["tune-ranking", "toy", "--model", "lm-tiny", "--users", "0"], "--users"),
        (["tune-ranking", "toy", "--model", "lm-tiny", "--lm-candidates", "0"], "--lm-candidates"),
        (["tune-ranking", "toy", "--model", "lm-tiny", "--sasrec-candidates", "-1"], "--sasrec-candidates"),
        (["evaluate", "toy", "--models", "popularity", "--dtype", "fp8"], "--dtype"),
        (["evaluate", "toy", "--models", "rec:"], "--models"),
        (["evaluate", "toy", "--models", "ranker:x"], "--models"),
    ],
)
def test_bad_values_exit_2_naming_the_option(tmp_path: Path, args: list[str], words: str) -> None:
    result = CliRunner().invoke(app, ["--work-dir", str(_work(tmp_path)), *args], env={"GENREC_PROGRESS": "0"})
    assert result.exit_code == 2, result.output
    assert words in " ".join(result.output.replace("│", " ").split())


def test_missing_artifact_or_sasrec_says_what_to_run(tmp_path: Path) -> None:
    work = _work(tmp_path)
    result = CliRunner().invoke(app, ["--work-dir", str(work), "tune-ranking", "toy", "--model", "nothing"])
    assert isinstance(result.exception, UserError) and "no model artifact 'nothing'" in str(result.exception)
