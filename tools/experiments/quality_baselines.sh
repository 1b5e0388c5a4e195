#!/usr/bin/env bash
# Baseline quality on the three reference datasets: train SASRec, then evaluate Popularity and SASRec side by side on
# the test split under both seen-item rules. The README's baseline table comes from this script.
#   usage: tools/experiments/quality_baselines.sh [WORK_DIR]      (default: runs/quality)
set -euo pipefail
cd "$(dirname "$0")/../.."
# the reference datasets (the Amazon sets have no public archive the loaders could fetch)
export GENREC_DATA_DIR="${GENREC_DATA_DIR:-$PWD/../shared/data}"
WORK="${1:-runs/quality}"
GENREC="${GENREC:-.venv/bin/genrec}"
export GENREC_THREADS="${GENREC_THREADS:-1}"  # 1 thread is faster for these small models on a shared 2-core machine

run() {  # DATASET [train-sasrec options...]
  local d=$1; shift
  $GENREC --work-dir "$WORK" train-sasrec "$d" --valid-exclude-seen "$@"
  $GENREC --work-dir "$WORK" evaluate "$d" --models popularity,sasrec --keep-seen
  $GENREC --work-dir "$WORK" evaluate "$d" --models popularity,sasrec --exclude-seen
}

run movielens-100k --epochs 20 --dropout 0.2 --patience 3 --lr 2e-3
run amazon-scientific --epochs 20 --patience 3 --lr 2e-3
run amazon-beauty --epochs 10 --patience 3 --lr 2e-3
echo "reports: $WORK/reports/"
