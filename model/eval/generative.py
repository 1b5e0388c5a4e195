"""The aligned LM as a `Scorer`: full-catalogue ranking through trie-constrained beam search.

Contract: `GenerativeScorer(name, model, tokenizer, codes, prompt, beam_width)` ranks each `EvalCase` by building the
prompt from `case.history` exactly as serving does (`PromptBuilder` with the artifact's `PromptConfig`) and taking
the generator's top-k: every item is a real catalogue item, ranked by the sum of its code tokens' log-probabilities.
The beam width is max(beam_width, k) (stated in `describe()` for reports). With `exclude_seen`, the search asks for
k + |seen minus target| items (capped at the catalogue) and drops the seen ones, so the list still holds k items.
`from_artifact(folder)` loads a saved model artifact onto `device` (default "auto": the GPU when CUDA is present,
`model.lm.device`). The model's weights are read at each call, so the trainer can
validate the model it is training. It knows nothing about training or metrics.
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
from model.eval.scorer import check_k
from model.generate.hf_beam import HFBeamGenerator
from model.lm.device import resolve_device
from model.prompts import PromptBuilder


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
    ) -> None:
        self.name = name
        self.model = model
        self.codes = codes
        self.beam_width = beam_width
        self.batch_size = batch_size
        self.dtype = dtype
        self.pad_id = int(tokenizer.pad_token_id) if tokenizer.pad_token_id is not None else 0
        vocab = CodeVocab.from_tokenizer(tokenizer, codes.level_sizes)
        self.trie = CodeTrie.build(codes, vocab)
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
            name or f"lm:{folder.name}", model, tokenizer, artifact.codes, artifact.meta.prompt, beam_width, batch_size
        )
        scorer.artifact_version = artifact.version  # type: ignore[attr-defined]
        return scorer

    def describe(self, k: int) -> dict[str, Any]:
        return {"beam_width": max(self.beam_width, k), "max_history": self.prompts.max_history}

    def rank(self, cases: Sequence[EvalCase], k: int, exclude_seen: bool) -> list[list[int]]:
        n = self.codes.n_items
        check_k(k, n)
        want = [min(n, k + (len(c.seen - {c.target}) if exclude_seen else 0)) for c in cases]
        order = sorted(range(len(cases)), key=lambda i: want[i])
        out: list[list[int]] = [[] for _ in cases]
        for start in range(0, len(order), self.batch_size):
            chunk = [i for i in order[start : start + self.batch_size] if cases[i].history]
            if not chunk:
                continue
            k_req = max(want[i] for i in chunk)
            generator = HFBeamGenerator(
                self.model,
                self.trie,
                beam_width=max(self.beam_width, k_req),
                dtype=self.dtype,
                batch_size=self.batch_size,
                pad_token_id=self.pad_id,
            )
            ranked = generator.top_k(self.prompts.batch([cases[i].history for i in chunk]), k_req)
            for i, items in zip(chunk, ranked, strict=True):
                case = cases[i]
                keep = [s.item for s in items if not (exclude_seen and s.item in case.seen and s.item != case.target)]
                out[i] = keep[:k]
        return out
