"""`make up` itself (scripts/stack.py as a command) on the embedded default: SQLite + LocalExecutor.

Secrets: placeholders and short secrets are refused with the rule compose's airflow-init uses, a
missing .env is written with fresh secrets, and the password is never printed. Hygiene: the
SQLite file is 0600, no log server listens, and a killed scheduler is seen and restarted by `up`.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.conftest import REPO, load_stack_module

STACK = REPO / "scripts" / "stack.py"
PORT = 28410  # 28411/28412 would be the log-server ports if the stack started any

pytestmark = pytest.mark.integration


def stack_cmd(*args: str, env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(STACK), *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def stack_env(home: Path, env_file: Path, data: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__") and k != "AIRFLOW_HOME"}
    env.update({"CEILING_GRID_AIRFLOW_HOME": str(home), "AIRFLOW_PORT": str(PORT),
                "CEILING_GRID_ENV_FILE": str(env_file)})
    if data is not None:
        env["CEILING_GRID_DATA_DIR"] = str(data)
    return env


def listening_ports() -> set[int]:
    """TCP ports in LISTEN state on this machine (IPv4 and IPv6), from /proc."""
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A":
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


# ----- secrets (fast: nothing starts) -------------------------------------------------------------

def test_compose_init_and_the_local_stack_refuse_secrets_by_the_same_rule() -> None:
    """airflow-init's bash test uses the stack's placeholder mark and minimum length."""
    mod = load_stack_module()
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    script = "\n".join(compose["services"]["airflow-init"]["command"])
    rule = re.search(r'== \*(\w+)\* \|\| \$\$\{#value\} -lt (\d+)', script)
    assert rule, "airflow-init's secret test changed; keep it in step with scripts/stack.py weak_secrets()"
    assert (rule.group(1), int(rule.group(2))) == (mod.PLACEHOLDER_MARK, mod.MIN_SECRET_CHARS)
    for name in (*mod.SECRET_KEYS, "AIRFLOW_ADMIN_PASSWORD"):
        assert name in script
    assert mod.weak_secrets({"a": "", "b": "CHANGE_ME_run_make_init", "c": "short", "d": secrets.token_urlsafe(16)}) \
        == ["a", "b", "c"]


def test_placeholder_secrets_are_refused_before_anything_starts(tmp_path: Path) -> None:
    """`.env` copied from `.env.example`: `make up` used to come up with the public admin password."""
    env_file = tmp_path / ".env"
    env_file.write_text((REPO / ".env.example").read_text())
    home = tmp_path / "home"
    proc = stack_cmd("up", env=stack_env(home, env_file), timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "refusing to start" in proc.stderr and "AIRFLOW_ADMIN_PASSWORD" in proc.stderr
    assert "scripts/init-env --force" in proc.stderr
    assert not list((home / "run").glob("*.pid")) if (home / "run").exists() else True
    assert not (home / "airflow.db").exists() and PORT not in listening_ports()


def test_a_missing_env_file_is_written_with_fresh_private_secrets(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    mod = load_stack_module()
    env_file = tmp_path / "fresh.env"
    monkeypatch.setenv("CEILING_GRID_ENV_FILE", str(env_file))
    for key in mod.SECRET_KEYS:
        monkeypatch.delenv(key, raising=False)
    values = mod._load_credentials(tmp_path / "home")
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert values["_SOURCE"] == str(env_file)
    picked = {k: values[k] for k in (*mod.SECRET_KEYS, "AIRFLOW_ADMIN_PASSWORD")}
    assert mod.weak_secrets(picked) == [] and len(set(picked.values())) == len(picked)


# ----- the running stack -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`stack.py up` on a fresh home with the embedded SQLite database; `stack.py down` at the end."""
    root = tmp_path_factory.mktemp("local_stack")
    shutil.copytree(REPO / "data" / "input", root / "data" / "input")
    env = stack_env(root / "home", root / ".env", root / "data")
    up = stack_cmd("up", env=env)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield {"env": env, "home": root / "home", "up": up, "env_file": root / ".env"}
    finally:
        down = stack_cmd("down", env=env, timeout=120)
        assert down.returncode == 0, down.stderr


