"""Users' events since the dataset snapshot, and the set of users an incremental refresh must regenerate.

Contract:
- `record(user, items, timestamps)` prepends events to the user's list (newest first, capped at `max_events`) and
  adds the user to the dirty set; `events(user)` / `events_many(users)` return (item, ts) oldest first.
  A user's full history is the dataset sequence followed by these events (`full_history`).
- `take_dirty()` moves the dirty set aside atomically (one Lua script over two keys of one hash slot) and returns it, so
  events that arrive while a refresh runs land in a fresh set; `finish_dirty()` drops the taken set after the
  refresh wrote those users. A refresh that dies in between leaves the taken set, and the next `take_dirty()`
  merges it back in.
- An entry is `b"<item index>:<unix seconds>"` (`encode_entry`); `decode_entries(raw, n_items)` reads a list of them
  back as stored (newest first) and skips what is not such a pair, or (with `n_items`) names an item outside the
  catalogue: a corrupt entry must never fail a request or a refresh. Every reader of `keys.history` goes through it.
Item indices are validated by the caller (the service knows the catalogue); this module knows nothing about models.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from model.cache.client import Client
from model.cache.keys import KeySchema


class Event(NamedTuple):
    item: int
    ts: int  # unix seconds


def encode_entry(item: int, ts: int) -> bytes:
    return b"%d:%d" % (item, ts)


def decode_entries(raw: Iterable[bytes | str], n_items: int | None = None) -> list[Event]:
    """Stored entries (newest first) -> Events in the same order, corrupt or foreign ones skipped."""
    out = []
    for entry in raw:
        text = entry.encode() if isinstance(entry, str) else entry
        item, _, ts = text.partition(b":")
        try:
            event = Event(int(item), int(ts or 0))
        except ValueError:
            continue
        if n_items is None or 0 <= event.item < n_items:
            out.append(event)
    return out


def full_history(base: Sequence[int], events: Sequence[Event]) -> list[int]:
    """The dataset sequence followed by the newer events, oldest first."""
    return [*base, *(e.item for e in events)]


# merge the dirty set into the taken set and drop it, atomically: KEYS[1] dirty, KEYS[2] taken
_TAKE = "redis.call('sunionstore', KEYS[2], KEYS[2], KEYS[1]) redis.call('unlink', KEYS[1]) return 1"


class HistoryStore:
    def __init__(self, client: Client, keys: KeySchema, max_events: int = 200) -> None:
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
        pipe.lpush(key, *(encode_entry(int(i), int(t)) for i, t in zip(items, timestamps, strict=True)))
        pipe.ltrim(key, 0, self.max_events - 1)
        pipe.execute()
        self.client.sadd(self.keys.dirty(), user)

    def events(self, user: str) -> list[Event]:
        return decode_entries(self.client.lrange(self.keys.history(user), 0, -1))[::-1]

    def events_many(self, users: Sequence[str]) -> list[list[Event]]:
        pipe = self.client.pipeline(transaction=False)
        for user in users:
            pipe.lrange(self.keys.history(user), 0, -1)
        return [decode_entries(raw)[::-1] for raw in pipe.execute()]

    def take_dirty(self) -> list[str]:
        """Move the dirty set aside (merging a taken set a dead refresh left) and return its users, sorted."""
        dirty, taken = self.keys.dirty(), self.keys.dirty_taken()
        # both keys share a hash tag: one slot, so one script runs the move atomically on a cluster too (redis-py's
        # cluster pipeline refuses SUNIONSTORE even inside MULTI)
        self.client.eval(_TAKE, 2, dirty, taken)
        return sorted(m.decode() if isinstance(m, bytes) else m for m in self.client.smembers(taken))

    def finish_dirty(self) -> None:
        self.client.unlink(self.keys.dirty_taken())

    def dirty_count(self) -> int:
        return int(self.client.scard(self.keys.dirty()))
