"""GroupLens u.data / u.item: titles split from years, genre flags, latin-1, located format errors."""

from pathlib import Path

import pytest

from model.data.loaders.grouplens import GENRES, load_grouplens
from model.errors import DataFormatError


def _item_line(item_id: str, title: str, date: str, genres: set[str]) -> str:
    flags = "|".join("1" if g in genres else "0" for g in GENRES)
    return f"{item_id}|{title}|{date}||http://us.imdb.com/x|{flags}"


ITEM_LINES = [
    _item_line("1", "Toy Story (1995)", "01-Jan-1995", {"Animation", "Children's", "Comedy"}),
    _item_line("2", "Café Society", "05-May-1997", {"Drama"}),  # no year in the title; é in latin-1
    _item_line("12", "unknown", "", {"unknown"}),
]
DATA = "196\t2\t3\t881250949\n186\t1\t3\t891717742\n196\t1\t5\t881250000\n186\t12\t1\t891717742\n"


def _write(folder: Path, data: str = DATA, items: list[str] | None = ITEM_LINES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.data").write_text(data)
    if items is not None:
        (folder / "u.item").write_bytes(("\n".join(items) + "\n").encode("latin-1"))
    return folder


def test_loads_titles_years_genres_and_chronological_sequences(tmp_path: Path) -> None:
    ds = load_grouplens(_write(tmp_path))
    assert ds.name == "movielens-100k"
    assert [it.raw_id for it in ds.items] == ["1", "2", "12"]
    assert ds.items[0].title == "Toy Story"
    assert dict(ds.items[0].fields) == {"year": "1995", "genres": "Animation, Children's, Comedy"}
    assert (ds.items[1].title, ds.items[1].fields["year"]) == ("Café Society", "1997")
    assert (ds.items[2].title, ds.items[2].fields["year"], ds.items[2].fields["genres"]) == ("unknown", "", "unknown")
    assert ds.user_ids == ["186", "196"]
    raw = [[ds.items[i].raw_id for i in seq] for seq in ds.sequences]
    assert raw == [["1", "12"], ["1", "2"]]  # 186: equal times keep file order; 196: 881250000 first


def test_accepts_the_u_data_file_itself(tmp_path: Path) -> None:
    assert load_grouplens(_write(tmp_path) / "u.data") == load_grouplens(tmp_path)


def test_without_u_item_items_have_no_titles(tmp_path: Path) -> None:
    ds = load_grouplens(_write(tmp_path, items=None))
    assert [(it.raw_id, it.title) for it in ds.items] == [("1", ""), ("2", ""), ("12", "")]


@pytest.mark.parametrize(
    ("data", "items", "file", "line", "field", "words"),
    [
        ("1\t2\t3\n", ITEM_LINES, "u.data", 1, "timestamp", "4 tab-separated"),
        ("1\t2\tfive\t3\n", ITEM_LINES, "u.data", 1, "rating", "'five'"),
        ("", ITEM_LINES, "u.data", 1, None, "empty"),
        (DATA + "5\t77\t1\t1\n", ITEM_LINES, "u.data", 5, "item_id", "'77'"),
        (DATA, [*ITEM_LINES, "13|Short|x"], "u.item", 4, "video_release_date", "24 '|'-separated"),
        (DATA, [*ITEM_LINES, ITEM_LINES[0]], "u.item", 4, "item_id", "twice"),
        (DATA, [ITEM_LINES[0].replace("|0|", "|2|", 1), *ITEM_LINES[1:]], "u.item", 1, "unknown", "0 or 1"),
        (DATA, ["x" + ITEM_LINES[0]], "u.item", 1, "item_id", "integer item id"),
    ],
)
def test_malformed_files_name_file_line_and_field(
    tmp_path: Path, data: str, items: list[str], file: str, line: int, field: str | None, words: str
) -> None:
    with pytest.raises(DataFormatError) as err:
        load_grouplens(_write(tmp_path, data, items))
    message = str(err.value)
    assert err.value.path.name == file and file in message
    assert (err.value.line, err.value.field) == (line, field)
    assert f":{line}:" in message and words in message


def test_missing_u_data_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match=r"u\.data"):
        load_grouplens(tmp_path)
