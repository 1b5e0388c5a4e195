"""Dependency aliases (`Annotated[..., Depends()]`): the routes' only way to reach the running app's parts.

Contract: each getter reads `request.app.state.services` (set by the lifespan); tests swap any of them with
`app.dependency_overrides[getter] = ...` (e.g. `get_generator` for a generator that raises or sleeps). All are
`async def` of the request alone, so FastAPI calls them inline rather than in its thread pool and
`service.fastroute.LeanRoute` can call them without FastAPI's solver. They know nothing about the recommend logic.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from model.cache.history import HistoryStore
from model.settings import ServiceSettings
from service.catalogue import Catalogue
from service.live import ItemGenerator
from service.recommend import RecommendPath
from service.state import Services


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_path(request: Request) -> RecommendPath:
    return (await get_services(request)).path


async def get_generator(request: Request) -> ItemGenerator | None:
    return (await get_services(request)).generator


async def get_history(request: Request) -> HistoryStore:
    return (await get_services(request)).history


async def get_catalogue(request: Request) -> Catalogue:
    return (await get_services(request)).catalogue


async def get_settings(request: Request) -> ServiceSettings:
    return (await get_services(request)).settings


ServicesDep = Annotated[Services, Depends(get_services)]
PathDep = Annotated[RecommendPath, Depends(get_path)]
GeneratorDep = Annotated[ItemGenerator | None, Depends(get_generator)]
HistoryDep = Annotated[HistoryStore, Depends(get_history)]
CatalogueDep = Annotated[Catalogue, Depends(get_catalogue)]
SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]
