"""Processed folders: exact round trip, deterministic content hash, tampering and malformed folders refused."""

import json
from pathlib import Path

import pytest

from model.data.processed import FORMAT_VERSION, DatasetMeta, load_processed, save_processed
from model.data.records import InteractionDataset, Item
from model.errors import DataFormatError


def _dataset() -> InteractionDataset:
    items = [
        Item(0, "B01", "Gloves", {"description": "Nitrile, size M", "brand": "Lab"}),
        Item(1, "B02", "", {}),
        Item(2, "B03", 'Café "quoted"\nnewline', {"z": "last", "a": "first"}),  # field order must survive
    ]
    return InteractionDataset("toy", items, ["u9", "u10"], [[2, 0, 1], [1]])


def test_round_trip_is_exact(tmp_path: Path) -> None:
    ds = _dataset()
    meta = save_processed(ds, tmp_path / "toy", source="test:fixture")
    loaded, loaded_meta = load_processed(tmp_path / "toy")
    assert loaded == InteractionDataset(ds.name, list(ds.items), list(ds.user_ids), [list(s) for s in ds.sequences])
    assert list(loaded.items[2].fields) == ["z", "a"]
    assert loaded_meta == meta
    assert (meta.n_users, meta.n_items, meta.n_interactions, meta.format_version) == (2, 3, 4, FORMAT_VERSION)
    assert meta.source == "test:fixture"


def test_same_dataset_same_hash_and_any_change_changes_it(tmp_path: Path) -> None:
    a = save_processed(_dataset(), tmp_path / "a", "x")
    b = save_processed(_dataset(), tmp_path / "b", "y")
    assert a.content_hash == b.content_hash
    assert (tmp_path / "a" / "items.jsonl").read_bytes() == (tmp_path / "b" / "items.jsonl").read_bytes()
    ds = _dataset()
    swapped = InteractionDataset(ds.name, ds.items, ds.user_ids, [[0, 2, 1], [1]])
    assert save_processed(swapped, tmp_path / "c", "x").content_hash != a.content_hash


def test_meta_is_frozen() -> None:
    meta = DatasetMeta("n", "s", 1, 1, 1, "h", "t")
    with pytest.raises(AttributeError):
        meta.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("file", "old", "new"), [("items.jsonl", b"Gloves", b"Glovez"), ("sequences.jsonl", b"[1]", b"[0]")]
)
def test_tampered_files_are_refused(tmp_path: Path, file: str, old: bytes, new: bytes) -> None:
    save_processed(_dataset(), tmp_path, "x")
    path = tmp_path / file
    assert old in path.read_bytes()
    path.write_bytes(path.read_bytes().replace(old, new, 1))
    with pytest.raises(DataFormatError, match="content hash mismatch") as err:
        load_processed(tmp_path)
    assert err.value.path.name == "meta.json" and err.value.field == "content_hash"


def test_missing_meta_or_file_or_unknown_version(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="genrec prepare"):
        load_processed(tmp_path)
    save_processed(_dataset(), tmp_path, "x")
    meta = json.loads((tmp_path / "meta.json").read_text())
    (tmp_path / "meta.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(DataFormatError, match="format version 99"):
        load_processed(tmp_path)
    (tmp_path / "meta.json").write_text(json.dumps({**meta, "n_users": "two"}))
    with pytest.raises(DataFormatError) as err:
        load_processed(tmp_path)
    assert err.value.field == "n_users"
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    (tmp_path / "sequences.jsonl").unlink()
    with pytest.raises(DataFormatError, match="missing"):
        load_processed(tmp_path)


def test_consistent_but_malformed_records_are_refused(tmp_path: Path) -> None:
    """A hand-edited folder whose meta was re-hashed still has to hold valid records."""
    from model.data.processed import content_hash

    save_processed(_dataset(), tmp_path, "x")
    seqs = b'{"user":"u9","items":[2,0,7]}\n{"user":"u10","items":[1]}\n'
    (tmp_path / "sequences.jsonl").write_bytes(seqs)
    meta = json.loads((tmp_path / "meta.json").read_text())
    meta["content_hash"] = content_hash((tmp_path / "items.jsonl").read_bytes(), seqs)
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DataFormatError) as err:
        load_processed(tmp_path)
    assert (err.value.path.name, err.value.line, err.value.field) == ("sequences.jsonl", 1, "items")


def test_saving_over_an_old_folder_replaces_it(tmp_path: Path) -> None:
    save_processed(_dataset(), tmp_path, "x")
    ds = _dataset()
    smaller = InteractionDataset("toy", ds.items, ["u9"], [[0]])
    meta = save_processed(smaller, tmp_path, "x")
    loaded, _ = load_processed(tmp_path)
    assert loaded.n_users == 1 and meta.n_interactions == 1
    assert not list(tmp_path.glob("*.tmp"))
