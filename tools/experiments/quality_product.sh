#!/usr/bin/env bash
# The product's quality table for one dataset: the tuned SASRec (best of tools/experiments/sasrec_tuning.sh's grid by
# validation), the SASRec as it was trained before tuning ("old"), the aligned LMs (tiny, small, small with
# distillation, small on RQ-KMeans codes, and medium where asked), each with its ranking chosen on the whole
# validation split (`genrec train` tunes the LM alone against fusions with the tuned SASRec), then ONE `evaluate` run
# on the test split under both seen-item rules with every model side by side: Popularity, both SASRecs, each LM alone
# (lm:) and each artifact's ranking (rec:). Finished steps are skipped (a model whose meta.json exists is not
# retrained), so a killed run resumes. Validation choices are printed by tools/experiments/quality_table.py.
#   usage: tools/experiments/quality_product.sh DATASET [WORK_DIR]     (default WORK_DIR: runs/quality)
#   env: PRESETS (default "tiny small"; add medium), VARIANTS (default "distill rqkmeans"; "" for none), EPOCHS (6)
set -euo pipefail
cd "$(dirname "$0")/../.."
# the reference datasets (the Amazon sets have no public archive the loaders could fetch)
export GENREC_DATA_DIR="${GENREC_DATA_DIR:-$PWD/../shared/data}"
DATASET="$1"
WORK="${2:-runs/quality}"
PRESETS="${PRESETS:-tiny small}"
VARIANTS="${VARIANTS-distill rqkmeans}"  # empty: no variants
EPOCHS="${EPOCHS:-6}"
GENREC="${GENREC:-.venv/bin/genrec}"
PY="${PY:-.venv/bin/python}"
export GENREC_THREADS="${GENREC_THREADS:-1}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" GENREC_PROGRESS="${GENREC_PROGRESS:-0}"
g() { $GENREC --work-dir "$WORK" "$@"; }
models="$WORK/models/$DATASET"

g prepare "$DATASET" >/dev/null
# the yardstick: the grid's best configuration by validation NDCG@10 (seen removed) becomes the dataset's SASRec
best=$($PY tools/experiments/sasrec_grid_table.py "$WORK/sasrec-grid" --best "$DATASET")
if [ ! -f "$models/sasrec/meta.json" ]; then mkdir -p "$models" && cp -r "$best" "$models/sasrec"; fi
echo "tuned SASRec: $best"
# the SASRec as it was trained before tuning (tools/experiments/quality_baselines.sh's settings)
if [ ! -f "$models/sasrec-old/meta.json" ]; then
  case "$DATASET" in
    movielens-100k) old=(--epochs 20 --dropout 0.2 --patience 3 --lr 2e-3) ;;
    amazon-scientific) old=(--epochs 20 --patience 3 --lr 2e-3) ;;
    *) old=(--epochs 10 --patience 3 --lr 2e-3) ;;
  esac
  g train-sasrec "$DATASET" --valid-exclude-seen "${old[@]}" --out "$models/sasrec-old"
fi

# codes: aligned to SmolLM2's text space (RQ-VAE, the default) and residual k-means codes (aligned after them)
tok="$WORK/tokenizers/$DATASET"
[ -f "$tok/smollm2-135m/meta.json" ] || g train-tokenizer "$DATASET" --lm smollm2-135m
if [[ " $VARIANTS " == *" rqkmeans "* ]] && [ ! -f "$tok/smollm2-135m-rqkmeans/meta.json" ]; then
  g train-tokenizer "$DATASET" --lm smollm2-135m --method rq-kmeans
fi

train() {  # NAME PRESET [train options...]
  local name=$1 preset=$2; shift 2
  if [ -f "$models/$name/meta.json" ]; then echo "have $DATASET/$name"; return; fi
  g train "$DATASET" --preset "$preset" --epochs "$EPOCHS" --tokenizer "$tok/smollm2-135m" --out "$models/$name" "$@"
}
names=()
for preset in $PRESETS; do
  epochs=()
  [ "$preset" = medium ] && epochs=(--epochs 8)
  train "lm-$preset" "$preset" "${epochs[@]}"
  names+=("lm-$preset")
done
if [[ " $VARIANTS " == *" distill "* ]]; then train lm-small-distill small --distill; names+=(lm-small-distill); fi
if [[ " $VARIANTS " == *" rqkmeans "* ]]; then
  train lm-small-rqkmeans small --tokenizer "$tok/smollm2-135m-rqkmeans"
  names+=(lm-small-rqkmeans)
fi

list="popularity,sasrec:sasrec-old,sasrec"
for n in "${names[@]}"; do list+=",lm:$n,rec:$n"; done
g evaluate "$DATASET" --models "$list" --both-rules --out "$WORK/reports/$DATASET-test-product.json"
$PY tools/experiments/quality_table.py "$WORK" "$DATASET"
