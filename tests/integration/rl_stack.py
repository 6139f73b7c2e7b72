"""The reliability suite's own Airflow stack: a PRIVATE PostgreSQL (so it can be restarted) and a viewer user.

Shared by ``test_faults.py`` and ``test_security.py`` through :func:`acquire` (one stack per pytest
session; every acquirer's finalizer calls :func:`release`, which stops it once). Ports 28300-28399,
database ``cg_rl_<hex>`` in a throw-away cluster (``initdb`` into a temp dir as the ``postgres``
user), never the shared PostgreSQL on 5432.

The stack environment also points the Pushgateway and the OTLP endpoint at ports where nothing
listens, so every run doubles as a dead-exporter test, and shortens the scheduler's liveness
thresholds so a killed scheduler's tasks are detected in seconds, not minutes.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import SAMPLE_ROOMS, load_stack_module
from tests.support.services import in_ci

PG_BIN = Path(os.environ.get("CEILING_GRID_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_PORT = 28310
STACK_PORT = 28300  # the stack also uses 28301/28302 for its log servers
DEAD_PUSHGATEWAY = "http://127.0.0.1:28391"
DEAD_OTLP = "http://127.0.0.1:28392"
VIEWER = "viewer"
ROOMS = ("private_office", "corridor", "sample_grid")
# Recovery from a dead scheduler, in seconds instead of minutes. Its running tasks are orphans: the
# new scheduler resets them once the old job's heartbeat is older than scheduler_health_check_threshold
# (default 30 s, kept) at its next orphan check (default every 300 s: measured 300 s of stall; here 10 s).
# Do NOT shrink scheduler_health_check_threshold: on a starved machine the scheduler's own heartbeat
# lags >10 s, it then takes itself for dead and resets its own running tasks (measured: one task
# killed and restarted 7 times). Tasks whose process died under a live scheduler: heartbeat timeout.
SCHEDULER_ENV = {
    "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "10",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
}


def _as_postgres(args: list[str]) -> list[str]:
    """Run as the ``postgres`` user when we are root (initdb refuses root), else as ourselves."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


@dataclass
class PrivatePostgres:
    """A throw-away PostgreSQL cluster in a temp dir, on its own port; can be restarted mid-run."""

    port: int = PG_PORT
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="cg_rl_pg_")))
    database: str = field(default_factory=lambda: f"cg_rl_{secrets.token_hex(4)}")

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{self.database}"

    def _start_args(self) -> list[str]:
        # -l matters: without a log file the postmaster keeps our stdout pipe open and pg_ctl never returns.
        return ["-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1",
                "-l", str(self.root / "postgres.log")]

    def _ctl(self, *args: str, timeout: float = 60) -> None:
        cmd = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args]
        subprocess.run(_as_postgres(cmd), check=True, capture_output=True, timeout=timeout)

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                                     "--auth=trust", "-E", "UTF8"]), check=True, capture_output=True, timeout=120)
        self._ctl(*self._start_args(), "-w", "start")
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{self.database}"')
        conn.close()

    def restart(self, mode: str = "fast") -> float:
        """``pg_ctl restart``: every open connection is cut. Returns the seconds it was down."""
        t0 = time.monotonic()
        self._ctl("-m", mode, "-w", "restart", *self._start_args())
        return time.monotonic() - t0

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self._ctl("-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class RlStack:
    """The running stack, its private database, data folder and logins."""

    stack: Any
    pg: PrivatePostgres
    data: Path
    viewer_password: str
    admin: httpx.Client

    def login(self, username: str, password: str) -> httpx.Response:
        return httpx.post(f"{self.stack.base_url}/auth/token", json={"username": username, "password": password},
                          timeout=10)

    def client_for(self, username: str, password: str) -> httpx.Client:
        r = self.login(username, password)
        r.raise_for_status()
        return httpx.Client(base_url=self.stack.base_url, timeout=30,
                            headers={"Authorization": f"Bearer {r.json()['access_token']}"})

    def start_component(self, component: str) -> int:
        """(Re)start one component as its own process group, like ``Stack.start`` does; returns its pid."""
        log = open(self.stack.home / "stack-logs" / f"{component}.log", "ab")  # noqa: SIM115 - owned by the child
        proc = subprocess.Popen([str(self.stack.bin_dir / "airflow"), component], env=self.stack.env(),
                                cwd=self.stack.home, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        (self.stack.run_dir / f"{component}.pid").write_text(str(proc.pid))
        return proc.pid

    def alive(self, component: str) -> bool:
        """Whether the component's main process still runs (reaped if it exited: it is our child).

        ``Stack.running`` probes the whole process group, which a zombie grandchild keeps "alive"
        on hosts whose PID 1 does not reap orphans; the main pid is the component.
        """
        pid = self.stack.pids().get(component)
        if pid is None:
            return False
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not started by this process: fall back to a signal probe
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return False
            return True
        return done == 0

    def kill_component(self, component: str) -> None:
        """SIGKILL the component's whole process group (its running tasks die with it), as a container kill does."""
        pid = self.stack.pids()[component]
        os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-tail:]}"
                         for p in sorted((self.stack.home / "stack-logs").glob("*.log")))


