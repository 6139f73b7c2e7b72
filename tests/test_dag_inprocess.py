"""End-to-end ``dag.test()`` on a throw-away SQLite AIRFLOW_HOME: real tasks, real models, real output files.

Airflow runs in a subprocess so its configuration (AIRFLOW_HOME, UNIT_TEST_MODE, the structlog
setup of in-process task execution) cannot leak into the rest of the test session.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE_ROOMS = REPO / "data" / "input"
DAG_ID = "ceiling_grid_pipeline"

RUN_SCRIPT = r"""
import json, sys
from airflow.utils.db import resetdb
resetdb()
from airflow.dag_processing.dagbag import DagBag
dag = DagBag(dag_folder=sys.argv[1]).dags[sys.argv[2]]
results = []
for conf in json.loads(sys.argv[3]):
    dr = dag.test(run_conf=conf)
    tis = [{"task_id": ti.task_id, "map_index": ti.map_index, "state": str(ti.state), "try_number": ti.try_number}
           for ti in dr.get_task_instances()]
    results.append({"state": str(dr.state), "run_id": dr.run_id, "tis": tis})
print("RESULT" + json.dumps(results))
"""


def run_dag_test(tmp: Path, data: Path, confs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({
        "AIRFLOW_HOME": str(tmp / "airflow_home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        "CEILING_GRID_DATA_DIR": str(data),
    })
    proc = subprocess.run([sys.executable, "-c", RUN_SCRIPT, str(REPO / "dags"), DAG_ID, json.dumps(confs)],
                          env=env, capture_output=True, text=True, timeout=600, cwd=tmp)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")), None)
    assert proc.returncode == 0 and line, f"dag.test failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return json.loads(line[6:]), proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def dag_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]], str]:
    tmp = tmp_path_factory.mktemp("dag_test")
    data = tmp / "data"
    (data / "input").mkdir(parents=True)
    (data / "bad").mkdir()
    for room in sorted(SAMPLE_ROOMS.glob("*.json")):
        shutil.copy(room, data / "input" / room.name)
    (data / "bad" / "broken.json").write_text('{"grid_id": "broken", "width": 2, "height": 2, "cells": []}')
    runs, output = run_dag_test(tmp, data, [
        {"chunk_size": 2, "on_infeasible": "report"},
        {"inputs": ["bad"]},
    ])
    return data, runs, output


def test_dag_test_lays_out_every_sample_room(dag_runs: tuple[Path, list[dict[str, Any]], str]) -> None:
    """A dag.test() run on the sample rooms succeeds and writes grid, report and SVG per room plus summary.json."""
    data, runs, _ = dag_runs
    good = runs[0]
    assert good["state"] == "success", good
    rooms = sorted(p.stem for p in (data / "input").glob("*.json"))
    n_chunks = (len(rooms) + 1) // 2
    mapped = [ti for ti in good["tis"] if ti["task_id"] == "place_lights"]
    assert sorted(ti["map_index"] for ti in mapped) == list(range(n_chunks))
    out_dirs = [p for p in (data / "output").iterdir() if p.is_dir()]
    assert len(out_dirs) == 1 and ":" not in out_dirs[0].name
    summary = json.loads((out_dirs[0] / "summary.json").read_text())
    assert summary["run_id"] == good["run_id"] and summary["rooms"] == len(rooms)
    by_id = {r["grid_id"]: r for r in summary["results"]}
    for result in by_id.values():
        gid = result["grid_id"]
        report = json.loads((out_dirs[0] / f"{gid}.report.json").read_text())
        assert report["compliant"] == result["compliant"]
        assert set(report["selection"]) == {"lights", "air_supply", "smoke_detectors"}
        assert report["selection"]["lights"]["selected"] == result["models"]["lights"]
        assert (out_dirs[0] / f"{gid}.svg").read_text().lstrip().startswith(("<svg", "<?xml"))
        final = json.loads((out_dirs[0] / f"{gid}.json").read_text())
        placed = sum(1 for c in final["cells"] if c["component"] == "light")
        assert placed == result["lights"] > 0


def test_dag_test_fails_fast_on_a_malformed_room(dag_runs: tuple[Path, list[dict[str, Any]], str]) -> None:
    """A room with the wrong number of cells fails load_rooms on its first try; nothing downstream runs."""
    _, runs, output = dag_runs
    bad = runs[1]
    assert bad["state"] == "failed"
    states = {ti["task_id"]: ti for ti in bad["tis"]}
    assert states["load_rooms"]["state"] == "failed" and states["load_rooms"]["try_number"] == 1
    assert states["publish"]["state"] == "upstream_failed"
    assert "bad/broken.json" in output and "cells has 0 entries" in output
