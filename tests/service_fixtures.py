"""Fixtures for the service tests: a real tiny model artifact (saved once per session), a cache filled through
CacheStore + encode under the test's random key prefix, and the app run with its lifespan over httpx's ASGI
transport. Nothing is mocked: the model is a real tiny LM, Redis is real."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import redis
from fastapi import FastAPI

from model.cache.codec import encode
from model.cache.keys import KeySchema
from model.cache.store import CacheStore, VersionMeta
from model.data.records import InteractionDataset, Item
from model.settings import ServiceSettings
from service.app import create_app
from service.deps import get_services
from tests.conftest import make_tiny_setup
from tests.redis_fixtures import REDIS_URL
from tests.tiny_artifact import save_setup

N_ITEMS = 60
EMPTY_USER = "13"  # a known user whose dataset history is empty
CACHED_USERS = ("1", "2", "3")


def raw(i: int) -> str:
    """The toy catalogue's raw id of item index i."""
    return str(5000 + i)


def toy_dataset() -> InteractionDataset:
    rng = np.random.default_rng(5)
    items = [Item(i, raw(i), f"title {i}") for i in range(N_ITEMS)]
    seqs = [rng.choice(N_ITEMS, size=int(rng.integers(3, 8)), replace=False).tolist() for _ in range(12)]
    seqs.append([])
    return InteractionDataset("toy", items, [str(u) for u in range(1, 14)], seqs)


def save_toy_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The toy dataset with a real tiny LM saved as a model artifact (test modules wrap it in a session fixture)."""
    folder = tmp_path_factory.mktemp("svc") / "artifact"
    save_setup(folder, make_tiny_setup(n_items=N_ITEMS, level_sizes=(4, 4, 4), seed=1), toy_dataset())
    return folder


@dataclass
class Cached:
    items: list[int]
    scores: list[float]
    generated_at: int


def fill_cache(client: redis.Redis, keys: KeySchema, model_version: str, version: str = "v1") -> dict[str, Cached]:
    """A complete, active cache version with K=50 lists for CACHED_USERS, generated 100 s ago; like refresh's lists,
    none holds an item of the user's own dataset history."""
    store = CacheStore(client, keys)
    store.create_version(VersionMeta(version, model_version, "dh", k=50, created_at=int(time.time())))
    rng = np.random.default_rng(7)
    lists = {}
    stamp = int(time.time()) - 100
    data = toy_dataset()
    with store.writer(version) as writer:
        for user in CACHED_USERS:
            seen = set(data.sequences[data.user_ids.index(user)])
            items = [int(i) for i in rng.permutation(N_ITEMS) if int(i) not in seen][:50]
            scores = sorted((-rng.uniform(0.1, 9.0, 50)).tolist(), reverse=True)
            writer.add(user, encode(items, scores, stamp))
            lists[user] = Cached(items, scores, stamp)
    store.activate(version, users=len(lists))
    return lists


def settings_for(artifact_dir: Path, keys: KeySchema, redis_url: str = REDIS_URL, **overrides: Any) -> ServiceSettings:
    values: dict[str, Any] = {
        "artifact": artifact_dir,
        "redis_url": redis_url,
        "cache_prefix": keys.prefix,
        "live_deadline_ms": 60_000,  # generous: the machine is shared; deadline tests set their own
        "version_refresh_s": 0.05,
        **overrides,
    }
    return ServiceSettings(**values)


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://genrec.test") as client:
            yield client


def standard_path(app: FastAPI) -> None:
    """Make every route take FastAPI's own request handling (service.fastroute.LeanRoute steps aside while an
    override names one of its dependencies; this one changes nothing else)."""
    app.dependency_overrides[get_services] = get_services


@asynccontextmanager
async def running(settings: ServiceSettings, lean: bool = True) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app with its lifespan; `lean=False` answers through FastAPI's standard handler instead of LeanRoute's."""
    app = create_app(settings)
    if not lean:
        standard_path(app)
    async with serve(app) as client:
        yield app, client


def metric_value(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text exposition (0.0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        sample, _, rest = head.partition("{")
        if sample != name:
            continue
        got = rest.rstrip("}")
        if all(part in got.split(",") for part in want.split(",") if part) or (not want and not got):
            return float(value)
    return 0.0
