#!/usr/bin/env bash
# Alignment Tokenization with and without the alignment loss on the three reference datasets (SmolLM2-135M as the
# LM whose embedding space the codes are aligned to). Needs SASRec's item embeddings: run
# tools/experiments/quality_baselines.sh with the same WORK_DIR first. docs/results/quality.md's tokenizer table comes
# from this script.
#   usage: tools/experiments/quality_tokenizer.sh [WORK_DIR]      (default: runs/quality)
set -euo pipefail
cd "$(dirname "$0")/../.."
# the reference datasets (the Amazon sets have no public archive the loaders could fetch)
export GENREC_DATA_DIR="${GENREC_DATA_DIR:-$PWD/../shared/data}"
WORK="${1:-runs/quality}"
GENREC="${GENREC:-.venv/bin/genrec}"
export GENREC_THREADS="${GENREC_THREADS:-1}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
for d in movielens-100k amazon-scientific amazon-beauty; do
  $GENREC --work-dir "$WORK" prepare "$d"
  $GENREC --work-dir "$WORK" train-tokenizer "$d" --lm smollm2-135m
  $GENREC --work-dir "$WORK" train-tokenizer "$d" --lm smollm2-135m --no-align
done
