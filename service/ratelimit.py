"""Per-client rate limit of the write routes: a fixed window counted in Redis, so every worker and replica shares it.

Contract: `RateLimiter(limit, window_s, keys, metrics).hit(scope, client)` counts one write for `client` (a key id
or a client address) and returns None when it is within `limit` writes per `window_s` seconds, else the seconds to
wait (for Retry-After). One round trip: a Lua script INCRs the client's counter (`KeySchema.rate`) and sets its
expiry on the window's first write. The Redis client is the running app's (`scope["app"].state.services.client`).
When Redis does not answer, the limiter FAILS OPEN: the write is let through (the route itself then needs Redis
and answers 503 if it is still down), `genrec_redis_errors_total{op="rate_limit"}` counts it and a warning is
logged at most every 10 s. Client addresses are the socket's peer: behind a proxy, run uvicorn with
`--proxy-headers --forwarded-allow-ips` so the peer is the real client. It knows nothing about routes or keys.
"""

from __future__ import annotations

import hashlib
import math
import time

import redis

from model.cache.keys import KeySchema, check_user_id
from model.logs import get_logger
from service.metrics import Metrics, Scope

log = get_logger(__name__)

# INCR, and start the window on its first hit (or if a counter somehow lost its expiry); reply: count, ms left
_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"""
_WARN_EVERY_S = 10.0


def client_key_part(client: str) -> str:
    """`client` when it is a valid key part (key ids, IPv4/IPv6 addresses), else a digest of it."""
    try:
        return check_user_id(client)
    except ValueError:
        return "h:" + hashlib.sha256(client.encode()).hexdigest()[:16]


class RateLimiter:
    def __init__(self, limit: int, window_s: int, keys: KeySchema, metrics: Metrics) -> None:
        self.limit = limit
        self.window_s = window_s
        self.keys = keys
        self.metrics = metrics
        self._last_warning = 0.0
        self._window_ms = str(window_s * 1000).encode()

    async def hit(self, scope: Scope, client: str) -> int | None:
        services = getattr(scope["app"].state, "services", None)
        if services is None:  # no lifespan has run (yet): nothing to count with
            return None
        key = self.keys.rate(client_key_part(client))
        try:
            count, ttl_ms = await services.client.eval(_SCRIPT, 1, key, self._window_ms)
        except (redis.RedisError, OSError) as exc:
            self.metrics.redis_errors.labels("rate_limit").inc()
            now = time.monotonic()
            if now - self._last_warning > _WARN_EVERY_S:
                self._last_warning = now
                log.warning("rate limit not checked: redis unavailable; writes let through", error=str(exc))
            return None
        if int(count) <= self.limit:
            return None
        return max(1, math.ceil(int(ttl_ms) / 1000))
