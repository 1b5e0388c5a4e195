"""Reference scorers for constrained top-K: the LC-Rec way (HF `generate`) and brute force.

Contract: `HFGenerateReference` is a `Generator` that calls `model.generate(num_beams=W, num_return_sequences=k,
prefix_allowed_tokens_fn=<trie walk>, length_penalty=0)` on left-padded batches; transformers applies the prefix mask
to the full-vocabulary log-softmax, so its scores are comparable with ours. It is the baseline the benchmark measures
against and a correctness reference in tests. `brute_force_scores(model, trie, prompt)` computes every item's
full-sequence log-probability by teacher forcing all item paths (exact, slow: for tests on small catalogues).
They know nothing about users or histories.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import numpy.typing as npt
import torch
from transformers import PreTrainedModel

from model.codes.trie import CodeTrie
from model.errors import UserError
from model.generate.base import Generator, ScoredItem


class HFGenerateReference(Generator):
    """Constrained beam search through `transformers`' own `generate` (slow baseline)."""

    def __init__(
        self,
        model: PreTrainedModel,
        trie: CodeTrie,
        beam_width: int | None = None,
        batch_size: int = 16,
        pad_token_id: int = 0,
    ) -> None:
        self.model = model.eval()
        self.trie = trie
        self.beam_width = beam_width
        self.batch_size = batch_size
        self.pad_token_id = pad_token_id

    @torch.inference_mode()
    def top_k(
        self, prompts: Sequence[Sequence[int]], k: int, exclude: Sequence[Collection[int]] | None = None
    ) -> list[list[ScoredItem]]:
        k_eff, width = self._plan(prompts, k)
        if exclude is not None and any(exclude):
            # transformers refuses a step with no allowed token, and a beam whose every item is excluded has none
            raise UserError("the LC-Rec way (HF generate) has no item exclusion; use the transformers backend")
        out: list[list[ScoredItem]] = []
        for start in range(0, len(prompts), self.batch_size):
            out += self._batch(prompts[start : start + self.batch_size], k_eff, width)
        return out

    @torch.inference_mode()
    def score(self, prompts: Sequence[Sequence[int]], items: Sequence[Sequence[int]]) -> list[list[float]]:
        self._check_items(prompts, items)
        return [
            brute_force_scores(self.model, self.trie, prompt)[list(map(int, row))].tolist() if row else []
            for prompt, row in zip(prompts, items, strict=True)
        ]

    def _batch(self, prompts: Sequence[Sequence[int]], k: int, width: int) -> list[list[ScoredItem]]:
        p_len = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), p_len), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, p in enumerate(prompts):
            ids[row, p_len - len(p) :] = torch.as_tensor(list(p))
            mask[row, p_len - len(p) :] = 1
        trie = self.trie

        def allowed(_batch_id: int, seq: torch.Tensor) -> list[int]:
            return trie.allowed(seq[p_len:].tolist()).tolist()

        res = self.model.generate(
            input_ids=ids,
            attention_mask=mask,
            do_sample=False,
            num_beams=width,
            num_return_sequences=width,
            max_new_tokens=trie.n_levels,
            min_new_tokens=trie.n_levels,
            prefix_allowed_tokens_fn=allowed,
            length_penalty=0.0,
            early_stopping=True,
            output_scores=True,
            return_dict_in_generate=True,
            pad_token_id=self.pad_token_id,
            eos_token_id=None,
        )
        seqs = res.sequences[:, p_len:].tolist()
        scores = res.sequences_scores.tolist()
        out = []
        for row in range(len(prompts)):
            found = []
            for j in range(row * width, (row + 1) * width):
                item = trie.item_at(seqs[j])
                if item is not None and scores[j] > -1e30:
                    found.append(ScoredItem(item, float(scores[j])))
            out.append(sorted(found, key=lambda s: -s.score)[:k])
        return out


@torch.inference_mode()
def brute_force_scores(
    model: PreTrainedModel, trie: CodeTrie, prompt: Sequence[int], chunk: int = 256
) -> npt.NDArray[np.float64]:
    """(n_items,) log P(item's code tokens | prompt) under the full-vocabulary softmax, for every item."""
    paths = torch.tensor(trie.item_paths)
    prefix = torch.as_tensor(list(prompt), dtype=torch.long)
    n_levels, p_len = paths.shape[1], len(prompt)
    out = np.empty(trie.n_items)
    for start in range(0, trie.n_items, chunk):
        block = paths[start : start + chunk]
        seq = torch.cat([prefix.expand(block.shape[0], p_len), block], dim=1)
        logits = model(input_ids=seq).logits[:, p_len - 1 : p_len - 1 + n_levels].float()
        logp = torch.log_softmax(logits, dim=-1).gather(2, block[:, :, None])[:, :, 0]
        out[start : start + block.shape[0]] = logp.double().sum(1).numpy()
    return out


def brute_force_top_k(model: PreTrainedModel, trie: CodeTrie, prompt: Sequence[int], k: int) -> list[ScoredItem]:
    """The exact top-k items the trie holds (ties broken by item index)."""
    scores = brute_force_scores(model, trie, prompt)
    held = np.zeros(scores.size, dtype=bool)
    held[trie.held_items] = True
    order = [i for i in np.lexsort((np.arange(scores.size), -scores)) if held[i]][:k]
    return [ScoredItem(int(i), float(scores[i])) for i in order]
