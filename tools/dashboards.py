"""Writes the provisioned Grafana dashboards (deploy/grafana/dashboards/*.json) from the panel lists below.

Contract: `python tools/dashboards.py` rewrites the JSON files; `dashboards()` returns them as dicts
(tests/test_ops_config.py checks the committed files equal it, and tests/test_ops_prometheus.py evaluates every
`expr` against a real Prometheus). Every query goes to the provisioned datasource uid `prometheus`. Queries use
plain PromQL (no Grafana variables) so the same text runs in Prometheus's HTTP API. It knows nothing about how the
metrics are produced: service/metrics.py, offline/refresh/metrics.py and redis_exporter define them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "deploy" / "grafana" / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
REC = 'route="/users/{user_id}/recommendations"'
PROBES = 'route!~"/healthz|/readyz|/metrics"'


@dataclass(frozen=True)
class Panel:
    title: str
    targets: list[tuple[str, str]]  # (expr, legend)
    unit: str = "short"
    kind: str = "timeseries"  # or "stat"
    width: int = 12
    description: str = ""


@dataclass(frozen=True)
class Row:
    title: str
    panels: list[Panel] = field(default_factory=list)


def _quantiles(selector: str, by: str) -> list[tuple[str, str]]:
    group = f"le, {by}" if by else "le"
    legend = f"p{{q}} {{{{{by}}}}}" if by else "p{q}"
    return [
        (
            f"histogram_quantile({q / 100}, sum by ({group}) (rate({selector}[5m])))",
            legend.format(q=q),
        )
        for q in (50, 95, 99)
    ]


SERVICE = [
    Row(
        "Traffic and errors",
        [
            Panel(
                "Request rate by route and status",
                [("sum by (route, status) (rate(genrec_requests_total[1m]))", "{{route}} {{status}}")],
                "reqps",
            ),
            Panel(
                "Error responses (4xx, 5xx) by route and status",
                [
                    (
                        'sum by (route, status) (rate(genrec_requests_total{status=~"[45].."}[1m]))',
                        "{{route}} {{status}}",
                    )
                ],
                "reqps",
            ),
            Panel(
                "5xx ratio (probes excluded)", [("genrec:server_error_ratio:5m", "5xx share")], "percentunit", "stat", 6
            ),
            Panel(
                "Recommendations by answer source",
                [(f"sum by (source) (rate(genrec_requests_total{{{REC}}}[1m]))", "{{source}}")],
                "reqps",
                width=9,
            ),
            Panel("API targets up", [('up{job="genrec-api"}', "{{instance}}")], "short", "stat", 9),
        ],
    ),
    Row(
        "Latency",
        [
            Panel(
                "GET recommendations latency p50 / p95 / p99 by source",
                _quantiles(f"genrec_request_seconds_bucket{{{REC}}}", "source"),
                "s",
                width=16,
            ),
            Panel(
                "p99 by source (alert: cache > 50 ms)",
                [("genrec:recommend_latency_seconds:p99_5m", "{{source}}")],
                "s",
                "stat",
                8,
            ),
        ],
    ),
    Row(
        "Cache",
        [
            Panel(
                "Cache hit ratio",
                [
                    (
                        "sum(rate(genrec_cache_hits_total[5m])) / (sum(rate(genrec_cache_hits_total[5m]))"
                        " + (sum(rate(genrec_cache_misses_total[5m])) or vector(0)))",
                        "hit ratio",
                    )
                ],
                "percentunit",
                width=8,
            ),
            Panel(
                "Cache hits and misses by reason",
                [
                    ("sum(rate(genrec_cache_hits_total[1m]))", "hits"),
                    ("sum by (reason) (rate(genrec_cache_misses_total[1m]))", "miss: {{reason}}"),
                ],
                "reqps",
                width=8,
            ),
            Panel(
                "Redis errors seen by the API, by operation",
                [("sum by (op) (rate(genrec_redis_errors_total[1m]))", "{{op}}")],
                "ops",
                width=8,
            ),
        ],
    ),
    Row(
        "Access",
        [
            Panel(
                "Refused by the access check: no or wrong API key (401 / 403), write rate limit (429)",
                [
                    ("sum by (status) (rate(genrec_auth_rejected_total[1m]))", "key {{status}}"),
                    ("sum(rate(genrec_rate_limited_total[1m]))", "rate limited"),
                ],
                "reqps",
                width=24,
            ),
        ],
    ),
    Row(
        "Live generation",
        [
            Panel(
                "Live generation latency p50 / p95 / p99", _quantiles("genrec_live_seconds_bucket", ""), "s", width=8
            ),
            Panel(
                "Live queue and running generations",
                [("sum(genrec_live_queue_depth)", "waiting"), ("sum(genrec_live_running)", "running")],
                width=8,
            ),
            Panel(
                "Live timeouts and fallbacks",
                [
                    ("sum(rate(genrec_live_timeouts_total[1m]))", "timeouts"),
                    ("sum by (reason) (rate(genrec_live_fallbacks_total[1m]))", "fallback: {{reason}}"),
                ],
                "ops",
                width=8,
            ),
        ],
    ),
]

JOBS = [
    Row(
        "Cache refresh job (Pushgateway: the last run of each mode)",
        [
            Panel(
                "Time since last successful refresh",
                [("time() - max by (mode) (genrec_refresh_last_success_timestamp_seconds)", "{{mode}}")],
                "s",
                "stat",
                8,
                "Alerts: any mode > 2 h (GenrecCacheStale), full > 30 h (GenrecFullRefreshStale).",
            ),
            Panel(
                "Last run duration",
                [("max by (mode) (genrec_refresh_duration_seconds)", "{{mode}}")],
                "s",
                "stat",
                8,
            ),
            Panel(
                "Users refreshed by the last run",
                [("max by (mode) (genrec_refresh_users_total)", "{{mode}}")],
                "short",
                "stat",
                8,
            ),
            Panel(
                "Refresh duration and throughput over time",
                [
                    ("max by (mode) (genrec_refresh_duration_seconds)", "duration {{mode}}"),
                    ("max by (mode) (genrec_refresh_users_per_second)", "users/s {{mode}}"),
                ],
                width=12,
            ),
            Panel(
                "Failed runs (since the last success) and time since the last failure",
                [
                    ("sum by (mode) (genrec_refresh_errors_total)", "failed runs {{mode}}"),
                    (
                        "time() - max by (mode) (genrec_refresh_last_failure_timestamp_seconds)",
                        "since failure {{mode}}",
                    ),
                    ("max by (mode) (genrec_refresh_failed_duration_seconds)", "failed run duration {{mode}}"),
                ],
                width=12,
            ),
        ],
    ),
    Row(
        "Redis (redis_exporter)",
        [
            Panel(
                "Redis memory",
                [("sum(redis_memory_used_bytes)", "used"), ("sum(redis_memory_max_bytes)", "maxmemory (0 = none)")],
                "bytes",
                width=8,
            ),
            Panel("Keys", [("sum by (db) (redis_db_keys)", "{{db}}")], width=8),
            Panel(
                "Redis clients, commands and evictions",
                [
                    ("sum(redis_connected_clients)", "clients"),
                    ("sum(rate(redis_commands_processed_total[1m]))", "commands/s"),
                    ("sum(rate(redis_evicted_keys_total[5m]))", "evicted keys/s"),
                ],
                width=8,
            ),
            Panel("Redis up", [("redis_up", "{{instance}}")], "short", "stat", 24),
        ],
    ),
]


def _panel(panel: Panel, pid: int, x: int, y: int) -> dict[str, Any]:
    height = 5 if panel.kind == "stat" else 8
    out: dict[str, Any] = {
        "id": pid,
        "type": panel.kind,
        "title": panel.title,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": panel.width, "h": height},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(panel.targets)
        ],
    }
    if panel.description:
        out["description"] = panel.description
    if panel.kind == "stat":
        out["options"] = {"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "value"}
    return out


def dashboard(uid: str, title: str, rows: list[Row]) -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    y = 0
    for row in rows:
        panels.append({"id": len(panels) + 1, "type": "row", "title": row.title, "collapsed": False,
                       "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []})  # fmt: skip
        y += 1
        x, line_height = 0, 0
        for panel in row.panels:
            if x + panel.width > 24:
                x, y, line_height = 0, y + line_height, 0
            built = _panel(panel, len(panels) + 1, x, y)
            panels.append(built)
            x += panel.width
            line_height = max(line_height, built["gridPos"]["h"])
        y += line_height
    return {
        "uid": uid,
        "title": title,
        "tags": ["genrec"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": panels,
    }


def dashboards() -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON."""
    return {
        "genrec-service.json": dashboard("genrec-service", "genrec: service", SERVICE),
        "genrec-jobs.json": dashboard("genrec-jobs", "genrec: cache refresh and Redis", JOBS),
    }


def render(board: dict[str, Any]) -> str:
    return json.dumps(board, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, board in dashboards().items():
        (OUT / name).write_text(render(board))
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
