"""Static checks of the deployment files, fast enough for every run: the compose file (with the docker compose client
when one is installed, and structurally always), the Dockerfile's targets, promtool on the Prometheus config and rules,
and the dashboards (up to date with their generator, one datasource, only metric names the service, the refresh job,
the rules or redis_exporter export). tests/test_ops_prometheus.py runs the same expressions against real data."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.ops_promql import (
    DASHBOARDS_DIR,
    PROMETHEUS_YML,
    RULES_DIR,
    alert_series,
    dashboard_exprs,
    dashboards,
    exported_names,
    metric_names,
    recorded_names,
    rendered_prometheus_config,
    rule_exprs,
)
from tests.paths import REPO_ROOT
from tools import dashboards as make_dashboards

COMPOSE_FILES = [REPO_ROOT / "docker-compose.yml", REPO_ROOT / "docker-compose.gpu.yml"]
PROMTOOL = shutil.which("promtool")


def _compose_cli() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def _compose() -> dict:
    return yaml.safe_load(COMPOSE_FILES[0].read_text())


def test_compose_client_validates_both_files() -> None:
    cli = _compose_cli()
    if cli is None:
        pytest.skip("no docker compose client (.ci/run installs Debian's docker-compose)")
    for files in (COMPOSE_FILES[:1], COMPOSE_FILES):
        args = [a for f in files for a in ("-f", str(f))]
        run = subprocess.run([*cli, *args, "config", "-q"], capture_output=True, text=True, cwd=REPO_ROOT)
        assert run.returncode == 0, run.stderr


def test_compose_structure() -> None:
    services = _compose()["services"]
    assert {name for name, service in services.items() if "profiles" not in service} == {
        "redis", "bootstrap", "api", "refresher", "pushgateway", "redis-exporter", "prometheus", "grafana",
    }  # fmt: skip
    for name, service in services.items():
        for dep in service.get("depends_on", {}):
            assert dep in services, (name, dep)
    assert services["api"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["api"]["depends_on"]["bootstrap"]["condition"] == "service_completed_successfully"
    assert services["refresher"]["depends_on"]["bootstrap"]["condition"] == "service_completed_successfully"
    assert "healthcheck" in services["redis"] and services["bootstrap"]["restart"] == "no"
    assert services["refresher"]["command"][0] == "supercronic"
    # Every file the stack mounts from the checkout exists.
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./deploy"):
                assert (REPO_ROOT / source).exists(), source
    # Build targets exist in the Dockerfile.
    stages = set(re.findall(r"^FROM \S+ AS (\S+)$", (REPO_ROOT / "Dockerfile").read_text(), re.MULTILINE))
    gpu = yaml.safe_load(COMPOSE_FILES[1].read_text())["services"]
    for service in [*services.values(), *gpu.values()]:
        if "build" in service:
            assert service["build"]["target"] in stages


def test_compose_cluster_profile_names_a_redis_cluster_ray_and_a_ray_refresher() -> None:
    services = _compose()["services"]
    cluster = {name for name, service in services.items() if "cluster" in service.get("profiles", [])}
    nodes = {"redis-node-1", "redis-node-2", "redis-node-3"}
    assert cluster == {*nodes, "redis-cluster-init", "ray-head", "ray-worker", "refresher-cluster"}
    for node in nodes:
        command = services[node]["command"]
        assert command[0] == "redis-server" and command[command.index("--cluster-enabled") + 1] == "yes"
    init = services["redis-cluster-init"]
    script = init["command"][-1]
    assert "--cluster create" in script and "--cluster-replicas 0" in script and all(n in script for n in nodes)
    assert set(init["depends_on"]) == nodes and init["restart"] == "no"
    assert (
        "--head" in services["ray-head"]["command"] and "--address=ray-head:6379" in services["ray-worker"]["command"]
    )
    refresher = services["refresher-cluster"]
    env = refresher["environment"]
    assert env["GENREC_REDIS_URL"].endswith(
        "redis+cluster://redis-node-1:6379,redis-node-2:6379,redis-node-3:6379}"
    ) and env["GENREC_RAY_ADDRESS"].endswith("ray-head:6379}")
    assert refresher["depends_on"]["redis-cluster-init"]["condition"] == "service_completed_successfully"
    crontab = (REPO_ROOT / "deploy" / "refresh-cluster.crontab").read_text()
    jobs = [line for line in crontab.splitlines() if line and not line.startswith("#")]
    assert jobs and all("--engine ray" in job and "--ray-address" in job for job in jobs)
    # every cluster-profile image that is built comes from a Dockerfile stage that installs the ray extra
    assert services["ray-head"]["build"]["target"] == "ray"
    assert {services[n]["image"] for n in ("ray-head", "ray-worker", "refresher-cluster")} == {"genrec-ray:latest"}
    assert '".[service,training,ray]"' in (REPO_ROOT / "Dockerfile").read_text()


def _stages() -> dict[str, list[str]]:
    stages: dict[str, list[str]] = {}
    current = ""
    for line in (REPO_ROOT / "Dockerfile").read_text().splitlines():
        match = re.match(r"FROM (\S+) AS (\S+)", line)
        if match:
            current = match[2]
            stages[current] = [line]
        elif current:
            stages[current].append(line)
    return stages


def test_dockerfile_runtime_images_are_lean_and_non_root() -> None:
    stages = _stages()
    text = (REPO_ROOT / "Dockerfile").read_text()
    assert list(stages)[-1] == "api"  # the default target
    for name in ("api", "jobs", "gpu", "vllm-cpu", "ray"):
        body = "\n".join(stages[name])
        assert "USER genrec" in body and "HEALTHCHECK" in body, name
        assert "apt-get" not in body and "pip install" not in body, name  # built elsewhere, copied in
        assert stages[name][0].startswith("FROM runtime AS"), name
    assert "useradd --system --uid 10001" in "\n".join(stages["runtime"])
    assert re.search(r"SUPERCRONIC_SHA1SUM=[0-9a-f]{40}\b", text) and "sha1sum -c" in text
    ignored = {line.strip() for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()}
    for copy in re.findall(r"^COPY (?!--from)(.+)$", text, re.MULTILINE):
        for source in copy.split()[:-1]:  # the last word is the destination
            assert (REPO_ROOT / source).exists(), source
            assert source.split("/")[0] not in ignored or f"!{source}" in ignored, source


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian package prometheus)")
def test_promtool_checks_config_and_rules(tmp_path: Path) -> None:
    rules = subprocess.run([PROMTOOL, "check", "rules", *map(str, RULES_DIR.glob("*.yml"))], capture_output=True)
    assert rules.returncode == 0, rules.stdout + rules.stderr
    # The config as compose mounts it, with rule_files pointing into the checkout (targets untouched).
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    config["rule_files"] = [str(RULES_DIR / Path(p).name) for p in config["rule_files"]]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    checked = subprocess.run([PROMTOOL, "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert b"SUCCESS" in checked.stdout


def test_rendered_config_names_every_job() -> None:
    jobs = {"genrec-api": ["a:1"], "pushgateway": ["b:2"], "redis": ["c:3"], "prometheus": ["d:4"]}
    config = rendered_prometheus_config(jobs, "1s")
    assert {j["job_name"]: j["static_configs"][0]["targets"] for j in config["scrape_configs"]} == jobs
    assert not any(k.endswith("_sd_configs") for j in config["scrape_configs"] for k in j)
    with pytest.raises(KeyError):
        rendered_prometheus_config({"genrec-api": ["a:1"]})


def test_dashboards_are_what_the_generator_writes() -> None:
    built = make_dashboards.dashboards()
    assert sorted(built) == sorted(p.name for p in DASHBOARDS_DIR.glob("*.json"))
    for name, board in built.items():
        assert (DASHBOARDS_DIR / name).read_text() == make_dashboards.render(board), (
            f"{name} is stale: run python tools/dashboards.py"
        )


def test_dashboards_use_the_provisioned_datasource() -> None:
    provisioned = yaml.safe_load((REPO_ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    uid = provisioned["datasources"][0]["uid"]
    uids = set()
    for board in dashboards().values():
        assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
        for panel in board["panels"]:
            uids |= {t["datasource"]["uid"] for t in panel.get("targets", [])}
    assert uids == {uid}


def test_metric_name_extraction() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, source) (rate(genrec_request_seconds_bucket{route="/u/{id}"}[5m])))'
        " / (sum(rate(genrec_cache_misses_total[5m])) or vector(0)) > 1e3"
    )
    assert metric_names(expr) == {"genrec_request_seconds_bucket", "genrec_cache_misses_total"}
    assert metric_names("time() - max(genrec:refresh_age_seconds offset 5m)") == {"genrec:refresh_age_seconds"}
    assert alert_series("up{job='x'} == 0") == "up{job='x'}"
    assert alert_series("absent(foo_total)") == "foo_total"
    with pytest.raises(ValueError, match="is not"):
        alert_series("a > b")


def test_every_referenced_metric_is_exported() -> None:
    """genrec_* names come from the service's and the job's real registries, genrec:* from the recording rules;
    redis_* names are checked against the real redis_exporter by tests/test_ops_prometheus.py."""
    known = exported_names() | recorded_names() | {"up"}
    exprs = dashboard_exprs() + rule_exprs()
    assert len(dashboard_exprs()) >= 30
    for item in exprs:
        names = metric_names(item.expr)
        assert names, item
        unknown = {n for n in names if n not in known and not n.startswith("redis_")}
        assert not unknown, f"{item.where}: {sorted(unknown)} not exported by the service, the job or the rules"
    # Every metric the service and the job export is shown somewhere (histogram parts: through _bucket).
    shown = set().union(*(metric_names(e.expr) for e in exprs))
    missing = {n for n in exported_names() if not n.endswith(("_sum", "_count")) and n not in shown}
    assert not missing, sorted(missing)


def test_every_alert_has_a_checkable_form() -> None:
    for item in rule_exprs():
        if item.alert:
            assert metric_names(alert_series(item.expr)), item
