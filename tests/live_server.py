"""A real uvicorn serving the app in a thread of the test process (its lifespan included), for tests that drive it
with a synchronous client (Schemathesis, Hypothesis): the app runs on its own event loop, as in production."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from tests.faults.procs import free_port


@contextmanager
def uvicorn_thread(app: FastAPI) -> Iterator[str]:
    """Serve `app` on a free local port until the block ends; yields the base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(1200):
        if server.started or not thread.is_alive():
            break
        time.sleep(0.05)
    if not server.started:
        server.should_exit = True
        raise RuntimeError("uvicorn did not start (see the captured log)")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
