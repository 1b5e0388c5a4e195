#!/usr/bin/env bash
# Tune the SASRec yardstick per dataset on the whole validation split: a grid over hidden size, dropout, maximum
# length and learning rate (2 blocks, full-softmax cross-entropy, early stopping on validation NDCG@10 with seen items
# removed, the product's rule). Each configuration is trained into WORK/sasrec-grid/DATASET/NAME; the summary table
# (best validation metrics per configuration) is printed at the end by tools/experiments/sasrec_grid_table.py.
# A configuration already trained (its meta.json exists) is skipped, so a killed run resumes.
#   usage: tools/experiments/sasrec_tuning.sh [WORK_DIR] [DATASETS]    (default: runs/quality, all three)
set -euo pipefail
cd "$(dirname "$0")/../.."
# the reference datasets (the Amazon sets have no public archive the loaders could fetch)
export GENREC_DATA_DIR="${GENREC_DATA_DIR:-$PWD/../shared/data}"
WORK="${1:-runs/quality}"
DATASETS="${2:-movielens-100k amazon-scientific amazon-beauty}"
GENREC="${GENREC:-.venv/bin/genrec}"
export GENREC_THREADS="${GENREC_THREADS:-1}" GENREC_PROGRESS="${GENREC_PROGRESS:-0}"

grid() {  # DATASET -> lines "NAME OPTIONS..."
  case "$1" in
    movielens-100k)
      for h in 64 128; do for dr in 0.2 0.5; do for len in 50 200; do
        echo "h${h}-d${dr}-len${len}-lr1e-3 --hidden $h --dropout $dr --max-len $len --lr 1e-3 --epochs 200 --patience 10"
      done; done; done ;;
    amazon-scientific)
      for h in 64 128; do for dr in 0.2 0.5; do for lr in 1e-3 2e-3; do
        echo "h${h}-d${dr}-len50-lr${lr} --hidden $h --dropout $dr --max-len 50 --lr $lr --epochs 200 --patience 10"
      done; done; done ;;
    amazon-beauty)
      echo "h64-d0.5-len50-lr1e-3 --hidden 64 --dropout 0.5 --max-len 50 --lr 1e-3 --epochs 200 --patience 8"
      echo "h128-d0.5-len50-lr1e-3 --hidden 128 --dropout 0.5 --max-len 50 --lr 1e-3 --epochs 200 --patience 8"
      echo "h64-d0.3-len50-lr2e-3 --hidden 64 --dropout 0.3 --max-len 50 --lr 2e-3 --epochs 200 --patience 8"
      echo "h128-d0.3-len50-lr1e-3 --hidden 128 --dropout 0.3 --max-len 50 --lr 1e-3 --epochs 200 --patience 8" ;;
    *) echo "no grid for $1" >&2; exit 2 ;;
  esac
}

for d in $DATASETS; do
  $GENREC --work-dir "$WORK" prepare "$d" >/dev/null
  while read -r name options; do
    out="$WORK/sasrec-grid/$d/$name"
    if [ -f "$out/meta.json" ]; then echo "have $d/$name"; continue; fi
    # shellcheck disable=SC2086
    $GENREC --work-dir "$WORK" train-sasrec "$d" --valid-exclude-seen $options --out "$out"
  done < <(grid "$d")
done
.venv/bin/python tools/experiments/sasrec_grid_table.py "$WORK/sasrec-grid"
