"""Recommender: a model artifact plus a generator, from item histories to top-K items. What refresh and serving call.

Contract: `recommend(histories, k)` returns, for each history (item indices, oldest first), up to k
`ScoredItem`s best first, from trie-constrained generation; an empty history gets an empty list (the caller falls
back to popularity), an unknown item index raises `UserError`. Histories are cut to the prompt's `max_history`.
`popular(k, exclude)` is the fallback list. Items removed from the artifact's catalogue are in neither.
`dtype="auto"` runs bf16 only on bf16-native hardware (model.lm.dtype). This module knows nothing about Redis, HTTP
or users.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from model.artifact import ModelArtifact
from model.codes.trie import CodeTrie
from model.generate import Backend, Generator, ScoredItem, make_generator, resolve_backend
from model.lm.dtype import resolve_dtype
from model.prompts import PromptBuilder


class Recommender:
    def __init__(
        self,
        artifact: ModelArtifact,
        backend: Backend = "auto",
        dtype: str = "auto",
        beam_width: int | None = None,
        batch_size: int = 32,
    ) -> None:
        self.artifact = artifact
        self.backend = resolve_backend(backend)
        self.dtype = dtype = resolve_dtype(dtype)  # "auto": bf16 only where the hardware computes it natively
        options: dict[str, object] = {"beam_width": beam_width}
        model: object
        if self.backend == "vllm":  # the engine loads the weights itself, in its own processes
            tokenizer, vocab = artifact.load_tokenizer()
            model, options["dtype"] = artifact.lm_dir, dtype
        else:
            model, tokenizer, vocab = artifact.load_lm(dtype)
            options["batch_size"] = batch_size
            if tokenizer.pad_token_id is not None:
                options["pad_token_id"] = int(tokenizer.pad_token_id)
        self.trie = CodeTrie.build(artifact.codes, vocab, artifact.live_items)  # removed items are never generated
        self.generator: Generator = make_generator(self.backend, model, self.trie, **options)
        prompt = artifact.meta.prompt
        self.prompts = PromptBuilder(
            tokenizer, artifact.codes, vocab, max_history=prompt.max_history, template=prompt.template()
        )

    @property
    def version(self) -> str:
        return self.artifact.version

    @property
    def n_items(self) -> int:
        return self.artifact.codes.n_items

    def recommend(self, histories: Sequence[Sequence[int]], k: int) -> list[list[ScoredItem]]:
        out: list[list[ScoredItem]] = [[] for _ in histories]
        live = [i for i, h in enumerate(histories) if len(h) > 0]
        if live:
            prompts = self.prompts.batch([histories[i] for i in live])
            for i, ranked in zip(live, self.generator.top_k(prompts, k), strict=True):
                out[i] = ranked
        return out

    def popular(self, k: int, exclude: Collection[int] = ()) -> list[int]:
        ranked = (int(i) for i in self.artifact.popular if int(i) not in exclude)
        return [i for _, i in zip(range(k), ranked, strict=False)]
