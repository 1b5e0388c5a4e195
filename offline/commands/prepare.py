"""`genrec prepare DATASET`: load a dataset from its source files and write its processed folder.

Contract: DATASET is a built-in name (movielens-100k, amazon-scientific, amazon-beauty), found under --data-dir, in its
package or through its public download (`model.data.registry`); or, with --path, any name for the user's own files in
--format (guessed from the folder when omitted). The processed folder (see `model.data.processed`) goes to --out,
default `WorkDir.dataset(DATASET)`. It prints the counts and the content hash on stdout; progress goes to stderr. Bad
option values exit with code 2 and a message naming the option; malformed files raise `DataFormatError` (exit 2). It
knows nothing about file formats itself: `model.data.registry` and the loaders do the work.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import TaskID

from model.data.loaders.common import ProgressFn
from model.data.processed import save_processed
from model.data.registry import BUILTINS, FORMATS, detect_format, load_builtin, load_path
from model.logs import get_logger
from model.progress import progress
from offline.common import settings_of

log = get_logger(__name__)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def prepare(
    ctx: typer.Context,
    dataset: Annotated[
        str,
        typer.Argument(
            help=f"Built-in dataset ({', '.join(BUILTINS)}), or a name for your own files given with --path.",
            show_default=False,
        ),
    ],
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help=f"Format of the files at --path: {', '.join(FORMATS)}. Guessed from the folder when omitted.",
        ),
    ] = None,
    path: Annotated[
        Path | None, typer.Option(help="Folder or file with your own dataset (instead of a built-in one).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder. Default: <work_dir>/data/<DATASET>/.")] = None,
    k_core: Annotated[
        int | None,
        typer.Option(
            "--k-core",
            min=0,
            help="Keep only users and items with at least N interactions (iterated). 0 = off. "
            "Default: 5 for amazon-raw, off otherwise.",
        ),
    ] = None,
) -> None:
    """Load a dataset and write its processed folder (items.jsonl, sequences.jsonl, meta.json)."""
    settings = settings_of(ctx)
    if not _NAME.fullmatch(dataset):
        raise typer.BadParameter(
            f"{dataset!r} is not a usable dataset name (letters, digits, '.', '_', '-')", param_hint="DATASET"
        )
    if fmt is not None and fmt not in FORMATS:
        raise typer.BadParameter(f"{fmt!r} is not one of {', '.join(FORMATS)}", param_hint="--format")
    if path is None and fmt is not None:
        raise typer.BadParameter("--format needs --path (built-in datasets know their format)", param_hint="--format")
    if path is None and dataset not in BUILTINS:
        raise typer.BadParameter(
            f"{dataset!r} is not a built-in dataset ({', '.join(BUILTINS)}); give your files with --path",
            param_hint="DATASET",
        )
    if path is not None and not path.exists():
        raise typer.BadParameter(f"{str(path)!r} does not exist", param_hint="--path")

    with progress() as bar:
        tasks: dict[str, TaskID] = {}

        def report(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(f"reading {label}", total=max(total, 1))
            bar.update(tasks[label], completed=done)

        on_progress: ProgressFn = report
        if path is None:
            data = load_builtin(
                dataset,
                settings.data_dir,
                download_dir=settings.workdir.download(dataset),
                k_core=k_core,
                progress=on_progress,
            )
            source = f"builtin:{dataset}"
        else:
            chosen = fmt or detect_format(path)
            data = load_path(chosen, path, name=dataset, k_core=k_core, progress=on_progress)
            source = f"{chosen}:{path.resolve()}"

    folder = out or settings.workdir.dataset(dataset)
    meta = save_processed(data, folder, source)
    log.info("prepared dataset", dataset=meta.name, folder=str(folder), hash=meta.content_hash[:16])
    typer.echo(f"dataset       {meta.name}")
    typer.echo(f"source        {meta.source}")
    typer.echo(f"users         {meta.n_users}")
    typer.echo(f"items         {meta.n_items}")
    typer.echo(f"interactions  {meta.n_interactions}")
    typer.echo(f"items w/ text {sum(1 for it in data.items if it.title)}")
    typer.echo(f"content hash  {meta.content_hash}")
    typer.echo(f"folder        {folder}")
