"""Users' events since the dataset snapshot, and the set of users an incremental refresh must regenerate.

Contract:
- `record(user, items, timestamps)` prepends events to the user's list (newest first, capped at `max_events`) and
  adds the user to the dirty set; `events(user)` / `events_many(users)` return (item, ts) oldest first.
  A user's full history is the dataset sequence followed by these events (`full_history`).
- `take_dirty()` moves the dirty set aside atomically (MULTI over two keys of one hash slot) and returns it, so
  events that arrive while a refresh runs land in a fresh set; `finish_dirty()` drops the taken set after the
  refresh wrote those users. A refresh that dies in between leaves the taken set, and the next `take_dirty()`
  merges it back in.
Item indices are validated by the caller (the service knows the catalogue); this module knows nothing about models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import redis

from model.cache.keys import KeySchema


class Event(NamedTuple):
    item: int
    ts: int  # unix seconds


def _parse(raw: bytes | str) -> Event:
    text = raw.decode() if isinstance(raw, bytes) else raw
    item, _, ts = text.partition(":")
    return Event(int(item), int(ts or 0))


def full_history(base: Sequence[int], events: Sequence[Event]) -> list[int]:
    """The dataset sequence followed by the newer events, oldest first."""
    return [*base, *(e.item for e in events)]


class HistoryStore:
    def __init__(self, client: redis.Redis, keys: KeySchema, max_events: int = 200) -> None:
        if max_events < 1:
            raise ValueError(f"max_events must be >= 1, got {max_events}")
        self.client = client
        self.keys = keys
        self.max_events = max_events

    def record(self, user: str, items: Sequence[int], timestamps: Sequence[int]) -> None:
        """Append events (given oldest first) and mark the user dirty."""
        if len(items) != len(timestamps):
            raise ValueError(f"{len(items)} items but {len(timestamps)} timestamps")
        if not items:
            return
        key = self.keys.history(user)
        pipe = self.client.pipeline(transaction=True)  # one key: MULTI is cluster-safe
        pipe.lpush(key, *(f"{int(i)}:{int(t)}" for i, t in zip(items, timestamps, strict=True)))
        pipe.ltrim(key, 0, self.max_events - 1)
        pipe.execute()
        self.client.sadd(self.keys.dirty(), user)

    def events(self, user: str) -> list[Event]:
        return [_parse(r) for r in reversed(self.client.lrange(self.keys.history(user), 0, -1))]

    def events_many(self, users: Sequence[str]) -> list[list[Event]]:
        pipe = self.client.pipeline(transaction=False)
        for user in users:
            pipe.lrange(self.keys.history(user), 0, -1)
        return [[_parse(r) for r in reversed(raw)] for raw in pipe.execute()]

    def take_dirty(self) -> list[str]:
        """Move the dirty set aside (merging a taken set a dead refresh left) and return its users, sorted."""
        dirty, taken = self.keys.dirty(), self.keys.dirty_taken()
        pipe = self.client.pipeline(transaction=True)  # both keys share a hash tag: one slot, one MULTI
        pipe.sunionstore(taken, [taken, dirty])
        pipe.unlink(dirty)
        pipe.execute()
        return sorted(m.decode() if isinstance(m, bytes) else m for m in self.client.smembers(taken))

    def finish_dirty(self) -> None:
        self.client.unlink(self.keys.dirty_taken())

    def dirty_count(self) -> int:
        return int(self.client.scard(self.keys.dirty()))
