"""vLLM backend: trie-constrained top-K through a long-lived `vllm.LLM` engine. The ONLY module that imports vllm.

Contract: `VLLMEngine(VLLMEngineConfig(model_dir=...))` starts the engine once (slow: tens of seconds, it spawns worker
processes, so scripts that build one must guard `if __name__ == "__main__":`) and is then reused by any number of
generators and calls. `VLLMEngine.score(requests)` answers `ScoreRequest`s (token ids + candidate next-token ids) with
the candidates' FULL-vocabulary log-probabilities: one vLLM request per beam with `max_tokens=1` and
`SamplingParams.logprob_token_ids` (present in vllm 0.32; at most 128 ids per request, so a larger candidate set is
split into several requests over the same prefix), read in `raw_logprobs` mode, i.e. the model's log-softmax before
any processing. Prefix caching is on, so a prefix's full KV blocks are computed once and shared by its beams and later
steps; prompts are NOT padded to the block size (a token prompt takes no attention mask, so padding would change what
the model reads and the scores would no longer equal the other backends'): each request recomputes at most one
partial block. Block-aligned prompts, if wanted, are the prompt builder's business.
`VLLMGenerator(engine_or_model_dir, trie, beam_width)` implements `Generator.top_k` with `stepwise_top_k`; its results
equal the transformers backend's up to float rounding.
Why not vLLM's own constraint tools: structured outputs (choice / regex / grammar) constrain strings, not token paths,
and return wrong items for this job; `LLM.beam_search` cannot carry per-request trie state; a logits processor would
renormalise (processed logprobs) or need a second pass for the score. It knows nothing about users, prompts or Redis.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt
import torch._dynamo
from vllm import LLM, SamplingParams
from vllm.logprobs import FlatLogprobs
from vllm.sampling_params import MAX_LOGPROB_TOKEN_IDS

from model.codes.trie import CodeTrie
from model.errors import UserError
from model.generate.base import Generator, ScoredItem
from model.generate.stepwise import ScoreRequest, stepwise_score, stepwise_top_k
from model.logs import get_logger

log = get_logger(__name__)

DType = Literal["float32", "bfloat16", "float16", "auto"]
DTYPES: tuple[DType, ...] = get_args(DType)
GIB = 1 << 30


@dataclass(frozen=True, slots=True)
class VLLMEngineConfig:
    model_dir: Path  # local HF folder (config.json + safetensors); its tokenizer is not needed (prompts are ids)
    dtype: DType = "float32"  # weights/activations; scores are always read as float32 log-probs
    max_model_len: int = 2048  # longest prompt + code tokens the engine accepts
    kv_cache_gib: float = 1.0  # KV cache size (vLLM's kv_cache_memory_bytes; a set VLLM_CPU_KVCACHE_SPACE wins on CPU)
    cpu_threads_bind: str | None = None  # VLLM_CPU_OMP_THREADS_BIND, e.g. "0-1"; None keeps vLLM's default ("auto")
    torch_compile: bool = False  # False: eager model and TORCHDYNAMO_DISABLE=1 in vLLM's processes (CPU start-up
    # and first call in seconds instead of minutes); True: vLLM's default compiled graphs (faster steps on big models)
    in_process: bool = False  # run vLLM's engine core and worker in THIS process (VLLM_ENABLE_V1_MULTIPROCESSING=0):
    # no spawned processes to import vllm again (start-up ~13 s instead of ~75 s here), but vLLM then binds this
    # process's OpenMP threads and seeds its global RNG; for tests and single-purpose jobs
    seed: int = 0
    max_num_seqs: int = 256  # requests per engine step


class VLLMEngine:
    """One `vllm.LLM` for one model folder, started once; answers next-token scoring requests."""

    def __init__(self, config: VLLMEngineConfig) -> None:
        model_dir = Path(config.model_dir)
        if not (model_dir / "config.json").is_file():
            raise UserError(f"vLLM model folder {model_dir}: no config.json (expected a save_pretrained folder)")
        if config.dtype not in DTYPES:
            raise UserError(f"dtype must be one of {DTYPES}; got {config.dtype!r}")
        if config.kv_cache_gib <= 0:
            raise UserError(f"kv_cache_gib must be > 0; got {config.kv_cache_gib}")
        self.config = config
        env: dict[str, str | None] = {"VLLM_CPU_OMP_THREADS_BIND": config.cpu_threads_bind}
        if not config.torch_compile:
            env["TORCHDYNAMO_DISABLE"] = "1"
        if config.in_process:
            env["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        log.info("vllm_engine_start", model_dir=str(model_dir), dtype=config.dtype, max_model_len=config.max_model_len)
        with _environ(env):  # read by the engine and worker processes vLLM spawns here
            self.llm = LLM(
                model=str(model_dir),
                skip_tokenizer_init=True,
                dtype=config.dtype,
                max_model_len=config.max_model_len,
                kv_cache_memory_bytes=int(config.kv_cache_gib * GIB),
                enable_prefix_caching=True,
                logprobs_mode="raw_logprobs",  # log-softmax of the model's logits, before any logits processing
                enforce_eager=not config.torch_compile,
                seed=config.seed,
                max_num_seqs=config.max_num_seqs,
            )
        self.vocab_size = int(self.llm.llm_engine.model_config.get_vocab_size())
        self.max_model_len = int(self.llm.llm_engine.model_config.max_model_len)
        self.score([ScoreRequest([0], np.zeros(1, dtype=np.int64))])  # compile the sampler's logprob path now
        log.info("vllm_engine_ready", vocab_size=self.vocab_size)

    def score(self, requests: Sequence[ScoreRequest]) -> list[npt.NDArray[np.float64]]:
        """Per request, the full-vocabulary log-probs of its candidates as the next token after its tokens."""
        prompts: list[Any] = []
        params: list[SamplingParams] = []
        pieces: list[tuple[int, int]] = []  # (request index, start of its chunk in candidates)
        for i, req in enumerate(requests):
            ids = req.candidates.tolist()
            for start in range(0, len(ids), MAX_LOGPROB_TOKEN_IDS):
                prompts.append({"prompt_token_ids": req.tokens})
                params.append(
                    SamplingParams(
                        max_tokens=1,
                        temperature=0.0,
                        logprob_token_ids=ids[start : start + MAX_LOGPROB_TOKEN_IDS],
                        flat_logprobs=True,
                        detokenize=False,
                        skip_clone=True,  # vLLM deep-copies params per request otherwise (~0.4 ms each)
                    )
                )
                pieces.append((i, start))
        out = [np.empty(req.candidates.size, dtype=np.float64) for req in requests]
        if not prompts:
            return out
        # vLLM's sampler torch.compiles its rank count on first use (~45 s here); without torch_compile it runs eager
        # (TORCHDYNAMO_DISABLE covers spawned processes, this patch an in-process engine)
        with torch._dynamo.config.patch(disable=not self.config.torch_compile):
            results = self.llm.generate(prompts, params, use_tqdm=False)
        for (i, start), sp, res in zip(pieces, params, results, strict=True):
            lp = res.outputs[0].logprobs
            if lp is None:
                raise RuntimeError("vLLM returned no logprobs for a request that asked for logprob_token_ids")
            if isinstance(lp, FlatLogprobs):  # the one generated position, flattened
                got = dict(zip(lp.token_ids, lp.logprobs, strict=True))
            else:
                got = {t: x.logprob for t, x in lp[0].items()}
            wanted = sp.logprob_token_ids or []
            out[i][start : start + len(wanted)] = [got[t] for t in wanted]
        return out

    def close(self) -> None:
        """Stop the engine's processes now (they also stop when this process exits)."""
        self.llm.llm_engine.engine_core.shutdown()

    def check_trie(self, trie: CodeTrie) -> None:
        """UserError when the trie uses token ids outside the engine's vocabulary."""
        top = max(int(t.max()) for t in trie.level_token_ids)
        if top >= self.vocab_size:
            raise UserError(f"the trie uses token id {top} but the vLLM model's vocabulary has {self.vocab_size} rows")


