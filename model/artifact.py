"""The model artifact: everything the offline job and the service need to recommend, in one folder.

Contract: `save_artifact(...)` writes
    lm/           the causal LM with code tokens and its tokenizer (transformers `save_pretrained`, safetensors)
    codes/        the ItemCodes (item index -> code tuple), as `ItemCodes.save` writes them
    data/         the processed dataset the model was trained on (items with titles, users' sequences)
    popular.npy   item indices ranked by training-split popularity (the fallback list)
    ranking.json  (optional) how the product ranks (`model.rank.config.RankingConfig`); absent: the LM alone
    sasrec/       (optional) the SASRec a fused ranking scores candidates with (`model.baselines.sasrec_artifact`)
    meta.json     ArtifactMeta, written last
and returns the meta. An artifact that `genrec catalogue add/remove` derived from another one
(`save_derived_artifact`: every other file hard-linked) also holds `catalogue.json` (`model.catalogue.state`): the
items added and removed since training; its data/ and codes/ hold the added items after the trained ones, and its
SASRec (if any) still ranks the trained items only. `set_ranking(folder, ranking, sasrec)` stores a ranking (and the
SASRec it needs) in an existing artifact, which then has a new version like after any other edit. `version` is
`model.hashing.folder_hash` of every file but meta.json and data/meta.json (they hold save times), so the same
weights, codes, data, ranking and prompt always give the same version, and any edit gives a new one; it is the model
version the cache and the service report.
`load_artifact(folder)` checks the format, re-hashes the files and refuses a folder that does not match its meta, with
a message naming the folder and what is wrong. Loading the LM itself (`load_lm`) is separate because it is the
expensive part. This module knows nothing about training, Redis or HTTP.
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

from model.baselines.sasrec import SASRecScorer
from model.baselines.sasrec_artifact import load_sasrec
from model.catalogue.state import STATE_FILE, CatalogueState, read_state, write_state
from model.codes.item_codes import ItemCodes
from model.codes.vocab import CodeVocab
from model.data.processed import DatasetMeta, load_processed, save_processed
from model.data.records import InteractionDataset
from model.errors import DataFormatError, UserError
from model.hashing import folder_hash
from model.prompts import PromptTemplate
from model.rank.config import LM_ONLY, RankingConfig
from model.workdir import META_FILE

FORMAT_VERSION = 3  # 3: data/meta.json (its save time) is outside the version; 2: hashed it; 1: paths and bytes only
LM_DIR, CODES_DIR, DATA_DIR, POPULAR_FILE = "lm", "codes", "data", "popular.npy"
RANKING_FILE, SASREC_DIR = "ranking.json", "sasrec"
# Files outside the version: the artifact's own meta and the dataset's, which record when they were written. The
# dataset's content is still in the version through its items and sequences files.
UNHASHED = (META_FILE, f"{DATA_DIR}/{META_FILE}")
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
    ranking: RankingConfig = LM_ONLY  # how the product ranks with this artifact
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

    @property
    def has_sasrec(self) -> bool:
        return (self.path / SASREC_DIR / META_FILE).is_file()

    def load_sasrec(self) -> SASRecScorer:
        """The SASRec a fused ranking scores with; `UserError` when the artifact carries none."""
        if not self.has_sasrec:
            raise UserError(f"model artifact {self.path} holds no SASRec ({SASREC_DIR}/ is missing)")
        scorer, meta = load_sasrec(self.path / SASREC_DIR)
        if meta.config.n_items != self.state.trained_items:  # items added later are unknown to it
            n, want = meta.config.n_items, self.state.trained_items
            raise DataFormatError(self.path / SASREC_DIR, f"ranks {n} items, not the catalogue's {want} trained ones")
        return scorer


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
    ranking: RankingConfig | None = None,
    sasrec: Path | None = None,
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
    _write_ranking(staging, ranking, sasrec)
    meta = ArtifactMeta(
        version=folder_hash(staging, exclude=UNHASHED),
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
    _swap_in(staging, folder)
    return meta


def set_ranking(folder: Path, ranking: RankingConfig, sasrec: Path | None = None) -> ArtifactMeta:
    """Store `ranking` (and, when given, the SASRec folder it fuses with) in the artifact at `folder`; returns the
    new meta, whose version is the rewritten folder's hash. A ranking that fuses needs a SASRec: given here, or
    already in the artifact. The folder is replaced atomically (a failure leaves the old artifact as it was)."""
    meta = read_artifact_meta(folder)
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(folder, staging)
    (staging / META_FILE).unlink()
    if sasrec is None and ranking.uses_sasrec and (folder / SASREC_DIR).is_dir():
        sasrec = folder / SASREC_DIR
    (staging / RANKING_FILE).unlink(missing_ok=True)
    keep = staging / (SASREC_DIR + ".kept")
    if (staging / SASREC_DIR).is_dir():
        (staging / SASREC_DIR).rename(keep)
    if sasrec is not None and sasrec.resolve() == (folder / SASREC_DIR).resolve():
        sasrec = keep
    _write_ranking(staging, ranking, sasrec)
    shutil.rmtree(keep, ignore_errors=True)
    new = replace(meta, version=folder_hash(staging, exclude=UNHASHED))
    (staging / META_FILE).write_bytes(orjson.dumps(asdict(new), option=orjson.OPT_INDENT_2))
    _swap_in(staging, folder)
    return new


def _write_ranking(staging: Path, ranking: RankingConfig | None, sasrec: Path | None) -> None:
    if ranking is None or ranking == LM_ONLY:
        if sasrec is not None:
            raise UserError("a SASRec was given for an artifact whose ranking does not fuse with it")
        return
    if ranking.uses_sasrec:
        if sasrec is None:
            raise UserError(f"the ranking fuses with SASRec ({ranking.seen_removed.describe()}) but none was given")
        load_sasrec(sasrec)  # refuses a folder that is not a SASRec, naming the file
        shutil.copytree(sasrec, staging / SASREC_DIR)
    (staging / RANKING_FILE).write_bytes(orjson.dumps(ranking.to_dict(), option=orjson.OPT_INDENT_2))


def _swap_in(staging: Path, folder: Path) -> None:
    """Put `staging` where `folder` is, replacing it; the old one is removed only once the new one is in place."""
    if not folder.exists():
        os.replace(staging, folder)
        return
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    os.replace(folder, old)
    os.replace(staging, folder)
    shutil.rmtree(old)


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
    if verify and (actual := folder_hash(folder, exclude=UNHASHED)) != meta.version:
        raise DataFormatError(
            folder / META_FILE, f"artifact files do not match version {meta.version[:12]} (hash {actual[:12]})"
        )
    dataset, dataset_meta = load_processed(folder / DATA_DIR)
    codes = ItemCodes.load(folder / CODES_DIR)
    if codes.content_hash != meta.codes_hash or dataset_meta.content_hash != meta.dataset_hash:
        raise DataFormatError(folder / META_FILE, "codes or dataset hash differs from the meta")
    popular = np.load(folder / POPULAR_FILE).astype(np.int64)
    ranking = _read_ranking(folder)
    if ranking.uses_sasrec and not (folder / SASREC_DIR / META_FILE).is_file():
        raise DataFormatError(folder / RANKING_FILE, f"the ranking fuses with SASRec but {SASREC_DIR}/ is missing")
    state = read_state(folder, codes.n_items, dataset_meta.content_hash)
    return ModelArtifact(folder, meta, dataset, dataset_meta, codes, popular, ranking, state)


def _read_ranking(folder: Path) -> RankingConfig:
    path = folder / RANKING_FILE
    if not path.is_file():
        return LM_ONLY
    try:
        return RankingConfig.from_dict(orjson.loads(path.read_bytes()))
    except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
        raise DataFormatError(path, f"not a ranking configuration: {exc}") from None


def save_derived_artifact(
    source: ModelArtifact,
    staging: Path,
    codes: ItemCodes,
    dataset: InteractionDataset,
    popular: npt.ArrayLike,
    state: CatalogueState,
) -> ArtifactMeta:
    """A new artifact version in `staging` from `source`: new codes, data, popularity and catalogue state, every other
    file of `source` (the LM, a ranking and its SASRec) hard-linked where the file system allows, else copied; the meta
    keeps the source's training record."""
    if codes.n_items != dataset.n_items:
        raise UserError(f"the codes cover {codes.n_items} items but the dataset has {dataset.n_items}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    rewritten = {CODES_DIR, DATA_DIR, POPULAR_FILE, STATE_FILE, META_FILE}
    for part in sorted(source.path.iterdir()):
        if part.name in rewritten:
            continue
        if part.is_dir():
            shutil.copytree(part, staging / part.name, copy_function=_link_or_copy)
        else:
            _link_or_copy(str(part), str(staging / part.name))
    codes.save(staging / CODES_DIR)
    dataset_meta = save_processed(dataset, staging / DATA_DIR, source.dataset_meta.source)
    np.save(staging / POPULAR_FILE, np.asarray(popular, dtype=np.int64))
    write_state(staging, state)
    meta = replace(
        source.meta,
        version=folder_hash(staging, exclude=UNHASHED),
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
