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
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from model.artifact import ModelArtifact, load_artifact
from model.baselines.popularity import PopularityScorer
from model.baselines.sasrec_artifact import load_sasrec
from model.catalogue.edit import tokenizer_of
from model.catalogue.encode import TextSpace
from model.data.processed import load_processed, save_processed
from model.data.records import InteractionDataset, Item
from model.data.registry import load_builtin
from model.data.split import EvalCase, leave_one_out
from model.eval.generative import GenerativeScorer
from model.eval.metrics import MetricReport, evaluate_scorer
from model.eval.report import write_report
from model.eval.scorer import Scorer
from model.lm.smollm2 import load_causal_lm
from model.lm.text_embed import item_texts
from model.recommender import Recommender
from model.workdir import WorkDir
from tools.machine import cpu_model

WARM_SUFFIX = "-warm"
KS = (5, 10, 20)
HISTORY = 50  # as `genrec evaluate`
TEXT_HISTORY = 20  # items of the history the text-similarity profile averages


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


class KnownItems:
    """A scorer over the first `n_known` items of the index space (trained before the others existed): histories keep
    only the items it knows, and a case with none left gets an empty ranking (a miss)."""

    def __init__(self, inner: Scorer, n_known: int, name: str) -> None:
        self.inner, self.n_known, self.name = inner, n_known, name

    def rank(self, cases: Sequence[EvalCase], k: int, exclude_seen: bool) -> list[list[int]]:
        known = []
        for case in cases:
            history = tuple(i for i in case.history if i < self.n_known)
            seen = frozenset(i for i in case.seen if i < self.n_known)
            target = case.target if case.target < self.n_known else -1
            known.append(replace(case, history=history, seen=seen, target=target))
        live = [i for i, c in enumerate(known) if c.history]
        out: list[list[int]] = [[] for _ in cases]
        for i, ranked in zip(live, self.inner.rank([known[i] for i in live], k, exclude_seen), strict=True):
            out[i] = ranked
        return out


class TextSimilarity:
    """Items nearest to the history by text: cosine between each item's text embedding and the mean of the last
    `TEXT_HISTORY` history items' (unit) embeddings; the history's own items are never recommended."""

    name = "text similarity"

    def __init__(self, embeddings: np.ndarray) -> None:
        norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
        self.unit = torch.as_tensor(embeddings / np.maximum(norms, 1e-12), dtype=torch.float32)

    def rank(self, cases: Sequence[EvalCase], k: int, exclude_seen: bool) -> list[list[int]]:
        out = []
        for start in range(0, len(cases), 512):
            batch = cases[start : start + 512]
            profiles = torch.stack([self.unit[list(c.history[-TEXT_HISTORY:])].mean(0) for c in batch])
            scores = profiles @ self.unit.T
            for row, case in enumerate(batch):
                scores[row, list(case.seen - {case.target}) if exclude_seen else list(case.history)] = -torch.inf
            out += scores.topk(k, dim=1).indices.tolist()
        return out