@contextmanager
def _environ(values: dict[str, str | None]) -> Iterator[None]:
    """Set the given environment variables (None: leave as is) for the block, then restore them."""
    old = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is not None:
                os.environ[name] = value
        yield
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class VLLMGenerator(Generator):
    """`Generator` over a `VLLMEngine` (pass an engine to share it; a folder path starts a new one)."""

    def __init__(
        self,
        model: VLLMEngine | str | Path,
        trie: CodeTrie,
        beam_width: int | None = None,
        **engine_options: Any,
    ) -> None:
        if isinstance(model, VLLMEngine):
            if engine_options:
                raise UserError(f"engine options {sorted(engine_options)} given with an already started engine")
            self.engine = model
        elif isinstance(model, str | Path):
            self.engine = VLLMEngine(VLLMEngineConfig(model_dir=Path(model), **engine_options))
        else:
            raise UserError(f"the vllm backend needs a model folder path or a VLLMEngine; got {type(model).__name__}")
        self.engine.check_trie(trie)
        self.trie = trie
        self.beam_width = beam_width

    def top_k(
        self, prompts: Sequence[Sequence[int]], k: int, exclude: Sequence[Collection[int]] | None = None
    ) -> list[list[ScoredItem]]:
        k_eff, width = self._plan(prompts, k)
        self._check_exclude(prompts, exclude)
        self._check_lengths(prompts)
        return stepwise_top_k(prompts, self.trie, k_eff, width, self.engine.score, exclude)

    def score(self, prompts: Sequence[Sequence[int]], items: Sequence[Sequence[int]]) -> list[list[float]]:
        self._check_items(prompts, items)
        self._check_lengths(prompts)
        return stepwise_score(prompts, self.trie, items, self.engine.score)

    def _check_lengths(self, prompts: Sequence[Sequence[int]]) -> None:
        limit = self.engine.max_model_len
        for i, p in enumerate(prompts):
            if len(p) + self.trie.n_levels > limit:
                raise UserError(
                    f"prompt {i} has {len(p)} tokens; with {self.trie.n_levels} code tokens it exceeds the vLLM "
                    f"engine's max_model_len={limit}"
                )
