"""Which dataset is where: built-in dataset names, the data root they are found under, the public download, and the
generic path for a user's own files.

Contract: `load_builtin(name, data_root)` finds `<root>/<name>/` with the files of one of the dataset's layouts, where
the root is `data_root` when given (then it must hold the dataset), else `Settings.resolved_data_dir()` (the shared
data beside the checkout), else a download into `<work_dir>/cache/<name>/` where the dataset has a public archive
(MovieLens-100K from GroupLens). Anything that fails raises `UserError` saying what was looked for and how to fix it
(`--data-dir`). `load_path(fmt, path)` loads any folder or file in one of `FORMATS`; `detect_format` guesses the
format of a folder. The optional k-core (`None` = the format's default: 5 for raw Amazon files, off otherwise) is
applied here for formats whose loader does not do it itself. It knows nothing about what the data is used for.
"""

from __future__ import annotations

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
from model.settings import Settings

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


BUILTINS: dict[str, BuiltinDataset] = {
    d.name: d
    for d in (
        BuiltinDataset(
            "movielens-100k",
            (Layout("recbole", ("ml-100k.inter", "ml-100k.item")), Layout("grouplens", ("u.data", "u.item"))),
            MOVIELENS_URL,
            MOVIELENS_URL,
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
    settings: Settings | None = None,
    download_url: str | None = None,
    k_core: int | None = None,
    progress: ProgressFn | None = None,
) -> InteractionDataset:
    """Load a built-in dataset by name (see the module contract); `download_url` overrides the public archive."""
    spec = builtin(name)
    layout, folder = locate_builtin(spec, data_root, settings or Settings(), download_url)
    log.info("loading dataset", dataset=name, format=layout.fmt, folder=str(folder))
    return load_path(layout.fmt, folder, name=name, k_core=k_core, progress=progress)


def builtin(name: str) -> BuiltinDataset:
    if name not in BUILTINS:
        raise UserError(f"unknown dataset {name!r}; built-in datasets: {', '.join(BUILTINS)}")
    return BUILTINS[name]


def locate_builtin(
    spec: BuiltinDataset, data_root: Path | None, settings: Settings, download_url: str | None = None
) -> tuple[Layout, Path]:
    """The layout and folder of a built-in dataset: explicit root, else the settings' root, else the download cache."""
    if data_root is not None:
        found = _match(spec, data_root / spec.name) or _match(spec, data_root)
        if found is None:
            raise UserError(f"dataset {spec.name!r} not found under {data_root}: {_expected(spec, data_root)}")
        return found
    looked: list[str] = []
    root = settings.resolved_data_dir()
    if root is not None:
        found = _match(spec, root / spec.name)
        if found is not None:
            return found
        looked.append(str(root / spec.name))
    cache = settings.work_dir / "cache" / spec.name
    found = _match(spec, cache)
    if found is not None:
        return found
    url = download_url or spec.download_url
    if url is None:
        raise UserError(
            f"dataset {spec.name!r} not found (looked in: {', '.join(looked) or 'no data root configured'}); "
            f"get the files from {spec.source} and pass --data-dir DIR with them in DIR/{spec.name}/"
        )
    download_grouplens_zip(url, cache, hint=f"or pass --data-dir DIR with the files in DIR/{spec.name}/")
    found = _match(spec, cache)
    if found is None:  # the archive held other files
        raise UserError(f"{url}: the archive has no {_expected(spec, cache)}")
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
