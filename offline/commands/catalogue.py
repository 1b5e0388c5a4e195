"""`genrec catalogue add|remove --artifact DIR`: new artifact versions with items added or taken out, no retraining.

Contract: `add --items FILE` reads new items (JSON lines: id, title, text fields, optional `embedding`; see
`model.catalogue.items_file`), gives each a collision-free code from the tokenizer that made the artifact's codes
(`--tokenizer`, default the one `genrec train` recorded): from its collaborative embedding when given, else from its
text (`--text-map auto|projection|fitted`, see `model.catalogue.encode`); an item with neither is refused by name.
`--placement sibling` (default) puts a new item under the nearest prefix trained items already have, so the LM
generates it with them; `free` takes the nearest codeword at every level (`model.catalogue.assign`).
`remove --ids A,B | --ids-file FILE` takes items out (sold out, banned): they leave the trie and the popularity
list, so no refresh, live answer or evaluation shows them again. Both write a NEW artifact folder (`--out`, default
`<artifact>@<version prefix>` beside it; see `model.catalogue.edit`) and print its folder and version; the source
artifact is never modified and stays loadable. Refresh and serve the new folder the usual way (a full refresh: the
model version changed). A malformed file, an unknown id or a missing tokenizer exits with code 2 and a message naming
the file, line and field, before anything is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from model.catalogue.assign import PLACEMENTS
from model.catalogue.encode import TEXT_MAPS
from model.logs import get_logger

if TYPE_CHECKING:
    from model.catalogue.edit import EditResult

log = get_logger(__name__)
app = typer.Typer(
    name="catalogue",
    help="Add items to a trained model's catalogue, or take them out, as a new artifact version.",
    no_args_is_help=True,
)

ArtifactOpt = Annotated[Path, typer.Option(help="Model artifact folder (written by `genrec train` or an edit).")]
OutOpt = Annotated[
    Path | None, typer.Option(help="Folder of the new version. Default: <artifact>@<version prefix>, beside it.")
]


@app.command("add")
def add(
    artifact: ArtifactOpt,
    items: Annotated[Path, typer.Option(help="JSON lines: id, title, text fields, optional embedding.")],
    tokenizer: Annotated[
        Path | None, typer.Option(help="Tokenizer-stage folder that made the codes. Default: the recorded one.")
    ] = None,
    text_map: Annotated[
        str, typer.Option(help="Text to codes: auto, projection (aligned tokenizer) or fitted (ridge).")
    ] = "auto",
    placement: Annotated[
        str, typer.Option(help="sibling (under existing prefixes, the default) or free (any branch).")
    ] = "sibling",
    out: OutOpt = None,
) -> None:
    """Give new items codes and write a new artifact version that recommends them."""
    from model.artifact import load_artifact
    from model.catalogue.edit import add_items
    from model.catalogue.items_file import read_items_file

    if text_map not in TEXT_MAPS:
        raise typer.BadParameter(f"{text_map!r} is not one of {', '.join(TEXT_MAPS)}", param_hint="--text-map")
    if placement not in PLACEMENTS:
        raise typer.BadParameter(f"{placement!r} is not one of {', '.join(PLACEMENTS)}", param_hint="--placement")
    if tokenizer is not None and not tokenizer.is_dir():
        raise typer.BadParameter(f"{str(tokenizer)!r} is not a folder", param_hint="--tokenizer")
    new = read_items_file(items)  # every line checked before the artifact is even read
    loaded = load_artifact(artifact)
    result = add_items(loaded, new, tokenizer, out, text_map, placement)  # type: ignore[arg-type]
    methods = ", ".join(f"{n} from {m}" for m, n in sorted(result.methods.items()))
    typer.echo(f"added        {len(result.added)} items ({methods})")
    _print_version(result, loaded.version)


@app.command("remove")
def remove(
    artifact: ArtifactOpt,
    ids: Annotated[str | None, typer.Option(help="Comma-separated item ids.")] = None,
    ids_file: Annotated[
        Path | None, typer.Option(help="File of item ids: one per line (or JSON lines with an id).")
    ] = None,
    out: OutOpt = None,
) -> None:
    """Take items out of the catalogue (never generated or listed again) as a new artifact version."""
    from model.artifact import load_artifact
    from model.catalogue.edit import remove_items
    from model.catalogue.items_file import check_item_id, read_id_list

    if ids is None and ids_file is None:
        raise typer.BadParameter("give the items to remove with --ids or --ids-file", param_hint="--ids")
    wanted: list[str] = []
    for part in (ids or "").split(","):
        if part.strip():
            try:
                wanted.append(check_item_id(part.strip()))
            except ValueError as exc:
                raise typer.BadParameter(str(exc), param_hint="--ids") from None
    if ids_file is not None:
        wanted += read_id_list(ids_file)
    if not wanted:
        raise typer.BadParameter(f"no item id in {ids!r}", param_hint="--ids")
    loaded = load_artifact(artifact)
    result = remove_items(loaded, wanted, out)
    if result is None:
        typer.echo(f"nothing to change: every listed item is already removed from {artifact}")
        return
    typer.echo(f"removed      {len(result.removed)} items")
    if result.skipped:
        typer.echo(f"skipped      {len(result.skipped)} already removed: {', '.join(result.skipped[:10])}")
    _print_version(result, loaded.version)


def _print_version(result: EditResult, parent: str) -> None:
    typer.echo(f"catalogue    {result.n_live} items ({result.n_items - result.n_live} removed)")
    typer.echo(f"parent       {parent}")
    typer.echo(f"artifact     {result.folder}{' (already there)' if result.reused else ''}")
    typer.echo(f"version      {result.meta.version}")
