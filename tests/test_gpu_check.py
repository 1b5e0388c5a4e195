"""The GPU check (tools/gpu_check.sh + tools/gpu_check.py): its preflight, its verdict on the backends, and its CPU
smoke run end to end (opt-in marker `gpucheck`, a few minutes: real trainings, evaluations and bench_generate)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import REPO_ROOT, SHARED_DATA
from tools import gpu_check


def test_preflight_without_the_dataset_exits_2_and_says_how_it_gets_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--preflight", "--work", str(tmp_path / "w"), "--data-dir", str(tmp_path / "none"), "--out", str(tmp_path)]
    assert gpu_check.main(argv) == 2
    err = capsys.readouterr().err
    assert "dataset 'amazon-scientific' not found" in err
    assert str(tmp_path / "none" / "amazon-scientific") in err and "--stage" in err


def test_preflight_names_the_missing_file_of_a_wrong_data_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "data" / "amazon-scientific").mkdir(parents=True)
    (tmp_path / "data" / "amazon-scientific" / "Scientific.inter.json").write_text("{}")
    argv = ["--preflight", "--work", str(tmp_path / "w"), "--data-dir", str(tmp_path / "data")]
    assert gpu_check.main(argv) == 2
    assert "Scientific.item.json" in capsys.readouterr().err


@pytest.mark.skipif(not (SHARED_DATA / "amazon-scientific").is_dir(), reason="no reference datasets here")
def test_preflight_finds_the_reference_files(tmp_path: Path) -> None:
    assert gpu_check.main(["--preflight", "--work", str(tmp_path / "w"), "--data-dir", str(SHARED_DATA)]) == 0


def _row(backend: str, k: int, users_per_s: float) -> dict[str, object]:
    return {"backend": backend, "k": k, "users_per_s": users_per_s}


def test_the_verdict_compares_the_dtype_auto_runs_with_vllm_at_each_k() -> None:
    rows = [_row("ours-bf16", 20, 90.0), _row("ours-fp32", 20, 200.0), _row("vllm", 20, 120.0)]
    rows += [_row("ours-bf16", 50, 40.0), _row("vllm", 50, 20.0), _row("lcrec", 50, 1.0)]
    per_k = gpu_check.faster_backend(rows, "ours-bf16")
    assert [(d["k"], d["faster"], d["vllm_over_transformers"]) for d in per_k] == [
        (20, "vllm", 1.333),
        (50, "transformers", 0.5),
    ]
    assert gpu_check.faster_backend([_row("ours-bf16", 20, 1.0)], "ours-bf16") == []  # no vllm row: no verdict


@pytest.mark.gpucheck
def test_the_script_without_cuda_runs_the_cpu_smoke_end_to_end(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    marks = request.config.getoption("markexpr") or ""
    if "gpucheck" not in marks or "not gpucheck" in marks:
        pytest.skip("trains, evaluates and benchmarks tiny models (minutes): opt in with -m gpucheck")
    if shutil.which("nvidia-smi") and subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0:
        pytest.skip("a CUDA machine runs the GPU mode")
    out, work = tmp_path / "out", tmp_path / "work"
    env = {**os.environ, "PYTHON": sys.executable, "GENREC_PROGRESS": "0"}
    env.pop("OUT", None)
    proc = subprocess.run(
        ["bash", "tools/gpu_check.sh", "--out", str(out), "--work", str(work)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "running the CPU smoke mode" in proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mode"] == "cpu-smoke"
    assert {s["name"]: s["status"] for s in summary["steps"]} == dict.fromkeys(
        [
            "prepare",
            "train-sasrec",
            "train-tokenizer",
            "train-small",
            "train-main",
            "evaluate-keep-seen",
            "evaluate-exclude-seen",
            "bench-generate",
        ],
        "done",
    )
    assert summary["training"]["preset"] == "tiny" and summary["training"]["device"] == "cpu"
    assert summary["training"]["max_minutes"] == 1.0
    quality = {(r["model"], r["seen"]) for r in summary["quality"]}
    models = ["popularity", "sasrec", "lm:lm-small", "lm:lm-main"]
    assert quality == {(m, rule) for m in models for rule in ("keep-seen", "exclude-seen")}
    assert all(r["users"] == gpu_check.SMOKE_USERS for r in summary["quality"])
    rows = summary["generation"]["rows"]
    vllm = summary["env"]["vllm"] is not None
    expected = {"lcrec", "ours-fp32", "ours-bf16"} | ({"vllm"} if vllm else set())
    assert {(r["backend"], r["k"]) for r in rows} == {(b, k) for b in expected for k in (20, 50)}
    assert all(r["users_per_s"] > 0 for r in rows)
    assert next(r for r in rows if r["backend"] == "lcrec")["x_lcrec"] == 1.0
    verdict = summary["faster_backend"]
    assert [d["k"] for d in verdict["per_k"]] == ([20, 50] if vllm else [])
    assert verdict["auto_picks_here"] == "transformers"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [
            "bench-generate.json",
            "quality-exclude-seen.json",
            "quality-exclude-seen.md",
            "quality-keep-seen.json",
            "quality-keep-seen.md",
            "steps.log",
            "summary.json",
            "summary.md",
        ]
    )
    md = (out / "summary.md").read_text()
    assert "## Which backend was faster on this device" in md and "lm:lm-main" in md
