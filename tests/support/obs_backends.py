"""Real observability back-ends for tests, as local processes on loopback: Pushgateway, Prometheus, MLflow.

Debian's ``prometheus-pushgateway`` and ``prometheus`` binaries (``scripts/setup-system``) and the
venv's ``mlflow server`` run in their own process groups with temp storage; ``stop()`` ends
exactly the processes started here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.services import require_executable

__all__ = ["MlflowServer", "PrometheusStack", "run_dag_in_process", "task_info", "wait_http"]

PUSHGATEWAY_HOW = "apt-get install prometheus-pushgateway (scripts/setup-system)"
PROMETHEUS_HOW = "apt-get install prometheus (scripts/setup-system)"
SCRAPE_INTERVAL = "1s"
DAG_ID = "ceiling_grid_pipeline"


TELEMETRY_ENV = ("PROMETHEUS_PUSHGATEWAY_URL", "OTEL_EXPORTER_OTLP_ENDPOINT", "MLFLOW_TRACKING_URI")


def only_backend(monkeypatch: Any, name: str, url: str) -> None:
    """Point one telemetry variable (``TELEMETRY_ENV``) at ``url`` and switch the other two off."""
    assert name in TELEMETRY_ENV, name
    for other in TELEMETRY_ENV:
        monkeypatch.delenv(other, raising=False)
    monkeypatch.setenv(name, url)


def task_info(task_id: str, map_index: int = -1, run_id: str = "obs_unit_1", try_number: int = 1) -> Any:
    """The ``airflow_tasks.TaskInfo`` of one task of the pipeline DAG."""
    from ceiling_grid import airflow_tasks as tasks

    return tasks.TaskInfo(dag_id=DAG_ID, run_id=run_id, task_id=task_id, try_number=try_number, map_index=map_index)


def run_dag_in_process(data: Path, run_id: str) -> dict[str, Any]:
    """load_rooms -> three stage tasks -> publish on ``data/input``, each in its own task_scope like the DAG's."""
    from ceiling_grid import airflow_tasks as tasks
    from ceiling_grid import orchestration as orch

    with tasks.task_scope(task_info("load_rooms", run_id=run_id), tasks.task_families("load")):
        chunks = orch.load_rooms(["input"], base=data, chunk_size=10)
    for stage, task in (("lights", "place_lights"), ("air_supply", "place_air_supply"),
                        ("smoke_detectors", "place_smoke_detectors")):
        with tasks.task_scope(task_info(task, 0, run_id=run_id), tasks.task_families("stage")):
            chunks = [orch.run_stage_on_chunk(stage, chunks[0], fail_on_infeasible=False)]
    with tasks.task_scope(task_info("publish", run_id=run_id), tasks.task_families("publish")):
        return dict(orch.publish(chunks, run_id=run_id, base=data))


def wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None, log: Path | None = None) -> None:
    """Poll ``url`` until it answers 200; fail with the process log if it exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before {url} answered:\n{tail}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.25)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s:\n{tail}")


def _spawn(args: Sequence[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    out = open(log, "ab")  # noqa: SIM115 - handed to the child
    try:
        return subprocess.Popen(list(args), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)
    finally:
        out.close()


def _stop(proc: subprocess.Popen[bytes] | None, grace: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


@dataclass
class PrometheusStack:
    """A Pushgateway (admin API on, for wiping) and a Prometheus scraping it every second."""

    workdir: Path
    pushgateway_port: int
    prometheus_port: int
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def pushgateway_url(self) -> str:
        return f"http://127.0.0.1:{self.pushgateway_port}"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.prometheus_port}"

    @staticmethod
    def installed() -> bool:
        return all(shutil.which(name) for name in ("prometheus-pushgateway", "prometheus"))

    def spawn(self) -> PrometheusStack:
        """Start both processes (returns at once; :meth:`wait_ready` waits)."""
        pushgateway = require_executable("prometheus-pushgateway", PUSHGATEWAY_HOW)
        prometheus = require_executable("prometheus", PROMETHEUS_HOW)
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "prometheus.yml"
        config.write_text(
            "global:\n"
            f"  scrape_interval: {SCRAPE_INTERVAL}\n"
            f"  evaluation_interval: {SCRAPE_INTERVAL}\n"
            "scrape_configs:\n"
            "  - job_name: pushgateway\n"
            "    honor_labels: true\n"
            "    static_configs:\n"
            f"      - targets: ['127.0.0.1:{self.pushgateway_port}']\n"
        )
        self.procs.append(_spawn([
            pushgateway, f"--web.listen-address=127.0.0.1:{self.pushgateway_port}", "--web.enable-admin-api",
            f"--persistence.file={self.workdir / 'pushgateway.data'}",
        ], self.workdir / "pushgateway.log"))
        self.procs.append(_spawn([
            prometheus, f"--config.file={config}", f"--storage.tsdb.path={self.workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{self.prometheus_port}",
        ], self.workdir / "prometheus.log"))
        return self

    def wait_ready(self, timeout: float = 60.0) -> PrometheusStack:
        wait_http(f"{self.pushgateway_url}/-/ready", timeout, self.procs[0], self.workdir / "pushgateway.log")
        wait_http(f"{self.prometheus_url}/-/ready", timeout, self.procs[1], self.workdir / "prometheus.log")
        return self

    def stop(self) -> None:
        for proc in reversed(self.procs):
            _stop(proc)

    def wipe_gateway(self) -> None:
        """Delete every group from the Pushgateway (admin API)."""
        httpx.put(f"{self.pushgateway_url}/api/v1/admin/wipe", timeout=10).raise_for_status()

    def gateway_groups(self) -> list[dict[str, Any]]:
        """The Pushgateway's groups (``/api/v1/metrics``): labels and metric families of each push."""
        r = httpx.get(f"{self.pushgateway_url}/api/v1/metrics", timeout=10)
        r.raise_for_status()
        return list(r.json().get("data") or [])

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query over Prometheus's HTTP API; the vector's samples."""
        r = httpx.get(f"{self.prometheus_url}/api/v1/query", params={"query": promql}, timeout=10)
        r.raise_for_status()
        body = r.json()
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def wait_query(self, promql: str, predicate: Callable[[list[dict[str, Any]]], bool],
                   timeout: float = 30.0) -> list[dict[str, Any]]:
        """Poll ``promql`` until ``predicate(result)`` holds (scrapes are 1 s apart)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(promql)
            if predicate(result) or time.monotonic() > deadline:
                return result
            time.sleep(0.5)


@dataclass
class MlflowServer:
    """``mlflow server`` with a SQLite backend and a local artifact root in ``workdir``."""

    workdir: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> MlflowServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        mlflow = Path(sys.executable).parent / "mlflow"
        self.proc = _spawn([
            str(mlflow), "server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
            "--backend-store-uri", f"sqlite:///{self.workdir / 'mlflow.db'}",
            "--artifacts-destination", str(self.workdir / "artifacts"),
        ], self.workdir / "mlflow.log", env={**os.environ, "MLFLOW_TRACKING_URI": ""})
        return self

    def wait_ready(self, timeout: float = 180.0) -> MlflowServer:
        wait_http(f"{self.url}/health", timeout, self.proc, self.workdir / "mlflow.log")
        return self

    def stop(self) -> None:
        _stop(self.proc, grace=15.0)
