"""A real 3-master Redis Cluster on free ports, for the cluster tests and the scaling benchmark.

Contract: `OwnCluster(folder).start()` runs three `redis-server --cluster-enabled yes` (each an `OwnRedis` with its own
folder, nodes file and append-only file fsynced on every write, so `restart(i)` brings back node i with its data and
its slots), joins them with `redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes`, and waits until every
node reports `cluster_state:ok`. Nodes run with `cluster-require-full-coverage no` (users of the other nodes keep
being served while one is down) and a short node timeout. `url` is the `redis+cluster://` URL naming all three;
`stop()` kills them. It knows nothing about what the tests store.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

from tests.faults.procs import OwnRedis


def cluster_port() -> int:
    """A free port P below 55536 whose cluster bus port P + 10000 is free too (redis-server needs both)."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 30000)
        try:
            for p in (port, port + 10000):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair (P, P + 10000) found in 20000..40000")


class OwnCluster:
    def __init__(self, folder: Path, masters: int = 3, persist: bool = True, node_timeout_ms: int = 2000) -> None:
        if shutil.which("redis-cli") is None:
            raise RuntimeError("redis-cli is not installed (apt-get install -y redis-tools)")
        self.nodes = [
            OwnRedis(
                folder / f"node{i}",
                port=cluster_port(),
                persist=persist,
                extra_args=(
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    str(folder / f"node{i}" / "nodes.conf"),
                    "--cluster-node-timeout",
                    str(node_timeout_ms),
                    "--cluster-require-full-coverage",
                    "no",
                ),
            )
            for i in range(masters)
        ]
        self.url = "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def start(self, timeout_s: float = 30.0) -> OwnCluster:
        for node in self.nodes:
            node.start().close()
        addresses = [f"127.0.0.1:{n.port}" for n in self.nodes]
        subprocess.run(
            ["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=timeout_s,
        )
        self.wait_ok(timeout_s)
        return self

    def wait_ok(self, timeout_s: float = 30.0) -> None:
        """Until every node says cluster_state:ok with all 16384 slots assigned."""
        deadline = time.monotonic() + timeout_s
        while True:
            states = [self.info(i) for i in range(len(self.nodes))]
            if all(s.get("cluster_state") == "ok" and s.get("cluster_slots_ok") == "16384" for s in states):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"cluster not ok after {timeout_s:.0f} s: {states}")
            time.sleep(0.1)

    def info(self, i: int) -> dict[str, str]:
        client = self.nodes[i].client()
        try:
            text = client.execute_command("CLUSTER", "INFO")
        except (redis.RedisError, OSError):
            return {}
        finally:
            client.close()
        raw = text.decode() if isinstance(text, bytes) else str(text)
        return dict(line.split(":", 1) for line in raw.splitlines() if ":" in line)

    def restart(self, i: int, down_s: float = 0.0) -> None:
        """SIGKILL node i, wait `down_s`, start it again with its nodes file and data."""
        self.nodes[i].kill()
        time.sleep(down_s)
        self.nodes[i].start().close()

    def stop(self) -> None:
        for node in self.nodes:
            node.kill()
