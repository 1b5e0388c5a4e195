"""The cold-start experiment: hold items out of training entirely, add them afterwards, and measure who can rank them.

Two steps; `tools/experiments/cold_start.sh` runs them around the product's own commands:

    python tools/experiments/cold_start.py split --work-dir runs/cold [--dataset amazon-scientific --share 0.05]
        picks a seeded random share of the dataset's items, writes the warm dataset (those items and every interaction
        with them removed) as the processed folder `<work>/data/<dataset>-warm/` for `genrec train-sasrec`,
        `train-tokenizer` and `train`, and the held-out items as `<work>/cold/<dataset>.items.jsonl`, the input of
        `genrec catalogue add` (id, title, text fields; no embedding: nothing collaborative exists for them).
    python tools/experiments/cold_start.py evaluate --work-dir runs/cold --model NAME=BEFORE:AFTER ...
        ranks the full dataset's leave-one-out test cases (every interaction restored, items indexed as the extended
        artifacts index them) with Popularity and SASRec trained on the warm data (they can score no held-out item),
        a text-similarity baseline (items nearest to the history by the tokenizer's text encoder), and each LM
        before `catalogue add` (BEFORE: held-out items unknown, dropped from histories) and after (AFTER). Cold
        cases are those whose target is a held-out item, warm cases the others. It prints markdown tables and
        writes `<work>/reports/cold-start.json` + `.md`.

The metrics are `model.eval.metrics.ranking_metrics`, the code `genrec evaluate` uses; the split is
`model.data.split.leave_one_out`. It reads the reference datasets through `--data-dir` / GENREC_DATA_DIR.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from model.data.processed import save_processed
from model.data.records import InteractionDataset, Item
from model.data.registry import load_builtin
from model.workdir import WorkDir

WARM_SUFFIX = "-warm"


def held_out_items(dataset: InteractionDataset, share: float, seed: int) -> list[int]:
    """A seeded random `share` of the catalogue (at least one item), ascending item indices."""
    n = max(1, round(share * dataset.n_items))
    rng = np.random.default_rng(seed)
    return sorted(int(i) for i in rng.choice(dataset.n_items, size=n, replace=False))


def warm_dataset(dataset: InteractionDataset, cold: set[int]) -> InteractionDataset:
    """The dataset without the `cold` items: their interactions removed, the other items re-indexed in order."""
    keep = [it for it in dataset.items if it.index not in cold]
    new_index = {it.index: i for i, it in enumerate(keep)}
    items = [Item(i, it.raw_id, it.title, dict(it.fields)) for i, it in enumerate(keep)]
    users: list[str] = []
    sequences: list[list[int]] = []
    for user, seq in zip(dataset.user_ids, dataset.sequences, strict=True):
        kept = [new_index[i] for i in seq if i in new_index]
        if kept:
            users.append(user)
            sequences.append(kept)
    return InteractionDataset(dataset.name + WARM_SUFFIX, items, users, sequences)


def items_line(item: Item) -> bytes:
    """One line of `genrec catalogue add`'s items file: id, title and the text fields, flat."""
    return orjson.dumps({"id": item.raw_id, "title": item.title, **dict(item.fields)}) + b"\n"


def split(args: argparse.Namespace) -> None:
    work = WorkDir(args.work_dir)
    full = load_builtin(args.dataset, args.data_dir, download_dir=work.download(args.dataset))
    cold = held_out_items(full, args.share, args.seed)
    warm = warm_dataset(full, set(cold))
    meta = save_processed(warm, work.dataset(warm.name), f"{args.dataset} without {len(cold)} held-out items")
    out = cold_items_file(work, args.dataset)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(b"".join(items_line(full.items[i]) for i in cold))
    removed = full.n_interactions - warm.n_interactions
    print(
        f"{args.dataset}: {len(cold)} of {full.n_items} items held out ({removed} of {full.n_interactions} "
        f"interactions removed); warm dataset {warm.name} ({meta.n_users} users, {meta.n_items} items) in "
        f"{work.dataset(warm.name)}; held-out items in {out}"
    )


def cold_items_file(work: WorkDir, dataset: str) -> Path:
    return work.root / "cold" / f"{dataset}.items.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="step", required=True)
    for name in ("split", "evaluate"):
        p = sub.add_parser(name)
        p.add_argument("--work-dir", type=Path, default=Path("runs/cold"))
        p.add_argument("--data-dir", type=Path, default=Path(os.environ.get("GENREC_DATA_DIR", "../shared/data")))
        p.add_argument("--dataset", default="amazon-scientific")
        p.add_argument("--seed", type=int, default=0)
        if name == "split":
            p.add_argument("--share", type=float, default=0.05, help="share of the items held out")
    args = parser.parse_args()
    if args.step == "split":
        split(args)
    else:
        raise SystemExit("evaluate: not written yet")


if __name__ == "__main__":
    main()
