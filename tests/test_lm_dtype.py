"""The LM float type: explicit names pass through, "auto" follows the hardware, anything else is refused by name."""

import pytest
import torch

from model.errors import UserError
from model.lm.dtype import native_bf16, resolve_dtype


def test_explicit_names_pass_through() -> None:
    assert resolve_dtype("float32") == "float32"
    assert resolve_dtype("bfloat16") == "bfloat16"


def test_auto_is_bf16_only_where_the_hardware_computes_it() -> None:
    expected = "bfloat16" if torch.cuda.is_available() or native_bf16() else "float32"
    assert resolve_dtype("auto") == expected


def test_auto_follows_the_cpu_check(monkeypatch: pytest.MonkeyPatch) -> None:
    import model.lm.dtype as dtype

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dtype, "native_bf16", lambda: True)
    assert resolve_dtype("auto") == "bfloat16"
    monkeypatch.setattr(dtype, "native_bf16", lambda: False)
    assert resolve_dtype("auto") == "float32"


def test_unknown_names_are_refused() -> None:
    with pytest.raises(UserError, match="'float16'"):
        resolve_dtype("float16")
