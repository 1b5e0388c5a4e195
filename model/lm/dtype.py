"""The float type an LM runs in on this machine.

Contract: `native_bf16()` says whether this CPU computes bf16 natively (oneDNN reports AVX512-BF16 or AMX).
`resolve_dtype(name)` maps "auto" to "bfloat16" when a CUDA device is present or the CPU is bf16-native, else to
"float32"; "float32" and "bfloat16" pass through; anything else raises `UserError` naming the value. Why "auto" is the
default: without native support bf16 is emulated and slow (measured on this 2-core AMD EPYC, AVX2 only: the trie
beam search ran 6x slower on the tiny LM and 4.4x slower on SmolLM2-135M in bf16), while CPUs with AMX ran it about
3x faster than fp32. It knows nothing about models or generation.
"""

from __future__ import annotations

import torch

from model.errors import UserError

DTYPE_NAMES = ("auto", "float32", "bfloat16")


def native_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_dtype(name: str) -> str:
    if name not in DTYPE_NAMES:
        raise UserError(f"dtype must be one of {', '.join(DTYPE_NAMES)}; got {name!r}")
    if name != "auto":
        return name
    return "bfloat16" if torch.cuda.is_available() or native_bf16() else "float32"
