"""A 20-second smoke of the soak script (loadtest/soak.py) at a low rate: it starts its own Redis and service, holds
the rate, and writes its JSON with zero errors and every due request answered. Opt-in (`-m soak`); the 10-minute run
is the script's own, not a test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.paths import REPO_ROOT

pytestmark = pytest.mark.soak


def test_soak_smoke(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    marks = request.config.getoption("markexpr") or ""
    if "soak" not in marks or "not soak" in marks:
        pytest.skip("runs the soak script for 20 s: opt in with -m soak")
    out = tmp_path / "soak.json"
    cmd = [sys.executable, "-m", "loadtest.soak", "--rate", "20", "--duration", "20", "--window", "10"]
    cmd += ["--users", "2000", "--uncached-share", "0.05", "--rss-every", "2", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = orjson.loads(out.read_bytes())
    summary = report["summary"]
    assert summary["requests"] == summary["expected"] == 400
    assert summary["errors"] == 0, summary
    assert summary["uncached_requests"] > 0 and summary["answered_live"] > 0
    assert summary["rss_samples"] >= 5 and summary["rss_first_mb"] > 0
    assert [row["from_s"] for row in report["rows"]] == [0, 10]
    assert "| from_s | requests | errors |" in done.stdout