def test_up_never_prints_the_password_and_says_where_it_is(local_stack: dict[str, Any]) -> None:
    mod = load_stack_module()
    password = mod.read_env_file(local_stack["env_file"])["AIRFLOW_ADMIN_PASSWORD"]
    up = local_stack["up"]
    assert password not in up.stdout + up.stderr
    assert f"password: AIRFLOW_ADMIN_PASSWORD in {local_stack['env_file']}" in up.stdout
    status = stack_cmd("status", env=local_stack["env"], timeout=60)
    assert status.returncode == 0, status.stdout + status.stderr
    assert password not in status.stdout + status.stderr


def test_the_sqlite_database_is_private_and_no_log_server_listens(local_stack: dict[str, Any]) -> None:
    db = local_stack["home"] / "airflow.db"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    ports = listening_ports()
    assert PORT in ports
    assert not {PORT + 1, PORT + 2} & ports  # the worker/trigger log servers bound every interface


def test_up_restarts_a_killed_scheduler_and_the_stack_runs_again(local_stack: dict[str, Any]) -> None:
    """SIGKILL of the scheduler (the crash case): status says DEAD, up restarts just it, a run succeeds."""
    mod = load_stack_module()
    env = local_stack["env"]
    run_dir = local_stack["home"] / "run"
    old = mod.Stack(home=local_stack["home"]).records()["scheduler"]
    api_before = (run_dir / "api-server.pid").read_text()
    os.killpg(old.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and mod.process_start(old.pid) is not None:
        time.sleep(0.1)
    status = stack_cmd("status", env=env, timeout=60)
    assert status.returncode == 1 and re.search(r"scheduler\s+DEAD", status.stdout), status.stdout
    up = stack_cmd("up", env=env)
    assert up.returncode == 0, up.stdout + up.stderr
    assert f"scheduler: pid {old.pid} is gone (stale pid file); restarting it" in up.stdout
    assert "restarted scheduler;" in up.stdout
    assert (run_dir / "api-server.pid").read_text() == api_before  # the healthy ones were left alone
    assert (run_dir / "scheduler.pid").read_text().split()[0] != str(old.pid)
    run = stack_cmd("trigger", "--inputs", "input/private_office.json", env=env)  # waits by default
    assert run.returncode == 0 and ": success in " in run.stdout, run.stdout + run.stderr
    row = r"^private_office\s+COMPLIANT\s+4\s+1\s+1\s+\d+\s+0\.\d\d\s+LightModel"
    assert re.search(row, run.stdout, re.MULTILINE), run.stdout
    assert "1 of 1 rooms compliant" in run.stdout and "/plugin/ceiling-plans" in run.stdout
    quick = stack_cmd("trigger", "--inputs", "input/private_office.json", "--no-wait", env=env)
    assert quick.returncode == 0 and quick.stdout.strip().startswith("rest__") and "\n" not in quick.stdout.strip()
    published = list((local_stack["home"].parent / "data" / "output").glob("*/summary.json"))
    assert len(published) >= 1, published


def test_a_nul_byte_in_the_conf_fails_load_rooms_on_try_one(local_stack: dict[str, Any]) -> None:
    """On SQLite the conf is stored as given; load_rooms refuses the NUL at once, no retry, the fix named."""
    mod = load_stack_module()
    values = mod.read_env_file(local_stack["env_file"])
    stack = mod.Stack(home=local_stack["home"], port=PORT, username=values["AIRFLOW_ADMIN_USERNAME"],
                      password=values["AIRFLOW_ADMIN_PASSWORD"])
    with stack.client() as client:
        run_id = stack.trigger(client, {"inputs": ["input/\x00private_office.json"]}, run_id="local_nul")
        assert stack.wait_run(client, run_id, timeout=300)["state"] == "failed"
        tis = {t["task_id"]: t for t in stack.task_instances(client, run_id)}
        assert (tis["load_rooms"]["state"], tis["load_rooms"]["try_number"]) == ("failed", 1)
        assert tis["publish"]["state"] == "upstream_failed"
        events = stack.task_log(client, run_id, "load_rooms", 1)
    (rejected,) = [e for e in events if e.get("event") == "input_rejected"]
    assert rejected["retry"] == "false"
    assert "inputs[0]: 'input/\\x00private_office.json' contains a NUL byte (fix: remove" in rejected["error"]
