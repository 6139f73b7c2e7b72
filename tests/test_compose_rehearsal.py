"""Rehearse docker-compose.yml without Docker: its Airflow services as native processes run the DAG to success."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from ceiling_grid.runs import run_folder_name
from ceiling_grid.testing import room_payload
from tests.support.compose import (
    COMPOSE_FILE,
    REPO_ROOT,
    ComposeDriftError,
    NativeStack,
    read_env_file,
    services_from_doc,
    validate,
)
from tests.support.services import require_postgres, require_redis

DAG_ID = "ceiling_grid_pipeline"
CORE_SERVICES = ["airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"]
RUN_TIMEOUT_S = 300
REDIS_DB = 13  # dedicated Redis DB number for the Celery rehearsal broker


def write_env(workdir: Path, *overrides: str) -> dict[str, str]:
    """Run scripts/init-env into ``workdir`` (as a user would) and return the parsed .env."""
    env_file = workdir / ".env"
    # The venv's interpreter lives under /root here, which other uids cannot reach: run as ourselves.
    args = [str(REPO_ROOT / "scripts/init-env"), "--env-file", str(env_file), "--set", f"AIRFLOW_UID={os.getuid()}"]
    for item in overrides:
        args += ["--set", item]
    subprocess.run(args, check=True, capture_output=True, text=True)
    return read_env_file(env_file)


def small_room_dir(path: Path) -> Path:
    """An input folder holding one small office, so the one DAG run stays short."""
    path.mkdir(parents=True)
    room = room_payload(6, 5, grid_id="rehearsal-office", room_type="office")
    (path / "rehearsal-office.json").write_text(json.dumps(room))
    return path


def api_token(base: str, env: dict[str, str]) -> str:
    resp = httpx.post(
        f"{base}/auth/token",
        json={"username": env["AIRFLOW_ADMIN_USERNAME"], "password": env["AIRFLOW_ADMIN_PASSWORD"]},
        timeout=30,
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["access_token"])


def run_dag(base: str, token: str, stack: NativeStack) -> tuple[str, float]:
    """Unpause the DAG, trigger one run over REST and wait for its end; return (state, seconds)."""
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + 120
    while True:  # the dag-processor must have parsed the file first
        resp = httpx.patch(f"{base}/api/v2/dags/{DAG_ID}", json={"is_paused": False}, headers=headers, timeout=30)
        if resp.status_code == 200:
            break
        assert time.monotonic() < deadline, (
            f"{DAG_ID} never appeared: {resp.text}\n{stack.log('airflow-dag-processor')}"
        )
        time.sleep(1)
    run_id = f"rehearsal_{uuid.uuid4().hex[:8]}"
    resp = httpx.post(
        f"{base}/api/v2/dags/{DAG_ID}/dagRuns",
        headers=headers,
        timeout=30,
        json={"dag_run_id": run_id, "logical_date": None, "conf": {"inputs": ["input"]}},
    )
    assert resp.status_code == 200, resp.text
    t0 = time.monotonic()
    state = "queued"
    while time.monotonic() - t0 < RUN_TIMEOUT_S:
        state = httpx.get(f"{base}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}", headers=headers, timeout=30).json()["state"]
        if state in {"success", "failed"}:
            break
        time.sleep(1)
    return f"{run_id}:{state}", time.monotonic() - t0


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A world-readable scratch folder outside pytest's private tmp (the stack's processes need it)."""
    path = Path(tempfile.mkdtemp(prefix="cg_rh_"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _examples_copy(target: Path) -> Path:
    """The checkout's data/examples beside the host's data/input (compose mounts both under /opt/airflow/data)."""
    shutil.copytree(REPO_ROOT / "data" / "examples", target, dirs_exist_ok=True)
    return target


def doc_exec_commands() -> list[tuple[str, str]]:
    """``docker compose exec <service> <command>`` lines of QUICKSTART.md and DEPLOYMENT.md."""
    found = []
    for doc in ("QUICKSTART.md", "DEPLOYMENT.md"):
        for line in (REPO_ROOT / doc).read_text().splitlines():
            m = re.match(r"\s*docker compose exec (?:-T )?([a-z][\w-]+) (.+)$", line)
            if m:
                found.append((m.group(1), m.group(2)))
    return found


def rehearse(
    workdir: Path,
    profiles: list[str],
    services: list[str],
    port_start: int,
    env_overrides: list[str],
    exec_docs: bool = False,
) -> None:
    """Bring the compose services up natively, check their healthchecks, run the DAG once, tear down."""
    env = write_env(workdir, *env_overrides)
    host = workdir / "host"  # stands for the checkout: ./data/input, ./data/output, ./logs
    out, logs = host / "data/output", host / "logs"
    for d in (host, host / "data", out, logs):
        d.mkdir(parents=True, exist_ok=True)
        d.chmod(0o755)
    stack = NativeStack(
        services_from_doc(yaml.safe_load(COMPOSE_FILE.read_text()), env, profiles),
        workdir / "rt",
        db_name=f"cg_rh_{uuid.uuid4().hex[:10]}",
        port_start=port_start,
        redis_db=REDIS_DB,
        host_dirs={"data/input": small_room_dir(host / "data/input"), "data/output": out, "logs": logs,
                   "data/examples": _examples_copy(host / "data/examples")},
    )
    stack.create_database()
    try:
        timings = stack.up(services)
        print(f"rehearsal {profiles or ['default']}: seconds to done/healthy {timings}")
        base = f"http://127.0.0.1:{stack.port_map[('airflow-apiserver', 8080)]}"
        result, seconds = run_dag(base, api_token(base, env), stack)
        print(f"rehearsal {profiles or ['default']}: DAG run {result} in {seconds:.1f} s")
        run_id, state = result.split(":")
        task_logs = sorted((logs / f"dag_id={DAG_ID}").glob("run_id=*/task_id=*/**/attempt=*.log"))
        assert state == "success", "\n".join(
            [f"--- {p.relative_to(logs)}\n{p.read_text()[-3000:]}" for p in task_logs]
            + [f"--- {s}\n{stack.log(s)}" for s in stack.procs]
        )
        assert (out / run_folder_name(run_id) / "summary.json").is_file(), sorted(p.name for p in out.iterdir())
        # The api-server's plan view reads what publish wrote (on a worker, under Celery) through its own
        # mount of ./data/output: the volume every airflow service shares.
        plans = httpx.get(f"{base}/ceiling-grid/api/runs/{run_id}", timeout=30,
                          headers={"Authorization": f"Bearer {api_token(base, env)}"})
        assert plans.status_code == 200, plans.text
        assert plans.json()["rooms"] == 1 and plans.json()["results"][0]["grid_id"] == "rehearsal-office"
        assert list((logs / f"dag_id={DAG_ID}" / f"run_id={run_id}").glob("task_id=*/**/attempt=1.log"))
        for name in stack.procs:  # still healthy after the run
            assert stack.healthcheck(name).returncode == 0, name
        if exec_docs:  # the docs' `docker compose exec` commands, run the same way
            for service, command in doc_exec_commands():
                if service in stack.procs:
                    result = stack.exec(service, command)
                    assert result.returncode == 0, (
                        f"{service}: {command}\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
                    )
    finally:
        stack.down()
        stack.drop_database()


@pytest.mark.integration
@pytest.mark.slow
def test_default_stack_runs_the_dag(workdir: Path) -> None:
    """init + apiserver + scheduler + dag-processor + triggerer, as compose defines them, run the DAG to success."""
    require_postgres()
    rehearse(workdir, [], CORE_SERVICES, 28100, [], exec_docs=True)


@pytest.mark.integration
@pytest.mark.slow
def test_celery_profile_runs_the_dag(workdir: Path) -> None:
    """With profile celery and CeleryExecutor, a real Celery worker on local Redis runs the DAG to success."""
    require_postgres()
    require_redis()
    rehearse(
        workdir,
        ["celery"],
        [*CORE_SERVICES, "airflow-worker", "flower"],
        28140,
        ["AIRFLOW__CORE__EXECUTOR=CeleryExecutor", "COMPOSE_PROFILES=celery"],
    )


# ----- the launcher refuses a drifted compose file (fast) -------------------------------------------------
def _doc() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(COMPOSE_FILE.read_text()))


def _env(workdir: Path) -> dict[str, str]:
    return write_env(workdir)


def _drop_env(doc: dict[str, Any], key: str) -> None:
    for svc in doc["services"].values():
        (svc.get("environment") or {}).pop(key, None)


def test_compose_file_passes_validation(workdir: Path) -> None:
    """The committed compose file satisfies the launcher's invariants, with and without profiles."""
    env = _env(workdir)
    for profiles in ([], ["celery"], ["observability"], ["mlflow"]):
        validate(services_from_doc(_doc(), env, profiles))


@pytest.mark.parametrize(
    "key",
    [
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CORE__FERNET_KEY",
    ],
)
def test_removing_a_shared_setting_breaks_the_rehearsal(workdir: Path, key: str) -> None:
    """Dropping a shared setting from the compose environment makes the launcher refuse the stack."""
    doc = _doc()
    _drop_env(doc, key)
    with pytest.raises(ComposeDriftError, match=key):
        validate(services_from_doc(doc, _env(workdir), ["celery"]))


def test_a_diverging_jwt_secret_breaks_the_rehearsal(workdir: Path) -> None:
    """One service with its own JWT secret (tokens would not verify) is refused."""
    doc = _doc()
    doc["services"]["airflow-worker"]["environment"]["AIRFLOW__API_AUTH__JWT_SECRET"] = "other"
    with pytest.raises(ComposeDriftError, match="JWT_SECRET differs"):
        validate(services_from_doc(doc, _env(workdir), ["celery"]))


def test_an_execution_api_url_off_the_apiserver_breaks_the_rehearsal(workdir: Path) -> None:
    """An execution API URL that does not reach the api-server service on 8080 is refused."""
    doc = _doc()
    for svc in doc["services"].values():
        if "environment" in svc and "AIRFLOW__CORE__EXECUTION_API_SERVER_URL" in svc["environment"]:
            svc["environment"]["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = "http://localhost:8080/execution/"
    with pytest.raises(ComposeDriftError, match="EXECUTION_API_SERVER_URL"):
        validate(services_from_doc(doc, _env(workdir)))


def test_a_service_without_command_breaks_the_rehearsal(workdir: Path) -> None:
    """An Airflow service that lost its command is refused."""
    doc = _doc()
    del doc["services"]["airflow-scheduler"]["command"]
    with pytest.raises(ComposeDriftError, match="airflow-scheduler has no command"):
        validate(services_from_doc(doc, _env(workdir)))


def test_rewrite_maps_hosts_ports_paths_and_the_database(workdir: Path) -> None:
    """URLs, service names and container paths in the environment map onto the native stack."""
    env = _env(workdir)
    stack = NativeStack(
        services_from_doc(_doc(), env, ["celery"]),
        workdir / "rt",
        db_name="cg_rh_x",
        port_start=28150,
        redis_db=REDIS_DB,
    )
    sched = stack.env("airflow-scheduler")
    api_port = stack.port_map[("airflow-apiserver", 8080)]
    assert sched["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == f"http://127.0.0.1:{api_port}/execution/"
    assert sched["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
        f"postgresql+psycopg2://postgres:{env['POSTGRES_PASSWORD']}@127.0.0.1:5432/cg_rh_x"
    )
    assert sched["AIRFLOW__CELERY__BROKER_URL"] == f"redis://127.0.0.1:6379/{REDIS_DB}"
    assert sched["AIRFLOW_HOME"] == str(stack.root("airflow-scheduler") / "opt/airflow")
    assert sched["AIRFLOW__API_AUTH__JWT_SECRET"] == env["AIRFLOW__API_AUTH__JWT_SECRET"]
    health = stack.rewrite("airflow-apiserver", "http://localhost:8080/api/v2/monitor/health")
    assert health == f"http://127.0.0.1:{api_port}/api/v2/monitor/health"


def test_docs_have_exec_commands_for_the_rehearsal() -> None:
    """The docs' `docker compose exec` commands exist and target services the rehearsal starts."""
    commands = doc_exec_commands()
    assert any("dags trigger ceiling_grid_pipeline" in c for _, c in commands)
    assert any("db clean" in c for _, c in commands)
    for service, _ in commands:
        assert service in CORE_SERVICES or service == "postgres", service
