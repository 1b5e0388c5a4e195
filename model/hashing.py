"""Content hashes of files and folders: the one formula every artifact's version comes from.

Contract: `file_sha256(path)` is the sha256 hex digest of a file's bytes. `folder_hash(folder, exclude)` is the
sha256 over every file under `folder` in sorted relative-path order, each contributing `<relative path>\\n<size>\\n`
then its bytes (the size makes the boundary between one file and the next unambiguous); names in `exclude` (relative
paths, e.g. the meta file that records the hash) are left out. The same files always give the same hash, and any
edit, rename, addition or removal gives another. Files are read in 1 MiB blocks. It knows nothing about what the
files are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from pathlib import Path

_BLOCK = 1 << 20


def _update(digest: hashlib._Hash, path: Path) -> None:
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            digest.update(block)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    _update(digest, path)
    return digest.hexdigest()


def folder_hash(folder: Path, exclude: Collection[str] = ()) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel in exclude:
            continue
        digest.update(f"{rel}\n{path.stat().st_size}\n".encode())
        _update(digest, path)
    return digest.hexdigest()
