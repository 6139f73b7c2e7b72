"""
### ceiling_grid_pipeline

Lays out the suspended ceiling of every room in **inputs** (room files, metric footprints, DXF plans with one
room per outline, IFC models with one room per `IfcSpace`; folders of them): light fixtures first (three
competing models run in parallel, the best §8 score wins), then supply-air diffusers, then smoke
detectors; finally the independent evaluator checks every rule and the results are written.

| task | what it does |
|---|---|
| `load_rooms` | checks the conf, every path, the output folder and every room file (bad input fails at once) |
| `place_lights` | one mapped instance per chunk: LightModelA/B/C in parallel, keeps the best |
| `place_air_supply` | one mapped instance per chunk: supply diffusers |
| `place_smoke_detectors` | one mapped instance per chunk: smoke detectors under the chosen standard |
| `publish` | evaluates each room; writes its files + `summary.json` to `<output_dir>/<run id>-<hash>/` at once |

`publish` also emits the asset `ceiling_grid_plans` (its `extra`: the run's counts and output folder), so other
DAGs can be scheduled on new plans (example: `ceiling_plans_digest`).

**See the plans** in this run's **Ceiling plans** tab (room table and every plan), or at
`/ceiling-grid/api/runs/<run id>` as JSON. With `on_invalid = skip`, invalid room files are left out and listed
there, in `summary.json` and in the `load_rooms` log; the default fails the run at once, naming every bad file.

A room's files are `<id>.json`, `<id>.report.json` and `<id>.svg`, plus `<id>.dxf` (the plan in the drawing's
coordinates) for a room from a drawing and `<id>.luminaire.svg` (polar curves) for an IES/LDT luminaire.

Paths are relative to the data folder (`$CEILING_GRID_DATA_DIR`, default the repository's `data/`);
inputs leaving it are refused, and `output_dir` must lie in the output root
(`$CEILING_GRID_OUTPUT_ROOT`, default `data/output`). Each run id gets its own folder (a readable
slug plus a hash of the exact id), marked with the run id: a run never writes into the inputs or
into another run's folder. Rooms move between tasks as JSON through XCom, guarded by
`CEILING_GRID_XCOM_MAX_BYTES`: lower `chunk_size` (or use the object-storage XCom backend) if a
chunk is too large. An input error is one `input_rejected` log line and no retry. Failures emit one
structured `task_failed_alert` log line (and a webhook POST when `CEILING_GRID_ALERT_WEBHOOK_URL` is set).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import Asset, ExceptionRetryPolicy, Param, RetryAction, RetryRule, dag, get_current_context, task

DAG_ID = "ceiling_grid_pipeline"
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1] / "data"
FROM_FILE = "from file"
DETECTOR_STANDARDS = ("nfpa72", "bs5839_1", "cen_ts_54_14")  # = ceiling_grid.config.DETECTOR_STANDARDS
ROOM_TYPES = ("office", "open_plan", "conference", "classroom", "classroom_2011", "corridor", "us_office_30fc")
DEFAULT_CHUNK_SIZE = 25  # benchmarks/bench_airflow.py: 200 rooms 69 s at 25 vs 133 s at 10 (2 cores)
# publish's outlet: one asset event per published run, its summary in the event's extra
CEILING_PLANS = Asset(name="ceiling_grid_plans", group="ceiling-grid")
# An input error ends its task with ceiling_grid.errors.InputRejected (a SystemExit: one line, no traceback);
# a retry cannot fix it. Matched by its base class so the DAG file imports nothing of ceiling_grid.
NO_RETRY_ON_INPUT_ERROR = ExceptionRetryPolicy(rules=[RetryRule(
    exception="builtins.SystemExit", action=RetryAction.FAIL, reason="input error: a retry cannot fix it")])


def _alert(context: Any) -> None:
    """on_failure_callback: one structured alert line (and webhook); logic in ceiling_grid.airflow_tasks."""
    from ceiling_grid.airflow_tasks import alert_on_failure

    alert_on_failure(context)


default_args = {
    "owner": "ceiling-grid",
    "retries": 2,
    "retry_delay": timedelta(seconds=5),
    "retry_exponential_backoff": 2.0,  # Airflow 3: a multiplier; 5 s, then 10 s
    "max_retry_delay": timedelta(minutes=2),
    "on_failure_callback": _alert,
    "retry_policy": NO_RETRY_ON_INPUT_ERROR,
}

params = {
    "inputs": Param(
        ["input"],
        type="array",
        items={"type": "string", "minLength": 1},
        minItems=1,
        title="Room files or folders",
        description="One per line: room files (.json), DXF plans (.dxf), IFC models (.ifc) or folders of them, "
        "relative to the data folder "
        "(default: the sample rooms in data/input).",
    ),
    "detector_standard": Param(
        FROM_FILE,
        type="string",
        enum=[FROM_FILE, *DETECTOR_STANDARDS],
        title="Smoke-detector standard",
        description="Override the rule set of every room, or keep each file's own ('from file').",
    ),
    "room_type": Param(
        FROM_FILE,
        type="string",
        enum=[FROM_FILE, *ROOM_TYPES],
        title="Room type",
        description="Override the room type (illuminance and air targets) of every room, or keep each file's own.",
    ),
    "output_dir": Param(
        "output",
        type="string",
        minLength=1,
        title="Output folder",
        description="Relative to the data folder and inside the output root (default data/output); "
        "results go to <output_dir>/<run id>-<hash>/.",
    ),
    "chunk_size": Param(
        DEFAULT_CHUNK_SIZE,
        type="integer",
        minimum=1,
        maximum=1000,
        title="Rooms per mapped task",
        description="Rooms are processed in chunks; each chunk is one mapped task instance per stage.",
    ),
    "on_invalid": Param(
        "fail",
        type="string",
        enum=["fail", "skip"],
        title="Invalid room file",
        description="'fail': one invalid room file fails the run at once, naming every bad file (no retry); "
        "'skip': lay out the valid rooms and list the skipped files with their errors in the summary, "
        "the plan view and the log.",
    ),
    "on_infeasible": Param(
        "fail",
        type="string",
        enum=["fail", "report"],
        title="Impossible room",
        description="'fail': a room with no compliant layout fails the run at once (no retry); "
        "'report': keep it and mark it non-compliant in the outputs.",
    ),
}


@dag(
    dag_id=DAG_ID,
    doc_md=__doc__,
    schedule=None,
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=4,
    is_paused_upon_creation=False,
    default_args=default_args,
    params=params,
    tags=["ceiling-grid", "layout"],
)
def ceiling_grid_pipeline() -> None:
    @task(show_return_value_in_logs=False)
    def load_rooms() -> list[list[dict[str, Any]]]:
        """Validate the input rooms (fail fast, no retry, on bad input) and split them into chunks."""
        from ceiling_grid.airflow_tasks import load_rooms_task

        return load_rooms_task(get_current_context(), params, DEFAULT_DATA_DIR)

    def _stage(stage: str, chunk: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from ceiling_grid.airflow_tasks import stage_task

        return stage_task(stage, chunk, get_current_context())

    @task(show_return_value_in_logs=False)
    def place_lights(chunk: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Lights: LightModelA/B/C in parallel on each room of the chunk; the best score wins."""
        return _stage("lights", chunk)

    @task(show_return_value_in_logs=False)
    def place_air_supply(chunk: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Supply-air diffusers on each room of the chunk."""
        return _stage("air_supply", chunk)

    @task(show_return_value_in_logs=False)
    def place_smoke_detectors(chunk: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Smoke detectors on each room of the chunk."""
        return _stage("smoke_detectors", chunk)

    @task(show_return_value_in_logs=False, outlets=[CEILING_PLANS])
    def publish(chunks: Any) -> dict[str, Any]:
        """Evaluate every room and write its layout, report and SVG plus summary.json."""
        from ceiling_grid.airflow_tasks import publish_task

        return publish_task(chunks, get_current_context(), DEFAULT_DATA_DIR, asset=CEILING_PLANS)

    chunks = load_rooms()
    lit = place_lights.expand(chunk=chunks)
    aired = place_air_supply.expand(chunk=lit)
    detected = place_smoke_detectors.expand(chunk=aired)
    publish(detected)


ceiling_grid_pipeline()