def evaluate(args: argparse.Namespace) -> None:
    work = WorkDir(args.work_dir)
    full = load_builtin(args.dataset, args.data_dir, download_dir=work.download(args.dataset))
    warm, _ = load_processed(work.dataset(args.dataset + WARM_SUFFIX))
    models = [_model_spec(spec) for spec in args.model]
    afters = {name: load_artifact(Path(after)) for name, _, after in models}
    space = next(iter(afters.values()))
    n_warm = space.state.trained_items
    raw_ids = [it.raw_id for it in space.dataset.items]
    if [it.raw_id for it in warm.items] != raw_ids[:n_warm]:
        raise SystemExit("the extended artifacts' first items are not the warm dataset's items, in order")
    for name, art in afters.items():
        if [it.raw_id for it in art.dataset.items] != raw_ids:
            raise SystemExit(f"{name}: its items are not in the same order as the other extended artifacts'")
    index = {raw: i for i, raw in enumerate(raw_ids)}
    if set(index) != {it.raw_id for it in full.items}:
        raise SystemExit("the extended artifacts' catalogue is not the full dataset's")
    eval_data = InteractionDataset(
        full.name,
        list(space.dataset.items),
        full.user_ids,
        [[index[full.items[i].raw_id] for i in seq] for seq in full.sequences],
    )
    cases = leave_one_out(eval_data, max_history=HISTORY).test
    groups = {
        "cold": [c for c in cases if c.target >= n_warm],
        "warm": [c for c in cases if c.target < n_warm],
    }
    print(f"{len(cases)} test cases: {len(groups['cold'])} cold (target held out), {len(groups['warm'])} warm")
    warm_split = leave_one_out(warm, max_history=HISTORY)
    sasrec, _ = load_sasrec(work.sasrec(warm.name))
    tokenizer_dir = tokenizer_of(space)
    assert tokenizer_dir is not None, "the extended artifact records no tokenizer folder"
    lm = load_causal_lm(tokenizer_dir / "lm")
    text = TextSpace(lm.model, lm.tokenizer, item_texts(warm.items))
    scorers: list[tuple[Scorer, tuple[str, ...]]] = [
        (PopularityScorer.fit(warm_split.train, len(raw_ids)), ("cold", "warm")),
        (KnownItems(sasrec, n_warm, "sasrec"), ("cold", "warm")),
        (TextSimilarity(text.embed(item_texts(eval_data.items))), ("cold", "warm")),
    ]
    for name, before, after in models:
        scorers.append(
            (KnownItems(GenerativeScorer.from_artifact(Path(before)), n_warm, f"lm {name}, before"), ("warm",))
        )
        scorers.append((GenerativeScorer.from_artifact(Path(after), name=f"lm {name}, after"), ("cold", "warm")))
    reports: list[MetricReport] = []
    wanted = set(args.groups.split(","))
    for scorer, which in scorers:
        for group in (g for g in which if g in wanted):
            for exclude_seen in (False, True) if group == "cold" else (False,):
                rep = evaluate_scorer(
                    scorer, groups[group], dataset=f"{full.name} {group}", split="test", exclude_seen=exclude_seen,
                    ks=KS,
                )  # fmt: skip
                rule = "seen removed" if exclude_seen else "seen kept"
                m = rep.metrics
                print(f"{rep.model:<34} {group:<5} {rule:<13} R@10 {m['recall@10']:.4f} N@10 {m['ndcg@10']:.4f}")
                reports.append(rep)
    why = {name: _why(art, groups["cold"]) for name, art in list(afters.items())[:1]} if "cold" in wanted else {}
    json_path, md_path = write_report(reports, work.reports(), "cold-start")
    extra = {
        "cpu": cpu_model(),
        "when": time.strftime("%F %T"),
        "items": {"warm": n_warm, "cold": len(raw_ids) - n_warm},
        "cases": {g: len(c) for g, c in groups.items()},
        "code_methods": {name: _methods(art) for name, art in afters.items()},
        "placements": {name: [e.get("placement") for e in art.state.log] for name, art in afters.items()},
        "where the LM puts cold targets": why,
    }
    (work.reports() / "cold-start.meta.json").write_bytes(orjson.dumps(extra, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(extra, option=orjson.OPT_INDENT_2).decode())
    print(f"written: {json_path} {md_path}")


def _model_spec(spec: str) -> tuple[str, str, str]:
    name, _, paths = spec.partition("=")
    before, _, after = paths.partition(":")
    if not (name and before and after):
        raise SystemExit(f"--model {spec!r}: expected NAME=BEFORE_ARTIFACT:AFTER_ARTIFACT")
    return name, before, after


def _methods(artifact: ModelArtifact) -> dict[str, int]:
    counts: dict[str, int] = {}
    for added in artifact.state.added:
        counts[added.method] = counts.get(added.method, 0) + 1
    return counts


def _why(after: ModelArtifact, cold: Sequence[EvalCase], width: int = 100) -> dict[str, Any]:
    """Where the LM puts a cold target (seen kept, beam `width`): how often the item it was placed beside (its
    trained sibling, same first L-1 codes) is in the LM's top 10, the target's best rank, and how much less likely the
    LM finds the target's last code than its best trained sibling's (natural log)."""
    rec = Recommender(after, backend="transformers", dtype="float32", exclude_seen=False, beam_width=width)
    n, codes = after.state.trained_items, after.codes.codes
    by_prefix: dict[tuple[int, ...], list[int]] = {}
    for i in range(n):
        by_prefix.setdefault(tuple(codes[i, :-1].tolist()), []).append(i)
    prompts = rec.prompts.batch([c.history for c in cold])
    top = rec.generator.top_k(prompts, width)
    siblings = [by_prefix.get(tuple(codes[c.target, :-1].tolist()), []) for c in cold]
    scores = rec.generator.score(prompts, [[c.target, *sib] for c, sib in zip(cold, siblings, strict=True)])
    in_top, ranks, gaps = 0, [], []
    for case, found, sib, row in zip(cold, top, siblings, scores, strict=True):
        items = [s.item for s in found]
        in_top += any(i in sib for i in items[:10])
        ranks.append(items.index(case.target) + 1 if case.target in items else None)
        if sib:
            gaps.append(row[0] - max(row[1:]))
    ranked = [r for r in ranks if r is not None]
    return {
        "cases": len(cold),
        "sibling in the LM's top 10": round(in_top / len(cold), 4),
        f"target within the top {width}": round(len(ranked) / len(cold), 4),
        "best target rank": min(ranked) if ranked else None,
        "median log-prob gap to the best sibling": round(float(np.median(gaps)), 2) if gaps else None,
    }


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
        else:
            p.add_argument("--model", action="append", required=True, help="NAME=BEFORE_ARTIFACT:AFTER_ARTIFACT")
            p.add_argument("--groups", default="cold,warm", help="which test cases to rank: cold, warm or both")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("GENREC_THREADS", "1") or 1))
    if args.step == "split":
        split(args)
    else:
        evaluate(args)


if __name__ == "__main__":
    main()
