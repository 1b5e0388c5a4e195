"""Benchmark the compact trie (CSR per level) against the dense one on large random catalogues.

Not a test. For each catalogue size (default 10k, 100k and 1M random unique items of 4 levels x 256) and each
layout (`compact` = model.codes.trie.CodeTrie, `dense` = model.codes.dense_trie.DenseCodeTrie), one row:
- bytes/item: the trie's arrays (`nbytes`) per item; for the dense layout its arrays only, so the per-node Python
  objects (one dict entry and one small array per node) come on top: `alloc B/item` is what the build allocated and
  kept, arrays and Python objects alike (tracemalloc, in a build of its own: tracing slows it down);
- build s: wall time of `build` from the codes (best of --reps);
- step us: one decoding step's trie work for a batch (--batch users x W beams), `model.generate.beam.select` on random
  log-probabilities, averaged over the code levels of a full search; the cost the catalogue's size could change (the
  LM's forward pass does not depend on it);
- users/s @K: end-to-end constrained top-K generation with a tiny random Qwen2 (HFBeamGenerator, W = K, --users
  prompts of --history items, batch --batch), K in --ks.
Timings are the best of --reps rounds, interleaved: each round times every catalogue and layout once (step: the best
of 4 searches), so the load of a shared machine falls on all rows alike.
The step ratio columns compare each size with the smallest one in the same run. The dense layout is built only up to
--dense-max items (its last-level table alone is n_items x 256 x 4 bytes); above that its row says what the tables
would take and is not measured. On a small shared CPU pass --threads 1 (see bench_generate.py).

    python -m tools.benchmarks.bench_trie --threads 1 --out runs/bench_trie.json
    python -m tools.benchmarks.bench_trie --sizes 10000,100000 --dense-max 100000 --reps 2
"""

from __future__ import annotations

import argparse
import gc
import random
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from model.codes.dense_trie import DenseCodeTrie
from model.codes.item_codes import ItemCodes, random_item_codes
from model.codes.trie import CodeTrie
from model.codes.vocab import CodeVocab
from model.generate.beam import TrieTables, select
from model.generate.hf_beam import HFBeamGenerator
from model.lm.extend import add_code_tokens
from model.lm.tiny import tiny_causal_lm, tiny_tokenizer
from model.prompts import PromptBuilder
from tools.benchmarks.report import emit
from tools.machine import cpu_model

Trie = CodeTrie | DenseCodeTrie


def kept_bytes(build: Callable[[], Any]) -> int:
    """Bytes allocated by `build` and still held by its result (tracemalloc: numpy arrays and Python objects)."""
    gc.collect()
    tracemalloc.start()
    result = build()
    gc.collect()
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    return held


