"""The loaders on the real datasets in ../shared/data: published counts, dense indices, raw ids kept."""

from pathlib import Path

import pytest

from model.data.loaders.lcrec import load_lcrec
from model.data.loaders.recbole import load_recbole
from model.data.records import InteractionDataset
from tests.paths import SHARED_DATA

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="no ../shared/data beside this checkout")


def _check_dense(ds: InteractionDataset) -> None:
    assert all(0 <= i < ds.n_items for seq in ds.sequences for i in seq)
    assert len(set(ds.user_ids)) == ds.n_users
    assert len({it.raw_id for it in ds.items}) == ds.n_items


def test_movielens_100k_recbole() -> None:
    ds = load_recbole(SHARED_DATA / "movielens-100k")
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (943, 1682, 100000)
    _check_dense(ds)
    toy = ds.items[0]
    assert (toy.raw_id, toy.title, toy.fields["year"]) == ("1", "Toy Story", "1995")
    user = ds.user_ids.index("196")
    stamps = _timestamps(SHARED_DATA / "movielens-100k" / "ml-100k.inter", "196")
    assert [ds.items[i].raw_id for i in ds.sequences[user]] == [item for _, item in sorted(stamps, key=lambda p: p[0])]


def _timestamps(path: Path, user: str) -> list[tuple[float, str]]:
    rows = [line.split("\t") for line in path.read_text().splitlines()[1:]]
    return [(float(r[3]), r[1]) for r in rows if r[0] == user]


def test_amazon_scientific() -> None:
    ds = load_lcrec(SHARED_DATA / "amazon-scientific")
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (8317, 4344, 58492)
    _check_dense(ds)
    assert all(it.title for it in ds.items)
    assert [it.raw_id for it in ds.items] == [str(i) for i in range(4344)]  # contiguous: index == raw id


def test_amazon_beauty() -> None:
    ds = load_lcrec(SHARED_DATA / "amazon-beauty")
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (22363, 12101, 198502)
    _check_dense(ds)
    assert not ds.has_text
    assert [it.raw_id for it in ds.items] == [str(i) for i in range(12101)]
    assert list(ds.sequences[0]) == [0, 1, 2, 3, 4]  # the file's first user, in the file's order


def test_grouplens_layout_of_movielens_gives_the_same_sequences(tmp_path: Path) -> None:
    """Rewrite the RecBole copy in the GroupLens layout; both loaders must agree on users, items and order."""
    from model.data.loaders.grouplens import GENRES, load_grouplens

    src = SHARED_DATA / "movielens-100k"
    rows = [line.split("\t") for line in (src / "ml-100k.inter").read_text().splitlines()[1:]]
    (tmp_path / "u.data").write_text("".join(f"{u}\t{i}\t{int(float(r))}\t{int(float(t))}\n" for u, i, r, t in rows))
    lines = []
    for line in (src / "ml-100k.item").read_text().splitlines()[1:]:
        item_id, title, year, genres = line.split("\t")
        flags = "|".join("1" if g in genres.split() else "0" for g in GENRES)
        lines.append(f"{item_id}|{title} ({year})|01-Jan-{year}||http://imdb|{flags}")
    (tmp_path / "u.item").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))

    recbole, grouplens = load_recbole(src), load_grouplens(tmp_path)
    assert grouplens.user_ids == recbole.user_ids
    assert [it.raw_id for it in grouplens.items] == [it.raw_id for it in recbole.items]
    assert [list(s) for s in grouplens.sequences] == [list(s) for s in recbole.sequences]
    same_text = [
        (g.title, dict(g.fields)) == (r.title, dict(r.fields))
        for g, r in zip(grouplens.items, recbole.items, strict=True)
        if r.fields["year"].isdigit()  # RecBole's copy has two non-years: "unkonwn" (item 267), "V" (item 1412)
    ]
    assert all(same_text) and len(same_text) == 1680
