"""The model artifact: everything the offline job and the service need to recommend, in one folder.

Contract: `save_artifact(...)` writes
    lm/          the causal LM with code tokens and its tokenizer (transformers `save_pretrained`, safetensors)
    codes/       the ItemCodes (item index -> code tuple), as `ItemCodes.save` writes them
    data/        the processed dataset the model was trained on (items with titles, users' sequences)
    popular.npy  item indices ranked by training-split popularity (the fallback list)
    meta.json    ArtifactMeta, written last
and returns the meta. An artifact that `genrec catalogue add/remove` derived from another one
(`save_derived_artifact`: the same lm/, hard-linked) also holds `catalogue.json` (`model.catalogue.state`): the
items added and removed since training; its data/ and codes/ hold the added items after the trained ones.
`version` is `model.hashing.folder_hash` of every file but meta.json, so the same weights, codes, data and
prompt always give the same version, and any edit gives a new one; it is the model version the cache and the service
report. `load_artifact(folder)` checks the format, re-hashes the files and refuses a folder that does not match its
meta, with a message naming the folder and what is wrong. Loading the LM itself (`load_lm`) is separate because it
is the expensive part. This module knows nothing about training, Redis or HTTP.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from model.catalogue.state import CatalogueState, read_state, write_state
from model.codes.item_codes import ItemCodes
from model.codes.vocab import CodeVocab
from model.data.processed import DatasetMeta, load_processed, save_processed
from model.data.records import InteractionDataset
from model.errors import DataFormatError, UserError
from model.hashing import folder_hash
from model.prompts import PromptTemplate
from model.workdir import META_FILE

FORMAT_VERSION = 2  # 2: the version is model.hashing.folder_hash (1 hashed paths and bytes without sizes)
LM_DIR, CODES_DIR, DATA_DIR, POPULAR_FILE = "lm", "codes", "data", "popular.npy"
_DEFAULT_TEMPLATE = PromptTemplate()


@dataclass(frozen=True, slots=True)
class PromptConfig:
    """How histories become prompts; saved with the model so serving builds exactly the prompts it was trained on."""

    max_history: int = 20
    head: str = _DEFAULT_TEMPLATE.head
    sep: str = _DEFAULT_TEMPLATE.sep
    tail: str = _DEFAULT_TEMPLATE.tail
    add_bos: bool = _DEFAULT_TEMPLATE.add_bos

    def template(self) -> PromptTemplate:
        return PromptTemplate(head=self.head, sep=self.sep, tail=self.tail, add_bos=self.add_bos)


@dataclass(frozen=True, slots=True)
class ArtifactMeta:
    version: str  # sha256 of the artifact's files (see the module contract): the model version
    dataset: str  # dataset name
    dataset_hash: str  # the processed dataset's content hash
    codes_hash: str  # ItemCodes content hash (the tokenizer stage's output)
    base_lm: str  # what the LM started from: "tiny", "smollm2-135m" or a path
    prompt: PromptConfig
    created_at: int  # unix seconds
    metrics: dict[str, float] = field(default_factory=dict)  # validation/test metrics at save time
    training: dict[str, Any] = field(default_factory=dict)  # the training configuration, for the record
    format_version: int = FORMAT_VERSION


@dataclass(frozen=True)
class ModelArtifact:
    path: Path
    meta: ArtifactMeta
    dataset: InteractionDataset
    dataset_meta: DatasetMeta
    codes: ItemCodes
    popular: npt.NDArray[np.int64]  # item indices, most popular first (removed items left out)
    catalogue: CatalogueState | None = None  # changes since training (catalogue.json); None: as trained

    @property
    def version(self) -> str:
        return self.meta.version

    @property
    def state(self) -> CatalogueState:
        """What was added and removed since training (nothing, for an artifact as training wrote it)."""
        return self.catalogue or CatalogueState.trained(self.codes.n_items, self.meta.dataset_hash)

    @property
    def removed(self) -> frozenset[int]:
        """Item indices taken out of the catalogue: never generated, never listed."""
        return self.state.removed

    @property
    def live_items(self) -> list[int] | None:
        """The item indices a trie over this catalogue holds; None when that is every item."""
        return self.state.live(self.codes.n_items) if self.removed else None

    @property
    def lm_dir(self) -> Path:
        """The LM folder (transformers `save_pretrained` layout), e.g. for the vLLM backend to load itself."""
        return self.path / LM_DIR

    def load_tokenizer(self) -> tuple[PreTrainedTokenizerBase, CodeVocab]:
        """The tokenizer and where the code tokens sit in its vocabulary."""
        tokenizer = AutoTokenizer.from_pretrained(self.lm_dir, local_files_only=True)
        return tokenizer, CodeVocab.from_tokenizer(tokenizer, self.codes.level_sizes)

    def load_lm(self, dtype: str = "float32") -> tuple[PreTrainedModel, PreTrainedTokenizerBase, CodeVocab]:
        """The LM (eval mode), its tokenizer, and where the code tokens sit in its vocabulary."""
        torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}.get(dtype)
        if torch_dtype is None:
            raise UserError(f"dtype must be 'float32' or 'bfloat16'; got {dtype!r}")
        tokenizer, vocab = self.load_tokenizer()
        model = AutoModelForCausalLM.from_pretrained(self.lm_dir, local_files_only=True, dtype=torch_dtype)
        return model.eval(), tokenizer, vocab


def save_artifact(
    folder: Path,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    codes: ItemCodes,
    dataset: InteractionDataset,
    dataset_source: str,
    popular: npt.ArrayLike,
    base_lm: str,
    prompt: PromptConfig,
    metrics: dict[str, float] | None = None,
    training: dict[str, Any] | None = None,
) -> ArtifactMeta:
    """Write a complete artifact into `folder` (replacing one that is there) and return its meta."""
    if codes.n_items != dataset.n_items:
        raise UserError(f"the codes cover {codes.n_items} items but dataset {dataset.name!r} has {dataset.n_items}")
    ranked = np.asarray(popular, dtype=np.int64)
    if ranked.ndim != 1 or (ranked.size and (ranked.min() < 0 or ranked.max() >= dataset.n_items)):
        raise UserError(f"popular must be a 1-d list of item indices below {dataset.n_items}")
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    model.save_pretrained(staging / LM_DIR, safe_serialization=True)
    tokenizer.save_pretrained(staging / LM_DIR)
    codes.save(staging / CODES_DIR)
    dataset_meta = save_processed(dataset, staging / DATA_DIR, dataset_source)
    np.save(staging / POPULAR_FILE, ranked)
    meta = ArtifactMeta(
        version=folder_hash(staging, exclude=(META_FILE,)),
        dataset=dataset.name,
        dataset_hash=dataset_meta.content_hash,
        codes_hash=codes.content_hash,
        base_lm=base_lm,
        prompt=prompt,
        created_at=int(time.time()),
        metrics=dict(metrics or {}),
        training=dict(training or {}),
    )
    (staging / META_FILE).write_bytes(orjson.dumps(asdict(meta), option=orjson.OPT_INDENT_2))
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(staging, folder)
    return meta


def read_artifact_meta(folder: Path) -> ArtifactMeta:
    path = folder / META_FILE
    if not path.is_file():
        raise UserError(f"{folder} is not a model artifact: {META_FILE} is missing (was training finished?)")
    try:
        raw = orjson.loads(path.read_bytes())
        if raw.get("format_version") != FORMAT_VERSION:
            raise DataFormatError(path, f"format version {raw.get('format_version')!r} is not {FORMAT_VERSION}")
        raw["prompt"] = PromptConfig(**raw["prompt"])
        return ArtifactMeta(**raw)
    except (orjson.JSONDecodeError, TypeError, KeyError) as exc:
        raise DataFormatError(path, f"not a valid artifact meta: {exc}") from None


def load_artifact(folder: Path, verify: bool = True) -> ModelArtifact:
    """Read and check an artifact (everything but the LM weights, which `load_lm` reads)."""
    meta = read_artifact_meta(folder)
    for part in (LM_DIR, CODES_DIR, DATA_DIR, POPULAR_FILE):
        if not (folder / part).exists():
            raise UserError(f"model artifact {folder} is incomplete: {part} is missing")
    if verify and (actual := folder_hash(folder, exclude=(META_FILE,))) != meta.version:
        raise DataFormatError(
            folder / META_FILE, f"artifact files do not match version {meta.version[:12]} (hash {actual[:12]})"
        )
    dataset, dataset_meta = load_processed(folder / DATA_DIR)
    codes = ItemCodes.load(folder / CODES_DIR)
    if codes.content_hash != meta.codes_hash or dataset_meta.content_hash != meta.dataset_hash:
        raise DataFormatError(folder / META_FILE, "codes or dataset hash differs from the meta")
    popular = np.load(folder / POPULAR_FILE).astype(np.int64)
    state = read_state(folder, codes.n_items, dataset_meta.content_hash)
    return ModelArtifact(folder, meta, dataset, dataset_meta, codes, popular, state)


def save_derived_artifact(
    source: ModelArtifact,
    staging: Path,
    codes: ItemCodes,
    dataset: InteractionDataset,
    popular: npt.ArrayLike,
    state: CatalogueState,
) -> ArtifactMeta:
    """A new artifact version in `staging` from `source`: the same LM files (hard-linked where the file system allows,
    else copied), new codes, data, popularity and catalogue state; the meta keeps the source's training record."""
    if codes.n_items != dataset.n_items:
        raise UserError(f"the codes cover {codes.n_items} items but the dataset has {dataset.n_items}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    shutil.copytree(source.lm_dir, staging / LM_DIR, copy_function=_link_or_copy)
    codes.save(staging / CODES_DIR)
    dataset_meta = save_processed(dataset, staging / DATA_DIR, source.dataset_meta.source)
    np.save(staging / POPULAR_FILE, np.asarray(popular, dtype=np.int64))
    write_state(staging, state)
    meta = replace(
        source.meta,
        version=folder_hash(staging, exclude=(META_FILE,)),
        dataset_hash=dataset_meta.content_hash,
        codes_hash=codes.content_hash,
        created_at=int(time.time()),
    )
    (staging / META_FILE).write_bytes(orjson.dumps(asdict(meta), option=orjson.OPT_INDENT_2))
    return meta


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
