"""`genrec serve`: bad settings exit 2 naming the problem; the global options mean to it what they mean to every other
command; with two uvicorn workers (a real subprocess) every request is answered and /metrics merges both workers'
counters (Prometheus multiprocess mode)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import typer
from typer.testing import CliRunner

from model.cache.keys import KeySchema
from model.errors import UserError
from model.settings import ServiceSettings
from offline import cli
from offline.cli import _register, app
from offline.commands.serve import service_env
from tests.faults.procs import free_port
from tests.paths import REPO_ROOT
from tests.redis_fixtures import REDIS_URL
from tests.service_fixtures import fill_cache, metric_value, save_toy_artifact


@pytest.fixture(scope="session")
def artifact_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_toy_artifact(tmp_path_factory)


def test_serve_refuses_a_missing_artifact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENREC_ARTIFACT", "restored-after-the-test")  # serve exports it for its workers
    _register()
    result = CliRunner().invoke(app, ["serve", "--artifact", str(tmp_path / "nope")])
    assert isinstance(result.exception, UserError)  # main() turns it into exit code 2
    assert "nope" in str(result.exception) and "not a directory" in str(result.exception)


@pytest.fixture
def served(artifact_dir: Path, tmp_path: Path, redis_client: redis.Redis, keys: KeySchema) -> Iterator[str]:
    fill_cache(redis_client, keys, model_version="mv")
    port = free_port()
    env = {
        **os.environ,
        "GENREC_REDIS_URL": "redis://127.0.0.1:9/0",  # nothing listens there: the global --redis-url must win
        "GENREC_CACHE_PREFIX": keys.prefix,
        "GENREC_LIVE_ENABLED": "false",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
    }
    cmd = [sys.executable, "-m", "offline", "--work-dir", str(tmp_path), "--redis-url", REDIS_URL]
    cmd += ["serve", "--artifact", str(artifact_dir)]
    proc = subprocess.Popen(
        [*cmd, "--workers", "2", "--port", str(port)],
        env=env,
        cwd=REPO_ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(1200):  # wait for both workers, however slow the machine
            if proc.poll() is not None:
                pytest.fail(f"serve exited: {proc.stderr.read().decode() if proc.stderr else ''}")
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=1):
                    break
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_the_global_redis_url_is_the_one_served_from(served: str) -> None:
    """`genrec --redis-url URL serve` serves from URL, not from GENREC_REDIS_URL or the default."""
    with urllib.request.urlopen(served + "/readyz", timeout=10) as r:
        assert r.status == 200 and json.loads(r.read())["active_version"] == "v1"


@pytest.mark.parametrize(
    ("option", "value", "field", "expected"),
    [
        ("--work-dir", "/tmp/genrec-w", "work_dir", Path("/tmp/genrec-w")),
        ("--seed", "9", "seed", 9),
        ("--log-format", "json", "log_format", "json"),
        ("--log-level", "warning", "log_level", "WARNING"),
        ("--redis-url", "redis://127.0.0.1:6390/3", "redis_url", "redis://127.0.0.1:6390/3"),
        ("--pushgateway-url", "http://127.0.0.1:9091", "pushgateway_url", "http://127.0.0.1:9091"),
    ],
)
def test_every_global_option_reaches_the_service_settings(
    artifact_dir: Path, monkeypatch: pytest.MonkeyPatch, option: str, value: str, field: str, expected: object
) -> None:
    """What `serve` hands its workers is what the global option says, as for every other command."""
    seen: dict[str, object] = {}

    def capture(ctx: typer.Context) -> None:
        env = service_env(ctx, artifact_dir)
        for name, text in env.items():
            monkeypatch.setenv(name, text)
        service = ServiceSettings()  # type: ignore[call-arg]  # as a worker builds it
        seen["job"], seen["service"] = getattr(ctx.obj, field), getattr(service, field)

    probe = typer.Typer()
    probe.callback()(cli._global)
    probe.command("probe")(capture)
    result = CliRunner().invoke(probe, [option, value, "probe"])
    assert result.exit_code == 0, result.output
    assert seen["job"] == seen["service"] == expected


def test_two_workers_merge_their_metrics(served: str) -> None:
    for _ in range(40):
        with urllib.request.urlopen(served + "/users/1/recommendations?k=3", timeout=10) as r:
            assert r.status == 200
    with urllib.request.urlopen(served + "/metrics", timeout=10) as r:
        text = r.read().decode()
    route = "/users/{user_id}/recommendations"
    assert metric_value(text, "genrec_requests_total", route=route, method="GET", status="200", source="cache") == 40
    assert metric_value(text, "genrec_cache_hits_total") == 40
