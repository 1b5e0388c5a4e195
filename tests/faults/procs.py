"""The real processes a fault scenario drives: a private redis-server, the service under uvicorn, RSS sampling.

Contract: `OwnRedis(folder)` runs `redis-server` on a free port of its own (never the shared 6379), with an
append-only file fsynced on every write in `folder`, so `kill()` (SIGKILL) followed by `start()` brings back the same
data on the same port, like a restarted production Redis with persistence (`persist=False`: no file, for load
runs); `pause(ms)` sends `CLIENT PAUSE ms ALL` to it (only to it). `Service` starts `genrec serve` (or uvicorn with
another app factory) as a subprocess in its own session, waits until /healthz answers, and stops the whole process
group. `rss_bytes(pid)` sums the resident set of a process and its children (from /proc). Nothing here knows what
the scenarios assert.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

import redis

from tests.paths import REPO_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OwnRedis:
    def __init__(
        self, folder: Path, port: int | None = None, persist: bool = True, extra_args: Sequence[str] = ()
    ) -> None:
        self.folder = folder
        self.persist = persist
        self.extra_args = tuple(extra_args)  # more redis-server options (the cluster tests' node settings)
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)

    def start(self, timeout_s: float = 20.0) -> redis.Redis:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed (apt-get install -y redis-server)")
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder), "--save", ""]
        args += ["--appendonly", "yes" if self.persist else "no", "--appendfsync", "always", "--loglevel", "warning"]
        args += self.extra_args
        log = (self.folder / "redis.log").open("ab")
        self.proc = subprocess.Popen([exe, *args], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        client = redis.Redis.from_url(self.url, socket_timeout=5)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return client
            except (redis.ConnectionError, redis.BusyLoadingError):
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start; see {self.folder / 'redis.log'}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final save; what the append-only file holds is what comes back."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def pause(self, ms: int) -> None:
        client = redis.Redis.from_url(self.url, socket_timeout=5)
        try:
            client.execute_command("CLIENT", "PAUSE", str(ms), "ALL")
        finally:
            client.close()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=10)


def get(url: str, timeout_s: float = 5.0) -> tuple[int, bytes]:
    """(status, body) of a GET; status 0 when no HTTP answer came back."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, OSError):
        return 0, b""


class Service:
    """`genrec serve` (default) or `python -m uvicorn --factory <factory>` in its own process group."""

    def __init__(
        self, artifact: Path, redis_url: str, prefix: str, work: Path, env: Mapping[str, str] | None = None
    ) -> None:
        self.artifact, self.redis_url, self.prefix, self.work = artifact, redis_url, prefix, work
        self.extra_env = dict(env or {})
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        work.mkdir(parents=True, exist_ok=True)

    def start(self, factory: str | None = None, workers: int = 1, timeout_s: float = 180.0) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            "GENREC_ARTIFACT": str(self.artifact),
            "GENREC_REDIS_URL": self.redis_url,
            "GENREC_CACHE_PREFIX": self.prefix,
            "GENREC_LIVE_THREADS": "1",
            "GENREC_LOG_LEVEL": "WARNING",
            "GENREC_PROGRESS": "0",
            **self.extra_env,
        }
        cmd: Sequence[str]
        if factory is None:
            cmd = [sys.executable, "-m", "offline", "--work-dir", str(self.work), "--log-level", "WARNING", "serve"]
            cmd += ["--artifact", str(self.artifact), "--port", str(self.port), "--workers", str(workers)]
        else:
            cmd = [sys.executable, "-m", "uvicorn", "--factory", factory, "--port", str(self.port)]
            cmd += ["--log-level", "warning", "--no-access-log"]
        log = (self.work / "service.log").open("ab")
        self.proc = subprocess.Popen(
            cmd, env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"service exited ({self.proc.returncode}); see {self.work / 'service.log'}")
            if get(self.base + "/healthz", 1.0)[0] == 200:
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"service did not answer /healthz in {timeout_s:.0f}s; see {self.work / 'service.log'}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass
        self.proc = None

    def metrics(self) -> str:
        return get(self.base + "/metrics")[1].decode()

    def ready(self) -> int:
        return get(self.base + "/readyz", 5.0)[0]


def rss_bytes(pid: int) -> int:
    """Resident set of `pid` plus its direct children (uvicorn workers), in bytes; 0 if it is gone."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total
