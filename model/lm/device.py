"""The device an LM trains and generates on.

Contract: `resolve_device(name)` maps "auto" to "cuda" when torch sees a CUDA device and to "cpu" otherwise; "cpu",
"cuda" and "cuda:N" pass through ("cuda..." only when CUDA is available); anything else raises `UserError` naming the
value. Training (`model.train`) runs where the model's parameters are, and evaluation loads an artifact onto
`resolve_device("auto")`, so a CUDA machine trains and ranks on its GPU with no flag while every CPU machine behaves
as before. It knows nothing about models, dtypes or generation backends.
"""

from __future__ import annotations

import re

import torch

from model.errors import UserError

_CUDA = re.compile(r"cuda(:\d+)?")


def resolve_device(name: str = "auto") -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return name
    if _CUDA.fullmatch(name):
        if not torch.cuda.is_available():
            raise UserError(f"device {name!r} asked for, but torch sees no CUDA device (torch {torch.__version__})")
        return name
    raise UserError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {name!r}")


def autocast_device_type(device: torch.device) -> str:
    """The `torch.autocast` device type for tensors on `device` ("cuda" or "cpu")."""
    return "cuda" if device.type == "cuda" else "cpu"
