"""The HTTP API's documented shapes: response models for OpenAPI and the events request body.

Contract: `Recommendations` documents exactly what `service.answer.render` writes (the route returns those bytes
without re-validating them); `EventIn` / `EventsBody` validate the feedback body. `ErrorBody` is every 4xx/5xx body:
each problem names the field and the value. These models know nothing about Redis or the model.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class RecommendedItem(BaseModel):
    id: str = Field(description="The item's raw id (the dataset's).")
    title: str
    score: float | None = Field(description="Log-probability under the model; null for popularity answers.")
    rank: int = Field(ge=1, description="1-based position in the user's full list (offset + position).")


class Recommendations(BaseModel):
    user_id: str
    source: Literal["cache", "live", "popular"]
    model_version: str
    generated_at: int = Field(description="Unix seconds when the list was generated.")
    k: int
    offset: int
    items: list[RecommendedItem]


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item: Annotated[str, Field(min_length=1, max_length=128)] | int = Field(description="The item's raw id.")
    ts: int | None = Field(default=None, ge=0, lt=1 << 32, description="Unix seconds; default: now.")


class EventsAccepted(BaseModel):
    user_id: str
    recorded: int


class Problem(BaseModel):
    field: str
    value: Any = None
    message: str
    loc: list[str | int] = Field(default_factory=list)


class ErrorBody(BaseModel):
    detail: list[Problem]


class Readiness(BaseModel):
    ready: bool
    reasons: list[str]
    active_version: str | None
    model_version: str
