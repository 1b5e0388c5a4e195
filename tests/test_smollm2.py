"""Base-LM loading and item text embeddings: clear errors for bad paths, the embedding rules on a tiny real Llama,
and (slow, opt-in) the real SmolLM2-135M converted once from its packaged GGUF and cached under the work dir."""

from pathlib import Path

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from model.errors import UserError
from model.lm.smollm2 import load_causal_lm, smollm2_folder
from model.lm.text_embed import text_embeddings
from model.settings import Settings

WORDS = ["[UNK]", "[PAD]", "common", "alpha", "beta", "gamma", "delta"]


@pytest.fixture(scope="module")
def tiny() -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast]:
    raw = Tokenizer(WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    raw.pre_tokenizer = Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="[UNK]", pad_token="[PAD]")
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(WORDS),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
    )
    return LlamaForCausalLM(cfg).eval(), tok


def test_missing_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"language model folder not found: .*nowhere"):
        load_causal_lm(tmp_path / "nowhere")
    with pytest.raises(UserError, match=r"no config\.json"):
        load_causal_lm(tmp_path)


def test_input_mode_is_idf_weighted_mean_of_embedding_rows(tiny: tuple) -> None:
    model, tok = tiny
    table = model.get_input_embeddings().weight.detach().numpy()
    texts = ["common alpha", "common beta gamma", "common", ""]
    out = text_embeddings(texts, model, tok)
    assert out.shape == (4, 16) and out.dtype == np.float32
    # idf = log((1 + n_texts) / (1 + df)): "common" is in 3 of the 4 texts, so it weighs little but not zero
    idf = np.log(5 / np.array([4, 2, 2, 2]))  # common, alpha, beta, gamma
    expect0 = (idf[0] * table[2] + idf[1] * table[3]) / (idf[0] + idf[1])
    assert np.allclose(out[0], expect0, atol=1e-6)
    expect1 = (idf[0] * table[2] + idf[2] * table[4] + idf[3] * table[5]) / (idf[0] + idf[2] + idf[3])
    assert np.allclose(out[1], expect1, atol=1e-6)
    assert np.allclose(out[2], table[2], atol=1e-6)
    assert not out[3].any()


def test_hidden_mode_ignores_padding(tiny: tuple) -> None:
    model, tok = tiny
    texts = ["alpha beta gamma delta", "beta", "gamma delta", "alpha"]
    one = text_embeddings(texts, model, tok, mode="hidden", batch_size=1)
    batched = text_embeddings(texts, model, tok, mode="hidden", batch_size=4)
    assert one.shape == (4, 16)
    assert np.allclose(one, batched, atol=1e-5)
    assert not np.allclose(one[0], one[1])


def test_unknown_mode_is_refused(tiny: tuple) -> None:
    model, tok = tiny
    with pytest.raises(ValueError, match="'input' or 'hidden'"):
        text_embeddings(["alpha"], model, tok, mode="pooled")  # type: ignore[arg-type]


@pytest.mark.slow
def test_smollm2_converts_once_and_loads_from_the_cache(request: pytest.FixtureRequest) -> None:
    marks = request.config.getoption("markexpr") or ""
    if "slow" not in marks or "not slow" in marks:
        pytest.skip("converts SmolLM2 (about a minute the first time): opt in with -m slow")
    folder = smollm2_folder(Settings().workdir)  # converts from the packaged GGUF on the first run only
    assert (folder / "model.safetensors").is_file()
    assert "quantization_config" not in (folder / "config.json").read_text()
    lm = load_causal_lm(folder)
    assert lm.model.config.hidden_size == 576
    ids = lm.tokenizer("The capital of France is", return_tensors="pt")
    with torch.no_grad():
        logits = lm.model(**ids).logits
    assert torch.isfinite(logits).all()
    emb = text_embeddings(["a red microscope slide", "blue pipette tips", ""], lm.model, lm.tokenizer)
    assert emb.shape == (3, 576) and not emb[2].any()
