"""Run the fault scenarios with real processes and print the README's tables (and write them as JSON).

    python -m tools.faults --out runs/faults/faults.json                 # everything, ~3-4 minutes
    python -m tools.faults --only redis-kill,redis-pause --down 5

Scenarios: redis-kill (SIGKILL + restart of the service's Redis under load), redis-pause (CLIENT PAUSE ALL under
load), generator (the live generator raising, then hanging), refresh-kill (the full refresh SIGKILLed at random
points, then rerun). Everything runs against a private redis-server on a free port in a temporary folder; the shared
Redis is never touched. Exit status 1 when any scenario broke a promise (a 5xx or unanswered request, a user lost,
a rerun that did not complete, readiness not following Redis), with the reason printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from tests.faults.generator_faults import generator_fault
from tests.faults.load import Summary
from tests.faults.redis_faults import FaultReport, redis_kill, redis_pause
from tests.faults.refresh_faults import refresh_kills
from tests.faults.world import build_world
from tools.benchmarks.report import emit, markdown_table

SCENARIOS = ("redis-kill", "redis-pause", "generator", "refresh-kill")


def _sources(summary: Summary) -> str:
    return ", ".join(f"{name or '-'} {n}" for name, n in sorted(summary.sources.items(), key=lambda kv: -kv[1]))


def problems(report: FaultReport) -> list[str]:
    """The promises a report shows broken (empty when the fault was survived)."""
    out = []
    for name, summary in report.phases.items():
        if summary.server_errors:
            out.append(f"{report.fault}: {summary.server_errors} 5xx/unanswered requests in phase {name!r}")
    if report.served_before != report.served_after:
        out.append(f"{report.fault}: served before {report.served_before} != after {report.served_after}")
    want = {"down": 503, "paused": 503, "after": 200}
    out += [
        f"{report.fault}: /readyz {got} in phase {phase!r}, expected {want[phase]}"
        for phase, got in report.readyz.items()
        if phase in want and got != want[phase]
    ]
    posts = {"down": 503, "after": 202}
    out += [
        f"{report.fault}: POST events {got} in phase {phase!r}, expected {posts[phase]}"
        for phase, got in report.events_post.items()
        if got != posts[phase]
    ]
    if report.recovery_s is None and "after" in report.readyz:
        out.append(f"{report.fault}: no cache answer after the fault ended")
    for kill in report.extra.get("kills", []):
        if kill["users_served_after"] != report.served_before.get("of"):
            out.append(f"{report.fault}: kill {kill['kill']} left {kill['users_served_after']} users served")
    if "rerun_exit" in report.extra:
        extra = report.extra
        if extra["rerun_exit"] != 0 or len(extra["versions_left"]) != 1 or extra["lock_left"]:
            out.append(f"{report.fault}: rerun exit {extra['rerun_exit']}, versions {extra['versions_left']}")
    return out


def fault_row(report: FaultReport, during: str) -> dict[str, Any]:
    s = report.phases[during]
    total = sum(p.requests for p in report.phases.values())
    errors = sum(p.server_errors for p in report.phases.values())
    return {
        "fault": report.fault,
        "injected": report.injected,
        "requests (all phases)": total,
        "5xx or unanswered": errors,
        "answers during the fault": _sources(s),
        "slowest during (s)": round(s.max_latency_s, 3),
        "observed": report.extra.get("observed", ""),
    }


def lost_row(report: FaultReport, what: str) -> dict[str, Any]:
    def fmt(d: dict[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in d.items())

    before, after = fmt(report.served_before), fmt(report.served_after)
    return {"fault": report.fault, "checked": what, "before": before, "after": after}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated subset of {','.join(SCENARIOS)}")
    p.add_argument("--down", type=float, default=5.0, help="seconds Redis stays killed")
    p.add_argument("--pause-ms", type=int, default=3000, help="CLIENT PAUSE length")
    p.add_argument("--refresh-runs", type=int, default=8, help="refresh runs killed before the final rerun")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=4, help="client threads loading the service")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, Redis files)")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(SCENARIOS))
    if unknown:
        p.error(f"--only: unknown scenario(s) {unknown}; choose from {', '.join(SCENARIOS)}")
    folder = Path(tempfile.mkdtemp(prefix="genrec_faults_"))
    world = build_world(folder)
    reports: list[FaultReport] = []
    rows: list[dict[str, Any]] = []
    lost: list[dict[str, Any]] = []
    kills: list[dict[str, Any]] = []
    started = time.monotonic()
    try:
        if "redis-kill" in chosen or "redis-pause" in chosen:
            service = world.service("svc", GENREC_LIVE_DEADLINE_MS="2000")
            service.start()
            try:
                if "redis-kill" in chosen:
                    r = redis_kill(world, service, down_s=args.down, threads=args.threads)
                    r.extra["observed"] = (
                        f"/readyz {r.readyz['down']} while down (after {r.extra['readyz_503_after_s']:.2f} s), "
                        f"{r.readyz['after']} after; POST events {r.events_post['down']} while down, "
                        f"{r.events_post['after']} after; cache answers again {r.extra['recovery_from_restart_s']} s "
                        "after the restart, no service restart"
                    )
                    reports.append(r)
                    rows.append(fault_row(r, "down"))
                    lost.append(lost_row(r, "cached users answered from the cache"))
                if "redis-pause" in chosen:
                    r = redis_pause(world, service, pause_ms=args.pause_ms, threads=args.threads)
                    r.extra["observed"] = (
                        f"answers within the 500 ms Redis timeout (+ request work); /readyz {r.readyz['paused']} "
                        f"while paused (answered in {r.extra['readyz_paused_s']} s), {r.readyz['after']} after; "
                        f"cache answers again {r.recovery_s:.2f} s after the pause"
                    )
                    reports.append(r)
                    rows.append(fault_row(r, "paused"))
                    lost.append(lost_row(r, "cached users answered from the cache"))
            finally:
                service.stop()
        if "generator" in chosen:
            for mode in ("raise", "hang"):
                r = generator_fault(world, mode, threads=args.threads)
                fb = {k: int(v) for k, v in r.extra["fallbacks"].items() if v}
                r.extra["observed"] = (
                    f"{r.extra['uncached_requests']} uncached requests, all answered "
                    f"{'/'.join(r.extra['uncached_sources'])}; slowest {r.extra['uncached_max_latency_s']:.2f} s "
                    f"(deadline {r.extra['deadline_s']:.1f} s); genrec_live_fallbacks_total {fb}"
                )
                reports.append(r)
                rows.append(fault_row(r, "under fault"))
                lost.append(lost_row(r, "cached users answered from the cache"))
        if "refresh-kill" in chosen:
            r = refresh_kills(world, runs=args.refresh_runs, seed=args.seed)
            kills = r.extra["kills"]
            phases = ", ".join(sorted({row["phase"] for row in kills}))
            r.extra["observed"] = (
                f"kills at {phases}; after every kill all {r.served_before['of']} users served "
                f"({min((row['users_served_after'] for row in kills), default=0)} at worst); rerun exit "
                f"{r.extra['rerun_exit']} in {r.extra['rerun_s']} s, resumed={r.extra['rerun_resumed']}, "
                f"{len(r.extra['versions_left'])} version left, lock released={not r.extra['lock_left']}"
            )
            reports.append(r)
            rows.append(fault_row(r, "during kills and rerun"))
            lost.append(lost_row(r, "users with a list in the active version"))
    finally:
        world.redis.kill()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    load = os.getloadavg()
    title = f"Faults injected and survived ({time.monotonic() - started:.0f} s; load average {load[0]:.2f})"
    emit(title, rows, None)
    print("\n## Nothing lost\n")
    print(markdown_table(lost))
    if kills:
        print("\n## Refresh kills\n")
        print(markdown_table(kills))
    broken = [msg for r in reports for msg in problems(r)]
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {"title": title, "rows": rows, "nothing_lost": lost, "refresh_kills": kills, "broken": broken}
        payload["reports"] = [r.as_dict() for r in reports]
        args.out.write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str))
    if broken:
        print("\nBROKEN:\n" + "\n".join(broken))
        sys.exit(1)


if __name__ == "__main__":
    main()
