"""Prompts: a user's item history → the token ids the generator continues with the next item's code tokens.

Contract: the prompt text is `template.head + sep.join(code tokens of each item) + template.tail`, e.g.
`User history: <a_1><b_2><c_3><d_4>, <a_9>... Next item:`, over the most recent `max_history` items (oldest first).
`ids(history)` assembles the same token ids the tokenizer gives for `text(history)` (code tokens are added tokens, so
the text between them is encoded piece by piece), without re-tokenising the code tokens each time. An empty history
raises `EmptyHistoryError` (callers fall back, e.g. to popularity); an item index outside the catalogue raises
`UserError` naming the position and the value. It knows nothing about models or generation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

from model.codes.item_codes import ItemCodes
from model.codes.vocab import CodeVocab
from model.errors import UserError


class EmptyHistoryError(UserError):
    """The user has no history, so there is nothing to condition on."""


@dataclass(frozen=True, slots=True)
class PromptTemplate:
    head: str = "User history: "  # text before the first item
    sep: str = ", "  # text between two items
    tail: str = " Next item:"  # text after the last item; the generator continues from here
    add_bos: bool = False  # prepend the tokenizer's bos token id (if it has one)


class PromptBuilder:
    """Builds prompt token ids from item histories for one tokenizer, code table and template."""

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        codes: ItemCodes,
        vocab: CodeVocab,
        max_history: int = 20,
        template: PromptTemplate | None = None,
    ) -> None:
        if max_history < 1:
            raise UserError(f"max_history must be >= 1; got {max_history}")
        self.tokenizer = tokenizer
        self.codes = codes
        self.template = template or PromptTemplate()
        self.max_history = max_history
        self._item_ids = vocab.item_paths(codes).tolist()

        def enc(text: str) -> list[int]:
            return list(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []

        t = self.template
        bos = tokenizer.bos_token_id
        self._head = ([int(bos)] if t.add_bos and bos is not None else []) + enc(t.head)
        self._sep = enc(t.sep)
        self._tail = enc(t.tail)

    def _recent(self, history: Sequence[int]) -> Sequence[int]:
        if len(history) == 0:
            raise EmptyHistoryError("the user's history is empty: no prompt can be built")
        n = self.codes.n_items
        for pos, item in enumerate(history):
            if not 0 <= int(item) < n:
                raise UserError(f"history position {pos}: unknown item index {item} (catalogue has 0..{n - 1})")
        return history[-self.max_history :]

    def text(self, history: Sequence[int]) -> str:
        t = self.template
        recent = self._recent(history)
        return t.head + t.sep.join(self.codes.tokens(int(i)) for i in recent) + t.tail

    def ids(self, history: Sequence[int]) -> list[int]:
        recent = self._recent(history)
        out = list(self._head)
        for pos, item in enumerate(recent):
            if pos:
                out += self._sep
            out += self._item_ids[int(item)]
        return out + self._tail

    def batch(self, histories: Sequence[Sequence[int]]) -> list[list[int]]:
        return [self.ids(h) for h in histories]
