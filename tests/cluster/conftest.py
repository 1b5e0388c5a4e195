"""Fixtures of the cluster tests (marker `cluster`, opt in with -m cluster): a real 3-master Redis Cluster per module,
a tiny artifact of 300 users, and per-test key prefixes. Every test here is skipped unless -m names `cluster`."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from model.cache.client import Client, sync_client
from model.cache.keys import KeySchema
from tests.cluster.procs import OwnCluster
from tests.paths import REPO_ROOT
from tests.tiny_artifact import save_tiny_artifact

USERS = 300


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    marks = config.getoption("markexpr") or ""
    if "cluster" in marks and "not cluster" not in marks:
        return
    skip = pytest.mark.skip(reason="starts a Redis Cluster and Ray (minutes): opt in with -m cluster")
    for item in items:
        if "cluster" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnCluster]:
    own = OwnCluster(tmp_path_factory.mktemp("cluster")).start()
    yield own
    own.stop()


@pytest.fixture(scope="module")
def cluster_client(cluster: OwnCluster) -> Iterator[Client]:
    client = sync_client(cluster.url, socket_timeout=10)
    yield client
    client.close()


@pytest.fixture
def cluster_keys() -> KeySchema:
    return KeySchema(prefix="c" + uuid.uuid4().hex[:12])


@pytest.fixture(scope="session")
def artifact_300(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("art") / "tiny300"
    save_tiny_artifact(folder, n_users=USERS)
    return folder


@pytest.fixture(scope="session", autouse=True)
def _ray_workers_import_this_checkout() -> None:
    """Ray's worker processes inherit this environment: make them import the code under test."""
    path = os.environ.get("PYTHONPATH", "")
    if str(REPO_ROOT) not in path.split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), path) if p)
