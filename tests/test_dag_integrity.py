"""The DAG file parses cleanly and fast, and declares the tasks, retries, params and callbacks the pipeline needs.

Airflow is loaded in a subprocess with a throw-away AIRFLOW_HOME, so its configuration and any
files it writes never touch the developer's ``~/airflow`` or the other tests.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ceiling_grid.config import DETECTOR_STANDARDS, ROOM_TYPES

REPO = Path(__file__).resolve().parents[1]
DAGS = REPO / "dags"
DAG_FILE = DAGS / "ceiling_grid_pipeline.py"
DAG_ID = "ceiling_grid_pipeline"
PARSE_BUDGET_S = 1.0  # the structural bound on DAG parse time

FACTS_SCRIPT = r"""
import json, sys
from datetime import timedelta
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.definitions.mappedoperator import MappedOperator
from ceiling_grid.errors import InputError, InputRejected, TransientError

bag = DagBag(dag_folder=sys.argv[1])
dag = bag.dags.get(sys.argv[2])
facts = {"import_errors": {str(k): str(v) for k, v in bag.import_errors.items()}, "dag_ids": sorted(bag.dag_ids)}
if dag is not None:
    def secs(v):
        return v.total_seconds() if isinstance(v, timedelta) else v
    facts["dag"] = {
        "tags": sorted(dag.tags), "schedule": str(dag.schedule) if dag.schedule is not None else None,
        "catchup": dag.catchup, "max_active_runs": dag.max_active_runs,
        "is_paused_upon_creation": dag.is_paused_upon_creation, "doc_md": dag.doc_md or "",
        "owner": dag.owner,
    }
    facts["params"] = {k: dag.params.get_param(k).schema | {"default": dag.params.get_param(k).value,
                                                           "description": dag.params.get_param(k).description}
                       for k in dag.params.keys()}
    facts["tasks"] = {
        t.task_id: {
            "retries": t.retries, "retry_exponential_backoff": t.retry_exponential_backoff,
            "retry_delay_s": secs(t.retry_delay), "max_retry_delay_s": secs(t.max_retry_delay),
            "mapped": isinstance(t, MappedOperator), "downstream": sorted(t.downstream_task_ids),
            "on_failure_callback": bool(t.on_failure_callback),
            "retry_policy": {name: t.retry_policy.evaluate(exc, try_number=1, max_tries=3).action.value
                             for name, exc in (("rejected", InputRejected(InputError("bad room"))),
                                               ("transient", TransientError("disk full")))}
                            if getattr(t, "retry_policy", None) else None,
            "outlets": [getattr(o, "name", str(o)) for o in (t.outlets or [])],
            "show_return_value_in_logs": (t.partial_kwargs.get("show_return_value_in_logs")
                                          if isinstance(t, MappedOperator) else t.show_return_value_in_logs),
        }
        for t in dag.tasks
    }
print("FACTS" + json.dumps(facts))
"""

PARSE_SCRIPT = r"""
import importlib.util, json, socket, sys, time
attempts = []
def refuse(*args, **kwargs):
    attempts.append(repr(args)[:120])
    raise OSError("network disabled during the DAG parse test")
