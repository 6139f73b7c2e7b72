#!/usr/bin/env python3
"""Local Airflow 3 stack without Docker: start, check, trigger and stop api-server, scheduler, dag-processor, triggerer.

Usage (the Makefile targets call these)::

    python scripts/stack.py up        # start in the background, wait until healthy, print URL + login
    python scripts/stack.py demo      # up if needed, trigger on the sample rooms, wait, print per-room summary
    python scripts/stack.py trigger [--cli] [--conf JSON] [--run-id ID] [--no-wait]  # waits, prints the table
    python scripts/stack.py status
    python scripts/stack.py down

Each component runs as its own process group (``setsid``) with ``AIRFLOW_HOME=airflow_home/``, the
repository's ``dags/``, LocalExecutor and the embedded SQLite database by default. Point
``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` at PostgreSQL to use it instead (``up`` runs
``airflow db migrate`` first in both cases). The login comes from ``.env``
(``AIRFLOW_ADMIN_USERNAME`` / ``AIRFLOW_ADMIN_PASSWORD``); without ``.env``, ``scripts/init-env``
writes one with fresh secrets. Placeholder or short secrets (the rule of compose's airflow-init) are
refused, and the password is never printed: ``up`` and ``status`` say which file holds it.
``up`` on a stack with dead components (stale pid files) restarts just those and says so.
Environment: ``AIRFLOW_PORT`` (default 8080), ``CEILING_GRID_AIRFLOW_HOME``, ``CEILING_GRID_DATA_DIR``,
``CEILING_GRID_ENV_FILE`` (default ``.env``);
other ``AIRFLOW__*`` variables in your shell (e.g. ``AIRFLOW__CORE__PARALLELISM``) override the stack's defaults.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

REPO = Path(__file__).resolve().parents[1]
DAG_ID = "ceiling_grid_pipeline"
DEFAULT_PORT = 8080
DEFAULT_HOME = REPO / "airflow_home"
ALL_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
HEALTH_KEYS = {"scheduler": "scheduler", "dag-processor": "dag_processor", "triggerer": "triggerer"}
DEFAULT_PARALLELISM = 4
DEFAULT_REFRESH_INTERVAL_S = 10
DEFAULT_UP_TIMEOUT_S = 120.0
DEFAULT_RUN_TIMEOUT_S = 600.0
STOP_GRACE_S = 20.0
TERMINAL_STATES = {"success", "failed"}
TOPOLOGY_KEYS = {  # set by the stack from AIRFLOW_PORT and the repository layout; not taken from the shell
    "AIRFLOW__API__HOST", "AIRFLOW__API__PORT", "AIRFLOW__API__BASE_URL", "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
}
# Imported once in the scheduler before it forks its LocalExecutor workers, so every task process
# inherits them instead of paying ~2 CPU-seconds of imports. Third-party only: ceiling_grid itself is
# still imported per task, so code edits take effect without a restart.
PRELOAD_MODULES = ("numpy", "scipy.spatial", "scipy.optimize", "scipy.sparse.csgraph", "pydantic",
                   "prometheus_client", "opentelemetry.sdk.trace", "opentelemetry.sdk.trace.export",
                   "opentelemetry.exporter.otlp.proto.http.trace_exporter")
PRELOAD_MAIN = """
import importlib, sys
for name in sys.argv[1].split(","):
    try:
        importlib.import_module(name)
    except Exception:
        pass
