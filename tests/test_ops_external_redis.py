"""Pointing the stack at an external Redis with a password over TLS (README "Operations"): a real redis-server with
`requirepass` and a TLS port only (self-signed certificate made with openssl), the real `genrec bootstrap` filling it
through a `rediss://:PASSWORD@host:port/0?ssl_ca_certs=...` URL, and the real app answering from it over that URL."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from model.cache.keys import KeySchema
from offline.cli import _register, app
from tests.faults.procs import free_port
from tests.service_fixtures import running, settings_for
from tests.tiny_artifact import save_tiny_artifact

PASSWORD = "s3cret-pw"


@pytest.fixture
def tls_redis_url(tmp_path: Path) -> Iterator[str]:
    server, openssl = shutil.which("redis-server"), shutil.which("openssl")
    if server is None or openssl is None:
        pytest.skip("needs redis-server and openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    proc = subprocess.Popen(
        [server, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--tls-cert-file", str(cert),
         "--tls-key-file", str(key), "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no",
         "--requirepass", PASSWORD, "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"rediss://:{PASSWORD}@127.0.0.1:{port}/0?ssl_ca_certs={cert}"
    for _ in range(100):
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.ConnectionError:
            time.sleep(0.1)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_plain_connection_and_wrong_password_are_refused(tls_redis_url: str) -> None:
    port = tls_redis_url.split(":")[3].split("/")[0]
    with pytest.raises(redis.RedisError):
        redis.Redis.from_url(f"redis://:{PASSWORD}@127.0.0.1:{port}/0", socket_timeout=2).ping()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(tls_redis_url.replace(PASSWORD, "wrong")).ping()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_bootstrap_and_service_over_tls_with_password(
    tls_redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    artifact = tmp_path / "artifact"
    save_tiny_artifact(artifact, n_items=40, n_users=12)
    _register()
    monkeypatch.setenv("GENREC_WORK_DIR", str(tmp_path / "work"))
    monkeypatch.delenv("GENREC_PUSHGATEWAY_URL", raising=False)
    monkeypatch.setenv("GENREC_CACHE_PREFIX", "rec")  # this Redis is the test's own
    result = CliRunner().invoke(app, ["--redis-url", tls_redis_url, "bootstrap", "--artifact", str(artifact)])
    assert result.exit_code == 0, result.output
    async with running(settings_for(artifact, KeySchema("rec"), redis_url=tls_redis_url)) as (_, client):
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        answer = await client.get("/users/3/recommendations", params={"k": 5})
        assert answer.status_code == 200 and answer.json()["source"] == "cache"
        assert len(answer.json()["items"]) == 5
