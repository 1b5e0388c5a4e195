"""Built-in names -> loader + files; data-root resolution; the download path (offline: file:// zip, dead URL)."""

import zipfile
from pathlib import Path

import pytest

from model.data.registry import BUILTINS, detect_format, load_builtin, load_path
from model.errors import UserError
from model.workdir import WorkDir
from tests.paths import SHARED_DATA
from tests.test_loaders_grouplens import DATA, ITEM_LINES


def _grouplens_zip(path: Path) -> str:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ml-100k/u.data", DATA)
        zf.writestr("ml-100k/u.item", ("\n".join(ITEM_LINES) + "\n").encode("latin-1"))
        zf.writestr("ml-100k/README", "readme")
    return path.as_uri()


def test_builtin_names() -> None:
    assert set(BUILTINS) == {"movielens-100k", "amazon-scientific", "amazon-beauty"}


def test_explicit_root_must_hold_the_dataset(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"amazon-beauty.*Beauty\.inter\.json"):
        load_builtin("amazon-beauty", tmp_path)


def test_explicit_root_may_be_the_dataset_folder_itself(tmp_path: Path) -> None:
    (tmp_path / "Beauty.inter.json").write_text('{"0": [0, 1], "1": [1]}')
    ds = load_builtin("amazon-beauty", tmp_path)
    assert (ds.name, ds.n_users, ds.n_items) == ("amazon-beauty", 2, 2)


def test_unknown_name_lists_the_builtins() -> None:
    with pytest.raises(UserError, match="movielens-100k"):
        load_builtin("netflix", None)


def test_download_of_grouplens_zip_into_the_cache(tmp_path: Path) -> None:
    url = _grouplens_zip(tmp_path / "ml-100k.zip")
    cache = WorkDir(tmp_path / "work").download("movielens-100k")
    ds = load_builtin("movielens-100k", None, download_dir=cache, use_package=False, download_url=url)
    assert (ds.name, ds.n_users, ds.n_items, ds.n_interactions) == ("movielens-100k", 2, 3, 4)
    assert sorted(p.name for p in cache.iterdir()) == ["u.data", "u.item"]
    dead = "http://127.0.0.1:9/x"
    again = load_builtin("movielens-100k", None, download_dir=cache, use_package=False, download_url=dead)
    assert again == ds  # the cache answers; the dead URL is not touched


def test_unreachable_download_is_a_clear_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"could not download http://127\.0\.0\.1:9/ml-100k\.zip.*--data-dir"):
        load_builtin(
            "movielens-100k",
            None,
            download_dir=tmp_path / "cache",
            use_package=False,
            download_url="http://127.0.0.1:9/ml-100k.zip",
        )
    assert not list((tmp_path / "cache").glob("*.part"))


def test_download_that_is_not_a_zip(tmp_path: Path) -> None:
    bogus = tmp_path / "page.html"
    bogus.write_text("<html>moved</html>")
    with pytest.raises(UserError, match="not a zip"):
        load_builtin("movielens-100k", None, download_dir=tmp_path, use_package=False, download_url=bogus.as_uri())


def test_amazon_sets_without_local_files_say_where_to_get_them(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"CollisionGenRec.*--data-dir"):
        load_builtin("amazon-scientific", None, download_dir=tmp_path)


def test_without_a_data_root_movielens_comes_from_its_package(tmp_path: Path) -> None:
    """The built-in default needs no network and no development folder: the recbole wheel ships the files."""
    ds = load_builtin("movielens-100k", None, download_dir=tmp_path / "never-used", download_url="http://127.0.0.1:9/x")
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (943, 1682, 100_000)
    assert not (tmp_path / "never-used").exists()


def test_a_missing_package_falls_through_to_the_download_and_says_so(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"install the recbole package.*--data-dir"):
        load_builtin("movielens-100k", None, download_dir=None, use_package=False)


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="no ../shared/data beside this checkout")
def test_an_explicit_root_is_read() -> None:
    ds = load_builtin("amazon-scientific", SHARED_DATA)
    assert (ds.name, ds.n_users, ds.n_items, ds.n_interactions) == ("amazon-scientific", 8317, 4344, 58492)


def test_detect_format_and_load_path(tmp_path: Path) -> None:
    folder = tmp_path / "gl"
    folder.mkdir()
    (folder / "u.data").write_text(DATA)
    assert detect_format(folder) == "grouplens"
    (folder / "x.inter").write_text("user_id:token\titem_id:token\na\t1\n")
    with pytest.raises(UserError, match="several formats"):
        detect_format(folder)
    assert detect_format(folder / "x.inter") == "recbole"
    assert detect_format(folder / "u.data") == "grouplens"
    (tmp_path / "Toys.json.gz").write_bytes(b"")
    assert detect_format(tmp_path / "Toys.json.gz") == "amazon-raw"
    (tmp_path / "nothing").mkdir()
    with pytest.raises(UserError, match="no known format"):
        detect_format(tmp_path / "nothing")
    ds = load_path("grouplens", folder, name="mine", k_core=1)
    assert ds.name == "mine" and ds.user_ids == ["186", "196"]
    with pytest.raises(UserError, match="2-core"):  # item 1 is the only one with two interactions
        load_path("grouplens", folder, k_core=2)
    with pytest.raises(UserError, match="unknown format"):
        load_path("csv", folder)
