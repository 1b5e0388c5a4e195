#!/usr/bin/env bash
# The cold-start table of docs/results/cold_start.md: hold ~5% of Amazon Scientific's items out of training entirely,
# train everything on the rest (SASRec, the tokenizer with and without the alignment loss, the tiny LM on each), add
# the held-out items with `genrec catalogue add` (codes from their text through the tokenizer), and rank the full
# dataset's test cases: cold (target held out) and warm (the others), before and after adding.
# A finished step (its meta.json exists) is skipped; delete its folder to redo it.
#   usage: tools/experiments/cold_start.sh [WORK_DIR] [EPOCHS]      (defaults: runs/cold, 6)
set -euo pipefail
cd "$(dirname "$0")/../.."
export GENREC_DATA_DIR="${GENREC_DATA_DIR:-$PWD/../shared/data}"
WORK="${1:-runs/cold}"
EPOCHS="${2:-6}"
GENREC="${GENREC:-.venv/bin/python -m offline}"  # this checkout's code, whatever the venv installed
PY="${PY:-.venv/bin/python}"
export GENREC_THREADS="${GENREC_THREADS:-1}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
D=amazon-scientific
W=$D-warm

have() { [ -f "$1/meta.json" ]; }

have "$WORK/data/$W" || $PY tools/experiments/cold_start.py split --work-dir "$WORK" --dataset "$D" --share 0.05
have "$WORK/models/$W/sasrec" ||
  $GENREC --work-dir "$WORK" train-sasrec "$W" --valid-exclude-seen --epochs 20 --patience 3 --lr 2e-3
have "$WORK/tokenizers/$W/smollm2-135m" || $GENREC --work-dir "$WORK" train-tokenizer "$W" --lm smollm2-135m
have "$WORK/tokenizers/$W/smollm2-135m-noalign" ||
  $GENREC --work-dir "$WORK" train-tokenizer "$W" --lm smollm2-135m --no-align
for variant in "" -noalign; do
  flag=(); [ -n "$variant" ] && flag=(--no-align)
  have "$WORK/models/$W/lm-tiny$variant" ||
    $GENREC --work-dir "$WORK" train "$W" --preset tiny --epochs "$EPOCHS" --eval-users 1000 "${flag[@]}" \
      --out "$WORK/models/$W/lm-tiny$variant"
done
for variant in "" -noalign; do  # codes from text: the projection when the tokenizer has one, else a fitted map
  have "$WORK/models/$W/lm-tiny$variant+cold" ||
    $GENREC --work-dir "$WORK" catalogue add --artifact "$WORK/models/$W/lm-tiny$variant" \
      --items "$WORK/cold/$D.items.jsonl" --out "$WORK/models/$W/lm-tiny$variant+cold"
done
have "$WORK/models/$W/lm-tiny+cold-fitted" ||  # the aligned codes, reached through the fitted map instead
  $GENREC --work-dir "$WORK" catalogue add --artifact "$WORK/models/$W/lm-tiny" --text-map fitted \
    --items "$WORK/cold/$D.items.jsonl" --out "$WORK/models/$W/lm-tiny+cold-fitted"
have "$WORK/models/$W/lm-tiny+cold-free" ||  # placed freely (new branches) instead of beside trained items
  $GENREC --work-dir "$WORK" catalogue add --artifact "$WORK/models/$W/lm-tiny" --placement free \
    --items "$WORK/cold/$D.items.jsonl" --out "$WORK/models/$W/lm-tiny+cold-free"
M="$WORK/models/$W"
$PY tools/experiments/cold_start.py evaluate --work-dir "$WORK" --dataset "$D" \
  --model "aligned codes, projection=$M/lm-tiny:$M/lm-tiny+cold" \
  --model "aligned codes, projection, free placement=$M/lm-tiny:$M/lm-tiny+cold-free" \
  --model "aligned codes, fitted map=$M/lm-tiny:$M/lm-tiny+cold-fitted" \
  --model "codes without alignment, fitted map=$M/lm-tiny-noalign:$M/lm-tiny-noalign+cold"