sys.argv = ["airflow", *sys.argv[2:]]
from airflow.__main__ import main
sys.exit(main())
"""
SECRET_KEYS = ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API__SECRET_KEY")
# The rule docker-compose.yml's airflow-init applies too (tests/test_stack_local.py checks they agree):
# a secret is refused when it is empty, still holds the .env.example placeholder, or is too short.
PLACEHOLDER_MARK = "CHANGE_ME"
MIN_SECRET_CHARS = 16
ENV_FILE_ENV = "CEILING_GRID_ENV_FILE"
# Scheduler and triggerer serve task logs over HTTP on every interface (Airflow hard-codes the host).
# On one machine the api-server reads the log files directly, so the stack starts no log server.
COMPONENT_ARGS = {"scheduler": ("--skip-serve-logs",), "triggerer": ("--skip-serve-logs",)}
STACK_DEFAULTS = {  # overridable from the shell (AIRFLOW__... variables win)
    # Reset a killed scheduler's running tasks within 30 s of its restart instead of 300 s.
    "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "30",
    # An idle scheduler looks again after 0.5 s, not 1 s: every task-to-task hop of a run waits up to this
    # long, so one room's five tasks take ~3.8 s instead of ~6 s. Shorter costs throughput: at 0.3 s (~3 s a
    # room) the looping scheduler took CPU from the tasks and a 200-room floor in chunks of 10 took 65 s, not 52.
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
}


class StackError(RuntimeError):
    """The stack could not start, answer or finish a run; the message says where to look."""


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines of a dotenv file, read by python-dotenv (no interpolation); {} when it is missing."""
    from dotenv import dotenv_values

    if not path.is_file():
        return {}
    return {k: v for k, v in dotenv_values(path, interpolate=False).items() if v is not None}


def weak_secrets(values: Mapping[str, str]) -> list[str]:
    """Names of the secrets in ``values`` that are empty, placeholders or shorter than MIN_SECRET_CHARS."""
    return [name for name, value in values.items()
            if not value or PLACEHOLDER_MARK in value or len(value) < MIN_SECRET_CHARS]


def env_file() -> Path:
    """The dotenv file of the stack: ``$CEILING_GRID_ENV_FILE``, else the repository's ``.env``."""
    return Path(os.environ.get(ENV_FILE_ENV) or REPO / ".env").resolve()


