"""A Redis lock with expiry, so two refreshes never write at once and a killed one does not block forever.

Contract: `acquire()` sets the lock key to a random token with NX and a TTL, waiting up to `wait_s`; `renew()`
extends the TTL and `release()` deletes the key, both only while the key still holds our token (checked in a Lua
script, so a holder whose lock expired can never delete its successor's). A holder that stops renewing loses the
lock after `ttl_s`; `renew()` then raises `LockLostError`. It knows nothing about what the lock protects.
"""

from __future__ import annotations

import time
import uuid

from model.cache.client import Client
from model.errors import UserError

_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class LockBusyError(UserError):
    """Another refresh holds the lock."""


class LockLostError(RuntimeError):
    """Our lock expired (or was taken over) while we were working."""


class RefreshLock:
    def __init__(self, client: Client, key: str, ttl_s: float = 120.0, wait_s: float = 0.0) -> None:
        if ttl_s <= 0 or wait_s < 0:
            raise ValueError(f"lock ttl_s must be > 0 and wait_s >= 0, got {ttl_s} and {wait_s}")
        self.client, self.key, self.ttl_ms, self.wait_s = client, key, int(ttl_s * 1000), wait_s
        self.token = uuid.uuid4().hex

    def acquire(self) -> None:
        deadline = time.monotonic() + self.wait_s
        while not self.client.set(self.key, self.token, nx=True, px=self.ttl_ms):
            if time.monotonic() >= deadline:
                left = self.client.pttl(self.key)
                raise LockBusyError(
                    f"another refresh holds the lock {self.key!r} (expires in {max(0, int(left)) / 1000:.0f} s); "
                    "wait for it to finish, or pass --wait-lock SECONDS"
                )
            time.sleep(0.2)

    def renew(self) -> None:
        if not self.client.eval(_RENEW, 1, self.key, self.token, self.ttl_ms):
            raise LockLostError(f"the refresh lock {self.key!r} expired or was taken over; stopping without flipping")

    def release(self) -> None:
        self.client.eval(_RELEASE, 1, self.key, self.token)
