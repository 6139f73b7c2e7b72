"""Faults on a real Airflow stack (private PostgreSQL): bad input fails once, transient faults retry, restarts recover.

One stack (``rl_stack``), one DAG run per scenario. The input scenarios run concurrently:
malformed rooms (REST conf), an ``inputs`` path escaping the data folder (CLI trigger), an
impossible room, a transient disk fault in ``publish`` and a clean baseline. Then, one at a time:
the scheduler is SIGKILLed mid-task and restarted, and PostgreSQL is restarted mid-task. Every
run that completes must publish files byte-identical to ``ceiling-grid run`` on the same room.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ceiling_grid.grid import load_room
from ceiling_grid.outputs import write_room_outputs
from ceiling_grid.runner import PipelineRunner
from ceiling_grid.runs import RUN_MARKER, run_folder_name
from ceiling_grid.testing import room_payload
from tests.integration import rl_stack
from tests.support.services import tiny_disk

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "data" / "malformed"
ROOM = "private_office"
RUN_TIMEOUT_S = 420
POLL_S = 0.25
COMPONENTS = ("api-server", "scheduler", "dag-processor")


@pytest.fixture(scope="session")
def rl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[rl_stack.RlStack]:
    """The reliability stack shared with test_security.py."""
    yield rl_stack.acquire(tmp_path_factory)
    rl_stack.release()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The files `ceiling-grid run` writes for the sample rooms (same code path: runner + write_room_outputs)."""
    out = tmp_path_factory.mktemp("reference")
    with PipelineRunner(max_workers=1) as runner:
        for name in rl_stack.ROOMS:
            write_room_outputs(runner.run_full_pipeline(load_room(REPO / "data" / "input" / f"{name}.json")), out)
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def tis(rl: rl_stack.RlStack, run_id: str) -> dict[tuple[str, int], dict[str, Any]]:
    return {(t["task_id"], t["map_index"]): t for t in rl.stack.task_instances(rl.admin, run_id)}


def run_state(rl: rl_stack.RlStack, run_id: str) -> str | None:
    r = rl.admin.get(f"/api/v2/dags/{rl_stack.load_stack_module().DAG_ID}/dagRuns/{run_id}")
    return str(r.json()["state"]) if r.status_code == 200 else None


def wait_runs(rl: rl_stack.RlStack, run_ids: list[str], on_poll: Callable[[], None] | None = None,
              timeout: float = RUN_TIMEOUT_S) -> dict[str, dict[str, Any]]:
    """Poll until every run is success/failed (calling ``on_poll`` each round); returns the runs by id."""
    deadline = time.monotonic() + timeout
    done: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline and len(done) < len(run_ids):
        if on_poll is not None:
            on_poll()
        for run_id in run_ids:
            if run_id not in done:
                r = rl.admin.get(f"/api/v2/dags/ceiling_grid_pipeline/dagRuns/{run_id}")
                if r.status_code == 200 and r.json()["state"] in ("success", "failed"):
                    done[run_id] = dict(r.json())
        time.sleep(POLL_S)
    missing = [r for r in run_ids if r not in done]
    assert not missing, f"runs {missing} did not finish in {timeout:.0f} s\n{rl.logs()}"
    return done


def published(rl: rl_stack.RlStack, run_id: str, output_dir: str = "output") -> dict[str, bytes]:
    out = rl.data / output_dir / run_folder_name(run_id)
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.name not in ("summary.json", RUN_MARKER)}


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def fill(disk: Path) -> Path:
    """Fill a file system with one file until ENOSPC; returns the file (delete it to free the space)."""
    filler = disk / "filler.bin"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    return filler


def expected_files(reference: dict[str, bytes], *rooms: str) -> dict[str, bytes]:
    return {k: v for k, v in reference.items() if k.split(".")[0] in rooms}


def errors_in_log(rl: rl_stack.RlStack, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1) -> str:
    events = rl.stack.task_log(rl.admin, run_id, task_id, try_number, map_index=map_index)
    return "\n".join(rl_stack.load_stack_module().describe_error(e) for e in events
                     if e.get("level") in ("error", "critical"))


