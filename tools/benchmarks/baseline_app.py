"""The benchmark's baseline: the least a FastAPI endpoint can do to serve a cached list — one redis-py (asyncio) GET
of the user's key, the bytes returned as they are. No validation, no decoding, no metrics, no fallbacks.

Configured by BASELINE_REDIS_URL and BASELINE_KEY (a template with `{user}`, e.g. `rec:l:v1:{{u:{user}}}`).
Run: `uvicorn tools.benchmarks.baseline_app:app --workers 2`.
"""

from __future__ import annotations

import os

import redis.asyncio as aioredis
from fastapi import FastAPI, Response

_client = aioredis.Redis.from_url(os.environ.get("BASELINE_REDIS_URL", "redis://127.0.0.1:6379/0"))
_key = os.environ.get("BASELINE_KEY", "rec:l:v1:{{u:{user}}}")
app = FastAPI()


@app.get("/users/{user_id}/recommendations")
async def recommendations(user_id: str) -> Response:
    blob = await _client.get(_key.format(user=user_id))
    return Response(blob or b"", media_type="application/octet-stream")
