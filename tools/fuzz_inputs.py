"""Run the fuzz and property tests with a bigger budget and report how many inputs each tried.

usage: python tools/fuzz_inputs.py [--examples 1000] [--out runs/fuzz/inputs.json]

Runs pytest once over the Schemathesis and Hypothesis test files with GENREC_FUZZ_EXAMPLES=N (examples per property and
per API operation), reads Hypothesis' statistics (passing / failing / invalid cases per test, summed over its phases)
and the Schemathesis tally (requests per operation and answer status, tests/fuzz_budget.record), prints two markdown
tables and writes them as JSON (tools/benchmarks/report.py). Exits with pytest's status: a counterexample found in the
bigger run fails it. The README's "inputs tried" table comes from this script.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.benchmarks.report import emit  # noqa: E402

FILES = [
    "tests/test_schema_fuzz.py",
    "tests/test_service_property.py",
    "tests/test_cache_codec.py",
    "tests/test_cache_codec_property.py",
    "tests/test_loaders_property.py",
]
_TEST = re.compile(r"^(tests/\S+::\S+):$")
_CASES = re.compile(r"- (\d+) passing, (\d+) failing, and (\d+) invalid")


def parse_statistics(text: str) -> list[dict[str, object]]:
    """Hypothesis' --hypothesis-show-statistics blocks -> one row per test (repeated names are numbered)."""
    rows: list[dict[str, object]] = []
    current: dict[str, object] | None = None
    seen: dict[str, int] = {}
    for line in text.splitlines():
        head = _TEST.match(line.strip())
        if head:
            name = head.group(1).removeprefix("tests/")
            seen[name] = seen.get(name, 0) + 1
            label = name if seen[name] == 1 else f"{name} #{seen[name]}"
            current = {"test": label, "passing": 0, "failing": 0, "invalid": 0}
            rows.append(current)
            continue
        cases = _CASES.search(line)
        if cases and current is not None:
            for key, value in zip(("passing", "failing", "invalid"), cases.groups(), strict=True):
                current[key] = int(current[key]) + int(value)  # type: ignore[call-overload]
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=1000, help="examples per property and per API operation")
    parser.add_argument("--out", type=Path, default=Path("runs/fuzz/inputs.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        counts_file = Path(tmp) / "counts.json"
        env = {**os.environ, "GENREC_FUZZ_EXAMPLES": str(args.examples), "GENREC_FUZZ_COUNTS": str(counts_file)}
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--hypothesis-show-statistics", *FILES]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        counts = orjson.loads(counts_file.read_bytes()) if counts_file.exists() else {}
    summary = [line for line in proc.stdout.splitlines() if " passed" in line or " failed" in line]
    print(summary[-1] if summary else proc.stdout[-2000:])
    if proc.returncode != 0:
        print(proc.stdout[-6000:], proc.stderr[-2000:], sep="\n", file=sys.stderr)
    # Schemathesis runs one Hypothesis test per operation under one name: its requests are tallied below instead
    rows = [r for r in parse_statistics(proc.stdout) if not str(r["test"]).startswith("test_schema_fuzz.py")]
    emit(f"Hypothesis cases per test (GENREC_FUZZ_EXAMPLES={args.examples})", rows, args.out)
    by_operation: dict[str, dict[str, int]] = {}
    for label, n in counts.items():
        operation, _, status = label.rpartition(" -> ")
        by_operation.setdefault(operation, {})[status] = n
    api_rows = [
        {
            "operation": op,
            "requests": sum(statuses.values()),
            "answers": ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())),
        }
        for op, statuses in sorted(by_operation.items())
    ]
    emit("Schemathesis requests per operation (all passed its checks)", api_rows, args.out.with_suffix(".api.json"))
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
