"""Every Redis key the product uses is built here, and nowhere else.

Contract: keys are Redis Cluster-safe. All keys of one user carry the hash tag `{u:<user>}` so they live in one slot;
the few global keys (active pointer, version metadata, the dirty-user set, the refresh lock and checkpoint) are
single keys, and no command the product issues spans two users. A user id is the dataset's raw user id (a string);
ids outside the `token` rule of `model.ids` (braces, whitespace, control characters would break the schema) are
refused here.
Versions are short tokens (the refresh job derives them from the model hash and a timestamp).

On a Redis Cluster (`redis+cluster://`, `model.cache.client`): each user's keys live on the node owning their tag's
slot, so the service reads a user's list and events in one round trip to that node. The global keys (the active
pointer, each version's metadata and checkpoint, the lock) are single keys on whichever node owns their slot; every
reader reaches them through the cluster client, which routes a key to its node, and no command combines a global key
with a user's key, so users on every node see the same pointer and metadata. The service keeps the pointer in memory
(re-read every few seconds), so its hot path never touches a global key. The two dirty-set keys share the tag
`{rec:dirty}`, so the atomic move between them is one slot. Removing a version SCANs every master.

Layout, with the default prefix `rec`:
    rec:active                     -> the version being served (string)
    rec:meta:<version>             -> hash: model_version, dataset_hash, created_at, users, k, state
    rec:l:<version>:{u:<user>}     -> the user's top-K list in that version (codec bytes)
    rec:h:{u:<user>}               -> the user's events since the dataset snapshot ("item:unix_ts", newest first)
    {rec:dirty}                    -> set of users with events since the last incremental refresh
    {rec:dirty}:taken              -> the users an incremental refresh has taken and not yet finished
    rec:lock                       -> the refresh lock (token, with expiry)
    rec:ckpt:<version>             -> the refresh checkpoint of a version in progress (hash)
    rec:rl:{c:<client>}            -> the service's write count of one client in the current window (with expiry)
This module knows nothing about what the values contain.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from model.ids import TOKEN_IDS, InvalidIdError

_SAFE_VERSION = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


def check_user_id(user: str) -> str:
    """Return `user` if it can be a key part, else raise ValueError (`InvalidIdError`) naming it."""
    try:
        return TOKEN_IDS.check(user)
    except InvalidIdError:
        raise InvalidIdError(
            f"user id {user!r} is not valid: use 1-128 characters from letters, digits and _ . : @ -"
        ) from None


def check_version(version: str) -> str:
    if not _SAFE_VERSION.fullmatch(version):
        raise ValueError(f"cache version {version!r} is not valid: use 1-64 characters from letters, digits, _ . -")
    return version


@dataclass(frozen=True, slots=True)
class KeySchema:
    prefix: str = "rec"

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_\-]{1,32}", self.prefix):
            raise ValueError(f"cache key prefix {self.prefix!r} is not valid: 1-32 letters, digits, _ or -")

    # global keys ---------------------------------------------------------------------------------------------
    def active(self) -> str:
        return f"{self.prefix}:active"

    def meta(self, version: str) -> str:
        return f"{self.prefix}:meta:{check_version(version)}"

    def meta_pattern(self) -> str:
        """SCAN MATCH pattern for every version's metadata key."""
        return f"{self.prefix}:meta:*"

    def version_of_meta(self, key: str) -> str:
        """The version a `meta(version)` key names (the inverse of `meta`)."""
        head = f"{self.prefix}:meta:"
        if not key.startswith(head):
            raise ValueError(f"{key!r} is not a version metadata key of prefix {self.prefix!r}")
        return check_version(key[len(head) :])

    def dirty(self) -> str:
        return f"{{{self.prefix}:dirty}}"

    def dirty_taken(self) -> str:
        """Same hash tag as `dirty()`, so RENAME / SUNIONSTORE between the two stay in one slot."""
        return f"{{{self.prefix}:dirty}}:taken"

    def lock(self) -> str:
        return f"{self.prefix}:lock"

    def checkpoint(self, version: str) -> str:
        return f"{self.prefix}:ckpt:{check_version(version)}"

    # per-user keys (one slot per user) -----------------------------------------------------------------------
    def recs(self, version: str, user: str) -> str:
        return f"{self.prefix}:l:{check_version(version)}:{{u:{check_user_id(user)}}}"

    def recs_many(self, version: str, users: Iterable[str]) -> list[str]:
        """`recs(version, u)` for many users at once (the version is checked once): the refresh job's hot path."""
        head = f"{self.prefix}:l:{check_version(version)}:{{u:"
        return [f"{head}{check_user_id(u)}}}" for u in users]

    def recs_pattern(self, version: str) -> str:
        """SCAN MATCH pattern for every user list of one version (for removing an old version)."""
        return f"{self.prefix}:l:{check_version(version)}:*"

    def history(self, user: str) -> str:
        return f"{self.prefix}:h:{{u:{check_user_id(user)}}}"

    # per-client keys (the service's rate limit) ---------------------------------------------------------------
    def rate(self, client: str) -> str:
        """A client's (key id or address) write counter; refused like a user id if it could break the schema."""
        return f"{self.prefix}:rl:{{c:{check_user_id(client)}}}"