def best(fn: Callable[[], Any], reps: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(reps):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def step_us(trie: Trie, batch: int, width: int, reps: int, seed: int) -> float:
    """Mean wall time of one `select` step (batch x width beams) over the levels of a search, in microseconds."""
    tables = TrieTables(trie)
    gen = torch.Generator().manual_seed(seed)
    sizes = [int(t.numel()) for t in tables.token_ids]

    def search() -> float:
        spent = 0.0
        scores = torch.zeros(batch, 1)
        nodes = torch.zeros(batch, 1, dtype=torch.long)
        for level, size in enumerate(sizes):
            logprobs = torch.log_softmax(torch.randn(batch, nodes.shape[1], size, generator=gen), dim=-1)
            start = time.perf_counter()
            beams = select(tables, level, scores, nodes, logprobs, width)
            spent += time.perf_counter() - start
            scores, nodes = beams.scores, beams.nodes
        return spent / len(sizes)

    search()  # warm-up
    return min(search() for _ in range(reps)) * 1e6


def generator(model: Any, trie: Trie, k: int, batch: int) -> HFBeamGenerator:
    return HFBeamGenerator(model, trie, beam_width=k, dtype="float32", batch_size=batch)  # type: ignore[arg-type]


def users_per_s(gen: HFBeamGenerator, prompts: list[list[int]], k: int) -> float:
    start = time.perf_counter()
    gen.top_k(prompts, k)
    return len(prompts) / (time.perf_counter() - start)


def dense_table_bytes(compact: CodeTrie) -> int:
    """What the dense layout's child tables alone would take for this catalogue (int32 entries)."""
    return sum(n * size * 4 for n, size in zip(compact.n_nodes, compact.level_sizes, strict=True))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10000,100000,1000000", help="catalogue sizes (items)")
    p.add_argument("--levels", type=int, default=4)
    p.add_argument("--level-size", type=int, default=256)
    p.add_argument("--dense-max", type=int, default=100_000, help="largest catalogue the dense trie is built for")
    p.add_argument("--users", type=int, default=64)
    p.add_argument("--history", type=int, default=20)
    p.add_argument("--batch", type=int, default=32, help="users per generator batch (and per trie step)")
    p.add_argument("--ks", default="20,50")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/bench_trie.json")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = [int(s) for s in args.sizes.split(",")]
    ks = [int(k) for k in args.ks.split(",")]
    levels = (args.level_size,) * args.levels
    tokenizer = tiny_tokenizer()
    model = tiny_causal_lm(len(tokenizer), family="qwen2", seed=args.seed)
    vocab: CodeVocab = add_code_tokens(model, tokenizer, levels, mean_resizing=False)
    rows: list[dict[str, Any]] = []
    timed: list[tuple[dict[str, Any], Trie, list[list[int]]]] = []
    for n in sizes:
        codes: ItemCodes = random_item_codes(n, levels, seed=args.seed)
        rng = random.Random(args.seed)
        builder = PromptBuilder(tokenizer, codes, vocab, max_history=args.history)
        prompts = [builder.ids([rng.randrange(n) for _ in range(args.history)]) for _ in range(args.users)]
        compact: CodeTrie | None = None
        for layout, cls in (("compact", CodeTrie), ("dense", DenseCodeTrie)):
            row: dict[str, Any] = {"items": n, "layout": layout}
            if layout == "dense" and n > args.dense_max:
                assert compact is not None
                gib = dense_table_bytes(compact) / 2**30
                row["note"] = f"skipped: its child tables alone would take {gib:.2f} GiB (--dense-max {args.dense_max})"
                rows.append(row)
                print(row, flush=True)
                continue
            build = lambda cls=cls, codes=codes: cls.build(codes, vocab)  # noqa: E731
            row["alloc B/item"] = round(kept_bytes(build) / n, 1)
            gc.collect()
            build_s, trie = best(build, args.reps)
            row["bytes/item"] = round(trie.nbytes / n, 1)
            row["build s"] = round(build_s, 3)
            row["note"] = ""
            if layout == "compact":
                compact = trie
            rows.append(row)
            timed.append((row, trie, prompts))
            print(row, flush=True)
    # the timings, interleaved: every round measures every catalogue and layout once, and each keeps its best, so a
    # shared machine's load shifts them all alike instead of whichever row it happened to fall on
    gens = {(id(row), k): generator(model, trie, k, args.batch) for row, trie, _ in timed for k in ks}
    for row, _, prompts in timed:
        for k in ks:
            gens[id(row), k].top_k(prompts[: args.batch], k)  # warm-up
    for _ in range(args.reps):
        for row, trie, prompts in timed:
            for k in ks:
                step = step_us(trie, args.batch, k, 4, args.seed)
                row[f"step us W={k}"] = round(min(step, row.get(f"step us W={k}", step)), 1)
                speed = users_per_s(gens[id(row), k], prompts, k)
                row[f"users/s @{k}"] = round(max(speed, row.get(f"users/s @{k}", speed)), 1)
    base = {r["layout"]: r for r in rows if r["items"] == sizes[0]}
    for r in rows:
        for k in ks:
            col = f"step us W={k}"
            if col in r and col in base.get(r["layout"], {}):
                r[f"step vs {sizes[0]:,} W={k}"] = round(r[col] / base[r["layout"]][col], 2)
    cols = ["items", "layout", "bytes/item", "alloc B/item", "build s"]
    cols += [f"step us W={k}" for k in ks] + [f"step vs {sizes[0]:,} W={k}" for k in ks]
    cols += [f"users/s @{k}" for k in ks] + ["note"]
    table = [{c: r.get(c, "") for c in cols} for r in rows]
    title = (
        f"trie layouts, {args.levels} levels x {args.level_size}, batch {args.batch}, tiny Qwen2, "
        f"{torch.get_num_threads()} thread(s), {cpu_model()}"
    )
    emit(title, table, Path(args.out) if args.out else None)


if __name__ == "__main__":
    main()
