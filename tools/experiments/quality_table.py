"""The product's quality tables for one dataset, from `tools/experiments/quality_product.sh`'s outputs.

Prints (markdown) the validation choices of every LM artifact (the LM alone and the ranking `genrec train` chose, per
seen-item rule, with the validation numbers they were chosen on) and the test table of the single evaluate run (per
rule: every model's R@5, R@10, N@5, N@10 and the change of R@10 and N@10 against the tuned SASRec). With `--json
FILE` the test rows are merged into FILE as records {dataset, run, rule, model, metric, value}, `run` naming the
evaluate report they come from (rows of other datasets and other runs are kept), the machine-readable copy of
docs/results/quality.md. `--report NAME` reads another report of the work dir than DATASET-test-product.json (a
second evaluate run over other models, say).

    python tools/experiments/quality_table.py runs/quality amazon-beauty [--json docs/results/quality.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from model.artifact import RANKING_FILE
from model.eval.metrics import MetricReport
from model.eval.report import read_report
from model.workdir import WorkDir

METRICS = ("recall@5", "recall@10", "ndcg@5", "ndcg@10")
YARDSTICK = "sasrec"


def _rule(exclude_seen: bool) -> str:
    return "seen removed" if exclude_seen else "seen kept"


def validation_rows(models: Path) -> list[str]:
    lines = ["| model | rule | LM alone R@10 / N@10 | chosen ranking | its R@10 / N@10 |", "|---|---|---|---|---|"]
    for folder in sorted(p for p in models.iterdir() if (p / RANKING_FILE).is_file()):
        selection = json.loads((folder / RANKING_FILE).read_text()).get("selection", {})
        for key, rule in (("seen_removed", "seen removed"), ("seen_kept", "seen kept")):
            record = selection.get(key)
            if not record:
                continue
            trials = record["trials"]
            lm = next(t for t in trials if t["method"] == "lm")
            best = max(trials, key=lambda t: t[record["metric"]])
            lines.append(
                f"| {folder.name} | {rule} | {lm['recall@10']:.4f} / {lm['ndcg@10']:.4f} | {record['chosen']} | "
                f"{best['recall@10']:.4f} / {best['ndcg@10']:.4f} |"
            )
    return lines


def test_rows(reports: list[MetricReport]) -> list[str]:
    lines: list[str] = []
    for rule in (False, True):
        reps = [r for r in reports if r.exclude_seen == rule]
        if not reps:
            continue
        base = next((r for r in reps if r.model == YARDSTICK), None)
        lines += [
            "",
            f"{_rule(rule)}, {reps[0].n_cases} users, test split",
            "",
            "| model | R@5 | R@10 | N@5 | N@10 | R@10 vs tuned SASRec | N@10 vs tuned SASRec |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in reps:
            m = r.metrics
            rel = ["", ""]
            if base is not None and r is not base:
                rel = [f"{(m[k] / base.metrics[k] - 1) * 100:+.1f}%" for k in ("recall@10", "ndcg@10")]
            cells = " | ".join(f"{m[k]:.4f}" for k in METRICS)
            lines.append(f"| {r.model} | {cells} | {rel[0]} | {rel[1]} |")
    return lines


def records(reports: list[MetricReport], run: str) -> list[dict[str, Any]]:
    return [
        {
            "dataset": r.dataset,
            "run": run,
            "rule": _rule(r.exclude_seen),
            "model": r.model,
            "metric": k,
            "value": round(v, 5),
        }
        for r in reports
        for k, v in r.metrics.items()
        if k in METRICS
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work", type=Path, help="The work dir the experiment ran in.")
    parser.add_argument("dataset")
    parser.add_argument("--json", type=Path, default=None, help="Merge the test rows into this JSON file.")
    parser.add_argument("--report", default=None, help="Report file name in the work dir's reports folder.")
    args = parser.parse_args()
    work = WorkDir(args.work)
    report = work.reports() / (args.report or f"{args.dataset}-test-product.json")
    if not report.is_file():
        parser.error(f"{report} does not exist: run tools/experiments/quality_product.sh {args.dataset} first")
    reports = read_report(report)
    print(f"## {args.dataset}\n\nvalidation (whole split), the ranking `genrec train` chose:\n")
    print("\n".join(validation_rows(work.models(args.dataset))))
    print("\n".join(test_rows(reports)))
    if args.json is not None:
        kept = json.loads(args.json.read_text()) if args.json.is_file() else []
        run = report.stem
        rows = [r for r in kept if (r["dataset"], r.get("run")) != (args.dataset, run)] + records(reports, run)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
