"""The shipped refresh schedule: valid cron fields, and commands the CLI accepts."""

from __future__ import annotations

import shlex

import pytest
from typer.testing import CliRunner

from offline.cli import _register, app
from tests.paths import REPO_ROOT

RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def _entries() -> list[tuple[list[str], list[str]]]:
    lines = (REPO_ROOT / "deploy" / "refresh.crontab").read_text().splitlines()
    entries = [line.split(None, 5) for line in lines if line.strip() and not line.startswith("#")]
    return [(e[:5], shlex.split(e[5])) for e in entries]


def _valid_field(field: str, low: int, high: int) -> bool:
    for part in field.split(","):
        base, _, step = part.partition("/")
        if step and not (step.isdigit() and int(step) > 0):
            return False
        if base == "*":
            continue
        bounds = base.split("-")
        if not all(b.isdigit() and low <= int(b) <= high for b in bounds) or len(bounds) > 2:
            return False
    return True


def test_schedule_fields_are_valid() -> None:
    entries = _entries()
    assert {cmd[cmd.index("--mode") + 1] for _, cmd in entries} == {"incremental", "full"}
    for fields, _ in entries:
        assert all(_valid_field(f, lo, hi) for f, (lo, hi) in zip(fields, RANGES, strict=True)), fields


@pytest.mark.parametrize("index", [0, 1])
def test_commands_parse_with_the_real_cli(index: int) -> None:
    _, argv = _entries()[index]
    assert argv[0] == "genrec"
    argv = [a if a != "${GENREC_ARTIFACT}" else "/nonexistent/artifact" for a in argv[1:]]
    _register()
    result = CliRunner().invoke(app, argv, env={"GENREC_REDIS_URL": "redis://127.0.0.1:1/0"})
    # Options parse (no usage error, exit 2 from click); the run then stops at the unreachable Redis.
    assert "No such option" not in result.output and "Invalid value" not in result.output
    assert "cannot reach Redis" in str(result.exception)
