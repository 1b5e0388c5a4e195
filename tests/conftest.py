"""Shared fixtures: a real Redis with per-test key prefixes (tests/redis_fixtures.py)."""

pytest_plugins = ["tests.redis_fixtures"]
