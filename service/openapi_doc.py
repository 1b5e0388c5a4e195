"""The OpenAPI document's security part, which depends on the settings: schemes, per-operation requirements and the
answers the access guard gives (401, 403, 429) before any route runs.

Contract: `install(app, settings)` replaces `app.openapi` with one that builds FastAPI's document once, then states
the `user_id` path parameter's pattern for the configured `user_id_format` (a mismatch is 422), adds the
`ApiKey` (header X-API-Key) and `Bearer` schemes, marks every write operation (all but GET/HEAD) and, with
`read_auth=key`, the `/users/...` reads as needing either scheme, and documents their 401/403/429 `ErrorBody`
answers (429 with Retry-After). It knows nothing about how keys are checked (service.auth).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from model.ids import UserIdRule
from model.settings import ServiceSettings

_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": _ERROR_REF}}}
    if headers:
        out["headers"] = headers
    return out


def _patch(doc: dict[str, Any], settings: ServiceSettings) -> dict[str, Any]:
    components = doc.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(
        {
            "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "Bearer": {"type": "http", "scheme": "bearer"},
        }
    )
    keyed = settings.api_keys is not None or settings.read_api_keys is not None
    user_id = UserIdRule(settings.user_id_format).pattern
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            for answer in operation.get("responses", {}).values():
                for media in answer.get("content", {}).values():
                    schema = media.get("schema", {})
                    if "$ref" in schema:  # a Response subclass adds {"type": "string"} beside the model's $ref
                        media["schema"] = {"$ref": schema["$ref"]}
            for parameter in operation.get("parameters", ()):
                if parameter.get("name") == "user_id" and parameter.get("in") == "path":
                    parameter["schema"] = {"type": "string", "pattern": f"^{user_id}$", "title": "User Id"}
            write = method.upper() not in ("GET", "HEAD")
            if write and "requestBody" in operation:
                _cap_list_body(operation["requestBody"], settings.max_events_per_post)
            responses = operation.setdefault("responses", {})
            if write:
                responses["429"] = _error(
                    "Over the per-client write limit",
                    {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
                )
            if (write and keyed) or (not write and settings.read_auth == "key" and path.startswith("/users/")):
                operation["security"] = [{"ApiKey": []}, {"Bearer": []}]
                responses["401"] = _error("No API key, or an unknown one")
                if write:
                    responses["403"] = _error("A read-only API key on a write route")
    return doc


def _cap_list_body(body: dict[str, Any], cap: int) -> None:
    """The events body's list form holds at most `max_events_per_post` events (more is 413)."""
    for media in body.get("content", {}).values():
        for branch in media.get("schema", {}).get("anyOf", ()):
            if branch.get("type") == "array":
                branch["maxItems"] = min(cap, branch.get("maxItems", cap))


def install(app: FastAPI, settings: ServiceSettings) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = _patch(doc, settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
