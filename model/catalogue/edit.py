"""Catalogue edits: a new artifact version with items added or removed, the LM untouched and the old version kept.

Contract:
- `add_items(artifact, items, tokenizer_dir, out, text_map)`: every item of the file is checked before anything is
  computed (an id already in the catalogue, an embedding of the wrong width, an item with neither text nor an
  embedding, text when the tokenizer has no text route: `DataFormatError` naming the file, line and field). A new
  item's code comes from its collaborative embedding when it has one, else from its text
  (`model.catalogue.encode`), placed by `model.catalogue.assign` (`placement`: as a sibling of trained items, the
  default, or freely) and collision-free; it takes the next item index. An id
  that was removed earlier is restored with its old index and code (no text needed). Added items join the end of
  the popularity list (they have no interactions yet).
- `remove_items(artifact, ids, out)`: the items leave the trie and the popularity list; their index and code stay
  reserved. Unknown ids are a `UserError` naming them; ids already removed are skipped and reported. Removing
  every item is refused. Nothing left to change returns None and writes nothing.
- Both write the new version with `model.artifact.save_derived_artifact` into a hidden staging folder beside the
  target and rename it into place: to `out`, or by default `model.workdir.derived_artifact(artifact.path, version)`.
  A target that already holds this version is reused; one holding anything else is refused. The source artifact
  is never written to.
`tokenizer_of(artifact)` is the tokenizer folder the artifact's codes came from (recorded by `genrec train`), when
it is still there. It knows nothing about Redis, HTTP or the command line.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.artifact import ArtifactMeta, ModelArtifact, read_artifact_meta, save_derived_artifact
from model.catalogue.assign import Placement, assign_codes
from model.catalogue.encode import ItemEncoder, TextMap, TextSpace, TextUnavailableError
from model.catalogue.items_file import EMBEDDING_KEY, ID_KEY, NewItem
from model.catalogue.state import AddedItem, CatalogueState
from model.codes.item_codes import ItemCodes
from model.data.records import InteractionDataset, Item
from model.errors import UserError
from model.lm.text_embed import item_texts
from model.logs import get_logger
from model.workdir import META_FILE, derived_artifact

log = get_logger(__name__)
QUANTIZER_DIR, LM_DIR = "quantizer", "lm"  # the tokenizer stage's layout (model.tokenizer.build)


@dataclass(frozen=True)
class EditResult:
    folder: Path  # the new version's folder
    meta: ArtifactMeta
    added: tuple[AddedItem, ...] = ()  # this edit's additions (restored items included, method "restored")
    removed: tuple[str, ...] = ()  # ids this edit removed
    skipped: tuple[str, ...] = ()  # ids already removed before this edit
    reused: bool = False  # the target already held this exact version
    n_items: int = 0  # item indices in the new version (removed ones included)
    n_live: int = 0  # items in its catalogue (not removed)

    @property
    def methods(self) -> dict[str, int]:
        return dict(Counter(a.method for a in self.added))


def tokenizer_of(artifact: ModelArtifact) -> Path | None:
    recorded = artifact.meta.training.get("codes")
    if isinstance(recorded, str) and (Path(recorded) / QUANTIZER_DIR).is_dir():
        return Path(recorded)
    return None


def add_items(
    artifact: ModelArtifact,
    items: Sequence[NewItem],
    tokenizer_dir: Path | None,
    out: Path | None = None,
    text_map: TextMap = "auto",
    placement: Placement = "sibling",
) -> EditResult:
    state = artifact.state
    index = {item.raw_id: item.index for item in artifact.dataset.items}
    restore: list[NewItem] = []
    fresh: list[NewItem] = []
    for item in items:
        known = index.get(item.raw_id)
        if known is None:
            fresh.append(item)
        elif known in state.removed:
            restore.append(item)
        else:
            raise item.error(f"already in the catalogue (item index {known}); remove it first to replace it", ID_KEY)
    new_codes = np.empty((0, artifact.codes.n_levels), dtype=np.int64)
    methods: list[str] = []
    detail: dict[str, str] = {}
    if fresh:
        encoder = _encoder(artifact, state, tokenizer_dir, fresh, text_map)
        methods = _check_routes(fresh, encoder)
        latents = np.empty((len(fresh), encoder.codebooks.shape[2]))
        by_embedding = [i for i, m in enumerate(methods) if m == "embedding"]
        by_text = [i for i, m in enumerate(methods) if m != "embedding"]
        if by_embedding:
            rows = np.stack([fresh[i].embedding for i in by_embedding])  # type: ignore[misc]
            latents[by_embedding] = encoder.from_embedding(rows)
        if by_text:
            latents[by_text] = encoder.from_text(item_texts([_as_item(fresh[i], 0) for i in by_text]))
        new_codes = assign_codes(latents, encoder.codebooks, artifact.codes.codes, placement)
        detail = {"placement": placement, "tokenizer": encoder.source}
    n = artifact.codes.n_items
    added = tuple(AddedItem(index[it.raw_id], it.raw_id, "restored") for it in restore) + tuple(
        AddedItem(n + i, it.raw_id, method) for i, (it, method) in enumerate(zip(fresh, methods, strict=True))
    )
    dataset = InteractionDataset(
        artifact.dataset.name,
        [*artifact.dataset.items, *(_as_item(it, n + i) for i, it in enumerate(fresh))],
        artifact.dataset.user_ids,
        artifact.dataset.sequences,
    )
    codes = ItemCodes(np.concatenate([artifact.codes.codes, new_codes]), artifact.codes.level_sizes)
    popular = [*artifact.popular.tolist(), *(a.index for a in added)]
    restored = {a.index for a in added if a.method == "restored"}
    new_state = state.with_edit(
        "add", len(added), artifact.version, int(time.time()), detail, removed=state.removed - restored,
        added=(*state.added, *added),
    )  # fmt: skip
    folder, meta, reused = _write(artifact, codes, dataset, popular, new_state, out)
    log.info("catalogue items added", folder=str(folder), version=meta.version[:16], **Counter(methods))
    live = codes.n_items - len(new_state.removed)
    return EditResult(folder, meta, added=added, reused=reused, n_items=codes.n_items, n_live=live)


def remove_items(artifact: ModelArtifact, raw_ids: Sequence[str], out: Path | None = None) -> EditResult | None:
    state = artifact.state
    index = {item.raw_id: item.index for item in artifact.dataset.items}
    unknown = [r for r in dict.fromkeys(raw_ids) if r not in index]
    if unknown:
        shown = ", ".join(map(repr, unknown[:10])) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
        raise UserError(f"{len(unknown)} item id(s) not in the catalogue of {artifact.path}: {shown}")
    wanted = list(dict.fromkeys(raw_ids))
    skipped = tuple(r for r in wanted if index[r] in state.removed)
    gone = tuple(r for r in wanted if index[r] not in state.removed)
    if not gone:
        return None
    removed = state.removed | {index[r] for r in gone}
    if len(removed) >= artifact.codes.n_items:
        raise UserError(f"removing these {len(gone)} items would leave the catalogue of {artifact.path} empty")
    popular = [int(i) for i in artifact.popular if int(i) not in removed]
    new_state = state.with_edit("remove", len(gone), artifact.version, int(time.time()), removed=removed)
    folder, meta, reused = _write(artifact, artifact.codes, artifact.dataset, popular, new_state, out)
    log.info("catalogue items removed", folder=str(folder), version=meta.version[:16], removed=len(gone))
    n = artifact.codes.n_items
    return EditResult(folder, meta, removed=gone, skipped=skipped, reused=reused, n_items=n, n_live=n - len(removed))


def _as_item(item: NewItem, index: int) -> Item:
    return Item(index, item.raw_id, item.title, dict(item.fields))


def _encoder(
    artifact: ModelArtifact,
    state: CatalogueState,
    tokenizer_dir: Path | None,
    fresh: Sequence[NewItem],
    text_map: TextMap,
) -> ItemEncoder:
    from model.tokenizer.artifact import load_tokenizer
    from model.tokenizer.build import read_meta as read_tokenizer_meta

    folder = tokenizer_dir or tokenizer_of(artifact)
    if folder is None:
        recorded = artifact.meta.training.get("codes")
        raise UserError(
            f"new items need the tokenizer that made the codes of {artifact.path} (recorded: {recorded!r}, not a "
            "tokenizer folder here); pass --tokenizer DIR"
        )
    trained_codes = artifact.codes.codes[: state.trained_items]
    theirs = ItemCodes.load(folder)
    if theirs.level_sizes != artifact.codes.level_sizes or not np.array_equal(theirs.codes, trained_codes):
        raise UserError(
            f"the tokenizer in {folder} did not make the codes of {artifact.path} (its {theirs.n_items} codes "
            f"differ from the artifact's {state.trained_items} trained ones); pass the right --tokenizer"
        )
    trained = load_tokenizer(folder / QUANTIZER_DIR)
    trained_items = artifact.dataset.items[: state.trained_items]
    has_text = InteractionDataset("trained", trained_items, [], []).has_text
    text = None
    if has_text and any(it.embedding is None and it.has_text for it in fresh):
        from model.lm.smollm2 import load_causal_lm

        lm = load_causal_lm(folder / LM_DIR)
        text = TextSpace(lm.model, lm.tokenizer, item_texts(trained_items))
    encoder = ItemEncoder(trained, trained_codes, text, text_map, existing_codes=artifact.codes.codes)
    encoder.source = read_tokenizer_meta(folder).content_hash if (folder / META_FILE).is_file() else str(folder)
    return encoder


def _check_routes(fresh: Sequence[NewItem], encoder: ItemEncoder) -> list[str]:
    """How each new item's code will be made; DataFormatError naming the first item no route serves."""
    methods = []
    for item in fresh:
        if item.embedding is not None:
            if item.embedding.shape[0] != encoder.input_dim:
                raise item.error(
                    f"embedding has {item.embedding.shape[0]} numbers; the tokenizer's collaborative embeddings "
                    f"have {encoder.input_dim}",
                    EMBEDDING_KEY,
                )
            methods.append("embedding")
        elif item.has_text:
            try:
                encoder.check_text()
            except TextUnavailableError as exc:
                raise item.error(f"it has text only, and {exc}", EMBEDDING_KEY) from None
            methods.append(encoder.text_method)
        else:
            raise item.error(
                "no title, no text field and no embedding: nothing to make its code from; give its text or its "
                "collaborative embedding"
            )
    return methods


def _write(
    artifact: ModelArtifact,
    codes: ItemCodes,
    dataset: InteractionDataset,
    popular: Sequence[int],
    state: CatalogueState,
    out: Path | None,
) -> tuple[Path, ArtifactMeta, bool]:
    if out is not None and out.resolve() == artifact.path.resolve():
        raise UserError(f"--out {out} is the artifact itself: a new version goes to a new folder (the old one stays)")
    parent = (out or artifact.path).parent
    staging = parent / f".{artifact.path.name}.edit-{os.getpid()}"
    try:
        meta = save_derived_artifact(artifact, staging, codes, dataset, popular, state)
        target = out or derived_artifact(artifact.path, meta.version)
        if target.exists():
            if (target / META_FILE).is_file() and read_artifact_meta(target).version == meta.version:
                return target, read_artifact_meta(target), True
            raise UserError(f"{target} exists and is not this version; pass --out to choose another folder")
        os.replace(staging, target)
        return target, meta, False
    finally:
        shutil.rmtree(staging, ignore_errors=True)