def _fernet_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def fresh_secrets() -> dict[str, str]:
    """New values for the three secrets every Airflow component of one stack must share."""
    return {
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(48),
        "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
    }


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _pid_alive(pid: int) -> bool:
    """Whether anything of the process group ``pid`` is left."""
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_leftovers(pids: Iterable[int]) -> None:
    """SIGKILL what is left of the process groups of dead components (e.g. a worker the dead leader forked)."""
    for pid in pids:
        if _pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def process_start(pid: int) -> str | None:
    """The start time of process ``pid`` (clock ticks since boot, /proc), or None if it is gone."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat_line.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 and fields[0] != "Z" else None


@dataclass(frozen=True)
class PidRecord:
    """What a component's pid file holds: the group leader's pid and its start time (so reused pids are seen)."""

    pid: int
    start: str | None = None

    def leader_alive(self) -> bool:
        now = process_start(self.pid)
        if now is None:
            return False
        return self.start is None or now == self.start


@dataclass
class Stack:
    """One local Airflow installation: its home, port, database and credentials."""

    home: Path = DEFAULT_HOME
    port: int = DEFAULT_PORT
    dags_folder: Path = REPO / "dags"
    data_dir: Path | None = None
    sql_conn: str | None = None
    username: str = "admin"
    password: str = ""
    password_source: str = ""
    secrets: dict[str, str] = field(default_factory=dict)
    components: Sequence[str] = ALL_COMPONENTS
    extra_env: dict[str, str] = field(default_factory=dict)
    extra_users: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (role, password), e.g. a viewer
    inherit_airflow_env: bool = False
    preload: bool = True
    bin_dir: Path = Path(sys.executable).parent

    # ----- configuration -----------------------------------------------------------------
    @classmethod
    def from_environment(cls) -> Stack:
        """The ``make up`` stack: ``airflow_home/``, ``$AIRFLOW_PORT``, login and secrets from ``.env``."""
        home = Path(os.environ.get("CEILING_GRID_AIRFLOW_HOME", DEFAULT_HOME)).resolve()
        values = _load_credentials(home)
        return cls(
            password_source=values.pop("_SOURCE", ""),
            home=home,
            port=int(os.environ.get("AIRFLOW_PORT", DEFAULT_PORT)),
            data_dir=Path(os.environ["CEILING_GRID_DATA_DIR"]) if os.environ.get("CEILING_GRID_DATA_DIR") else None,
            sql_conn=os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN") or None,
            username=values["AIRFLOW_ADMIN_USERNAME"],
            password=values["AIRFLOW_ADMIN_PASSWORD"],
            secrets={k: values[k] for k in SECRET_KEYS},
            inherit_airflow_env=True,
        )

    @property
    def base_url(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def passwords_file(self) -> Path:
        return self.home / "simple_auth_manager_passwords.json"

    def env(self) -> dict[str, str]:
        """The environment every component and CLI call of this stack runs with."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__") and k != "AIRFLOW_HOME"}
        worker_log_port = 8793 if self.port == DEFAULT_PORT else self.port + 1
        trigger_log_port = 8794 if self.port == DEFAULT_PORT else self.port + 2
        env.update({
            "AIRFLOW_HOME": str(self.home),
            "PATH": f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(DEFAULT_PARALLELISM),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": str(DEFAULT_REFRESH_INTERVAL_S),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(worker_log_port),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(trigger_log_port),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
                [f"{self.username}:admin", *(f"{name}:{role}" for name, (role, _) in self.extra_users.items())]),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.passwords_file),
            **STACK_DEFAULTS,
        })
        if self.inherit_airflow_env:  # e.g. AIRFLOW__CORE__PARALLELISM=8 make up; topology stays ours
            env.update({k: v for k, v in os.environ.items()
                        if k.startswith("AIRFLOW__") and k not in TOPOLOGY_KEYS})
        env.update(self.secrets)
        if self.sql_conn:
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = self.sql_conn
        if self.data_dir is not None:
            env["CEILING_GRID_DATA_DIR"] = str(self.data_dir)
        env.update(self.extra_env)
        return env

    def command(self, component: str) -> list[str]:
        """The command line of one component (the scheduler preloads the heavy libraries, see PRELOAD_MODULES)."""
        if component == "scheduler" and self.preload:
            python = self.bin_dir / "python"
            return [str(python), "-c", PRELOAD_MAIN, ",".join(PRELOAD_MODULES), component,
                    *COMPONENT_ARGS.get(component, ())]
        return [str(self.bin_dir / "airflow"), component, *COMPONENT_ARGS.get(component, ())]

    def airflow(self, *args: str, timeout: float = 180.0, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run one ``airflow`` CLI command against this stack."""
        proc = subprocess.run([str(self.bin_dir / "airflow"), *args], env=self.env(), cwd=self.home,
                              capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise StackError(f"`airflow {' '.join(args)}` exited {proc.returncode}:\n{proc.stderr[-3000:]}")
        return proc

    # ----- lifecycle -------------------------------------------------------------------------
    def records(self) -> dict[str, PidRecord]:
        """The pid file of every component that has one (``<pid> <start time>``; old files: ``<pid>``)."""
        out: dict[str, PidRecord] = {}
        for comp in ALL_COMPONENTS:
            f = self.run_dir / f"{comp}.pid"
            if f.is_file():
                parts = f.read_text().split()
                if parts and parts[0].isdigit():
                    out[comp] = PidRecord(int(parts[0]), parts[1] if len(parts) > 1 else None)
        return out

    def pids(self) -> dict[str, int]:
        return {c: r.pid for c, r in self.records().items()}

    def running(self) -> dict[str, int]:
        """Components whose own process (not a reused pid, not a left-over child) is alive."""
        return {c: r.pid for c, r in self.records().items() if r.leader_alive()}

    def stale(self) -> dict[str, int]:
        """Components with a pid file whose process is gone (a crash, a kill, a reboot)."""
        return {c: r.pid for c, r in self.records().items() if not r.leader_alive()}

    def prepare(self) -> None:
        """Create the home, the fixed login file, and the database schema (``airflow db migrate``)."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(exist_ok=True)
        (self.home / "stack-logs").mkdir(exist_ok=True)
        if not self.password:
            raise StackError("no admin password configured (set AIRFLOW_ADMIN_PASSWORD in .env)")
        weak = weak_secrets({**self.secrets, "AIRFLOW_ADMIN_PASSWORD": self.password})
        if weak:
            where = f" in {self.password_source}" if self.password_source else ""
            raise StackError(
                f"refusing to start: {', '.join(weak)}{where} missing, shorter than {MIN_SECRET_CHARS} characters "
                f"or still the .env.example placeholder (fix: `scripts/init-env --force` writes fresh secrets "
                "into .env; never copy .env.example by hand)")
        current: dict[str, str] = {}
        if self.passwords_file.is_file():
            try:
                current = json.loads(self.passwords_file.read_text() or "{}")
            except json.JSONDecodeError:
                current = {}
        wanted = {self.username: self.password, **{name: pw for name, (_, pw) in self.extra_users.items()}}
        if any(current.get(name) != pw for name, pw in wanted.items()):
            current.update(wanted)
            self.passwords_file.write_text(json.dumps(current))
            self.passwords_file.chmod(0o600)
        self.airflow("db", "migrate", timeout=300)
        self.protect_database()

    def protect_database(self) -> None:
        """The embedded SQLite database (and its journals) readable by its owner only: mode 0600."""
        if self.sql_conn:
            return
        for path in self.home.glob("airflow.db*"):
            with contextlib.suppress(OSError):
                path.chmod(0o600)

    def spawn(self, components: Sequence[str]) -> None:
        """Start ``components`` as separate process groups and record ``<pid> <start time>`` for each."""
        env = self.env()
        for comp in components:
            log = open(self.home / "stack-logs" / f"{comp}.log", "ab")  # noqa: SIM115 - owned by the child
            proc = subprocess.Popen(self.command(comp), env=env, cwd=self.home,
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
            log.close()
            (self.run_dir / f"{comp}.pid").write_text(f"{proc.pid} {process_start(proc.pid) or ''}".strip())

    def start(self, timeout: float = DEFAULT_UP_TIMEOUT_S) -> None:
        """Start the components as separate process groups and wait until they report healthy."""
        if self.running():
            raise StackError(f"the stack in {self.home} is already running ({self.running()}); "
                             "stop it first (make down)")
        if port_in_use(self.port):
            raise StackError(f"port {self.port} is already in use by another program; free it or pick "
                             "another with AIRFLOW_PORT=<port>")
        _kill_leftovers(self.stale().values())
        self.prepare()
        self.spawn(self.components)
        try:
            self.wait_healthy(timeout)
        except StackError:
            self.stop()
            raise
        self.protect_database()

    def restart_dead(self, timeout: float = DEFAULT_UP_TIMEOUT_S) -> dict[str, int]:
        """Start again every component whose process is gone (stale pid file) or was never started.

        What is left of a dead component's process group (e.g. a worker it forked) is killed first.
        Returns ``{component: old pid (0 if it had none)}`` of what was restarted.
        """
        records = self.records()
        dead = {c: records[c].pid if c in records else 0 for c in self.components
                if c not in records or not records[c].leader_alive()}
        if not dead:
            return dead
        _kill_leftovers(pid for pid in dead.values() if pid)
        if "api-server" in dead and port_in_use(self.port):
            raise StackError(f"port {self.port} is already in use by another program; free it or pick "
                             "another with AIRFLOW_PORT=<port>")
        self.prepare()
        self.spawn(list(dead))
        self.wait_healthy(timeout)
        self.protect_database()
        return dead

    def stop(self, grace: float = STOP_GRACE_S) -> list[str]:
        """SIGTERM every component's process group, SIGKILL what is left after ``grace`` seconds."""
        stopped: list[str] = []
        pids = {c: p for c, p in self.pids().items() if _pid_alive(p)}
        for comp in set(self.pids()) - set(pids):  # stale pid files: nothing to stop
            (self.run_dir / f"{comp}.pid").unlink(missing_ok=True)
        for pid in pids.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_pid_alive(p) for p in pids.values()):
            time.sleep(0.2)
        for comp, pid in pids.items():
            if _pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                comp = f"{comp} (killed after {grace:.0f} s)"
            stopped.append(comp)
            (self.run_dir / f"{comp.split()[0]}.pid").unlink(missing_ok=True)
        return stopped

    # ----- REST ------------------------------------------------------------------------------
    def health(self) -> dict[str, Any] | None:
        try:
            r = httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=5)
        except httpx.HTTPError:
            return None
        return r.json() if r.status_code == 200 else None

    def unhealthy(self, health: Mapping[str, Any] | None) -> list[str]:
        """Components (of those started) the health JSON does not report healthy. HTTP 200 alone proves nothing."""
        if health is None:
            return ["api-server"]
        keys = ["metadatabase"] + [HEALTH_KEYS[c] for c in self.components if c in HEALTH_KEYS]
        return [k for k in keys if (health.get(k) or {}).get("status") != "healthy"]

    def wait_healthy(self, timeout: float = DEFAULT_UP_TIMEOUT_S) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        bad: list[str] = []
        while time.monotonic() < deadline:
            dead = [c for c, p in self.pids().items() if c in self.components and not _pid_alive(p)]
            if dead:
                raise StackError(f"{', '.join(dead)} exited during start-up; see "
                                 f"{self.home / 'stack-logs'}/<component>.log")
            health = self.health()
            bad = self.unhealthy(health)
            if not bad and health is not None:
                return health
            time.sleep(0.5)
        raise StackError(f"not healthy after {timeout:.0f} s (still unhealthy: {', '.join(bad)}); see "
                         f"{self.home / 'stack-logs'}/<component>.log")

    def token(self, username: str | None = None) -> str:
        """A JWT from ``POST /auth/token`` for the admin (or for one of ``extra_users``)."""
        username = username or self.username
        password = self.password if username == self.username else self.extra_users[username][1]
        r = httpx.post(f"{self.base_url}/auth/token", json={"username": username, "password": password},
                       timeout=10)
        if r.status_code not in (200, 201):
            raise StackError(f"login as {username!r} failed: HTTP {r.status_code} {r.text[:200]} "
                             "(check AIRFLOW_ADMIN_USERNAME / AIRFLOW_ADMIN_PASSWORD in .env)")
        return str(r.json()["access_token"])

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {self.token()}"},
                            timeout=30)

    def wait_dag(self, client: httpx.Client, dag_id: str = DAG_ID, timeout: float = 90.0) -> dict[str, Any]:
        """Wait until the dag-processor has registered ``dag_id``; fail at once on an import error."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = client.get(f"/api/v2/dags/{dag_id}")
            if r.status_code == 200:
                return dict(r.json())
            errors = client.get("/api/v2/importErrors").json().get("import_errors", [])
            if errors:
                raise StackError("DAG import errors:\n" + "\n".join(f"{e['filename']}: {e['stack_trace'][-1500:]}"
                                                                    for e in errors))
            time.sleep(1.0)
        raise StackError(f"DAG {dag_id} not registered after {timeout:.0f} s; see "
                         f"{self.home}/logs/dag_processor/ and the dag-processor log")

    def unpause(self, client: httpx.Client, dag_id: str = DAG_ID) -> None:
        r = client.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False})
        r.raise_for_status()

    def trigger(self, client: httpx.Client, conf: Mapping[str, Any] | None = None, run_id: str | None = None,
                dag_id: str = DAG_ID) -> str:
        """Trigger a run over REST; returns its run id."""
        run_id = run_id or f"rest__{datetime.now(UTC).strftime('%Y%m%dT%H%M%S.%f')}"
        r = client.post(f"/api/v2/dags/{dag_id}/dagRuns",
                        json={"dag_run_id": run_id, "logical_date": None, "conf": dict(conf or {})})
        if r.status_code != 200:
            raise StackError(f"trigger failed: HTTP {r.status_code} {r.text[:500]}")
        return str(r.json()["dag_run_id"])

    def trigger_cli(self, conf: Mapping[str, Any] | None = None, run_id: str | None = None,
                    dag_id: str = DAG_ID) -> str:
        """Trigger a run with ``airflow dags trigger`` (writes to the metadata DB directly)."""
        run_id = run_id or f"cli__{datetime.now(UTC).strftime('%Y%m%dT%H%M%S.%f')}"
        self.airflow("dags", "trigger", dag_id, "--run-id", run_id, "--conf", json.dumps(dict(conf or {})))
        return run_id

    def wait_run(self, client: httpx.Client, run_id: str, timeout: float = DEFAULT_RUN_TIMEOUT_S,
                 dag_id: str = DAG_ID, poll: float = 0.25) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = client.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            if r.status_code == 200 and r.json()["state"] in TERMINAL_STATES:
                return dict(r.json())
            time.sleep(poll)
        raise StackError(f"run {run_id} did not finish within {timeout:.0f} s")

    def task_instances(self, client: httpx.Client, run_id: str, dag_id: str = DAG_ID) -> list[dict[str, Any]]:
        r = client.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
        r.raise_for_status()
        return list(r.json()["task_instances"])

    def xcom(self, client: httpx.Client, run_id: str, task_id: str, map_index: int = -1,
             dag_id: str = DAG_ID) -> Any:
        r = client.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value",
                       params={"map_index": map_index, "deserialize": True})
        r.raise_for_status()
        return r.json()["value"]

    def plan_file(self, client: httpx.Client, run_id: str, name: str) -> Any:
        """One file of a published run through the plan view plugin (JSON decoded, else text)."""
        r = client.get(f"/ceiling-grid/runs/{quote(run_id, safe='')}/files/{quote(name, safe='')}")
        r.raise_for_status()
        return r.json() if name.endswith(".json") else r.text

    def task_log(self, client: httpx.Client, run_id: str, task_id: str, try_number: int = 1,
                 map_index: int = -1, dag_id: str = DAG_ID) -> list[dict[str, Any]]:
        """The task log as a list of JSON events (REST needs ``Accept: application/json``)."""
        r = client.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
                       params={"map_index": map_index, "full_content": True},
                       headers={"Accept": "application/json"})
        r.raise_for_status()
        content = r.json().get("content", [])
        return [c if isinstance(c, dict) else {"event": str(c)} for c in content]


def _load_credentials(home: Path) -> dict[str, str]:
    """Login and shared secrets: the env file (``.env``; written by ``scripts/init-env`` if missing), else ours.

    The key ``_SOURCE`` of the result names the file the admin password came from.
    """
    dotenv = env_file()
    init = REPO / "scripts" / "init-env"
    if not dotenv.is_file() and init.is_file():
        subprocess.run([sys.executable, str(init), "--if-missing", "--env-file", str(dotenv)], cwd=REPO, check=True)
    values = read_env_file(dotenv)
    values["_SOURCE"] = str(dotenv)
    own = home / "stack.env"
    if any(k not in values for k in ("AIRFLOW_ADMIN_USERNAME", "AIRFLOW_ADMIN_PASSWORD", *SECRET_KEYS)):
        generated = read_env_file(own)
        defaults = {
            "AIRFLOW_ADMIN_USERNAME": "admin",
            "AIRFLOW_ADMIN_PASSWORD": secrets.token_urlsafe(18),
            **fresh_secrets(),
        }
        for key, value in defaults.items():
            generated.setdefault(key, value)
        home.mkdir(parents=True, exist_ok=True)
        own.write_text("".join(f"{k}={v}\n" for k, v in generated.items()))
        own.chmod(0o600)
        if "AIRFLOW_ADMIN_PASSWORD" not in values:
            values["_SOURCE"] = str(own)
        values = {**generated, **values}
    for key in SECRET_KEYS:  # an exported variable wins over the files
        if os.environ.get(key):
            values[key] = os.environ[key]
    return values


# ----- commands --------------------------------------------------------------------------------

def _print_login(stack: Stack) -> None:
    """URL, user and where the password is (it is never printed)."""
    db = stack.sql_conn or f"sqlite:///{stack.home / 'airflow.db'}"
    where = f"AIRFLOW_ADMIN_PASSWORD in {stack.password_source}" if stack.password_source else "the one you set"
    print(f"Airflow UI:  {stack.base_url}   login: {stack.username}, password: {where}")
    print(f"AIRFLOW_HOME={stack.home}  database={db.split('@')[-1]}  logs={stack.home / 'stack-logs'}")


def cmd_up(stack: Stack, args: argparse.Namespace) -> int:
    if stack.running():
        stale = stack.stale()
        for comp, pid in stale.items():
            print(f"{comp}: pid {pid} is gone (stale pid file); restarting it")
        t0 = time.monotonic()
        restarted = stack.restart_dead(timeout=args.timeout)
        for comp in set(restarted) - set(stale):
            print(f"{comp}: was not running; started it")
        if restarted:
            print(f"restarted {', '.join(restarted)}; healthy after {time.monotonic() - t0:.1f} s")
            _print_login(stack)
            return 0
        bad = stack.unhealthy(stack.health())
        if not bad:
            print(f"already running ({', '.join(stack.running())})")
            _print_login(stack)
            return 0
        raise StackError(f"every component runs but {', '.join(bad)} is unhealthy; see "
                         f"{stack.home / 'stack-logs'}/<component>.log, then `make down && make up`")
    for comp, pid in stack.stale().items():
        print(f"{comp}: pid {pid} is gone (stale pid file); starting afresh")
    t0 = time.monotonic()
    stack.start(timeout=args.timeout)
    with stack.client() as client:
        stack.wait_dag(client)
    print(f"healthy after {time.monotonic() - t0:.1f} s: {', '.join(stack.components)}; DAG {DAG_ID} registered")
    _print_login(stack)
    return 0


def cmd_down(stack: Stack, _args: argparse.Namespace) -> int:
    stopped = stack.stop()
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    return 0


def cmd_status(stack: Stack, _args: argparse.Namespace) -> int:
    running = stack.running()
    stale = stack.stale()
    for comp in ALL_COMPONENTS:
        pid = stack.pids().get(comp)
        state = "running" if comp in running else "DEAD" if comp in stale else "stopped"
        print(f"{comp:14s} {state:8s} pid={pid or '-'}" + ("  (stale pid file; `make up` restarts it)"
                                                            if comp in stale else ""))
    health = stack.health()
    if health is None:
        print(f"api-server at {stack.base_url}: not answering")
        return 1 if running else 3
    for key in ("metadatabase", "scheduler", "dag_processor", "triggerer"):
        print(f"health {key:14s} {(health.get(key) or {}).get('status')}")
    with stack.client() as client:
        r = client.get(f"/api/v2/dags/{DAG_ID}/dagRuns", params={"order_by": "-run_after", "limit": 5})
        if r.status_code == 200:
            for run in r.json().get("dag_runs", []):
                print(f"run {run['dag_run_id']:45s} {run['state']}")
    _print_login(stack)
    return 0 if not stack.unhealthy(health) and not stale else 1


def _conf(args: argparse.Namespace) -> dict[str, Any]:
    conf: dict[str, Any] = json.loads(args.conf) if args.conf else {}
    if args.inputs:
        conf["inputs"] = args.inputs
    return conf


def cmd_trigger(stack: Stack, args: argparse.Namespace) -> int:
    conf = _conf(args)
    with stack.client() as client:
        stack.wait_dag(client)
        stack.unpause(client)
        how = "airflow dags trigger" if args.cli else "REST"
        run_id = stack.trigger_cli(conf, args.run_id) if args.cli else stack.trigger(client, conf, args.run_id)
        if args.no_wait:
            print(run_id)
            return 0
        print(f"triggered {DAG_ID} run {run_id} ({how}); waiting ... (--no-wait / NO_WAIT=1 to return at once)")
        return wait_and_report(stack, client, run_id, args.timeout)


def _num(value: Any, digits: int) -> str:
    return "-" if value is None else f"{float(value):.{digits}f}"


def print_summary(summary: Mapping[str, Any]) -> None:
    """The per-room table of a published run, then the skipped files."""
    rows = summary.get("results", [])
    print(f"{'room':24s} {'result':14s} {'lights':>6s} {'diff.':>5s} {'det.':>4s} {'Em lx':>6s} {'U0':>5s}  "
          "light model")
    for r in rows:
        status = "COMPLIANT" if r["compliant"] else "INFEASIBLE" if r.get("infeasible") else "NOT COMPLIANT"
        print(f"{r['grid_id']:24s} {status:14s} {r['lights']:6d} {r['air_supply']:5d} {r['smoke_detectors']:4d} "
              f"{_num(r.get('em_lux'), 0):>6s} {_num(r.get('u0'), 2):>5s}  {r['models'].get('lights', '?')}")
    for skipped in summary.get("skipped", []):
        print(f"skipped {skipped.get('source')}: {skipped.get('error')}")
    print(f"{summary.get('compliant')} of {summary.get('rooms')} rooms compliant"
          + (f", {len(summary['skipped'])} files skipped" if summary.get("skipped") else "")
          + f"; outputs in {summary.get('output_dir')}")


def describe_error(event: Mapping[str, Any]) -> str:
    """The error text of a log event: our ``error`` field, or Airflow's structured ``error_detail``."""
    if event.get("error"):
        return str(event["error"])
    details = event.get("error_detail") or []
    if isinstance(details, list):
        return "; ".join(f"{d.get('exc_type')}: {d.get('exc_value')}" for d in details if isinstance(d, dict))
    return str(details)


