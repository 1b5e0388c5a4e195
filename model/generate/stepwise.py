"""Trie beam search driven one token at a time through a next-token scorer (the request-per-beam shape vLLM needs).

Contract: `stepwise_top_k(prompts, trie, k, width, score)` runs beam search of width W over the trie, level by level.
At each level every live beam becomes ONE `ScoreRequest` (the prompt's token ids + the beam's code tokens so far, and
the token ids the trie allows next); `score` returns, per request, the FULL-vocabulary log-probabilities of exactly
those candidate tokens (never renormalised over them). Each prompt keeps its best W (beam, token) extensions by summed
log-probability; after the last level the beams are items, returned best first (ties: lower token path first), at most
k per prompt, all distinct (a trie path is one item). With `exclude`, the last level drops the candidate tokens that
would complete an excluded item of that prompt. The result equals `Generator.top_k` of the other backends.
`stepwise_score(prompts, trie, items, score)` scores given items by teacher forcing: one request per (item, level)
with the item's own next token as the only candidate. It knows nothing about engines, models, devices or how
`score` batches its requests.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from model.codes.trie import CodeTrie
from model.generate.base import ScoredItem


class ScoreRequest(NamedTuple):
    tokens: list[int]  # prompt token ids + the beam's generated code tokens
    candidates: npt.NDArray[np.int64]  # token ids allowed next (non-empty)


# requests -> per request, candidates' full-vocabulary log-probs (same order and length as `candidates`)
NextTokenScorer = Callable[[Sequence[ScoreRequest]], Sequence[npt.NDArray[np.float64]]]


class _Beam(NamedTuple):
    score: float
    path: tuple[int, ...]  # code token ids chosen so far


def stepwise_top_k(
    prompts: Sequence[Sequence[int]],
    trie: CodeTrie,
    k: int,
    width: int,
    score: NextTokenScorer,
    exclude: Sequence[Collection[int]] | None = None,
) -> list[list[ScoredItem]]:
    """Each prompt's top-k items by beam search of `width` beams, scoring one level per call of `score`."""
    beams: list[list[_Beam]] = [[_Beam(0.0, ())] for _ in prompts]
    heads = [list(map(int, p)) for p in prompts]
    last = trie.n_levels - 1
    for level in range(trie.n_levels):
        requests: list[ScoreRequest] = []
        owner: list[tuple[int, _Beam]] = []
        for user, user_beams in enumerate(beams):
            banned = exclude[user] if exclude is not None and level == last else ()
            for beam in user_beams:
                allowed = trie.allowed(beam.path)
                if banned:
                    allowed = np.array([t for t in allowed.tolist() if trie.item_at((*beam.path, t)) not in banned])
                if allowed.size:  # a path in the trie always has a child before the last level
                    requests.append(ScoreRequest(heads[user] + list(beam.path), allowed))
                    owner.append((user, beam))
        logprobs = score(requests)
        if len(logprobs) != len(requests):
            raise RuntimeError(f"scorer answered {len(logprobs)} of {len(requests)} requests")
        per_user: list[list[tuple[_Beam, ScoreRequest, npt.NDArray[np.float64]]]] = [[] for _ in prompts]
        for (user, beam), req, lp in zip(owner, requests, logprobs, strict=True):
            per_user[user].append((beam, req, np.asarray(lp, dtype=np.float64)))
        beams = [_best(rows, width) for rows in per_user]
    out = []
    for user_beams in beams:
        found = []
        for beam in user_beams[:k]:
            item = trie.item_at(beam.path)
            if item is None:  # cannot happen for a path built from trie.allowed; guard against a broken trie
                raise RuntimeError(f"beam path {beam.path} is not an item of the trie")
            found.append(ScoredItem(item, beam.score))
        out.append(found)
    return out


def _best(rows: Sequence[tuple[_Beam, ScoreRequest, npt.NDArray[np.float64]]], width: int) -> list[_Beam]:
    """The best `width` one-token extensions of a prompt's beams, best first."""
    if not rows:
        return []
    scores = np.concatenate([beam.score + lp for beam, _, lp in rows])
    tokens = np.concatenate([req.candidates for _, req, _ in rows])
    parent = np.concatenate([np.full(req.candidates.size, i) for i, (_, req, _) in enumerate(rows)])
    keep = np.argpartition(-scores, width - 1)[:width] if scores.size > width else np.arange(scores.size)
    new = [_Beam(float(scores[j]), (*rows[parent[j]][0].path, int(tokens[j]))) for j in keep.tolist()]
    new.sort(key=lambda b: (-b.score, b.path))
    return new


def stepwise_score(
    prompts: Sequence[Sequence[int]], trie: CodeTrie, items: Sequence[Sequence[int]], score: NextTokenScorer
) -> list[list[float]]:
    """Each listed item's summed full-vocabulary log-probability given its prompt (teacher forcing, exact)."""
    requests: list[ScoreRequest] = []
    for prompt, row in zip(prompts, items, strict=True):
        head = list(map(int, prompt))
        for item in row:
            path = trie.path_of(int(item))
            requests += [ScoreRequest(head + list(path[:level]), np.array([path[level]])) for level in range(len(path))]
    logprobs = score(requests)
    if len(logprobs) != len(requests):
        raise RuntimeError(f"scorer answered {len(logprobs)} of {len(requests)} requests")
    out, at = [], 0
    for row in items:
        scores = []
        for _ in row:
            scores.append(float(sum(float(lp[0]) for lp in logprobs[at : at + trie.n_levels])))
            at += trie.n_levels
        out.append(scores)
    return out