def wait_task(rl: rl_stack.RlStack, run_id: str, task_id: str, states: set[str], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(t["task_id"] == task_id and t["state"] in states for t in tis(rl, run_id).values()):
            return
        time.sleep(0.1)
    pytest.fail(f"{task_id} of {run_id} never reached {states}: {tis(rl, run_id)}")


# ----- the concurrent input scenarios ------------------------------------------------------------


@pytest.fixture(scope="module")
def input_runs(rl: rl_stack.RlStack) -> Iterator[dict[str, Any]]:
    """Trigger the input scenarios together, free the full disk after publish's first try, wait."""
    (rl.data / "bad").mkdir(exist_ok=True)
    for path in sorted(CORPUS.glob("*.json")):
        shutil.copy(path, rl.data / "bad" / path.name)
    (rl.data / "infeasible").mkdir(exist_ok=True)
    every_tile = {(x, y): "sprinkler" for x in range(5) for y in range(4)}
    blocked = room_payload(5, 4, grid_id="all-blocked", states=every_tile)
    (rl.data / "infeasible" / "all-blocked.json").write_text(json.dumps(blocked))
    (rl.data / "output").mkdir(exist_ok=True)
    (rl.data / "output" / "a-file").write_text("not a folder\n")
    inputs_before = tree_bytes(rl.data / "input")
    one_room = [f"input/{ROOM}.json"]
    # The transient fault: a real full disk (a 1 MiB tmpfs, filled) under publish's output_dir. Freed after try 1.
    with tiny_disk(rl.data / "output" / "small", size_kib=1024) as disk:
        filler = fill(disk)
        t0 = time.monotonic()
        runs = {
            "baseline": rl.stack.trigger(rl.admin, {"inputs": ["input"], "chunk_size": 3}, run_id="rl_baseline"),
            "corpus": rl.stack.trigger(rl.admin, {"inputs": ["bad"]}, run_id="rl_corpus"),
            "infeasible": rl.stack.trigger(rl.admin, {"inputs": ["infeasible"]}, run_id="rl_infeasible"),
            "transient": rl.stack.trigger(rl.admin, {"inputs": one_room, "output_dir": "output/small"},
                                          run_id="rl_transient"),
            "escape": rl.stack.trigger_cli({"inputs": ["../../etc"]}, run_id="rl_escape"),
            "typo": rl.stack.trigger(rl.admin, {"inputs": one_room, "chunksize": 1}, run_id="rl_typo"),
            "into_inputs": rl.stack.trigger(rl.admin, {"inputs": ["input"], "output_dir": "."}, run_id="input"),
            "not_a_folder": rl.stack.trigger_cli({"inputs": one_room, "output_dir": "output/a-file"},
                                                 run_id="rl_not_a_folder"),
        }
        cleared: dict[str, Any] = {}

        def free_disk_after_first_try() -> None:
            if "at" in cleared:
                return
            ti = tis(rl, runs["transient"]).get(("publish", -1))
            if ti and ti["try_number"] == 1 and ti["state"] in ("up_for_retry", "failed"):
                cleared.update(at=time.monotonic() - t0, state=ti["state"])
                filler.unlink()

        done = wait_runs(rl, list(runs.values()), free_disk_after_first_try)
        yield {"ids": runs, "runs": {k: done[v] for k, v in runs.items()}, "cleared": cleared,
               "seconds": round(time.monotonic() - t0, 1), "inputs_before": inputs_before}


def assert_failed_once(rl: rl_stack.RlStack, run_id: str, task_id: str) -> None:
    """The run failed; ``task_id`` failed on try 1 with no retry; everything after it is upstream_failed."""
    states = tis(rl, run_id)
    failed = [k for k, t in states.items() if t["state"] == "failed"]
    assert [k[0] for k in failed] == [task_id], states
    assert all(states[k]["try_number"] == 1 for k in failed), states
    assert states[("publish", -1)]["state"] == "upstream_failed"


def test_baseline_run_publishes_the_cli_bytes_despite_dead_exporters(input_runs: dict[str, Any], rl: rl_stack.RlStack,
                                                                     reference: dict[str, bytes]) -> None:
    """A clean run (Pushgateway and OTLP endpoint unreachable) succeeds first try with the CLI's exact files."""
    run_id = input_runs["ids"]["baseline"]
    assert input_runs["runs"]["baseline"]["state"] == "success"
    assert all(t["state"] == "success" and t["try_number"] == 1 for t in tis(rl, run_id).values())
    assert published(rl, run_id) == reference
    events = rl.stack.task_log(rl.admin, run_id, "place_lights", 1, map_index=0)
    warned = [e["event"] for e in events if e.get("level") == "warning" and "fail" in str(e.get("event"))]
    assert len(warned) == len(set(warned)), warned  # each dead exporter warns once, not once per room
    assert sum(e.get("event") == "model_run" for e in events) == 3 * len(rl_stack.ROOMS)


def test_rest_conf_with_malformed_rooms_fails_once_naming_every_file(input_runs: dict[str, Any],
                                                                     rl: rl_stack.RlStack) -> None:
    """inputs=bad (the corpus) fails load_rooms on try 1, no retry, one log line per file with field and fix."""
    run_id = input_runs["ids"]["corpus"]
    assert input_runs["runs"]["corpus"]["state"] == "failed"
    assert_failed_once(rl, run_id, "load_rooms")
    events = rl.stack.task_log(rl.admin, run_id, "load_rooms", 1)
    (rejected,) = [e for e in events if e.get("event") == "input_rejected"]
    assert rejected["retry"] == "false" and rejected["error_type"] == "InputError"
    files = sorted(p.name for p in CORPUS.glob("*.json"))
    assert f"{len(files)} of {len(files)} room files are invalid" in rejected["error"]
    for name in files:
        assert f"bad/{name}: " in rejected["error"], name
    assert "(fix: " in rejected["error"] and str(rl.data) not in rejected["error"]


def test_inputs_escaping_the_data_folder_are_refused(input_runs: dict[str, Any], rl: rl_stack.RlStack) -> None:
    """A CLI-triggered run with inputs=../../etc fails on try 1 and reads nothing outside the data folder."""
    run_id = input_runs["ids"]["escape"]
    assert input_runs["runs"]["escape"]["state"] == "failed"
    assert_failed_once(rl, run_id, "load_rooms")
    text = errors_in_log(rl, run_id, "load_rooms")
    assert "inputs: '../../etc' resolves to " in text and f"outside the data folder {rl.data}" in text


def test_infeasible_room_fails_the_run_once_naming_the_rule(input_runs: dict[str, Any], rl: rl_stack.RlStack) -> None:
    """A room whose every tile is blocked fails its stage on try 1 (no retry) with the blocking rule named."""
    run_id = input_runs["ids"]["infeasible"]
    assert input_runs["runs"]["infeasible"]["state"] == "failed"
    states = tis(rl, run_id)
    (failed,) = [k for k, t in states.items() if t["state"] == "failed"]
    assert failed[0] in ("place_lights", "place_air_supply", "place_smoke_detectors")
    assert states[failed]["try_number"] == 1
    events = rl.stack.task_log(rl.admin, run_id, failed[0], 1, map_index=failed[1])
    (rejected,) = [e for e in events if e.get("event") == "input_rejected"]  # one line, no traceback
    assert rejected["error_type"] == "InfeasibleRoomError" and rejected["retry"] == "false"
    assert "infeasible/all-blocked.json: infeasible under rule " in rejected["error"]
    assert "on_infeasible='report'" in rejected["error"]
    assert not [e for e in events if e.get("error_detail")]


def test_a_nul_byte_in_the_conf_is_refused_by_postgresql_at_trigger_time(rl: rl_stack.RlStack) -> None:
    """PostgreSQL cannot store U+0000 in JSON: the trigger gets 422 and no run exists (SQLite: test_stack_local)."""
    r = rl.admin.post("/api/v2/dags/ceiling_grid_pipeline/dagRuns",
                      json={"dag_run_id": "rl_nul", "logical_date": None,
                            "conf": {"inputs": ["input/\x00private_office.json"]}})
    assert r.status_code == 422 and "rejected by database" in r.text, (r.status_code, r.text[:300])
    assert run_state(rl, "rl_nul") is None


def test_invalid_params_are_refused_at_trigger_time(rl: rl_stack.RlStack) -> None:
    """REST conf breaking the DAG's param schema gets HTTP 400 and creates no run."""
    for i, conf in enumerate([{"chunk_size": 0}, {"detector_standard": "nfpa99"}, {"inputs": []},
                              {"on_infeasible": "ignore"}, {"inputs": [""]}]):
        run_id = f"rl_badparam_{i}"
        r = rl.admin.post("/api/v2/dags/ceiling_grid_pipeline/dagRuns",
                          json={"dag_run_id": run_id, "logical_date": None, "conf": conf})
        assert r.status_code == 400, (conf, r.status_code, r.text[:300])
        assert "param" in r.text.lower() or "invalid" in r.text.lower(), r.text[:300]
        assert run_state(rl, run_id) is None


def test_transient_fault_is_retried_and_the_run_completes(input_runs: dict[str, Any], rl: rl_stack.RlStack,
                                                          reference: dict[str, bytes]) -> None:
    """publish hits an OSError on try 1 (TransientError, retried), succeeds on try 2, and loses nothing."""
    run_id = input_runs["ids"]["transient"]
    assert input_runs["cleared"], "publish never failed its first try"
    assert input_runs["runs"]["transient"]["state"] == "success"
    publish = tis(rl, run_id)[("publish", -1)]
    assert (publish["state"], publish["try_number"]) == ("success", 2)
    text = errors_in_log(rl, run_id, "publish", 1)
    assert "TransientError" in text and "No space left on device" in text and "the task retries" in text
    assert published(rl, run_id, "output/small") == expected_files(reference, ROOM)


@pytest.mark.parametrize(("scenario", "message"), [
    ("typo", "unknown key 'chunksize' (did you mean 'chunk_size'?)"),
    ("into_inputs", "output_dir: '.' resolves to "),
    ("not_a_folder", "/output/a-file is a file, not a folder (fix: "),
])
def test_permanent_problems_fail_load_rooms_on_try_one(input_runs: dict[str, Any], rl: rl_stack.RlStack,
                                                       scenario: str, message: str) -> None:
    """Conf typos, output_dir '.' and an output_dir that is a file: no retry, the fix named, nothing lost."""
    run_id = input_runs["ids"][scenario]
    assert input_runs["runs"][scenario]["state"] == "failed"
    assert_failed_once(rl, run_id, "load_rooms")
    text = errors_in_log(rl, run_id, "load_rooms")
    assert message in text, text
    assert "retries" not in text
    assert tree_bytes(rl.data / "input") == input_runs["inputs_before"]  # run id 'input' wrote nothing there


# ----- restarts, one at a time -----------------------------------------------------------------


def test_scheduler_killed_mid_run_recovers_with_correct_outputs(input_runs: dict[str, Any], rl: rl_stack.RlStack,
                                                                 reference: dict[str, bytes]) -> None:
    """SIGKILL of the scheduler's process group (and its running task) mid-run; after a restart the run succeeds."""
    run_id = rl.stack.trigger(rl.admin, {"inputs": [f"input/{ROOM}.json"]}, run_id="rl_kill_scheduler")
    wait_task(rl, run_id, "place_lights", {"running"})
    killed_start = tis(rl, run_id)[("place_lights", 0)]["start_date"]
    rl.kill_component("scheduler")
    assert not rl.alive("scheduler")
    rl.start_component("scheduler")
    run = wait_runs(rl, [run_id])[run_id]
    assert run["state"] == "success", tis(rl, run_id)
    lights = tis(rl, run_id)[("place_lights", 0)]
    assert lights["state"] == "success" and lights["start_date"] > killed_start  # the killed try ran again
    assert published(rl, run_id) == expected_files(reference, ROOM)


def test_postgres_restart_mid_run_completes_with_correct_outputs(input_runs: dict[str, Any], rl: rl_stack.RlStack,
                                                                 reference: dict[str, bytes]) -> None:
    """`pg_ctl restart` of the metadata DB mid-task; components that exit are restarted (as compose would); success."""
    run_id = rl.stack.trigger(rl.admin, {"inputs": [f"input/{ROOM}.json"]}, run_id="rl_pg_restart")
    wait_task(rl, run_id, "place_lights", {"running"})
    rl.pg.restart("fast")
    restarted: list[str] = []

    def supervise() -> None:  # restart: unless-stopped, as in docker-compose.yml
        for comp in COMPONENTS:
            if not rl.alive(comp):
                restarted.append(comp)
                rl.start_component(comp)

    run = wait_runs(rl, [run_id], supervise)[run_id]
    assert run["state"] == "success", (tis(rl, run_id), restarted)
    assert published(rl, run_id) == expected_files(reference, ROOM)
    print(f"components restarted after the PostgreSQL restart: {restarted or 'none'}")


def test_compose_restarts_every_long_running_service() -> None:
    """Components that exit when the DB goes away come back by themselves in compose (restart: unless-stopped)."""
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    for name, svc in services.items():
        if name != "airflow-init":
            assert svc.get("restart") in ("unless-stopped", "always"), name