def failure_lines(events: Iterable[Mapping[str, Any]]) -> list[str]:
    """The error lines of a failed task's log, each message once (an input error is one input_rejected line)."""
    lines: list[str] = []
    seen: set[str] = set()
    for e in events:
        if e.get("level") not in ("error", "critical"):
            continue
        text = describe_error(e)
        if not text or text.startswith("see input_rejected") or any(text in s or s in text for s in seen):
            continue
        seen.add(text)
        lines.append(f"  {e.get('event')}: {text[:1500]}")
    return lines


def _explain_failure(stack: Stack, client: httpx.Client, run_id: str) -> None:
    for ti in stack.task_instances(client, run_id):
        if ti["state"] in ("failed", "upstream_failed"):
            print(f"task {ti['task_id']}[{ti['map_index']}] {ti['state']} (try {ti['try_number']})")
            if ti["state"] == "failed":
                events = stack.task_log(client, run_id, ti["task_id"], max(1, ti["try_number"]), ti["map_index"])
                print("\n".join(failure_lines(events)))


def wait_and_report(stack: Stack, client: httpx.Client, run_id: str, timeout: float) -> int:
    """Wait for ``run_id``; print the per-room table and where to see the plans, or why it failed."""
    t0 = time.monotonic()
    run = stack.wait_run(client, run_id, timeout=timeout)
    print(f"{run_id}: {run['state']} in {time.monotonic() - t0:.1f} s")
    if run["state"] != "success":
        _explain_failure(stack, client, run_id)
        return 1
    print_summary(stack.xcom(client, run_id, "publish"))
    print(f"plans: {stack.base_url}/dags/{DAG_ID}/runs/{quote(run_id, safe='')}/plugin/ceiling-plans")
    return 0