socket.socket.connect = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
from airflow.sdk import Param, dag, task  # already loaded in the dag-processor
before = set(sys.modules)
t0 = time.perf_counter()
spec = importlib.util.spec_from_file_location("cg_dag_under_test", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
elapsed = time.perf_counter() - t0
new = sorted(m.split(".")[0] for m in set(sys.modules) - before)
print("PARSE" + json.dumps({"seconds": elapsed, "new_modules": sorted(set(new)), "network": attempts}))
"""


def _run(script: str, *args: str, tmp: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({"AIRFLOW_HOME": str(tmp / "airflow_home"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS), "AIRFLOW__CORE__UNIT_TEST_MODE": "True"})
    proc = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True,
                          timeout=240, cwd=tmp)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith(("FACTS", "PARSE"))), None)
    assert proc.returncode == 0 and line, f"subprocess failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return dict(json.loads(line[5:]))


@pytest.fixture(scope="module")
def facts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _run(FACTS_SCRIPT, str(DAGS), DAG_ID, tmp=tmp_path_factory.mktemp("dagbag"))


def test_dagbag_has_no_import_errors(facts: dict[str, Any]) -> None:
    """The dags folder imports without errors and holds the ceiling_grid_pipeline DAG."""
    assert facts["import_errors"] == {}
    assert DAG_ID in facts["dag_ids"]


def test_task_ids_and_dependencies(facts: dict[str, Any]) -> None:
    """load_rooms -> place_lights -> place_air_supply -> place_smoke_detectors -> publish, stages mapped."""
    tasks = facts["tasks"]
    chain = ["load_rooms", "place_lights", "place_air_supply", "place_smoke_detectors", "publish"]
    assert sorted(tasks) == sorted(chain)
    for upstream, downstream in itertools.pairwise(chain):
        assert tasks[upstream]["downstream"] == [downstream]
    assert {t for t, f in tasks.items() if f["mapped"]} == {"place_lights", "place_air_supply",
                                                            "place_smoke_detectors"}


def test_every_task_retries_with_backoff_and_alerts(facts: dict[str, Any]) -> None:
    """Every task retries at least twice with exponential backoff, and has the failure alert callback."""
    for task_id, t in facts["tasks"].items():
        assert t["retries"] >= 2, task_id
        assert t["retry_exponential_backoff"] > 1, task_id  # Airflow 3: a multiplier (1 = constant delay)
        assert 0 < t["retry_delay_s"] <= t["max_retry_delay_s"], task_id
        assert t["on_failure_callback"], task_id
        assert t["show_return_value_in_logs"] is False, task_id


def test_an_input_rejection_is_never_retried_and_publish_emits_the_plans_asset(facts: dict[str, Any]) -> None:
    """The retry policy fails InputRejected (a bad input's one-line exit) at once and leaves other errors to the
    retries; publish's outlet is the ceiling_grid_plans asset downstream DAGs schedule on."""
    for task_id, t in facts["tasks"].items():
        assert t["retry_policy"] == {"rejected": "fail", "transient": "default"}, task_id
    assert facts["tasks"]["publish"]["outlets"] == ["ceiling_grid_plans"]
    assert all(t["outlets"] == [] for task_id, t in facts["tasks"].items() if task_id != "publish")


def test_dag_settings(facts: dict[str, Any]) -> None:
    """Manual-only (no schedule, no catchup), active when created, tagged, documented, bounded concurrency."""
    dag = facts["dag"]
    assert dag["schedule"] is None and dag["catchup"] is False
    assert dag["is_paused_upon_creation"] is False
    assert "ceiling-grid" in dag["tags"]
    assert 1 <= dag["max_active_runs"] <= 16
    assert "ceiling_grid_pipeline" in dag["doc_md"] and "chunk_size" in dag["doc_md"]
    assert dag["owner"] == "ceiling-grid"


def test_params_form_a_real_trigger_form(facts: dict[str, Any]) -> None:
    """Each param has a type and description; enums list exactly the standards and room types of config."""
    params = facts["params"]
    assert set(params) == {"inputs", "detector_standard", "room_type", "output_dir", "chunk_size", "on_infeasible",
                           "on_invalid"}
    assert params["on_invalid"]["enum"] == ["fail", "skip"] and params["on_invalid"]["default"] == "fail"
    for name, schema in params.items():
        assert schema.get("type") and schema.get("description"), name
    assert params["detector_standard"]["enum"] == ["from file", *(str(k) for k in DETECTOR_STANDARDS)]
    assert params["room_type"]["enum"] == ["from file", *ROOM_TYPES]
    assert params["inputs"]["default"] == ["input"] and params["output_dir"]["default"] == "output"
    assert params["chunk_size"]["type"] == "integer" and params["chunk_size"]["minimum"] == 1


def test_dag_file_parses_fast_without_network_or_heavy_imports(tmp_path: Path) -> None:
    """The DAG module executes in under 1 s with networking disabled and imports no numpy/scipy/ceiling_grid."""
    parse = _run(PARSE_SCRIPT, str(DAG_FILE), tmp=tmp_path)
    assert parse["network"] == []
    assert not {"numpy", "scipy", "ceiling_grid"} & set(parse["new_modules"]), parse["new_modules"]
    assert parse["seconds"] < PARSE_BUDGET_S, f"DAG parse took {parse['seconds']:.3f} s"
