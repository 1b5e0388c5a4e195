"""Report files for evaluation results: one JSON list of `MetricReport`s and a markdown table, models side by side.

Contract: `markdown_table` renders one table per (dataset, split, seen-item rule) with one row per model and one column
per metric, and says in its heading which rule was used; `write_report` writes `<stem>.json` and `<stem>.md` and
returns both paths; `read_report` reads the JSON back. It knows nothing about how the numbers were made.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import orjson

from model.errors import DataFormatError
from model.eval.metrics import MetricReport


def _rule(exclude_seen: bool) -> str:
    return "seen items removed" if exclude_seen else "seen items kept"


def _label(name: str) -> str:
    kind, _, k = name.partition("@")
    return {"recall": "R", "ndcg": "N"}.get(kind, kind) + "@" + k


def markdown_table(reports: Sequence[MetricReport]) -> str:
    groups: dict[tuple[str, str, bool], list[MetricReport]] = {}
    for rep in reports:
        groups.setdefault((rep.dataset, rep.split, rep.exclude_seen), []).append(rep)
    blocks: list[str] = []
    for (dataset, split, exclude_seen), reps in groups.items():
        names: list[str] = []
        for rep in reps:
            names += [n for n in rep.metrics if n not in names]
        names.sort(key=lambda n: (n.partition("@")[0] != "recall", int(n.partition("@")[2] or 0)))
        lines = [
            f"**{dataset}**, {split} split, {reps[0].n_cases} users, full ranking, {_rule(exclude_seen)}",
            "",
            "| model | " + " | ".join(_label(n) for n in names) + " |",
            "|---|" + "---:|" * len(names),
        ]
        for rep in reps:
            cells = [f"{rep.metrics[n]:.4f}" if n in rep.metrics else "" for n in names]
            lines.append(f"| {rep.model} | " + " | ".join(cells) + " |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def write_report(reports: Sequence[MetricReport], folder: Path, stem: str) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / f"{stem}.json"
    md_path = folder / f"{stem}.md"
    json_path.write_bytes(orjson.dumps([r.to_dict() for r in reports], option=orjson.OPT_INDENT_2))
    md_path.write_text(markdown_table(reports))
    return json_path, md_path


def read_report(path: Path) -> list[MetricReport]:
    try:
        data = orjson.loads(path.read_bytes())
        return [MetricReport.from_dict(d) for d in data]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise DataFormatError(path, f"not a metric report: {exc}") from None
