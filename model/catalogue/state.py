"""What a model artifact records about its catalogue's changes since training: the `catalogue.json` format.

Contract: an artifact folder without `catalogue.json` serves the catalogue it was trained on, nothing removed
(`CatalogueState.trained(n_items, dataset_hash)`). With one, the file holds
    format_version      1
    trained_items       items 0..trained_items-1 are the ones the LM was trained on; later indices were added
    trained_dataset     the content hash of the processed dataset the LM was trained on
    removed             sorted item indices taken out of the catalogue: never generated, never listed
    added               one record per added item: {"index", "id", "method"} (how its code was made, e.g.
                        "text:projection", "text:fitted", "embedding", or "restored" for a removed item re-added)
    log                 one record per edit: {"op": "add"|"remove", "items", "parent" (the version edited), "at"}, and
                        for an addition how codes were placed ("placement") and the tokenizer's content hash
Item indices never change and an item's code is never reused: a removed item keeps its index and code (so every
list written by an older version still names the same items) and leaves the trie; an added item takes the next index.
`read_state(folder, n_items, dataset_hash)` reads the file (or the implicit trained state) and checks it against
the artifact's item count, raising `DataFormatError` naming the file and field; `write_state` writes it.
It knows nothing about codes, models or how items were added.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from model.data.loaders.common import read_json_object
from model.errors import DataFormatError

STATE_FILE = "catalogue.json"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class AddedItem:
    index: int  # the item index it was given
    raw_id: str
    method: str  # how its code was made: text:projection, text:fitted, embedding, restored


@dataclass(frozen=True, slots=True)
class CatalogueState:
    trained_items: int  # items 0..trained_items-1 are the ones the LM was trained on
    trained_dataset: str  # content hash of the dataset the LM was trained on
    removed: frozenset[int] = frozenset()  # item indices out of the catalogue
    added: tuple[AddedItem, ...] = ()
    log: tuple[dict[str, Any], ...] = field(default=())  # one record per edit, oldest first

    @classmethod
    def trained(cls, n_items: int, dataset_hash: str) -> CatalogueState:
        """The state of an artifact as training wrote it: every item trained on, nothing removed."""
        return cls(n_items, dataset_hash)

    @property
    def changed(self) -> bool:
        return bool(self.removed or self.added)

    def live(self, n_items: int) -> list[int]:
        """Item indices in the catalogue (not removed), ascending."""
        return [i for i in range(n_items) if i not in self.removed]

    def with_edit(
        self, op: str, items: int, parent: str, at: int, detail: dict[str, Any] | None = None, **changes: Any
    ) -> CatalogueState:
        entry = {"op": op, "items": items, "parent": parent, "at": at, **(detail or {})}
        return replace(self, log=(*self.log, entry), **changes)

    def to_json(self) -> bytes:
        body = {
            "format_version": FORMAT_VERSION,
            "trained_items": self.trained_items,
            "trained_dataset": self.trained_dataset,
            "removed": sorted(self.removed),
            "added": [{"index": a.index, "id": a.raw_id, "method": a.method} for a in self.added],
            "log": list(self.log),
        }
        return orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n"


def write_state(folder: Path, state: CatalogueState) -> None:
    (folder / STATE_FILE).write_bytes(state.to_json())


def read_state(folder: Path, n_items: int, dataset_hash: str) -> CatalogueState:
    """The artifact's catalogue state (see the module contract), checked against its `n_items` items."""
    path = folder / STATE_FILE
    if not path.is_file():
        return CatalogueState.trained(n_items, dataset_hash)
    raw = read_json_object(path)
    if raw.get("format_version") != FORMAT_VERSION:
        raise DataFormatError(
            path, f"version {raw.get('format_version')!r} is not {FORMAT_VERSION}", field="format_version"
        )
    trained, dataset = raw.get("trained_items"), raw.get("trained_dataset")
    if type(trained) is not int or not 1 <= trained <= n_items:
        raise DataFormatError(path, f"expected an item count in 1..{n_items}, got {trained!r}", field="trained_items")
    if not isinstance(dataset, str):
        raise DataFormatError(path, f"expected a hash string, got {dataset!r}", field="trained_dataset")
    removed = raw.get("removed")
    if not isinstance(removed, list) or not all(type(i) is int and 0 <= i < n_items for i in removed):
        raise DataFormatError(path, f"expected item indices in 0..{n_items - 1}", field="removed")
    if len(set(removed)) >= n_items:
        raise DataFormatError(path, "every item is removed: the catalogue would be empty", field="removed")
    added = []
    for rec in raw.get("added", []):
        if not isinstance(rec, dict) or type(rec.get("index")) is not int or not isinstance(rec.get("id"), str):
            raise DataFormatError(path, f"expected {{index, id, method}}, got {rec!r}", field="added")
        added.append(AddedItem(rec["index"], rec["id"], str(rec.get("method", ""))))
    log = raw.get("log", [])
    if not isinstance(log, list) or not all(isinstance(e, dict) for e in log):
        raise DataFormatError(path, "expected a list of objects", field="log")
    return CatalogueState(trained, dataset, frozenset(removed), tuple(added), tuple(log))
