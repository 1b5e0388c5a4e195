"""Every dashboard panel and alert rule, evaluated by a real Prometheus over real data (opt in: `pytest -m ops`;
`.ci/run` runs it; about a minute).

Starts, each on a free local port: a Redis server of its own (so it can be stalled without touching the shared
one), redis_exporter, a Pushgateway, two API instances (`genrec serve`, a real tiny artifact; one with 2 workers
and a normal live deadline, one with a 1 ms deadline so live generations time out), and Prometheus with
deploy/prometheus/prometheus.yml and rules/ (targets swapped for these ports, 1 s scrape and evaluation). A real
`genrec refresh` fills the cache and pushes its metrics; RunMetrics.push_failure (the code the refresh command runs
when a run fails) adds a failed run. Traffic covers cache hits, stale and absent misses answered live, live
timeouts, 4xx, and a Redis stall (CLIENT PAUSE: Redis errors, 503 on events, popularity answers).

Then through Prometheus's HTTP API: every dashboard expression returns at least one finite sample; every alert's
series (`X` of `X > 7200` or of `absent(X)`) returns samples and the whole alert expression evaluates; every
metric name used has series; every rule evaluates without error; every target is up.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import yaml

from offline.refresh.metrics import RunMetrics
from tests.faults.procs import free_port
from tests.ops_promql import (
    Expr,
    alert_series,
    dashboard_exprs,
    metric_names,
    rendered_prometheus_config,
    rule_exprs,
)
from tests.paths import REPO_ROOT
from tests.tiny_artifact import save_tiny_artifact

pytestmark = pytest.mark.ops

BINARIES = {
    "prometheus": shutil.which("prometheus"),
    "pushgateway": shutil.which("prometheus-pushgateway") or shutil.which("pushgateway"),
    "redis_exporter": shutil.which("prometheus-redis-exporter") or shutil.which("redis_exporter"),
    "redis-server": shutil.which("redis-server"),
}
REC = "/users/{}/recommendations"


def _wait_http(url: str, proc: subprocess.Popen[bytes], what: str, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{what} did not answer {url} within {timeout_s} s")


@dataclass
class Stack:
    prometheus: str
    apis: list[str]
    redis_url: str
    gateway: str
    logs: Path


class Processes:
    def __init__(self, logs: Path) -> None:
        self.logs, self.procs = logs, []  # type: ignore[var-annotated]

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _service_env(redis_url: str, prefix: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(
        GENREC_REDIS_URL=redis_url,
        GENREC_CACHE_PREFIX=prefix,
        GENREC_REDIS_TIMEOUT_MS="200",
        GENREC_LIVE_THREADS="1",
        GENREC_VERSION_REFRESH_S="0.2",
        GENREC_PROGRESS="0",
        GENREC_USER_ID_MAX="9999",  # new users up to 9999 are served; 99999 is a garbage id (404)
        PYTHONPATH=str(REPO_ROOT),
        **extra,
    )
    return env


WRITE_KEY = "ops-test-write-key-0123456789"  # api b requires it for writes and limits them to 4 per second


def _auth(base: str, apis: list[str]) -> dict[str, str]:
    return {"X-API-Key": WRITE_KEY} if base == apis[1] else {}


def _traffic(client: httpx.Client, apis: list[str], round_no: int) -> None:
    for base in apis:
        auth = _auth(base, apis)
        for user in range(5):
            client.get(base + REC.format(user), params={"k": 5})  # cache hits once refreshed
        assert client.get(base + REC.format("x1")).status_code == 422
        assert client.get(base + REC.format(1), params={"k": 0}).status_code == 422
        assert client.get(base + REC.format(99999)).status_code == 404
        stale = str(10 + round_no)  # a cached user with a newer event: stale miss, answered live
        assert client.post(base + f"/users/{stale}/events", json={"item": "1005"}, headers=auth).status_code == 202
        client.get(base + REC.format(stale))
        absent = str(7000 + round_no)  # a user known only from events: absent miss, answered live
        assert client.post(base + f"/users/{absent}/events", json={"item": "1010"}, headers=auth).status_code == 202
        client.get(base + REC.format(absent))
        client.get(base + "/readyz")
        if auth:  # refused writes: no key (401), then a burst over the rate limit (at least 2 of 10 get 429)
            assert client.post(base + "/users/1/events", json={"item": "1001"}).status_code == 401
            burst = [client.post(base + "/users/1/events", json={"item": "1001"}, headers=auth) for _ in range(10)]
            assert sum(r.status_code == 429 for r in burst) >= 2


def _stall_redis(client: httpx.Client, apis: list[str], redis_url: str) -> None:
    """CLIENT PAUSE makes every Redis call wait past the service's 200 ms timeout: errors, 503s, popular answers."""
    own = redis.Redis.from_url(redis_url)
    own.execute_command("CLIENT", "PAUSE", "3000")  # api b waits twice per POST: rate limit, then the write
    for base in apis:
        assert (
            client.post(base + "/users/1/events", json={"item": "1001"}, headers=_auth(base, apis)).status_code == 503
        )
        assert client.get(base + REC.format(2)).headers["x-genrec-source"] == "popular"
    time.sleep(3.1)
    own.close()


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    marks = request.config.getoption("markexpr") or ""
    if "ops" not in marks or "not ops" in marks:
        pytest.skip("starts Prometheus, a Pushgateway, redis_exporter, Redis and two services: opt in with -m ops")
    missing = [name for name, path in BINARIES.items() if path is None]
    if missing:
        pytest.fail(f"not installed: {missing} (Debian packages; .ci/run installs them)")
    tmp = tmp_path_factory.mktemp("ops")
    procs = Processes(tmp)
    try:
        yield _start(procs, tmp)
    finally:
        procs.stop()


