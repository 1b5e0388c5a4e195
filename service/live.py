"""Live generation on a cache miss: a CPU-bound generator run in worker threads, bounded and under a deadline.

Contract: `LiveRunner.top_k(generator, history, k, on_result)` admits a request only while fewer than
`concurrency + queue` are admitted (beyond that it raises `LiveUnavailableError("saturated")` at once: they don't wait),
runs at most `concurrency` generations at once on its own thread pool, and waits at most `deadline_s` (queueing
included) before raising `LiveUnavailableError("deadline")`. A generation that finishes after the deadline still runs
`on_result` (the caller's cache write-back), so the work is not lost. A generator that raises gives
`LiveUnavailableError("error")`; no generator gives `LiveUnavailableError("not_loaded")`. Each outcome is counted
in Metrics.
The generator is anything with `recommend(histories, k) -> list[list[ScoredItem]]` (the Recommender); this module
knows nothing about Redis, HTTP or which model runs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from model.generate import ScoredItem
from model.logs import get_logger
from service.metrics import Metrics

log = get_logger(__name__)


class ItemGenerator(Protocol):
    def recommend(self, histories: Sequence[Sequence[int]], k: int) -> list[list[ScoredItem]]: ...


class LiveUnavailableError(Exception):
    """Live generation gave no answer in time; `reason` is deadline, saturated, error or not_loaded."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


OnResult = Callable[[list[ScoredItem]], Awaitable[None]]


class LiveRunner:
    def __init__(self, concurrency: int, queue: int, deadline_s: float, metrics: Metrics) -> None:
        self.concurrency = concurrency
        self.queue = queue
        self.deadline_s = deadline_s
        self.metrics = metrics
        self._slots = asyncio.Semaphore(concurrency)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="live")
        self.admitted = 0
        self._tasks: set[asyncio.Task[list[ScoredItem]]] = set()

    async def top_k(
        self, generator: ItemGenerator | None, history: Sequence[int], k: int, on_result: OnResult | None = None
    ) -> list[ScoredItem]:
        if generator is None:
            raise self._fail("not_loaded")
        if self.admitted >= self.concurrency + self.queue:
            raise self._fail("saturated")
        self.admitted += 1
        task = asyncio.ensure_future(self._run(generator, list(history), k, on_result))
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        try:
            async with asyncio.timeout(self.deadline_s):
                return await asyncio.shield(task)
        except TimeoutError:
            self.metrics.live_timeouts.inc()
            raise self._fail("deadline") from None
        except Exception as exc:
            log.warning("live generation failed", error=repr(exc))
            raise self._fail("error") from exc

    def _fail(self, reason: str) -> LiveUnavailableError:
        self.metrics.live_fallbacks.labels(reason).inc()
        return LiveUnavailableError(reason)

    def _finished(self, task: asyncio.Task[list[ScoredItem]]) -> None:
        self.admitted -= 1
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            pass  # retrieved here so a late failure (after the deadline) is not reported as never retrieved

    async def _run(
        self, generator: ItemGenerator, history: list[int], k: int, on_result: OnResult | None
    ) -> list[ScoredItem]:
        self.metrics.live_queue.inc()
        try:
            await self._slots.acquire()
        finally:
            self.metrics.live_queue.dec()
        try:
            self.metrics.live_running.inc()
            start = time.perf_counter()
            loop = asyncio.get_running_loop()
            ranked = (await loop.run_in_executor(self._pool, generator.recommend, [history], k))[0]
            self.metrics.live_seconds.observe(time.perf_counter() - start)
        finally:
            self.metrics.live_running.dec()
            self._slots.release()
        if on_result is not None:
            await on_result(ranked)
        return ranked

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)
