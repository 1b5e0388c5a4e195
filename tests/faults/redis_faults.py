"""Redis faults under load: SIGKILL + restart of the service's Redis, and a Redis that stops answering (CLIENT PAUSE).

Contract: each scenario takes a `World` whose service is running against the world's private Redis, puts a client
load on it (`Load`), injects the fault, and returns a `FaultReport`: what was injected, what the clients saw in each
phase (before / during / after: requests, statuses, sources, slowest answer), what /readyz said, how long recovery
took, and the "nothing lost" sweep (cached users answered from the cache before and after). Scenarios assert
nothing: tests and the script decide what must hold. Neither touches any Redis but the world's own.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from tests.faults.load import Load, Summary
from tests.faults.procs import Service
from tests.faults.world import World, sweep


@dataclass
class FaultReport:
    fault: str
    injected: str
    phases: dict[str, Summary] = field(default_factory=dict)
    readyz: dict[str, int] = field(default_factory=dict)  # phase -> status seen
    events_post: dict[str, int] = field(default_factory=dict)  # phase -> status of a POST /events
    recovery_s: float | None = None  # from the end of the fault to the first cache answer
    served_before: dict[str, int] = field(default_factory=dict)
    served_after: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for name, summary in self.phases.items():
            out["phases"][name]["server_errors"] = summary.server_errors
        return out


def wait_until(check: Callable[[], bool], timeout_s: float, step_s: float = 0.05) -> float | None:
    """Seconds until `check()` held, or None if it never did within `timeout_s`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if check():
            return time.monotonic() - start
        time.sleep(step_s)
    return None


def post_event(service: Service, user: str, item: str) -> int:
    req = urllib.request.Request(
        f"{service.base}/users/{user}/events",
        data=b'{"item": "%s"}' % item.encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def _cache_again(service: Service, user: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with urllib.request.urlopen(f"{service.base}/users/{user}/recommendations?k=3", timeout=5) as r:
                return r.headers.get("x-genrec-source") == "cache"
        except OSError:
            return False

    return check


def redis_kill(
    world: World, service: Service, down_s: float = 3.0, before_s: float = 2.0, after_s: float = 3.0, threads: int = 4
) -> FaultReport:
    """SIGKILL the Redis under load, keep it down `down_s`, restart it on the same port (its append-only file brings
    the data back); the service is never restarted."""
    report = FaultReport("redis killed and restarted", f"SIGKILL, down {down_s:.0f} s, restart on the same port")
    report.served_before = sweep(service, world.cached)
    probe_user = world.cached[0]
    with Load(service.base, world.mix(), threads=threads) as load:
        t0 = time.monotonic()
        time.sleep(before_s)
        world.redis.kill()  # returns once the process is gone: a request started before that may still be cached
        t_kill = time.monotonic()
        report.extra["readyz_503_after_s"] = wait_until(lambda: service.ready() == 503, 10)
        report.readyz["down"] = service.ready()
        report.events_post["down"] = post_event(service, probe_user, "100001")
        time.sleep(max(0.0, down_s - (time.monotonic() - t_kill)))
        t_up = time.monotonic()
        world.redis.start()
        report.extra["readyz_200_after_s"] = wait_until(lambda: service.ready() == 200, 30)
        report.recovery_s = wait_until(_cache_again(service, probe_user), 30)
        t_rec = time.monotonic()
        report.readyz["after"] = service.ready()
        report.events_post["after"] = post_event(service, probe_user, "100001")
        time.sleep(after_s)
        load.stop()
        report.phases = {
            "before": load.window(t0, t_kill),
            "down": load.window(t_kill, t_up),
            "restart": load.window(t_up, t_rec),
            "after": load.window(t_rec),
        }
        report.extra["down_measured_s"] = round(t_up - t_kill, 2)
        report.extra["recovery_from_restart_s"] = round(t_rec - t_up, 2)
    report.served_after = sweep(service, world.cached)
    return report


def redis_pause(
    world: World, service: Service, pause_ms: int = 3000, before_s: float = 1.5, after_s: float = 2.0, threads: int = 4
) -> FaultReport:
    """CLIENT PAUSE <pause_ms> ALL on the world's Redis under load: it accepts connections but answers nothing."""
    report = FaultReport("redis slow (CLIENT PAUSE ALL)", f"CLIENT PAUSE {pause_ms} ALL")
    report.served_before = sweep(service, world.cached)
    with Load(service.base, world.mix(), threads=threads) as load:
        t0 = time.monotonic()
        time.sleep(before_s)
        world.redis.pause(pause_ms)
        t_pause = started = time.monotonic()
        report.readyz["paused"] = service.ready()
        report.extra["readyz_paused_s"] = round(time.monotonic() - started, 3)
        t_end = t_pause + pause_ms / 1000
        time.sleep(max(0.0, t_end - time.monotonic()))
        report.recovery_s = wait_until(_cache_again(service, world.cached[0]), 30)
        report.readyz["after"] = service.ready()
        time.sleep(after_s)
        load.stop()
        report.phases = {
            "before": load.window(t0, t_pause),
            "paused": load.window(t_pause, t_end),
            "after": load.window(t_end),
        }
    report.served_after = sweep(service, world.cached)
    return report
