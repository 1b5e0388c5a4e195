"""API keys: who may read and who may write, checked before any route runs.

Contract: `Keyring(write_keys, read_keys)` holds the configured keys; `identify(headers)` finds the caller's key in
`Authorization: Bearer <key>` (first) or `X-API-Key: <key>` and returns a `Caller` (the key's short id, never the
key, and whether it may write) or None for a missing or unknown key. Every configured key is compared with
`hmac.compare_digest`, all of them on every call, so the time taken says nothing about which key nearly matched.
A key id is the first 12 hex digits of the key's SHA-256: it names the caller in rate limits and logs.

`AccessGuard` is the ASGI middleware that applies the policy:
- writes (every method but GET/HEAD: events, and any invalidation or refresh trigger added later) need a write key:
  401 without a known key, 403 with a read-only key. With no key configured at all (development mode only: settings
  refuse production without one) writes are open;
- reads of `/users/...` need a read or write key when `read_auth=key`; when reads are public the guard costs one
  method test and one attribute read per GET (the GET route keeps its speed);
- `/healthz`, `/readyz`, `/metrics` and the OpenAPI pages are always public (keep them off the internet or behind
  the ingress);
- an allowed write then passes the per-client rate limit (`service.ratelimit`): 429 with Retry-After.
Rejections are `ErrorBody` JSON naming the field (`authorization`, `rate_limit`); they never echo a key.
It knows nothing about the routes behind it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from service.metrics import ASGIApp, Metrics, Receive, Scope, Send
from service.ratelimit import RateLimiter

_READS = frozenset({"GET", "HEAD"})
_REALM = b'Bearer realm="genrec"'


def key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Caller:
    key_id: str
    can_write: bool


class Keyring:
    def __init__(self, write_keys: Iterable[str], read_keys: Iterable[str] = ()) -> None:
        entries = [(k.encode(), Caller(key_id(k), True)) for k in write_keys]
        entries += [(k.encode(), Caller(key_id(k), False)) for k in read_keys]
        self._entries = entries

    @property
    def empty(self) -> bool:
        return not self._entries

    def identify(self, headers: Iterable[tuple[bytes, bytes]]) -> Caller | None:
        offered = _offered_key(headers)
        if offered is None:
            return None
        found = None
        for key, caller in self._entries:  # no early exit: every key is compared
            if hmac.compare_digest(key, offered) and found is None:
                found = caller
        return found


def _offered_key(headers: Iterable[tuple[bytes, bytes]]) -> bytes | None:
    bearer = header_key = None
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                bearer = token.strip()
        elif name == b"x-api-key" and value.strip():
            header_key = value.strip()
    return bearer if bearer is not None else header_key


async def reject(
    send: Send, status: int, field: str, value: object, message: str, headers: list[tuple[bytes, bytes]]
) -> None:
    body = orjson.dumps({"detail": [{"field": field, "value": value, "message": message, "loc": ["header", field]}]})
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


class AccessGuard:
    def __init__(
        self, app: ASGIApp, keyring: Keyring, read_keyed: bool, limiter: RateLimiter | None, metrics: Metrics
    ) -> None:
        self.app = app
        self.keyring = keyring
        self.read_keyed = read_keyed
        self.limiter = limiter
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] in _READS:
            if self.read_keyed and scope["path"].startswith("/users/") and not await self._check(scope, send, False):
                return
            await self.app(scope, receive, send)
            return
        if self.keyring.empty:  # development mode without keys: writes are open, still rate limited per address
            client = scope.get("client")
            caller_id = f"ip:{client[0]}" if client else "ip:unknown"
        else:
            caller = await self._check(scope, send, True)
            if caller is None:
                return
            caller_id = f"key:{caller.key_id}"
        if self.limiter is not None:
            retry_after = await self.limiter.hit(scope, caller_id)
            if retry_after is not None:
                self.metrics.rate_limited.inc()
                limit = self.limiter.limit
                message = f"over {limit} writes per {self.limiter.window_s} s for this client; retry in {retry_after} s"
                await reject(send, 429, "rate_limit", limit, message, [(b"retry-after", str(retry_after).encode())])
                return
        await self.app(scope, receive, send)

    async def _check(self, scope: Scope, send: Send, write: bool) -> Caller | None:
        caller = self.keyring.identify(scope.get("headers", ()))
        if caller is None:
            self.metrics.auth_rejected.labels("401").inc()
            what = "a write" if write else "an"
            message = f"{what} API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
            await reject(send, 401, "authorization", None, message, [(b"www-authenticate", _REALM)])
            return None
        if write and not caller.can_write:
            self.metrics.auth_rejected.labels("403").inc()
            message = f"API key {caller.key_id} may only read; this route needs a write key"
            await reject(send, 403, "authorization", caller.key_id, message, [])
            return None
        return caller
