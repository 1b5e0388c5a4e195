"""Paths the tests know and the product does not: the repository root, and the read-only datasets kept beside a
development checkout (`../shared/data`; tests that need them skip when it is absent)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
