"""The user-id rule: which strings are user ids, in one place for the cache keys, the API and its documentation.

Contract: a user id is the dataset's raw user id, a string. Two formats exist: `token` (1-128 of letters, digits and
`_ . : @ -`, the characters a cache key can carry without breaking its layout: no braces, whitespace or control
characters) and `int` (1-20 decimal digits, a subset of `token`). The cache accepts any `token`; a service
configured with `int` refuses other ids before touching Redis. `UserIdRule(fmt).check(user)` returns the id or
raises `InvalidIdError` whose message names the value and the rule; `.pattern` is the regular expression the API
documents. `max_id` (the `int` format only) bounds the ids a service admits for users it has never seen:
`admits_new(user)` is False above it, so garbage ids (a scanner walking the id space) get no answer and leave nothing
in Redis, while new accounts, numbered upwards by the system that creates them, are served from their first
request. It knows nothing about Redis or HTTP.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

IdFormat = Literal["int", "token"]
USER_ID_FORMATS: dict[str, tuple[str, str]] = {
    # format -> (regular expression, what it means in words)
    "int": (r"[0-9]{1,20}", "a non-negative integer"),
    "token": (r"[A-Za-z0-9_.:@\-]{1,128}", "1-128 of letters, digits, _ . : @ -"),
}


class InvalidIdError(ValueError):
    """A string that is not a user id under the rule in force."""


@dataclass(frozen=True, slots=True)
class UserIdRule:
    fmt: IdFormat = "token"
    max_id: int | None = None  # int format: the highest id admitted for a user the model has never seen
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.fmt not in USER_ID_FORMATS:
            raise ValueError(f"user id format {self.fmt!r} is not one of {', '.join(USER_ID_FORMATS)}")
        if self.max_id is not None and (self.fmt != "int" or self.max_id < 0):
            raise ValueError(f"max_id needs the int format and a non-negative bound; got {self.max_id!r} ({self.fmt})")
        object.__setattr__(self, "_regex", re.compile(USER_ID_FORMATS[self.fmt][0]))

    def admits_new(self, user: str) -> bool:
        """Whether a checked id may be served although the model has never seen the user (see the contract)."""
        return self.max_id is None or int(user) <= self.max_id

    @property
    def pattern(self) -> str:
        return USER_ID_FORMATS[self.fmt][0]

    def check(self, user: str) -> str:
        if not self._regex.fullmatch(user):
            raise InvalidIdError(f"user_id must be {USER_ID_FORMATS[self.fmt][1]} (got {user!r})")
        return user


TOKEN_IDS = UserIdRule("token")