def _start(procs: Processes, tmp: Path) -> Stack:
    ports = {name: free_port() for name in ("redis", "gateway", "exporter", "prometheus", "api_a", "api_b")}
    redis_url = f"redis://127.0.0.1:{ports['redis']}/0"
    server = procs.start(
        "redis",
        [BINARIES["redis-server"] or "", "--port", str(ports["redis"]), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"],
    )  # fmt: skip
    for _ in range(100):
        try:
            if redis.Redis.from_url(redis_url).ping():
                break
        except redis.ConnectionError:
            time.sleep(0.1)
    assert server.poll() is None
    gateway_url = f"http://127.0.0.1:{ports['gateway']}"
    gateway = procs.start(
        "pushgateway", [BINARIES["pushgateway"] or "", f"--web.listen-address=127.0.0.1:{ports['gateway']}"]
    )
    exporter = procs.start(
        "redis_exporter",
        [BINARIES["redis_exporter"] or "", f"--redis.addr={redis_url}",
         f"--web.listen-address=127.0.0.1:{ports['exporter']}"],
    )  # fmt: skip
    artifact = tmp / "artifact"
    save_tiny_artifact(artifact, n_items=120, n_users=40, seed=3)
    prefix = "ops" + uuid.uuid4().hex[:10]
    apis = [f"http://127.0.0.1:{ports['api_a']}", f"http://127.0.0.1:{ports['api_b']}"]
    serve = [sys.executable, "-m", "offline", "--work-dir", str(tmp / "work"), "serve", "--artifact", str(artifact)]
    api_a = procs.start(
        "api_a",
        [*serve, "--port", str(ports["api_a"]), "--workers", "2"],
        _service_env(redis_url, prefix, GENREC_LIVE_DEADLINE_MS="60000", PROMETHEUS_MULTIPROC_DIR=str(tmp / "mp")),
    )
    api_b = procs.start(
        "api_b",
        [*serve, "--port", str(ports["api_b"]), "--workers", "1"],
        _service_env(
            redis_url, prefix, GENREC_LIVE_DEADLINE_MS="1", GENREC_API_KEYS=WRITE_KEY, GENREC_RATE_LIMIT_EVENTS="4"
        ),
    )
    config = rendered_prometheus_config(
        {
            "genrec-api": [a.removeprefix("http://") for a in apis],
            "pushgateway": [f"127.0.0.1:{ports['gateway']}"],
            "redis": [f"127.0.0.1:{ports['exporter']}"],
            "prometheus": [f"127.0.0.1:{ports['prometheus']}"],
        },
        interval="1s",
    )
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    prometheus_url = f"http://127.0.0.1:{ports['prometheus']}"
    prometheus = procs.start(
        "prometheus",
        [BINARIES["prometheus"] or "", f"--config.file={tmp / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp / 'tsdb'}", f"--web.listen-address=127.0.0.1:{ports['prometheus']}"],
    )  # fmt: skip
    _wait_http(gateway_url + "/-/ready", gateway, "pushgateway")
    _wait_http(f"http://127.0.0.1:{ports['exporter']}/metrics", exporter, "redis_exporter")
    _wait_http(prometheus_url + "/-/ready", prometheus, "prometheus")
    _wait_http(apis[0] + "/healthz", api_a, "api a")
    _wait_http(apis[1] + "/healthz", api_b, "api b")

    with httpx.Client(timeout=60) as client:
        _traffic(client, apis, 0)  # before any cache version: live and popular answers, /readyz 503
        refresh = subprocess.run(
            [sys.executable, "-m", "offline", "--redis-url", redis_url, "--pushgateway-url", gateway_url,
             "--work-dir", str(tmp / "job"), "refresh", "--artifact", str(artifact), "--mode", "full", "--grace", "0"],
            env=_service_env(redis_url, prefix), cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert refresh.returncode == 0, refresh.stdout + refresh.stderr
        RunMetrics("full", gateway_url).push_failure()  # a failed run after the success: kept beside it
        _wait_http(apis[0] + "/readyz", api_a, "api a ready")
        for round_no in range(1, 7):
            _traffic(client, apis, round_no)
            if round_no == 3:
                _stall_redis(client, apis, redis_url)
            time.sleep(1.1)
    time.sleep(3)  # a few more scrapes and rule evaluations after the last request
    return Stack(prometheus_url, apis, redis_url, gateway_url, tmp)


def _query(stack: Stack, expr: str) -> list[dict[str, Any]]:
    url = stack.prometheus + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    body = httpx.get(url, timeout=30).json()
    assert body["status"] == "success", f"{expr}: {body}"
    return list(body["data"]["result"])


def _query_with_data(stack: Stack, expr: str, finite: bool) -> list[dict[str, Any]]:
    """The result once it holds data (waiting up to 30 s for scrapes and rule evaluations), else the last one."""
    deadline = time.monotonic() + 30
    while True:
        result = _query(stack, expr)
        values = [float(r["value"][1]) for r in result]
        if values and (not finite or any(math.isfinite(v) for v in values)):
            return result
        if time.monotonic() > deadline:
            return result
        time.sleep(1)


DASHBOARD_EXPRS = dashboard_exprs()
RULE_EXPRS = rule_exprs()


@pytest.mark.parametrize("item", DASHBOARD_EXPRS, ids=[e.where for e in DASHBOARD_EXPRS])
def test_dashboard_expression_returns_data(stack: Stack, item: Expr) -> None:
    result = _query_with_data(stack, item.expr, finite=True)
    assert result, f"{item.where}: no data for {item.expr}"
    assert any(math.isfinite(float(r["value"][1])) for r in result), f"{item.where}: only NaN/Inf: {result}"


@pytest.mark.parametrize("item", RULE_EXPRS, ids=[e.where for e in RULE_EXPRS])
def test_rule_expression_returns_data(stack: Stack, item: Expr) -> None:
    """Recording rules: the expression has data. Alerts are conditions, normally empty: their series has data
    (so the alert is quiet only because the condition is false), and the whole expression evaluates."""
    series = alert_series(item.expr) if item.alert else item.expr
    assert _query_with_data(stack, series, finite=True), f"{item.where}: no data for {series}"
    _query(stack, item.expr)  # status success (a syntax or type error fails here)


def test_every_metric_used_has_series(stack: Stack) -> None:
    names = set().union(*(metric_names(e.expr) for e in DASHBOARD_EXPRS + RULE_EXPRS))
    empty = [name for name in sorted(names) if not _query_with_data(stack, f'{{__name__="{name}"}}', finite=False)]
    assert not empty, empty


def test_prometheus_evaluates_every_rule_and_scrapes_every_target(stack: Stack) -> None:
    groups = httpx.get(stack.prometheus + "/api/v1/rules", timeout=10).json()["data"]["groups"]
    evaluated = {r["name"]: (r["health"], r.get("lastError", "")) for g in groups for r in g["rules"]}
    assert len(evaluated) == len(RULE_EXPRS)
    assert all(health == "ok" and not error for health, error in evaluated.values()), evaluated
    targets = httpx.get(stack.prometheus + "/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
    assert {t["labels"]["job"] for t in targets} == {"genrec-api", "pushgateway", "redis", "prometheus"}
    assert all(t["health"] == "up" for t in targets), [(t["scrapeUrl"], t["lastError"]) for t in targets]
