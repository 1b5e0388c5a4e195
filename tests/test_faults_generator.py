"""The live generator raising or hanging inside a real uvicorn process (tests.faults.faulty_app wraps the loaded
generator through the documented `get_generator` override) under a concurrent load of users without a cached list.
Opt-in (`-m faults`): two service start-ups.

What must hold: every request answered 200; every uncached request answered from popularity; each fallback counted
in genrec_live_fallbacks_total with its reason (error when raising; deadline, then saturated at once when hanging);
cached users keep being answered from the cache. Correctness bound, not speed: with a 1 s live deadline and an 8 s
hang, no answer waits for the generator (every one comes well before the hang ends)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.generator_faults import generator_fault
from tests.faults.world import World, build_world

pytestmark = pytest.mark.faults


@pytest.fixture(autouse=True)
def _opted_in(request: pytest.FixtureRequest) -> None:
    marks = request.config.getoption("markexpr") or ""
    if "faults" not in marks or "not faults" in marks:
        pytest.skip("fault runs with real service processes: opt in with -m faults")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    built = build_world(tmp_path_factory.mktemp("faults"), users=120, cached=60, n_items=120)
    yield built
    built.redis.kill()


@pytest.mark.parametrize("mode", ["raise", "hang"])
def test_generator_fault_falls_back_to_popular_and_is_counted(world: World, mode: str) -> None:
    report = generator_fault(world, mode, duration_s=3.0, deadline_ms=1000, hang_s=8.0, threads=3)
    phase = report.phases["under fault"]
    assert phase.server_errors == 0 and set(phase.statuses) == {200}
    extra = report.extra
    assert extra["uncached_requests"] > 0
    assert extra["uncached_sources"] == {"popular": extra["uncached_requests"]}
    fallbacks = extra["fallbacks"]
    assert extra["fallbacks_total"] == extra["uncached_requests"]
    if mode == "raise":
        assert fallbacks["error"] == extra["uncached_requests"]
    else:
        assert fallbacks["deadline"] >= 1 and fallbacks["error"] == 0
        assert fallbacks["deadline"] + fallbacks["saturated"] == extra["uncached_requests"]
        assert extra["uncached_max_latency_s"] < 8.0 / 2  # nobody waited for the hung generation
    assert phase.sources.get("cache", 0) > 0
    assert report.served_before == report.served_after == {"cache": len(world.cached)}
