"""RecBole atomic files: typed header by name, chronological sequences, item fields, located format errors."""

from pathlib import Path

import pytest

from model.data.loaders.recbole import load_recbole
from model.errors import DataFormatError

INTER_HEADER = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
ITEM_HEADER = "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
ITEMS = "10\tAlpha\t1995\tAction Comedy\n2\tBeta\t1990\tDrama\n7\tGamma\t2001\tSci-Fi\n"


def _write(folder: Path, inter: str, item: str | None = ITEM_HEADER + ITEMS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "toy.inter").write_text(inter)
    if item is not None:
        (folder / "toy.item").write_text(item)
    return folder


def test_loads_sequences_in_time_order_with_ties_in_file_order(tmp_path: Path) -> None:
    inter = INTER_HEADER + "u2\t7\t3\t300\nu1\t10\t5\t200\nu1\t2\t4\t100\nu1\t7\t1\t200\n"
    ds = load_recbole(_write(tmp_path, inter))
    assert ds.name == "toy"
    assert [it.raw_id for it in ds.items] == ["2", "7", "10"]  # numeric raw-id order
    assert ds.user_ids == ["u1", "u2"]
    raw = [[ds.items[i].raw_id for i in seq] for seq in ds.sequences]
    assert raw == [["2", "10", "7"], ["7"]]  # 100 < 200 (10 before 7: same time, file order)
    assert ds.items[2].title == "Alpha"
    assert dict(ds.items[2].fields) == {"year": "1995", "genres": "Action, Comedy"}


def test_columns_are_found_by_name_not_position(tmp_path: Path) -> None:
    inter = "timestamp:float\titem_id:token\tuser_id:token\n5\t2\tu1\n1\t7\tu1\n"
    ds = load_recbole(_write(tmp_path, inter))
    assert [ds.items[i].raw_id for i in ds.sequences[0]] == ["7", "2"]


def test_without_item_file_the_catalogue_is_the_items_seen(tmp_path: Path) -> None:
    ds = load_recbole(_write(tmp_path, INTER_HEADER + "a\t5\t1\t1\nb\t3\t1\t2\n", item=None))
    assert [(it.raw_id, it.title) for it in ds.items] == [("3", ""), ("5", "")]


def test_catalogue_items_without_interactions_are_kept(tmp_path: Path) -> None:
    ds = load_recbole(_write(tmp_path, INTER_HEADER + "a\t2\t1\t1\n"))
    assert ds.n_items == 3 and ds.n_interactions == 1


def test_file_path_and_folder_give_the_same_dataset(tmp_path: Path) -> None:
    folder = _write(tmp_path, INTER_HEADER + "a\t2\t1\t1\nb\t7\t1\t2\n")
    assert load_recbole(folder) == load_recbole(folder / "toy.inter")


@pytest.mark.parametrize(
    ("inter", "item", "file", "line", "field", "words"),
    [
        (INTER_HEADER + "a\t2\t1\n", ITEM_HEADER + ITEMS, "toy.inter", 2, "timestamp", "4 tab-separated"),
        (INTER_HEADER + "a\t2\t1\tsoon\n", ITEM_HEADER + ITEMS, "toy.inter", 2, "timestamp", "not a number"),
        ("user_id:token\trating:float\na\t1\n", ITEM_HEADER + ITEMS, "toy.inter", 1, None, "no 'item_id' column"),
        ("user_id\titem_id\na\t1\n", ITEM_HEADER + ITEMS, "toy.inter", 1, "user_id", "name:type"),
        ("", ITEM_HEADER + ITEMS, "toy.inter", 1, None, "empty"),
        (INTER_HEADER + "a\t2\t1\t1\nb\t99\t1\t2\n", ITEM_HEADER + ITEMS, "toy.inter", 3, "item_id", "'99'"),
        (
            INTER_HEADER + "a\t2\t1\t1\n",
            ITEM_HEADER + ITEMS + "2\tDup\t1999\tDrama\n",
            "toy.item",
            5,
            "item_id",
            "twice",
        ),
        (INTER_HEADER + "a\t\t1\t1\n", ITEM_HEADER + ITEMS, "toy.inter", 2, "item_id", "empty id"),
    ],
)
def test_malformed_files_name_file_line_and_field(
    tmp_path: Path, inter: str, item: str, file: str, line: int, field: str | None, words: str
) -> None:
    with pytest.raises(DataFormatError) as err:
        load_recbole(_write(tmp_path, inter, item))
    message = str(err.value)
    assert err.value.path.name == file and file in message
    assert err.value.line == line and f":{line}:" in message
    assert err.value.field == field
    if field:
        assert repr(field) in message
    assert words in message


def test_folder_without_inter_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match=r"exactly one \*\.inter"):
        load_recbole(tmp_path)


def test_progress_is_reported_per_file_up_to_its_size(tmp_path: Path) -> None:
    folder = _write(tmp_path, INTER_HEADER + "a\t2\t1\t1\n")
    calls: list[tuple[str, int, int]] = []
    load_recbole(folder, progress=lambda label, done, total: calls.append((label, done, total)))
    sizes = {p.name: p.stat().st_size for p in folder.iterdir()}
    assert {(label, done) for label, done, total in calls if done == total} == {(n, s) for n, s in sizes.items()}
