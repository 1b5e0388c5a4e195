#!/usr/bin/env bash
# Tune the SASRec yardstick per dataset on the whole validation split: a grid over hidden size, dropout and maximum
# length (2 blocks, full-softmax cross-entropy, early stopping on validation NDCG@10 with seen items
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
  local common="--epochs 200 --patience 10"
  case "$1" in
    movielens-100k)
      for cfg in "64 0.2 50" "64 0.2 200" "64 0.5 50" "128 0.2 50" "128 0.5 50"; do
        read -r h dr len <<< "$cfg"
        echo "h${h}-d${dr}-len${len}-lr1e-3 --hidden $h --dropout $dr --max-len $len --lr 1e-3 $common"
      done ;;
    amazon-scientific)
      for h in 64 128; do for dr in 0.2 0.5; do
        echo "h${h}-d${dr}-len50-lr1e-3 --hidden $h --dropout $dr --max-len 50 --lr 1e-3 $common"
      done; done ;;
    amazon-beauty)
      for cfg in "64 0.5" "128 0.5" "64 0.3"; do
        read -r h dr <<< "$cfg"
        echo "h${h}-d${dr}-len50-lr1e-3 --hidden $h --dropout $dr --max-len 50 --lr 1e-3 --epochs 200 --patience 8"
      done ;;
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
