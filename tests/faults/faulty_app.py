"""An app factory for uvicorn whose live generator fails on purpose: `uvicorn --factory
tests.faults.faulty_app:create_app`, with GENREC_FAULT_GENERATOR=raise (every generation raises RuntimeError) or
hang (every generation sleeps GENREC_FAULT_HANG_S seconds, default 30, far past the deadline, then returns nothing).

Contract: the app is `service.app.create_app()` unchanged (settings from GENREC_* variables); the fault goes in
through the documented override point, `app.dependency_overrides[get_generator]` (service.deps), wrapping the real
generator the lifespan loaded, so the request path, the LiveRunner, its thread pool and the metrics are the real
ones. For fault scenarios only; nothing in the service imports it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from fastapi import FastAPI

from model.generate import ScoredItem
from service.app import create_app as create_service_app
from service.deps import get_generator
from service.live import ItemGenerator


class RaisingGenerator:
    def __init__(self, inner: ItemGenerator | None) -> None:
        self.inner = inner

    def recommend(self, histories: Sequence[Sequence[int]], k: int) -> list[list[ScoredItem]]:
        raise RuntimeError("injected generator failure")


class HangingGenerator:
    def __init__(self, inner: ItemGenerator | None, seconds: float) -> None:
        self.inner, self.seconds = inner, seconds

    def recommend(self, histories: Sequence[Sequence[int]], k: int) -> list[list[ScoredItem]]:
        time.sleep(self.seconds)
        return [[] for _ in histories]


def create_app() -> FastAPI:
    app = create_service_app()
    mode = os.environ.get("GENREC_FAULT_GENERATOR", "raise")
    hang_s = float(os.environ.get("GENREC_FAULT_HANG_S", "30"))
    if mode not in ("raise", "hang"):
        raise ValueError(f"GENREC_FAULT_GENERATOR must be raise or hang, got {mode!r}")

    def faulty() -> ItemGenerator:
        inner = app.state.services.generator
        return RaisingGenerator(inner) if mode == "raise" else HangingGenerator(inner, hang_s)

    app.dependency_overrides[get_generator] = faulty
    return app
