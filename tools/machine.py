"""What a benchmark or check says about the machine it ran on, using the standard library only (tools/gpu_check.py
runs it before the project's dependencies are installed).

Contract: `cpu_model()` is the CPU's model name from Linux's /proc/cpuinfo, else what the platform module says. It
knows nothing about what was measured.
"""

from __future__ import annotations

import platform
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
