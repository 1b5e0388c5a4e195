"""Recommender: a model artifact plus a generator, from item histories to top-K items. What refresh, the service's
live path and evaluation call, so all three rank the same way.

Contract: `recommend(histories, k, exclude=None)` returns, for each history (item indices, oldest first), up to k
`ScoredItem`s best first: the artifact's ranking (`artifact.ranking`, or the `ranking` given) for the seen-item rule
in force. With `exclude_seen` (the product's default) the items of a user's own history are never recommended to
them: they are banned inside the LM's search and removed from SASRec's candidates, not filtered afterwards, so a list
still holds k items. `exclude` replaces that set per history when given (evaluation passes "seen minus the target";
an empty set excludes nothing). The ranking is the LM's constrained beam search alone (method `lm`), or a fusion of
the LM's top N and SASRec's top M candidates (`model.rank`). An empty history gets an empty list (the caller falls
back to popularity); an unknown item index raises `UserError`. Histories are cut to the prompt's `max_history` for
the LM and to SASRec's `max_len` for SASRec. `candidates(...)` exposes the fusion's candidate sets (to tune it; a
`sasrec` given to the constructor is used instead of the artifact's, e.g. before the artifact holds one).
`popular(k, exclude)` is the fallback list. Items removed from the artifact's catalogue are in neither list; items
added after training are generated like the others (SASRec, which never saw them, scores them as `model.rank`
says). `dtype="auto"` runs bf16 only on bf16-native hardware (model.lm.dtype);
`device="auto"` puts the transformers backend's LM on the GPU when CUDA is present (model.lm.device).
This module knows nothing about Redis, HTTP or users.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from model.artifact import ModelArtifact
from model.baselines.sasrec import SASRecScorer
from model.codes.trie import CodeTrie
from model.errors import UserError
from model.generate import Backend, Generator, ScoredItem, make_generator, resolve_backend
from model.lm.device import resolve_device
from model.lm.dtype import resolve_dtype
from model.prompts import PromptBuilder
from model.rank.candidates import CandidateBuilder
from model.rank.config import RankingConfig
from model.rank.fusion import Candidates, fuse


class Recommender:
    def __init__(
        self,
        artifact: ModelArtifact,
        backend: Backend = "auto",
        dtype: str = "auto",
        beam_width: int | None = None,
        batch_size: int = 32,
        exclude_seen: bool = True,
        ranking: RankingConfig | None = None,
        sasrec: SASRecScorer | None = None,
        device: str = "auto",
    ) -> None:
        self.artifact = artifact
        self.backend = resolve_backend(backend)
        self.dtype = dtype = resolve_dtype(dtype)  # "auto": bf16 only where the hardware computes it natively
        self.exclude_seen = exclude_seen
        self.ranking = ranking or artifact.ranking
        self.fusion = self.ranking.fusion(exclude_seen)
        options: dict[str, object] = {"beam_width": beam_width}
        model: object
        if self.backend == "vllm":  # the engine loads the weights itself, in its own processes
            tokenizer, vocab = artifact.load_tokenizer()
            model, options["dtype"] = artifact.lm_dir, dtype
        else:
            model, tokenizer, vocab = artifact.load_lm(dtype)
            model = model.to(resolve_device(device))  # type: ignore[arg-type]  # the GPU when CUDA is present
            options["batch_size"] = batch_size
            if tokenizer.pad_token_id is not None:
                options["pad_token_id"] = int(tokenizer.pad_token_id)
        self.trie = CodeTrie.build(artifact.codes, vocab, artifact.live_items)  # removed items are never generated
        self.generator: Generator = make_generator(self.backend, model, self.trie, **options)
        prompt = artifact.meta.prompt
        self.prompts = PromptBuilder(
            tokenizer, artifact.codes, vocab, max_history=prompt.max_history, template=prompt.template()
        )
        self.builder: CandidateBuilder | None = None
        if sasrec is None and self.ranking.uses_sasrec:  # either rule's fusion needs it (evaluation ranks both)
            sasrec = artifact.load_sasrec()
        if sasrec is not None:
            r = self.ranking
            self.builder = CandidateBuilder(self.generator, sasrec, r.lm_candidates, r.sasrec_candidates)

    @property
    def version(self) -> str:
        return self.artifact.version

    @property
    def n_items(self) -> int:
        return self.artifact.codes.n_items

    def recommend(
        self,
        histories: Sequence[Sequence[int]],
        k: int,
        exclude: Sequence[Collection[int]] | None = None,
        exclude_seen: bool | None = None,
    ) -> list[list[ScoredItem]]:
        """`exclude_seen` overrides the recommender's rule for this call (evaluation ranks under both)."""
        rule = self.exclude_seen if exclude_seen is None else exclude_seen
        fusion = self.ranking.fusion(rule)
        out: list[list[ScoredItem]] = [[] for _ in histories]
        live = [i for i, h in enumerate(histories) if len(h) > 0]
        if not live:
            return out
        banned = self._banned(histories, live, exclude, rule)
        if fusion.uses_sasrec:
            for i, cands in zip(live, self._candidates(histories, live, banned, k), strict=True):
                out[i] = fuse(cands, fusion, self.ranking.rrf_k, k)
            return out
        ranked = self.generator.top_k(self.prompts.batch([histories[i] for i in live]), k, banned)
        for i, row in zip(live, ranked, strict=True):
            out[i] = row
        return out

    def candidates(
        self,
        histories: Sequence[Sequence[int]],
        k: int,
        exclude: Sequence[Collection[int]] | None = None,
        exclude_seen: bool | None = None,
    ) -> list[Candidates]:
        """The fusion's candidate set of each (non-empty) history, for at least k LM candidates."""
        rule = self.exclude_seen if exclude_seen is None else exclude_seen
        live = list(range(len(histories)))
        if any(len(h) == 0 for h in histories):
            raise UserError("candidates need non-empty histories")
        return self._candidates(histories, live, self._banned(histories, live, exclude, rule), k)

    def popular(self, k: int, exclude: Collection[int] = ()) -> list[int]:
        ranked = (int(i) for i in self.artifact.popular if int(i) not in exclude)
        return [i for _, i in zip(range(k), ranked, strict=False)]

    def _banned(
        self,
        histories: Sequence[Sequence[int]],
        live: Sequence[int],
        exclude: Sequence[Collection[int]] | None,
        rule: bool,
    ) -> list[Collection[int]] | None:
        if exclude is not None:
            if len(exclude) != len(histories):
                raise UserError(f"exclude has {len(exclude)} entries for {len(histories)} histories")
            return [exclude[i] for i in live]
        return [set(histories[i]) for i in live] if rule else None

    def _candidates(
        self,
        histories: Sequence[Sequence[int]],
        live: Sequence[int],
        banned: list[Collection[int]] | None,
        k: int,
    ) -> list[Candidates]:
        if self.builder is None:
            raise UserError(f"model artifact {self.artifact.path} has no fused ranking (no SASRec in it)")
        chosen = [histories[i] for i in live]
        return self.builder.build(self.prompts.batch(chosen), chosen, banned, k)
