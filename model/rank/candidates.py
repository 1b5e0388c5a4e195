"""Each user's candidate set for fusion: the LM's top N and SASRec's top M, every candidate with both scores.

Contract: `CandidateBuilder(generator, sasrec, lm_candidates, sasrec_candidates).build(prompts, histories, exclude, n)`
returns, per user, `Candidates` holding the LM's top max(N, n) items by constrained beam search (excluded items banned
in the search) followed by SASRec's top M items that the LM did not propose (excluded items removed); the LM scores of
those come from `Generator.score` (teacher forcing: exactly the score the search gives an item it reaches), SASRec's
from its log-softmax over the whole catalogue. Histories are item indices, oldest first (SASRec reads its last
`max_len`); prompts are the same histories built by the artifact's prompt builder. It knows nothing about how the
candidates are fused or where the histories come from.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import torch

from model.baselines.sasrec import SASRecScorer
from model.errors import UserError
from model.generate.base import Generator
from model.rank.fusion import Candidates


class CandidateBuilder:
    def __init__(self, generator: Generator, sasrec: SASRecScorer, lm_candidates: int, sasrec_candidates: int) -> None:
        if sasrec.model.cfg.n_items != generator.trie.n_items:
            raise UserError(
                f"the SASRec ranks {sasrec.model.cfg.n_items} items but the catalogue has {generator.trie.n_items}"
            )
        self.generator = generator
        self.sasrec = sasrec
        self.lm_candidates = lm_candidates
        self.sasrec_candidates = sasrec_candidates

    def sasrec_log_probs(self, histories: Sequence[Sequence[int]]) -> np.ndarray:
        """(len(histories), n_items) SASRec log-softmax scores."""
        with torch.no_grad():
            return torch.log_softmax(self.sasrec.scores(histories).float(), dim=-1).double().numpy()

    def build(
        self,
        prompts: Sequence[Sequence[int]],
        histories: Sequence[Sequence[int]],
        exclude: Sequence[Collection[int]] | None,
        n: int,
    ) -> list[Candidates]:
        if len(prompts) != len(histories):
            raise UserError(f"{len(prompts)} prompts but {len(histories)} histories")
        lm_top = self.generator.top_k(prompts, max(self.lm_candidates, n), exclude)
        sas = self.sasrec_log_probs(histories)
        extra: list[list[int]] = []
        for row, found in enumerate(lm_top):
            scores = sas[row].copy()
            if exclude is not None and exclude[row]:
                scores[np.fromiter(exclude[row], dtype=np.int64)] = -np.inf
            m = min(self.sasrec_candidates, int(np.isfinite(scores).sum()))
            top = np.argpartition(-scores, m - 1)[:m] if m else np.empty(0, dtype=np.int64)
            top = top[np.lexsort((top, -scores[top]))]
            proposed = {s.item for s in found}
            extra.append([int(i) for i in top if int(i) not in proposed])
        extra_lm = self.generator.score(prompts, extra)
        out = []
        for row, found in enumerate(lm_top):
            items = np.array([s.item for s in found] + extra[row], dtype=np.int64)
            lm = np.array([s.score for s in found] + extra_lm[row], dtype=np.float64)
            out.append(Candidates(items, lm, sas[row][items], lm_proposed=len(found)))
        return out
