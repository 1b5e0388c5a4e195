"""The live generator raising or hanging, in a real service process (tests.faults.faulty_app) under load.

Contract: `generator_fault(world, mode, ...)` starts the faulty app against the world's Redis, loads it with users that
have no cached list (every request needs live generation) mixed with cached ones, and returns a `FaultReport`: the
answers by source, the slowest answer against the live deadline, and the fallbacks counted in
`genrec_live_fallbacks_total{reason}` next to the number of uncached requests the clients sent. Asserts nothing.
"""

from __future__ import annotations

import time

from tests.faults.load import Load, Sample
from tests.faults.redis_faults import FaultReport
from tests.faults.world import World, sweep


def metric_sum(text: str, name: str, label: str = "") -> float:
    """Sum of the samples of `name` whose labels contain `label` (e.g. 'reason="error"')."""
    total = 0.0
    for line in text.splitlines():
        if (line.startswith(name + "{") or line.startswith(name + " ")) and label in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def generator_fault(
    world: World, mode: str, duration_s: float = 5.0, deadline_ms: int = 1000, hang_s: float = 8.0, threads: int = 4
) -> FaultReport:
    injected = "every generation raises" if mode == "raise" else f"every generation sleeps {hang_s:.0f} s"
    report = FaultReport(f"generator {'raising' if mode == 'raise' else 'hanging'}", injected)
    service = world.service(
        f"gen-{mode}",
        GENREC_FAULT_GENERATOR=mode,
        GENREC_FAULT_HANG_S=str(hang_s),
        GENREC_LIVE_DEADLINE_MS=str(deadline_ms),
        GENREC_LIVE_WRITE_BACK="false",
    )
    service.start(factory="tests.faults.faulty_app:create_app")
    try:
        report.served_before = sweep(service, world.cached)
        # the last uncached users: never asked for by the other scenarios, so none has a written-back list
        users = [(u, "uncached") for u in world.uncached[-100:]] + [(u, "cached") for u in world.cached[:100]]
        with Load(service.base, users, threads=threads) as load:
            t0 = time.monotonic()
            time.sleep(duration_s)
            load.stop()
            samples = load.snapshot()
        report.phases = {"under fault": load.window(t0)}
        uncached = [s for s in samples if s.kind == "uncached"]
        text = service.metrics()
        fallbacks = {
            reason: metric_sum(text, "genrec_live_fallbacks_total", f'reason="{reason}"')
            for reason in ("error", "deadline", "saturated", "not_loaded")
        }
        report.extra = {
            "uncached_requests": len(uncached),
            "uncached_sources": _sources(uncached),
            "uncached_max_latency_s": max((s.latency for s in uncached), default=0.0),
            "deadline_s": deadline_ms / 1000,
            "fallbacks": fallbacks,
            "fallbacks_total": sum(fallbacks.values()),
        }
        report.readyz["under fault"] = service.ready()
        report.served_after = sweep(service, world.cached)
    finally:
        stopping = time.monotonic()
        service.stop()
        report.extra["sigterm_to_exit_s"] = round(time.monotonic() - stopping, 2)
    return report


def _sources(samples: list[Sample]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in samples:
        out[s.source] = out.get(s.source, 0) + 1
    return out
