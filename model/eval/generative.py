"""Ranking models as `Scorer`s for evaluation: the LM being trained, and a saved artifact ranked as the product ranks.

Contract: `GenerativeScorer(name, model, tokenizer, codes, prompt, beam_width)` ranks each `EvalCase` by building the
prompt from `case.history` exactly as serving does (`PromptBuilder` with the artifact's `PromptConfig`) and taking the
generator's top-k: every item is a real catalogue item, ranked by the sum of its code tokens' log-probabilities. The
beam width is max(beam_width, k) (stated in `describe()` for reports). With `exclude_seen`, the case's seen items (minus
its target) are banned inside the search, as the product bans a user's history, so the list still holds k items. The
model's weights are read at each call, so the trainer can validate the model it is training; `from_artifact(folder)`
loads a saved artifact onto `device` (default "auto": the GPU when CUDA is present). `RecommenderScorer(name,
recommender)` ranks through `model.recommender.Recommender` (the LM alone or the artifact's fused ranking), i.e. through
the very code refresh and the live path run, with the same banning. `items` limits `GenerativeScorer` to those item
indices (`from_artifact` passes the catalogue's live items: removed items are never ranked; the `Recommender` does
the same). They know nothing about training or metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from model.artifact import PromptConfig, load_artifact
from model.codes.item_codes import ItemCodes
from model.codes.trie import CodeTrie
from model.codes.vocab import CodeVocab
from model.data.split import EvalCase
from model.eval.scorer import check_k, excluded
from model.generate.hf_beam import HFBeamGenerator
from model.lm.device import resolve_device
from model.prompts import PromptBuilder
from model.recommender import Recommender


class GenerativeScorer:
    def __init__(
        self,
        name: str,
        model: Any,
        tokenizer: Any,
        codes: ItemCodes,
        prompt: PromptConfig,
        beam_width: int = 20,
        batch_size: int = 32,
        dtype: str | None = None,
        items: Sequence[int] | None = None,
    ) -> None:
        self.name = name
        self.model = model
        self.codes = codes
        self.beam_width = beam_width
        self.batch_size = batch_size
        self.dtype = dtype
        self.pad_id = int(tokenizer.pad_token_id) if tokenizer.pad_token_id is not None else 0
        vocab = CodeVocab.from_tokenizer(tokenizer, codes.level_sizes)
        self.trie = CodeTrie.build(codes, vocab, items)
        self.prompts = PromptBuilder(tokenizer, codes, vocab, prompt.max_history, prompt.template())

    @classmethod
    def from_artifact(
        cls,
        folder: Path,
        name: str | None = None,
        beam_width: int = 20,
        batch_size: int = 32,
        dtype: str = "float32",
        device: str = "auto",
    ) -> GenerativeScorer:
        artifact = load_artifact(folder)
        model, tokenizer, _ = artifact.load_lm(dtype)
        model = model.to(torch.device(resolve_device(device)))  # type: ignore[arg-type]
        scorer = cls(
            name or f"lm:{folder.name}",
            model,
            tokenizer,
            artifact.codes,
            artifact.meta.prompt,
            beam_width,
            batch_size,
            items=artifact.live_items,
        )
        scorer.artifact_version = artifact.version  # type: ignore[attr-defined]
        return scorer

    def describe(self, k: int) -> dict[str, Any]:
        return {"beam_width": max(self.beam_width, k), "max_history": self.prompts.max_history}

    def rank(self, cases: Sequence[EvalCase], k: int, exclude_seen: bool) -> list[list[int]]:
        check_k(k, self.codes.n_items)
        out: list[list[int]] = [[] for _ in cases]
        live = [i for i, c in enumerate(cases) if c.history]
        generator = HFBeamGenerator(
            self.model,
            self.trie,
            beam_width=max(self.beam_width, k),
            dtype=self.dtype,
            batch_size=self.batch_size,
            pad_token_id=self.pad_id,
        )
        exclude = [excluded(cases[i], exclude_seen) for i in live] if exclude_seen else None
        ranked = generator.top_k(self.prompts.batch([cases[i].history for i in live]), k, exclude)
        for i, items in zip(live, ranked, strict=True):
            out[i] = [s.item for s in items]
        return out


class RecommenderScorer:
    """A `Scorer` over a `Recommender`: evaluation ranks exactly as refresh and the live path do."""

    def __init__(self, name: str, recommender: Recommender, batch_size: int = 256) -> None:
        self.name = name
        self.recommender = recommender
        self.batch_size = batch_size

    def rank(self, cases: Sequence[EvalCase], k: int, exclude_seen: bool) -> list[list[int]]:
        check_k(k, self.recommender.n_items)
        out: list[list[int]] = []
        for start in range(0, len(cases), self.batch_size):
            chunk = cases[start : start + self.batch_size]
            exclude = [excluded(c, exclude_seen) for c in chunk]
            ranked = self.recommender.recommend([c.history for c in chunk], k, exclude, exclude_seen)
            out += [[s.item for s in row] for row in ranked]
        return out
