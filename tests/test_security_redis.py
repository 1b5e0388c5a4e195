"""Redis with a password and over TLS, and secrets kept out of logs: a redis-server of our own (`--requirepass`, a
plain port and a `--tls-port` whose certificate is signed by a CA made with openssl in the test's tmp dir) serves
the service (`redis://:pw@...` and `rediss://:pw@...?ssl_ca_certs=ca.pem`) and the refresh job. A wrong password
is a clear readiness / start-up error that never prints the password; start-up, requests and failures log neither
the API keys nor the Redis password."""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from model.cache.keys import KeySchema
from model.cache.store import CacheStore
from model.errors import UserError
from model.logs import _JsonFormatter
from offline.cli import _register, app
from tests.faults.procs import free_port
from tests.service_fixtures import fill_cache, running, save_toy_artifact, settings_for
from tests.tiny_artifact import save_tiny_artifact

pytestmark = pytest.mark.anyio

PASSWORD = "pw-" + uuid.uuid4().hex  # unique, so finding it anywhere in logs or bodies is a leak
API_KEY = "key-" + uuid.uuid4().hex


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_toy_artifact(tmp_path_factory)


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def make_certs(folder: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate for 127.0.0.1/localhost signed by that CA, server key)."""
    ca_key, ca, key, csr, cert = (folder / n for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem"))
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        ca_key,
        "-out",
        ca,
        "-days",
        "2",
        "-subj",
        "/CN=genrec test CA",
    )
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    ext = folder / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
        "-days", "2", "-extfile", ext,
    )  # fmt: skip
    return ca, cert, key


@dataclass
class SecureRedis:
    port: int
    tls_port: int
    ca: Path

    def url(self, tls: bool, password: str = PASSWORD) -> str:
        if tls:
            return f"rediss://:{password}@127.0.0.1:{self.tls_port}/0?ssl_ca_certs={self.ca}"
        return f"redis://:{password}@127.0.0.1:{self.port}/0"


@pytest.fixture(scope="module")
def secure_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureRedis]:
    exe = shutil.which("redis-server")
    if exe is None or shutil.which("openssl") is None:  # pragma: no cover - CI installs both
        pytest.fail("redis-server and openssl are needed")
    folder = tmp_path_factory.mktemp("tls")
    ca, cert, key = make_certs(folder)
    server = SecureRedis(free_port(), free_port(), ca)
    # the password goes through stdin (a config file), not argv, where `ps` would show it
    config = (
        f'port {server.port}\ntls-port {server.tls_port}\nbind 127.0.0.1\nsave ""\nappendonly no\n'
        f"requirepass {PASSWORD}\ntls-cert-file {cert}\ntls-key-file {key}\ntls-ca-cert-file {ca}\n"
        "tls-auth-clients no\n"
    )
    proc = subprocess.Popen([exe, "-"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert proc.stdin is not None
    proc.stdin.write(config.encode())
    proc.stdin.close()
    client = redis.Redis.from_url(server.url(tls=True))
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("the TLS redis-server did not start")
    client.close()
    yield server
    proc.kill()
    proc.wait()


@pytest.fixture
def secure_keys(secure_redis: SecureRedis) -> Iterator[KeySchema]:
    keys = KeySchema(prefix="t" + uuid.uuid4().hex[:12])
    yield keys
    client = redis.Redis.from_url(secure_redis.url(tls=False))
    stale = list(client.scan_iter(match=keys.prefix + ":*"))
    if stale:
        client.unlink(*stale)
    client.close()


@pytest.fixture
def all_logs() -> Iterator[list[str]]:
    """Every log record of every logger at DEBUG, formatted as the service writes them (JSON, with fields)."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Keep(logging.DEBUG)
    handler.setFormatter(_JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield lines
    root.removeHandler(handler)
    root.setLevel(level)


def test_unauthenticated_and_plain_clients_are_refused(secure_redis: SecureRedis) -> None:
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(f"redis://127.0.0.1:{secure_redis.port}/0").ping()
    with pytest.raises(redis.ConnectionError):  # TLS port, plain client
        redis.Redis.from_url(f"redis://:{PASSWORD}@127.0.0.1:{secure_redis.tls_port}/0", socket_timeout=2).ping()


@pytest.mark.parametrize("tls", [False, True], ids=["password", "password+tls"])
async def test_service_serves_from_a_password_and_tls_redis(
    artifact_dir: Path, secure_redis: SecureRedis, secure_keys: KeySchema, tls: bool, all_logs: list[str]
) -> None:
    direct = redis.Redis.from_url(secure_redis.url(tls))
    lists = fill_cache(direct, secure_keys, model_version="mv-secure")
    url = secure_redis.url(tls)
    settings = settings_for(artifact_dir, secure_keys, redis_url=url, api_keys=API_KEY, redis_timeout_ms=5000)
    async with running(settings) as (_, client):
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        r = await client.get("/users/1/recommendations", params={"k": 3})
        assert r.status_code == 200 and r.json()["source"] == "cache"
        assert [it["id"] for it in r.json()["items"]] == [str(5000 + i) for i in lists["1"].items[:3]]
        r = await client.post("/users/1/events", json={"item": "5001"}, headers={"Authorization": f"Bearer {API_KEY}"})
        assert r.status_code == 202, r.text
        assert (await client.post("/users/1/events", json={"item": "5001"})).status_code == 401
        r = await client.get("/users/7/recommendations")  # a miss: live generation writes back over the same URL
        assert r.status_code == 200 and r.json()["source"] == "live"
    assert direct.llen(secure_keys.history("1")) == 1
    direct.close()
    logged = "\n".join(all_logs)
    assert "service ready" in logged and ":***@127.0.0.1" in logged  # the URL is logged, masked
    assert PASSWORD not in logged and API_KEY not in logged


async def test_wrong_password_is_a_clear_error_that_never_prints_it(
    artifact_dir: Path,
    secure_redis: SecureRedis,
    keys: KeySchema,
    all_logs: list[str],
    capfd: pytest.CaptureFixture[str],
) -> None:
    wrong = "wrong-" + uuid.uuid4().hex
    for tls in (False, True):
        settings = settings_for(
            artifact_dir, keys, redis_url=secure_redis.url(tls, wrong), live_enabled=False, redis_timeout_ms=5000
        )
        async with running(settings) as (_, client):
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            reasons = " ".join(ready.json()["reasons"])
            assert "redis" in reasons and "password" in reasons.lower(), reasons
            r = await client.post("/users/1/events", json={"item": "5001"})
            assert r.status_code == 503 and "password" in r.text.lower()
            bodies = ready.text + r.text
        assert wrong not in bodies and PASSWORD not in bodies
    out = capfd.readouterr()
    logged = "\n".join(all_logs) + out.out + out.err
    assert "redis" in logged and wrong not in logged and PASSWORD not in logged


def test_refresh_job_over_password_and_tls(
    tmp_path: Path, secure_redis: SecureRedis, secure_keys: KeySchema, monkeypatch: pytest.MonkeyPatch
) -> None:
    artifact = tmp_path / "tiny"
    save_tiny_artifact(artifact)
    _register()
    runner = CliRunner()
    monkeypatch.setenv("GENREC_CACHE_PREFIX", secure_keys.prefix)
    monkeypatch.setenv("GENREC_REDIS_URL", secure_redis.url(tls=True))
    result = runner.invoke(app, ["refresh", "--artifact", str(artifact), "--k", "5", "--grace", "0"])
    assert result.exit_code == 0, result.output
    store = CacheStore(redis.Redis.from_url(secure_redis.url(tls=False)), secure_keys)
    version = store.active_version()
    assert version is not None and store.get_raw(version, "0") is not None
    wrong = "wrong-" + uuid.uuid4().hex
    monkeypatch.setenv("GENREC_REDIS_URL", secure_redis.url(tls=True, password=wrong))
    result = runner.invoke(app, ["refresh", "--artifact", str(artifact), "--k", "5"])
    assert isinstance(result.exception, UserError)
    message = str(result.exception)
    assert "cannot reach Redis at rediss://:***@127.0.0.1" in message and wrong not in message
    assert wrong not in result.output


def test_a_bad_redis_url_flag_is_refused_without_echoing_its_password() -> None:
    _register()
    secret = "flag-" + uuid.uuid4().hex
    result = CliRunner().invoke(app, ["--redis-url", f"http://:{secret}@127.0.0.1:6379/0", "refresh", "--help"])
    assert result.exit_code == 2 and "redis_url" in result.output
    assert secret not in result.output and ":***@127.0.0.1" in result.output
