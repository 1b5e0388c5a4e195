#!/usr/bin/env bash
# The aligned LM's quality table: for each reference dataset, the `tiny` and `small` presets with every alignment task,
# and the tiny LM's ablations (codes from tokenization without the alignment loss, no textual tasks, no negative
# sampling), all trained for the same number of epochs with the same validation users for model selection, then ranked
# side by side with Popularity and SASRec in ONE `evaluate` run per dataset (test split, seen items kept, beam 20).
# Needs SASRec and both tokenizers: run tools/experiments/quality_baselines.sh and tools/experiments/quality_tokenizer.sh with the same
# WORK_DIR first. A finished model (its meta.json exists) is not retrained; delete its folder to redo it.
#   usage: tools/experiments/quality_lm.sh [WORK_DIR] [EPOCHS] [DATASETS]
#   defaults: runs/quality, 6, "movielens-100k amazon-scientific amazon-beauty"
#   env: ABLATIONS=0 trains only the full mixture; PRESETS ("tiny small") the presets trained with the full mixture
#   (small: ~3 min/epoch on Scientific, ~5 on Beauty, one core); MAX_MINUTES=N caps each training run (then it is not
#   only the epochs that are equal: say so next to the numbers); EVAL_USERS (1000) validation users for selection.
set -euo pipefail
cd "$(dirname "$0")/../.."
# the reference datasets (the Amazon sets have no public archive the loaders could fetch)
export GENREC_DATA_DIR="${GENREC_DATA_DIR:-$PWD/../shared/data}"
WORK="${1:-runs/quality}"
EPOCHS="${2:-6}"
DATASETS="${3:-movielens-100k amazon-scientific amazon-beauty}"
GENREC="${GENREC:-.venv/bin/genrec}"
EVAL_USERS="${EVAL_USERS:-1000}"
ABLATIONS="${ABLATIONS:-1}"
PRESETS="${PRESETS:-tiny small}"
CAP=()
if [ -n "${MAX_MINUTES:-}" ]; then CAP=(--max-minutes "$MAX_MINUTES"); fi
export GENREC_THREADS="${GENREC_THREADS:-1}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

train() {  # DATASET PRESET NAME [train options...]
  local d=$1 preset=$2 name=$3; shift 3
  if [ -f "$WORK/models/$d/$name/meta.json" ]; then echo "have $d/$name"; return; fi
  $GENREC --work-dir "$WORK" train "$d" --preset "$preset" --epochs "$EPOCHS" --eval-users "$EVAL_USERS" \
    --out "$WORK/models/$d/$name" "${CAP[@]}" "$@"
}

for d in $DATASETS; do
  models="popularity,sasrec"
  for preset in $PRESETS; do
    train "$d" "$preset" "lm-$preset"
    models+=",lm:lm-$preset"
  done
  if [ "$ABLATIONS" = 1 ] && [ "$d" != amazon-beauty ]; then  # Beauty has no item text: no alignment loss and no textual tasks to remove
    train "$d" tiny lm-tiny-noalign --no-align
    train "$d" tiny lm-tiny-notext --no-textual
    models+=",lm:lm-tiny-noalign,lm:lm-tiny-notext"
  fi
  if [ "$ABLATIONS" = 1 ]; then
    train "$d" tiny lm-tiny-noneg --no-negatives
    models+=",lm:lm-tiny-noneg"
  fi
  $GENREC --work-dir "$WORK" evaluate "$d" --models "$models" --keep-seen
done
echo "reports: $WORK/reports/"
