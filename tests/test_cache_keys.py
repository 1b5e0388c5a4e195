"""Key schema: one slot per user (Redis Cluster), distinct keys per version, unsafe ids refused."""

import pytest
from redis.crc import key_slot

from model.cache.keys import KeySchema


def test_user_keys_share_one_slot() -> None:
    keys = KeySchema()
    for user in ["1", "42", "A2SUAM1J3GNN3B", "user@example.com"]:
        slots = {key_slot(k.encode()) for k in (keys.recs("v1", user), keys.recs("v2", user), keys.history(user))}
        assert len(slots) == 1, user


def test_users_spread_over_slots() -> None:
    keys = KeySchema()
    slots = {key_slot(keys.history(str(u)).encode()) for u in range(1000)}
    assert len(slots) > 900


def test_versions_and_prefix_are_part_of_keys() -> None:
    a, b = KeySchema("rec"), KeySchema("staging")
    assert a.recs("v1", "7") != a.recs("v2", "7")
    assert a.recs("v1", "7") != b.recs("v1", "7")
    assert a.recs("v1", "7").startswith(a.recs_pattern("v1")[:-1])


@pytest.mark.parametrize("user", ["", "a b", "x}y", "{u:1}", "a\nb", "x" * 129])
def test_unsafe_user_ids_refused(user: str) -> None:
    with pytest.raises(ValueError, match="user id"):
        KeySchema().history(user)


@pytest.mark.parametrize("version", ["", "a:b", "v*", "x" * 65])
def test_unsafe_versions_refused(version: str) -> None:
    with pytest.raises(ValueError, match="cache version"):
        KeySchema().meta(version)


def test_bad_prefix_refused() -> None:
    with pytest.raises(ValueError, match="prefix"):
        KeySchema("rec:{x}")


def test_recs_many_equals_recs_and_checks_every_user() -> None:
    keys = KeySchema()
    users = ["1", "42", "A2SUAM1J3GNN3B"]
    assert keys.recs_many("v1", users) == [keys.recs("v1", u) for u in users]
    with pytest.raises(ValueError, match="user id"):
        keys.recs_many("v1", ["1", "bad id"])
