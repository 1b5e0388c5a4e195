"""Each user's candidate set for fusion: the LM's top N and SASRec's top M, every candidate with both scores.

Contract: `CandidateBuilder(generator, sasrec, lm_candidates, sasrec_candidates).build(prompts, histories, exclude, n)`
returns, per user, `Candidates` holding the LM's top max(N, n) items by constrained beam search (excluded items banned
in the search) followed by SASRec's top M items that the LM did not propose (excluded items removed); the LM scores of
those come from `Generator.score` (teacher forcing: exactly the score the search gives an item it reaches), SASRec's
from its log-softmax over the whole catalogue. Histories are item indices, oldest first (SASRec reads its last
`max_len`); prompts are the same histories built by the artifact's prompt builder. A catalogue may have grown since
SASRec was trained (`genrec catalogue add`): SASRec then reads only the items it knows from a history, and scores an
item it never saw at log(1 / the items it knows), the uniform prior (it has no evidence for or against it; a user
with no known item gets that for every item and no SASRec candidates). Items the trie does not hold (removed from
the catalogue) are never SASRec candidates. It knows nothing about how the candidates are fused or where the
histories come from.
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
        if sasrec.model.cfg.n_items > generator.trie.n_items:
            raise UserError(
                f"the SASRec ranks {sasrec.model.cfg.n_items} items but the catalogue has {generator.trie.n_items}"
            )
        self.known = sasrec.model.cfg.n_items  # items 0..known-1; later ones were added after SASRec was trained
        self.unheld = np.ones(generator.trie.n_items, dtype=bool)
        self.unheld[generator.trie.held_items] = False
        self.generator = generator
        self.sasrec = sasrec
        self.lm_candidates = lm_candidates
        self.sasrec_candidates = sasrec_candidates

    def sasrec_log_probs(self, histories: Sequence[Sequence[int]]) -> np.ndarray:
        """(len(histories), n_items) SASRec log-softmax scores (see the contract for items SASRec does not know)."""
        known = [[i for i in h if i < self.known] for h in histories]
        out = np.full((len(histories), self.generator.trie.n_items), -np.log(self.known))
        rows = [r for r, h in enumerate(known) if h]
        if rows:
            with torch.no_grad():
                scores = self.sasrec.scores([known[r] for r in rows]).float()
                out[rows, : self.known] = torch.log_softmax(scores, dim=-1).double().numpy()
        return out

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
            scores[self.unheld] = -np.inf
            scores[self.known :] = -np.inf  # an item SASRec never saw is not its candidate
            if exclude is not None and exclude[row]:
                scores[np.fromiter(exclude[row], dtype=np.int64)] = -np.inf
            has_known = any(i < self.known for i in histories[row])
            m = min(self.sasrec_candidates, int(np.isfinite(scores).sum())) if has_known else 0
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
