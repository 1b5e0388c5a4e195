"""Refresh-job metrics pushed to a real Pushgateway (Debian's prometheus-pushgateway, started here)."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator

import pytest

from offline.refresh.metrics import RunMetrics
from tests.faults.procs import free_port

BINARY = shutil.which("prometheus-pushgateway") or shutil.which("pushgateway")


@pytest.fixture
def gateway() -> Iterator[str]:
    if BINARY is None:
        pytest.skip("prometheus-pushgateway is not installed (.ci/run installs it)")
    port = free_port()
    proc = subprocess.Popen(
        [BINARY, f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/-/ready", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def _scrape(url: str) -> dict[str, float]:
    text = urllib.request.urlopen(url + "/metrics", timeout=5).read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("genrec_refresh") and 'mode="full"' in line:
            name, value = line.rsplit(" ", 1)
            out[name.split("{")[0]] = float(value)
    return out


def test_success_then_failure_keeps_last_success(gateway: str) -> None:
    ok = RunMetrics("full", gateway)
    ok.push_success(users=1234)
    first = _scrape(gateway)
    assert first["genrec_refresh_users_total"] == 1234
    assert first["genrec_refresh_last_success_timestamp_seconds"] > time.time() - 60
    assert first["genrec_refresh_users_per_second"] > 0

    RunMetrics("full", gateway).push_failure()
    after = _scrape(gateway)
    assert (
        after["genrec_refresh_last_success_timestamp_seconds"] == first["genrec_refresh_last_success_timestamp_seconds"]
    )
    assert after["genrec_refresh_errors_total"] == 1
    assert after["genrec_refresh_last_failure_timestamp_seconds"] > 0


def test_unreachable_gateway_is_logged_not_raised() -> None:
    RunMetrics("full", f"http://127.0.0.1:{free_port()}").push_success(users=1)
