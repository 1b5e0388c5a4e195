"""Prompt ids from histories: equal to tokenising the prompt text; history cap; empty and unknown histories."""

from __future__ import annotations

import pytest

from model.errors import UserError
from model.prompts import EmptyHistoryError, PromptBuilder, PromptTemplate
from tests.conftest import TinySetup


def test_ids_equal_tokenised_text(tiny: TinySetup) -> None:
    builder = PromptBuilder(tiny.tokenizer, tiny.codes, tiny.vocab, max_history=20)
    for history in ([5], [1, 2, 3], list(range(40, 60))):
        text = builder.text(history)
        assert builder.ids(history) == tiny.tokenizer(text, add_special_tokens=False)["input_ids"]
    assert builder.text([0, 1]) == f"User history: {tiny.codes.tokens(0)}, {tiny.codes.tokens(1)} Next item:"


def test_history_capped_to_most_recent(tiny: TinySetup) -> None:
    builder = PromptBuilder(tiny.tokenizer, tiny.codes, tiny.vocab, max_history=3)
    assert builder.ids([9, 8, 1, 2, 3]) == builder.ids([1, 2, 3])
    assert builder.ids([9, 8, 1, 2, 3]) != builder.ids([8, 1, 2])


def test_custom_template_with_bos(tiny: TinySetup) -> None:
    template = PromptTemplate(head="Bought: ", sep=" ", tail=" Next:", add_bos=True)
    builder = PromptBuilder(tiny.tokenizer, tiny.codes, tiny.vocab, template=template)
    ids = builder.ids([4, 7])
    assert ids[0] == tiny.tokenizer.bos_token_id
    assert ids[1:] == tiny.tokenizer(builder.text([4, 7]), add_special_tokens=False)["input_ids"]


def test_empty_and_unknown_histories(tiny: TinySetup) -> None:
    builder = PromptBuilder(tiny.tokenizer, tiny.codes, tiny.vocab)
    with pytest.raises(EmptyHistoryError):
        builder.ids([])
    with pytest.raises(UserError, match=r"history position 1: unknown item index 300 \(catalogue has 0..299\)"):
        builder.ids([3, 300])
    with pytest.raises(UserError, match="unknown item index -1"):
        builder.text([-1])
    with pytest.raises(UserError, match="max_history"):
        PromptBuilder(tiny.tokenizer, tiny.codes, tiny.vocab, max_history=0)
