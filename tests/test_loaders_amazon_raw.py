"""Raw Amazon 2018 reviews + metadata: gzip, HTML cleanup, duplicate handling, k-core, located format errors."""

import gzip
import json
from pathlib import Path

import pytest

from model.data.loaders.amazon_raw import find_amazon_files, load_amazon_raw
from model.errors import DataFormatError


def _review(user: str, asin: str, t: int) -> dict[str, object]:
    return {"overall": 5.0, "verified": True, "reviewerID": user, "asin": asin, "unixReviewTime": t, "summary": "ok"}


REVIEWS = [
    _review("U1", "B01", 30),
    _review("U1", "B02", 10),
    _review("U1", "B03", 20),
    _review("U2", "B01", 5),
    _review("U2", "B02", 6),
    _review("U3", "B01", 7),
    _review("U3", "B03", 8),
    _review("U3", "B03", 2),  # repeated pair: the earliest (t=2) counts, once
    _review("U4", "B09", 1),  # B09 has no metadata line: dropped
    _review("U4", "B01", 9),  # then U4 has one interaction: gone in the 2-core
]
META = [
    {
        "asin": "B01",
        "title": "Nitrile <b>Gloves</b> &amp; Box",
        "description": ["Size M.", "100 count."],
        "brand": "Lab",
    },
    {"asin": "B02", "title": "Goggles", "description": "Clear.", "category": ["Science", "Safety"]},
    {"asin": "B03", "title": "Beaker"},
    {"asin": "B03", "title": "Beaker again"},  # repeated metadata: the first line wins
    {"asin": "B04", "title": "Never reviewed"},
]


def _lines(records: list[dict[str, object]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def _write(folder: Path, reviews: str | None = None, meta: str | None = None, gz: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    r_text = _lines(REVIEWS) if reviews is None else reviews
    m_text = _lines(META) if meta is None else meta
    if gz:
        (folder / "Toys.json.gz").write_bytes(gzip.compress(r_text.encode()))
        (folder / "meta_Toys.json.gz").write_bytes(gzip.compress(m_text.encode()))
    else:
        (folder / "Toys.json").write_text(r_text)
        (folder / "meta_Toys.json").write_text(m_text)
    return folder


@pytest.mark.parametrize("gz", [False, True])
def test_loads_cleans_dedups_and_filters(tmp_path: Path, gz: bool, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    ds = load_amazon_raw(_write(tmp_path, gz=gz), k_core=2)
    assert ds.name == "Toys"
    assert [it.raw_id for it in ds.items] == ["B01", "B02", "B03"]
    assert ds.items[0].title == "Nitrile Gloves & Box"
    assert dict(ds.items[0].fields) == {"description": "Size M. 100 count.", "brand": "Lab", "categories": ""}
    assert ds.items[1].fields["categories"] == "Science, Safety"
    assert ds.items[2].title == "Beaker"
    assert ds.user_ids == ["U1", "U2", "U3"]
    assert [[ds.items[i].raw_id for i in s] for s in ds.sequences] == [
        ["B02", "B03", "B01"],
        ["B01", "B02"],
        ["B03", "B01"],
    ]
    fields = [getattr(r, "_fields", {}) for r in caplog.records]
    assert any(f.get("reviews") == 1 and f.get("dataset") == "Toys" for f in fields)  # no metadata
    assert any(f.get("reviews") == 1 and f.get("file", "").startswith("Toys") for f in fields)  # repeated pair
    assert any(f.get("lines") == 1 for f in fields)  # repeated metadata
    assert any(f.get("k") == 2 and f.get("users_removed") == 1 for f in fields)  # U4


def test_default_five_core_can_empty_a_tiny_set(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="5-core"):
        load_amazon_raw(_write(tmp_path))


def test_reviews_without_metadata_file_get_empty_titles(tmp_path: Path) -> None:
    (tmp_path / "Toys.json").write_text(_lines(REVIEWS))
    ds = load_amazon_raw(tmp_path / "Toys.json", k_core=2)
    assert "B09" not in {it.raw_id for it in ds.items}  # removed by the 2-core, not by metadata
    assert all(it.title == "" for it in ds.items)


def test_review_file_finds_its_metadata_sibling(tmp_path: Path) -> None:
    _write(tmp_path)
    (tmp_path / "Toys.json").rename(tmp_path / "Toys_5.json")
    assert find_amazon_files(tmp_path / "Toys_5.json") == (tmp_path / "Toys_5.json", tmp_path / "meta_Toys.json")


def test_unknown_items_raise_when_asked(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError) as err:
        load_amazon_raw(_write(tmp_path), k_core=2, on_unknown_item="error")
    assert (err.value.path.name, err.value.line, err.value.field) == ("Toys.json", 9, "asin")


@pytest.mark.parametrize(
    ("reviews", "meta", "file", "line", "field", "words"),
    [
        (_lines(REVIEWS[:2]) + "{not json\n", None, "Toys.json", 3, None, "invalid JSON"),
        (_lines(REVIEWS[:2]) + "[1, 2]\n", None, "Toys.json", 3, None, "JSON object"),
        (_lines([*REVIEWS[:1], {"asin": "B01", "unixReviewTime": 3}]), None, "Toys.json", 2, "reviewerID", "missing"),
        (_lines([{**REVIEWS[0], "unixReviewTime": "yesterday"}]), None, "Toys.json", 1, "unixReviewTime", "number"),
        ("", None, "Toys.json", 1, None, "empty"),
        (None, _lines([*META[:1], {"title": "no asin"}]), "meta_Toys.json", 2, "asin", "missing"),
        (None, _lines([{**META[0], "category": {"a": 1}}]), "meta_Toys.json", 1, "category", "list of text"),
    ],
)
def test_malformed_files_name_file_line_and_field(
    tmp_path: Path, reviews: str | None, meta: str | None, file: str, line: int, field: str | None, words: str
) -> None:
    with pytest.raises(DataFormatError) as err:
        load_amazon_raw(_write(tmp_path, reviews, meta), k_core=1)
    message = str(err.value)
    assert err.value.path.name == file and file in message
    assert (err.value.line, err.value.field) == (line, field)
    assert f":{line}:" in message and words in message


def test_truncated_gzip_is_a_format_error(tmp_path: Path) -> None:
    _write(tmp_path, gz=True)
    data = (tmp_path / "Toys.json.gz").read_bytes()
    (tmp_path / "Toys.json.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match=r"Toys\.json\.gz"):
        load_amazon_raw(tmp_path, k_core=1)


def test_invalid_utf8_names_the_exact_line(tmp_path: Path) -> None:
    lines = _lines(REVIEWS * 300).encode()  # long enough that a decoder reading ahead would misplace the line
    cut = lines.index(b"\n", len(lines) // 2) + 1
    bad_line = lines[:cut].count(b"\n") + 1
    _write(tmp_path)
    (tmp_path / "Toys.json").write_bytes(lines[:cut] + b'{"reviewerID": "U\xff"}\n' + lines[cut:])
    with pytest.raises(DataFormatError, match="utf-8") as err:
        load_amazon_raw(tmp_path, k_core=1)
    assert err.value.line == bad_line
