"""The refresh job's speed and the cache's size, each against a baseline in the same run.

Tables: (1) end-to-end full refresh (generation + write) in users/s with a tiny random LM over a catalogue of
--items items (default 4,344 = Amazon Scientific; codes 4 x 256), --e2e-users users with ~20-item histories, K=50,
split into generation and write time; (2) Redis write rate alone at K=50 for our writer (vectorised encoding +
packed RESP batches) against the baseline (per-list encode + redis-py pipeline); (3) Redis memory per cached user
(MEMORY USAGE over sampled keys) for the compact codec and for a plain JSON list, extrapolated to 1M and 100M users.
Uses its own key prefix in the Redis at --redis-url and removes everything it wrote.

    python -m tools.benchmarks.bench_refresh --out runs/bench/refresh.json
"""

from __future__ import annotations

import argparse
import time
import uuid
from pathlib import Path

import numpy as np
import orjson
import redis

from model.cache.codec import encode, encode_batch
from model.cache.history import HistoryStore
from model.cache.keys import KeySchema
from model.cache.store import CacheStore, VersionMeta
from tools.benchmarks.report import emit


def _lists(users: int, k: int, n_items: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    items = rng.integers(0, n_items, size=(users, k))
    scores = -np.sort(rng.uniform(0.1, 25.0, size=(users, k)), axis=1).astype(np.float32)
    return items, scores


def _write_ours(store: CacheStore, version: str, items: np.ndarray, scores: np.ndarray, batch: int) -> float:
    start = time.perf_counter()
    with store.writer(version, batch_size=batch) as writer:
        for lo in range(0, len(items), batch):
            blobs = encode_batch(items[lo : lo + batch], scores[lo : lo + batch], 1_764_000_000)
            writer.add_many(zip(map(str, range(lo, lo + len(blobs))), blobs, strict=True))
    return time.perf_counter() - start


def _write_baseline(
    client: redis.Redis, keys: KeySchema, version: str, items: np.ndarray, scores: np.ndarray, batch: int
) -> float:
    start = time.perf_counter()
    pipe = client.pipeline(transaction=False)
    for u in range(len(items)):
        pipe.set(keys.recs(version, str(u)), encode(items[u], scores[u], 1_764_000_000))
        if (u + 1) % batch == 0:
            pipe.execute()
    pipe.execute()
    return time.perf_counter() - start


def _memory_per_user(client: redis.Redis, keys: list[str]) -> float:
    return float(np.mean([client.memory_usage(k) for k in keys]))


def _end_to_end(client: redis.Redis, args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    """A full refresh through the real job with a tiny random LM; returns one table row."""
    from model.artifact import PromptConfig, load_artifact, save_artifact
    from model.codes.item_codes import random_item_codes
    from model.data.records import InteractionDataset, Item
    from model.lm.extend import add_code_tokens
    from model.lm.tiny import tiny_causal_lm, tiny_tokenizer
    from model.recommender import Recommender
    from offline.refresh.job import RefreshConfig, RefreshJob

    rng = np.random.default_rng(0)
    tokenizer = tiny_tokenizer()
    model = tiny_causal_lm(len(tokenizer), hidden_size=64, num_layers=2)
    add_code_tokens(model, tokenizer, (256, 256, 256, 256), mean_resizing=False)
    items = [Item(i, str(i), f"item {i}") for i in range(args.items)]
    seqs = [rng.choice(args.items, size=20, replace=False).tolist() for _ in range(args.e2e_users)]
    dataset = InteractionDataset("bench", items, [str(u) for u in range(args.e2e_users)], seqs)
    codes = random_item_codes(args.items, (256, 256, 256, 256), seed=0)
    save_artifact(
        workdir / "artifact",
        model,
        tokenizer,
        codes,
        dataset,
        "bench",
        np.arange(args.items),
        "tiny",
        PromptConfig(max_history=20),
    )
    rec = Recommender(load_artifact(workdir / "artifact"), backend="transformers", dtype=args.dtype, batch_size=16)
    keys = KeySchema(prefix="bench" + uuid.uuid4().hex[:8])
    store = CacheStore(client, keys)
    config = RefreshConfig(k=args.k, shard_size=256, grace_s=0.0)
    try:
        result = RefreshJob(rec, store, HistoryStore(client, keys), config).run()
    finally:
        for version in store.versions():
            client.delete(keys.active())
            store.remove_version(version)
        client.delete(keys.active())
    return {
        "refresh": f"full, tiny LM ({args.dtype}), K={args.k}",
        "users": result.users_written,
        "users/s end to end": result.users_written / result.total_s,
        "generate s": result.generate_s,
        "write s": result.write_s,
        "write share": result.write_s / result.total_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--users", type=int, default=100_000, help="users written per method")
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--items", type=int, default=4_344, help="catalogue size (ids drawn below it)")
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--e2e-users", type=int, default=1_000, help="users in the end-to-end refresh (0: skip)")
    parser.add_argument("--dtype", default="bfloat16", choices=["float32", "bfloat16"])
    parser.add_argument("--out", type=Path, default=Path("runs/bench/refresh.json"))
    args = parser.parse_args()
    if args.users < 1000 or args.k < 1 or args.items < 1:
        parser.error(f"need --users >= 1000, --k >= 1, --items >= 1 (got {args.users}, {args.k}, {args.items})")

    client = redis.Redis.from_url(args.redis_url)
    if args.e2e_users > 0:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            row = _end_to_end(client, args, Path(tmp))
        emit(
            f"End-to-end full refresh, {args.items:,}-item catalogue",
            [row],
            args.out.with_name(args.out.stem + "_e2e.json"),
        )
    keys = KeySchema(prefix="bench" + uuid.uuid4().hex[:8])
    store = CacheStore(client, keys)
    items, scores = _lists(args.users, args.k, args.items, seed=0)
    try:
        store.create_version(VersionMeta("ours", "m", "d", args.k, 0))
        t_ours = _write_ours(store, "ours", items, scores, args.batch)
        t_base = _write_baseline(client, keys, "base", items, scores, args.batch)
        sample = [str(u) for u in range(0, args.users, max(1, args.users // 2000))]
        compact = _memory_per_user(client, [keys.recs("ours", u) for u in sample])
        pipe = client.pipeline(transaction=False)
        for u in sample:
            row = [[int(i), round(float(s), 4)] for i, s in zip(items[int(u)], scores[int(u)], strict=True)]
            pipe.set(keys.recs("json", u), orjson.dumps(row))
        pipe.execute()
        plain = _memory_per_user(client, [keys.recs("json", u) for u in sample])
    finally:
        for version in ("ours", "base", "json"):
            store.remove_version(version)

    write_rows = [
        {"writer": "ours: encode_batch + packed RESP", "users/s": args.users / t_ours, "vs baseline": t_base / t_ours},
        {"writer": "baseline: encode + redis-py pipeline", "users/s": args.users / t_base, "vs baseline": 1.0},
    ]
    mem_rows = [
        {"encoding": name, "bytes/user": b, "1M users (GiB)": b * 1e6 / 2**30, "100M users (GiB)": b * 1e8 / 2**30}
        for name, b in (("compact codec", compact), ("plain JSON [[id, score], ...]", plain))
    ]
    title = f"Cache writes and memory, K={args.k}, {args.users:,} users, catalogue {args.items:,}"
    emit(title + ": write rate", write_rows, args.out.with_name(args.out.stem + "_write.json"))
    emit(title + ": Redis memory per user", mem_rows, args.out.with_name(args.out.stem + "_memory.json"))


if __name__ == "__main__":
    main()