def cmd_demo(stack: Stack, args: argparse.Namespace) -> int:
    if not stack.running() or stack.stale() or stack.unhealthy(stack.health()):
        cmd_up(stack, args)
    conf = _conf(args)
    with stack.client() as client:
        stack.wait_dag(client)
        stack.unpause(client)
        run_id = stack.trigger(client, conf, args.run_id)
        print(f"triggered {DAG_ID} run {run_id} over REST; waiting ...")
        return wait_and_report(stack, client, run_id, args.timeout)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "down", "status", "trigger", "demo"):
        p = sub.add_parser(name)
        p.add_argument("--timeout", type=float, default=DEFAULT_UP_TIMEOUT_S if name == "up" else DEFAULT_RUN_TIMEOUT_S)
        if name in ("trigger", "demo"):
            p.add_argument("--conf", help="run conf as JSON, e.g. '{\"chunk_size\": 5}'")
            p.add_argument("--inputs", nargs="*", help="room files/folders relative to the data folder")
            p.add_argument("--run-id")
        if name == "trigger":
            p.add_argument("--cli", action="store_true", help="use `airflow dags trigger` instead of REST")
            p.add_argument("--no-wait", action="store_true",
                           help="print the run id and return at once (default: wait and print the per-room table)")
    args = parser.parse_args(argv)
    if shutil.which("airflow", path=str(Path(sys.executable).parent)) is None:
        print(f"no airflow next to {sys.executable}; run `make setup` first", file=sys.stderr)
        return 2
    stack = Stack.from_environment()
    try:
        return {"up": cmd_up, "down": cmd_down, "status": cmd_status, "trigger": cmd_trigger,
                "demo": cmd_demo}[args.command](stack, args)
    except (StackError, httpx.HTTPError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
