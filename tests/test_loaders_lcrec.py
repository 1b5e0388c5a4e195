"""LC-Rec JSON: sequences kept in given order, optional item text, raw ids kept, located format errors."""

import json
from pathlib import Path

import pytest

from model.data.loaders.lcrec import load_lcrec
from model.errors import DataFormatError

ITEMS = {
    "0": {"title": "Pipette", "description": "Glass.", "brand": "Lab", "categories": "Science,Glassware"},
    "1": {"title": "Beaker", "description": "", "brand": "Lab", "categories": "Science"},
    "2": {"title": "Funnel", "description": ["Plastic", "funnel"], "brand": "Acme", "categories": "Tools"},
    "10": {"title": "Scale"},
}
SEQS = {"0": [2, 0, 1], "1": [10, 2], "2": [1, 0]}


def _write(folder: Path, seqs: object = SEQS, items: object | None = ITEMS, raw: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Toy.inter.json").write_text(raw["inter"] if raw and "inter" in raw else json.dumps(seqs, indent=1))
    if raw and "item" in raw:
        (folder / "Toy.item.json").write_text(raw["item"])
    elif items is not None:
        (folder / "Toy.item.json").write_text(json.dumps(items, indent=2))
    return folder


def test_loads_sequences_titles_and_fields(tmp_path: Path) -> None:
    ds = load_lcrec(_write(tmp_path))
    assert ds.name == "Toy"
    assert [it.raw_id for it in ds.items] == ["0", "1", "2", "10"]
    assert ds.user_ids == ["0", "1", "2"]
    assert [[ds.items[i].raw_id for i in s] for s in ds.sequences] == [["2", "0", "1"], ["10", "2"], ["1", "0"]]
    assert ds.items[0].title == "Pipette"
    assert dict(ds.items[0].fields) == {"description": "Glass.", "brand": "Lab", "categories": "Science,Glassware"}
    assert ds.items[2].fields["description"] == "Plastic, funnel"
    assert ds.has_text


def test_without_item_file_items_are_the_ids_seen_with_empty_titles(tmp_path: Path) -> None:
    ds = load_lcrec(_write(tmp_path, {"5": [3, 1], "4": [1]}, items=None))
    assert [(it.raw_id, it.title) for it in ds.items] == [("1", ""), ("3", "")]
    assert ds.user_ids == ["4", "5"]
    assert not ds.has_text


def test_undefined_items_can_be_dropped_and_counted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    ds = load_lcrec(_write(tmp_path, {"0": [0, 99, 1], "1": [99]}), on_unknown_item="drop")
    assert ds.user_ids == ["0"] and [list(s) for s in ds.sequences] == [[0, 1]]
    logged = [getattr(r, "_fields", {}) for r in caplog.records]
    assert {"dataset": "Toy", "interactions": 2} in logged
    assert {"dataset": "Toy", "users": 1} in logged


@pytest.mark.parametrize(
    ("seqs", "items", "raw", "file", "line", "field", "words"),
    [
        (SEQS, ITEMS, {"inter": '{"0": [1, 2],\n "1": [3,, 4]}'}, "Toy.inter.json", 2, None, "invalid JSON"),
        (SEQS, ITEMS, {"inter": ""}, "Toy.inter.json", 1, None, "empty"),
        ([[1, 2]], ITEMS, None, "Toy.inter.json", 1, None, "expected a JSON object"),
        ({"0": [1], "1": "2"}, ITEMS, None, "Toy.inter.json", 5, "1", "expected a list"),
        ({"0": [1], "1": [2, 1.5]}, ITEMS, None, "Toy.inter.json", 5, "1", "position 1"),
        (SEQS, ITEMS, {"inter": '{"0": [1],\n"0": [2]}'}, "Toy.inter.json", 1, "0", "duplicate key"),
        ({"0": [1], "1": [2, 42]}, ITEMS, None, "Toy.inter.json", 5, "item_id", "'42'"),
        (SEQS, {**ITEMS, "3": "Glove"}, None, "Toy.item.json", 26, "3", "expected an object"),
        (SEQS, {**ITEMS, "3": {"title": 7}}, None, "Toy.item.json", 26, "3.title", "title must be a string"),
        (SEQS, {**ITEMS, "3": {"title": "x", "brand": 7}}, None, "Toy.item.json", 26, "3.brand", "text"),
    ],
)
def test_malformed_files_name_file_line_and_field(
    tmp_path: Path,
    seqs: object,
    items: object,
    raw: dict[str, str] | None,
    file: str,
    line: int,
    field: str | None,
    words: str,
) -> None:
    with pytest.raises(DataFormatError) as err:
        load_lcrec(_write(tmp_path, seqs, items, raw))
    message = str(err.value)
    assert err.value.path.name == file and file in message
    assert (err.value.line, err.value.field) == (line, field)
    assert f":{line}:" in message and words in message
