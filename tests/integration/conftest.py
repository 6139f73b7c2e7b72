"""One real Airflow stack for the whole session: api-server, scheduler, dag-processor on a fresh PostgreSQL DB.

The stack is ``scripts/stack.py`` (what ``make up`` runs) pointed at a temp AIRFLOW_HOME, port
28090 and a database ``cg_it_<random>`` that is dropped afterwards. A tiny HTTP server in the test
process receives the failure-alert webhook.
"""

from __future__ import annotations

import importlib.util
import json
import secrets
import shutil
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest

from tests.support.obs_backends import PrometheusStack
from tests.support.otlp_receiver import OtlpReceiver
from tests.support.services import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, require_postgres

REPO = Path(__file__).resolve().parents[2]
SAMPLE_ROOMS = REPO / "data" / "input"
STACK_PORT = 28090
WEBHOOK_PORT = 28095
PUSHGATEWAY_PORT = 28201  # observability back-ends of the session stack (tests/support/obs_backends.py)
PROMETHEUS_PORT = 28202
OTLP_PORT = 28203
BAD_ROOM = {"grid_id": "bad-room", "width": 3, "height": 2,
            "cells": [{"x": 0, "y": 0, "component": "empty"}, {"x": 7, "y": 0, "component": "empty"}]}


def load_stack_module() -> ModuleType:
    """``scripts/stack.py`` as a module (it is a script, not part of the package)."""
    name = "ceiling_grid_stack_script"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / "stack.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class AlertSink(BaseHTTPRequestHandler):
    """Collects the JSON bodies POSTed to the alert webhook."""

    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        AlertSink.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def alert_sink() -> Iterator[list[dict[str, Any]]]:
    server = HTTPServer(("127.0.0.1", WEBHOOK_PORT), AlertSink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield AlertSink.received
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def postgres_db() -> Iterator[str]:
    """A fresh database ``cg_it_<random>``; yields its SQLAlchemy URL and drops it at the end."""
    require_postgres()
    import psycopg2

    name = f"cg_it_{secrets.token_hex(4)}"
    admin = psycopg2.connect(host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def stack_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data folder of the stack: the sample rooms in input/, one malformed room in bad/."""
    data = tmp_path_factory.mktemp("stack") / "data"
    (data / "input").mkdir(parents=True)
    (data / "bad").mkdir()
    for room in sorted(SAMPLE_ROOMS.glob("*.json")):
        shutil.copy(room, data / "input" / room.name)
    (data / "bad" / "bad-room.json").write_text(json.dumps(BAD_ROOM))
    return data


@pytest.fixture(scope="session")
def prometheus_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusStack | None]:
    """A real Pushgateway + Prometheus (1 s scrapes) the stack's tasks push to; None without the binaries."""
    if not PrometheusStack.installed():
        yield None  # the metrics test itself skips (laptop) or fails (CI) with the how-to
        return
    prom = PrometheusStack(tmp_path_factory.mktemp("prometheus"), PUSHGATEWAY_PORT, PROMETHEUS_PORT)
    try:
        yield prom.spawn().wait_ready()
    finally:
        prom.stop()


@pytest.fixture(scope="session")
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """A real OTLP/HTTP receiver the stack's tasks export their spans to."""
    with OtlpReceiver(OTLP_PORT) as receiver:
        yield receiver


@pytest.fixture(scope="session")
def airflow_stack(postgres_db: str, stack_data: Path, alert_sink: list[dict[str, Any]],
                  prometheus_stack: PrometheusStack | None, otlp_receiver: OtlpReceiver,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The running stack (a ``stack.Stack``), healthy, with the DAG registered and unpaused."""
    mod = load_stack_module()
    stack = mod.Stack(
        home=tmp_path_factory.mktemp("airflow_home"),
        port=STACK_PORT,
        data_dir=stack_data,
        sql_conn=postgres_db,
        username="admin",
        password=secrets.token_urlsafe(12),
        extra_users={"viewer": ("viewer", secrets.token_urlsafe(12))},
        secrets=mod.fresh_secrets(),
        components=("api-server", "scheduler", "dag-processor"),
        extra_env={"CEILING_GRID_ALERT_WEBHOOK_URL": f"http://127.0.0.1:{WEBHOOK_PORT}/alert",
                   "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.endpoint,
                   **({"PROMETHEUS_PUSHGATEWAY_URL": prometheus_stack.pushgateway_url} if prometheus_stack else {})},
    )
    try:
        stack.start(timeout=180)
        with stack.client() as client:
            stack.wait_dag(client, timeout=120)
            stack.unpause(client)
    except mod.StackError as exc:
        logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                         for p in sorted((stack.home / "stack-logs").glob("*.log")))
        stack.stop()
        pytest.fail(f"the Airflow stack did not start: {exc}\n{logs}", pytrace=False)
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def client(airflow_stack: Any) -> Iterator[Any]:
    """An authenticated REST client (JWT from POST /auth/token)."""
    with airflow_stack.client() as c:
        yield c
