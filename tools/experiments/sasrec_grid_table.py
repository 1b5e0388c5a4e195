"""Print the SASRec grid's table: per dataset and configuration, the best validation metrics (seen items removed,
the rule early stopping used), the best epoch, epochs run and training time; the best configuration by validation
NDCG@10 is marked. Reads the SASRec artifacts' meta.json under GRID/DATASET/NAME/.

    python tools/experiments/sasrec_grid_table.py runs/quality/sasrec-grid [--out grid.json]
    python tools/experiments/sasrec_grid_table.py runs/quality/sasrec-grid --best amazon-beauty   # its folder
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from model.baselines.sasrec_artifact import read_meta
from model.workdir import META_FILE
from tools.benchmarks.report import emit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("grid", type=Path, help="The grid folder (WORK/sasrec-grid).")
    parser.add_argument("--out", type=Path, default=None, help="JSON output path.")
    parser.add_argument("--best", default=None, help="Print only this dataset's best configuration's folder.")
    args = parser.parse_args()
    if not args.grid.is_dir():
        parser.error(f"{args.grid} is not a folder")
    if args.best is not None:
        folders = [f for f in sorted((args.grid / args.best).iterdir()) if (f / META_FILE).is_file()]
        if not folders:
            parser.error(f"no trained configuration under {args.grid / args.best}")
        print(max(folders, key=lambda f: read_meta(f).valid_metrics["ndcg@10"]))
        return
    rows = []
    for dataset in sorted(p for p in args.grid.iterdir() if p.is_dir()):
        runs = [
            (folder.name, read_meta(folder)) for folder in sorted(dataset.iterdir()) if (folder / META_FILE).is_file()
        ]
        best = max((meta.valid_metrics["ndcg@10"] for _, meta in runs), default=None)
        for name, meta in runs:
            v = meta.valid_metrics
            rows.append(
                {
                    "dataset": dataset.name,
                    "config": name + (" (best)" if v["ndcg@10"] == best else ""),
                    "valid R@10": round(v["recall@10"], 4),
                    "valid N@10": round(v["ndcg@10"], 4),
                    "valid R@20": round(v["recall@20"], 4),
                    "best epoch": meta.best_epoch,
                    "epochs run": meta.epochs_run,
                    "minutes": round(meta.train_seconds / 60, 1),
                }
            )
    emit("SASRec grid: best validation metrics (seen removed) per configuration", rows, args.out)


if __name__ == "__main__":
    main()
