"""What the app holds while it runs: built by the lifespan, read by the dependencies in `service.deps`.

Contract: `Services` is created once per worker process at start-up and closed at shutdown. `generator` is None
when live generation is disabled or the LM failed to load (`generator_error` says why); the rest is always present.
It knows nothing about HTTP routes.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.cache.client import AsyncClient, Client
from model.cache.history import HistoryStore
from model.cache.keys import KeySchema
from model.ids import UserIdRule
from model.settings import ServiceSettings
from service.catalogue import Catalogue
from service.cluster_io import ClusterHotReader
from service.live import ItemGenerator, LiveRunner
from service.metrics import Metrics
from service.recommend import RecommendPath
from service.redis_io import ActiveVersion, HotReader


@dataclass
class Services:
    settings: ServiceSettings
    keys: KeySchema
    user_ids: UserIdRule  # the user-id format in force (GENREC_USER_ID_FORMAT)
    catalogue: Catalogue
    metrics: Metrics
    reader: HotReader | ClusterHotReader
    client: AsyncClient  # async client: write-back, version poller, readiness
    sync_client: Client  # for HistoryStore (run in a worker thread)
    history: HistoryStore
    version: ActiveVersion
    live: LiveRunner
    path: RecommendPath
    generator: ItemGenerator | None
    generator_error: str | None