_STATE: dict[str, Any] = {}


def _data_folder(root: Path) -> Path:
    data = root / "data"
    (data / "input").mkdir(parents=True)
    for name in ROOMS:
        shutil.copy(SAMPLE_ROOMS / f"{name}.json", data / "input" / f"{name}.json")
    return data


def _require_private_postgres() -> None:
    missing = not (PG_BIN / "initdb").is_file()
    if missing or (os.geteuid() == 0 and shutil.which("runuser") is None):
        msg = (f"no PostgreSQL server binaries in {PG_BIN} (apt-get install postgresql-15, or set "
               "CEILING_GRID_PG_BIN)")
        if in_ci():
            pytest.fail(f"CI=true and {msg}", pytrace=False)
        pytest.skip(msg)


def acquire(tmp_path_factory: pytest.TempPathFactory) -> RlStack:
    """The session's reliability stack, started on first use (about 15-25 s)."""
    if "stack" in _STATE:
        _STATE["users"] += 1
        return _STATE["stack"]  # type: ignore[no-any-return]
    _require_private_postgres()
    mod = load_stack_module()
    pg = PrivatePostgres()
    pg.start()
    root = tmp_path_factory.mktemp("rl_stack")
    home = root / "airflow_home"
    home.mkdir()
    viewer_password = secrets.token_urlsafe(12)
    stack = mod.Stack(
        home=home,
        port=STACK_PORT,
        data_dir=_data_folder(root),
        sql_conn=pg.url,
        username="admin",
        password=secrets.token_urlsafe(12),
        secrets=mod.fresh_secrets(),
        components=("api-server", "scheduler", "dag-processor"),
        extra_env={
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"admin:admin,{VIEWER}:viewer",
            "PROMETHEUS_PUSHGATEWAY_URL": DEAD_PUSHGATEWAY,
            "OTEL_EXPORTER_OTLP_ENDPOINT": DEAD_OTLP,
            **SCHEDULER_ENV,
        },
    )
    # The viewer's password is fixed up front (Airflow would otherwise generate and append one).
    stack.passwords_file.write_text(json.dumps({VIEWER: viewer_password}))
    try:
        stack.start(timeout=180)
        admin = stack.client()
        stack.wait_dag(admin, timeout=120)
        stack.unpause(admin)
    except Exception as exc:
        logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                         for p in sorted((home / "stack-logs").glob("*.log")))
        stack.stop()
        pg.stop()
        pytest.fail(f"the reliability stack did not start: {exc}\n{logs}", pytrace=False)
    rl = RlStack(stack=stack, pg=pg, data=stack.data_dir, viewer_password=viewer_password, admin=admin)
    _STATE.update(stack=rl, users=1)
    return rl


def release() -> None:
    """Stop the stack and its database after the last user let go."""
    if "stack" not in _STATE:
        return
    _STATE["users"] -= 1
    if _STATE["users"] > 0:
        return
    rl: RlStack = _STATE.pop("stack")
    rl.admin.close()
    rl.stack.stop()
    rl.pg.stop()
