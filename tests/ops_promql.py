"""What the ops tests check the deploy/ files against: every PromQL expression in the dashboards and rules, the metric
names each one reads, the names the service and the refresh job export (from their real registries), and the
Prometheus config rendered with local targets.

Used by tests/test_ops_config.py (static checks) and tests/test_ops_prometheus.py (a real Prometheus). The metric-name
extraction is a small lexer, not a PromQL parser: it removes strings, label matchers, ranges and grouping clauses,
then keeps identifiers that are not function calls or keywords; tests/test_ops_config.py pins it on examples.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from offline.refresh.metrics import RunMetrics
from service.metrics import Metrics
from tests.paths import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
PROMETHEUS_YML = DEPLOY / "prometheus" / "prometheus.yml"
RULES_DIR = DEPLOY / "prometheus" / "rules"
DASHBOARDS_DIR = DEPLOY / "grafana" / "dashboards"

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or", "unless"}
_ALERT_FORM = re.compile(r"^(?P<series>.*\S)\s*(==|!=|>=|<=|>|<)\s*-?[0-9.]+(e[+-]?[0-9]+)?$", re.DOTALL)
_ABSENT_FORM = re.compile(r"^absent\((?P<series>.*)\)$", re.DOTALL)


@dataclass(frozen=True)
class Expr:
    where: str  # "dashboard <title> / <panel>" or "rule <name>"
    expr: str
    alert: bool = False


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS_DIR.glob("*.json"))}


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for panel in panels:
        out.append(panel)
        out += _panels(panel.get("panels", []))
    return out


def dashboard_exprs() -> list[Expr]:
    return [
        Expr(f"dashboard {board['title']} / {panel['title']} / {target['refId']}", target["expr"])
        for board in dashboards().values()
        for panel in _panels(board["panels"])
        for target in panel.get("targets", [])
    ]


def rules() -> list[dict[str, Any]]:
    out = []
    for path in sorted(RULES_DIR.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            out += group["rules"]
    return out


def rule_exprs() -> list[Expr]:
    return [
        Expr(f"rule {r.get('record') or r['alert']}", " ".join(str(r["expr"]).split()), alert="alert" in r)
        for r in rules()
    ]


def recorded_names() -> set[str]:
    return {r["record"] for r in rules() if "record" in r}


def alert_series(expr: str) -> str:
    """The series an alert tests: `X` of `X <op> <number>` or of `absent(X)`; ValueError for any other form."""
    match = _ABSENT_FORM.match(expr) or _ALERT_FORM.match(expr)
    if match is None:
        raise ValueError(f"alert expression {expr!r} is not `<series> <op> <number>` nor `absent(<series>)`")
    return match["series"].strip()


def metric_names(expr: str) -> set[str]:
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings (label values may hold braces)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range and subquery windows
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word, rest = match.group(), text[match.end() :].lstrip()
        if word in _KEYWORDS or rest.startswith("(") or re.fullmatch(r"e[0-9]*|inf|nan", word, re.IGNORECASE):
            continue
        if match.start() > 0 and (text[match.start() - 1].isdigit() or text[match.start() - 1] == "."):
            continue  # the exponent of a number such as 1e3
        names.add(word)
    return names


def _sample_names(registry: CollectorRegistry) -> set[str]:
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}
    return {family.name + s for family in registry.collect() for s in suffixes.get(family.type, ("",))}


def exported_names() -> set[str]:
    """Every sample name the service's Metrics and the refresh job's RunMetrics can expose."""
    run = RunMetrics("full", None)
    return _sample_names(Metrics(CollectorRegistry()).registry) | _sample_names(run.ok) | _sample_names(run.failed)


def rendered_prometheus_config(targets: dict[str, list[str]], interval: str | None = None) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml with each job's discovery replaced by static `targets[job]` (KeyError when
    a job has none: the test must say where every job's target is) and rule_files pointing into the checkout."""
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    if interval is not None:
        config["global"].update(scrape_interval=interval, evaluation_interval=interval)
    config["rule_files"] = [str(RULES_DIR / Path(p).name) for p in config["rule_files"]]
    for job in config["scrape_configs"]:
        for key in [k for k in job if k.endswith("_sd_configs") or k == "static_configs"]:
            del job[key]
        job["static_configs"] = [{"targets": targets[job["job_name"]]}]
    return config
