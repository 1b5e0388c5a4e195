"""Training presets: which LM to start from and how to train it.

Contract: `PRESETS[name]` is a frozen `Preset`. `tiny` builds a small Llama-style LM from scratch (random weights)
over a locally trained byte-level BPE (`model.lm.tiny.tiny_tokenizer`, fed the items' text) plus the code tokens; it
takes only the ItemCodes from the tokenizer stage, since a random LM has no embedding space to align code tokens to.
`smollm2-135m` loads the tokenizer stage's extended LM folder (`<tokenizer dir>/lm/`: SmolLM2-135M-Instruct with
code tokens initialised from the projected codewords) and fine-tunes it fully, or with LoRA (peft) on the attention
and MLP projections while the code-token embedding rows stay trainable. `build_lm(preset, codes, ...)` returns the
model (train mode), its tokenizer and the `CodeVocab`. A missing folder raises `UserError` saying what to run.
It knows nothing about tasks or data splits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from model.codes.item_codes import ItemCodes
from model.codes.vocab import CodeVocab
from model.errors import UserError
from model.lm.dtype import native_bf16
from model.lm.extend import add_code_tokens
from model.train.trainer import TrainConfig


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    base: str  # "scratch" or "smollm2-135m"
    train: TrainConfig
    bf16_default: bool = True  # autocast where the CPU supports it (measured slower for the tiny LM: small matmuls)
    hidden: int = 256
    layers: int = 4
    heads: int = 4
    kv_heads: int = 2
    intermediate: int = 512
    lora: bool = False
    lora_rank: int = 16
    code_init: str = "random"  # from-scratch LMs: "codebook" starts code tokens from the tokenizer's codebooks
    dropout: float = 0.0  # training-time dropout on embeddings, residual branches and attention (model.train.dropout)


PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        "tiny",
        "scratch",
        TrainConfig(epochs=6, batch_size=32, lr=2e-3, warmup_steps=100, weight_decay=0.05, patience=3),
        hidden=128,
        layers=2,
        heads=4,
        kv_heads=2,
        intermediate=384,
        bf16_default=False,
    ),
    "small": Preset(
        "small",
        "scratch",
        TrainConfig(epochs=6, batch_size=32, lr=1e-3, warmup_steps=200, weight_decay=0.05, patience=3),
        hidden=256,
        layers=4,
        heads=4,
        kv_heads=2,
        intermediate=768,
        bf16_default=False,
    ),
    "medium": Preset(  # ~10M parameters in its decoder, TIGER's scale (~13M)
        "medium",
        "scratch",
        TrainConfig(epochs=8, batch_size=32, lr=7e-4, warmup_steps=300, weight_decay=0.05, patience=3),
        hidden=384,
        layers=6,
        heads=6,
        kv_heads=2,
        intermediate=1152,
        bf16_default=False,
    ),
    "smollm2-135m": Preset(
        "smollm2-135m",
        "smollm2-135m",
        TrainConfig(epochs=4, batch_size=8, grad_accum=4, lr=3e-4, warmup_steps=50, patience=2, checkpoint_every=50),
    ),
}


CODE_INITS = ("random", "codebook")


def get_preset(name: str, bf16: bool | None = None, code_init: str | None = None) -> Preset:
    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    if code_init is not None and code_init not in CODE_INITS:
        raise UserError(f"code_init must be one of {', '.join(CODE_INITS)}; got {code_init!r}")
    preset = PRESETS[name] if code_init is None else replace(PRESETS[name], code_init=code_init)
    use_bf16 = (preset.bf16_default and native_bf16()) if bf16 is None else bf16
    return replace(preset, train=replace(preset.train, bf16=use_bf16))


@dataclass
class BuiltLM:
    model: Any
    tokenizer: Any
    vocab: CodeVocab
    base_lm: str  # for the artifact meta
    note: str  # how the LM and its code tokens started


def build_lm(
    preset: Preset, codes: ItemCodes, tokenizer_dir: Path | None, texts: Sequence[str] = (), seed: int = 0
) -> BuiltLM:
    if preset.base == "scratch":
        from model.lm.tiny import tiny_causal_lm, tiny_tokenizer

        tokenizer = tiny_tokenizer(extra_texts=list(texts)[:2000], vocab_size=1000 if texts else 300)
        model = tiny_causal_lm(
            len(tokenizer),
            family="llama",
            hidden_size=preset.hidden,
            num_layers=preset.layers,
            num_heads=preset.heads,
            num_kv_heads=preset.kv_heads,
            intermediate_size=preset.intermediate,
            init_std=0.02,
            seed=seed,
        )
        vocab = add_code_tokens(model, tokenizer, codes.level_sizes, mean_resizing=False)
        init = "random init"
        if preset.code_init == "codebook" and tokenizer_dir is not None:
            from model.train.code_init import apply_rows, codebook_rows

            embeddings: Any = model.get_input_embeddings()
            norm = float(embeddings.weight.detach().norm(dim=1).mean())
            rows = codebook_rows(tokenizer_dir, preset.hidden, norm, seed=seed)
            if rows is not None:
                apply_rows(model, vocab, rows)
                init = f"code tokens from {tokenizer_dir.name}'s codebooks (seeded Gaussian map)"
        note = (
            f"from scratch: llama {preset.layers} layers, hidden {preset.hidden}, local BPE {len(tokenizer)} tokens "
            f"incl. code tokens ({init})"
        )
        return BuiltLM(model.train(), tokenizer, vocab, "tiny", note)
    if tokenizer_dir is None or not (tokenizer_dir / "lm" / "config.json").is_file():
        raise UserError(
            f"preset {preset.name!r} starts from the tokenizer stage's LM, but {tokenizer_dir}/lm is missing; "
            f"run `genrec train-tokenizer DATASET --lm {preset.base}` first or pass --tokenizer"
        )
    from model.lm.smollm2 import load_causal_lm

    loaded = load_causal_lm(tokenizer_dir / "lm")
    net: Any = loaded.model
    tokenizer = loaded.tokenizer
    vocab = CodeVocab.from_tokenizer(tokenizer, codes.level_sizes)
    note = f"{preset.base} from {tokenizer_dir / 'lm'} (code tokens as the tokenizer stage initialised them)"
    if preset.lora:
        from peft import LoraConfig, get_peft_model

        code_ids = [int(i) for level in vocab.token_ids for i in level]
        config = LoraConfig(
            r=preset.lora_rank,
            lora_alpha=2 * preset.lora_rank,
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
            trainable_token_indices={"embed_tokens": code_ids},
        )
        net = get_peft_model(net, config)
        note += f"; LoRA r={preset.lora_rank} + trainable code-token rows"
    else:
        note += "; full fine-tuning"
    return BuiltLM(net.train(), tokenizer, vocab, preset.base, note)
