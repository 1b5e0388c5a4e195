"""Training presets: each from-scratch preset builds the LM it names, with the code tokens in its vocabulary."""

import pytest
import torch

from model.codes.item_codes import random_item_codes
from model.errors import UserError
from model.train.presets import PRESETS, build_lm, get_preset


@pytest.mark.parametrize(("name", "shape"), [("tiny", (128, 2, 384)), ("small", (256, 4, 768))])
def test_scratch_presets_build_their_lm(name: str, shape: tuple[int, int, int]) -> None:
    codes = random_item_codes(50, (16, 16), seed=0)
    built = build_lm(get_preset(name), codes, None)
    config = built.model.config
    assert (config.hidden_size, config.num_hidden_layers, config.intermediate_size) == shape
    ids = torch.tensor([[int(built.vocab.token_ids[0][3]), int(built.vocab.token_ids[1][5])]])
    assert built.model(input_ids=ids).logits.shape == (1, 2, len(built.tokenizer))


def test_unknown_preset_is_refused_with_the_known_ones() -> None:
    with pytest.raises(UserError, match="small"):
        get_preset("huge")
    assert {"tiny", "small", "smollm2-135m"} <= set(PRESETS)
