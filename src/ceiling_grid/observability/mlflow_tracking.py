"""MLflow tracking of DAG runs (optional): one MLflow run per DAG run, logged by the publish task.

Only when ``MLFLOW_TRACKING_URI`` is set; otherwise nothing here runs and ``mlflow`` is never
imported. Experiment = the DAG id; the run carries the tag ``airflow.run_id`` and is looked up
by it before one is created, so a retried publish logs into the same MLflow run. Logged: the
trigger parameters, each room's standard and room type, model versions; every light model's
score per room and the selection; the final figures; the SVG plan and report of every room.
An unreachable server logs ONE warning per process and never fails the task.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..logs import get_logger

__all__ = [
    "DEFAULT_HEALTH_TIMEOUT_S",
    "MLFLOW_ENV",
    "RUN_ID_TAG",
    "MlflowTracker",
    "metric_key",
]

MLFLOW_ENV = "MLFLOW_TRACKING_URI"
RUN_ID_TAG = "airflow.run_id"
DAG_ID_TAG = "airflow.dag_id"
DEFAULT_HEALTH_TIMEOUT_S = 3.0
# The MLflow client retries a dead server for minutes by default; a task should give up quickly.
DEFAULT_HTTP_RETRIES = "2"
DEFAULT_HTTP_TIMEOUT_S = "30"
MAX_PARAM_CHARS = 6000
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. /]+")

log = get_logger("ceiling_grid.observability.mlflow")

_WARNED: set[str] = set()  # one warning per process: a dead tracking server is one line, not one per run


def metric_key(*parts: Any) -> str:
    """An MLflow-safe key: parts joined by ``.``, characters MLflow refuses replaced by ``_``."""
    return ".".join(_KEY_UNSAFE.sub("_", str(p)) for p in parts if str(p))


def _warn_once(event: str, **fields: Any) -> None:
    if _WARNED:
        return
    _WARNED.add(event)
    log.warning(event, **fields)


def _param_value(value: Any) -> str:
    text = ", ".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)
    return text[:MAX_PARAM_CHARS]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float) and value == value and abs(float(value)) != float("inf"):
        return float(value)
    return None


class MlflowTracker:
    """Logs DAG runs to the MLflow server at ``tracking_uri``."""

    def __init__(self, tracking_uri: str, health_timeout_s: float = DEFAULT_HEALTH_TIMEOUT_S) -> None:
        self.tracking_uri = tracking_uri
        self.health_timeout_s = health_timeout_s

    @classmethod
    def from_env(cls) -> MlflowTracker | None:
        uri = os.environ.get(MLFLOW_ENV, "").strip()
        return cls(uri) if uri else None

    def unreachable(self) -> str | None:
        """None when an HTTP(S) tracking server answers ``/health`` (or the URI is local), else why not."""
        if not self.tracking_uri.startswith(("http://", "https://")):
            return None
        import httpx

        url = self.tracking_uri.rstrip("/") + "/health"
        try:
            response = httpx.get(url, timeout=self.health_timeout_s)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if response.status_code != 200:
            return f"GET {url} answered HTTP {response.status_code}"
        return None

    # ----- the run -------------------------------------------------------------------------
    def log_dag_run(
        self,
        *,
        dag_id: str,
        run_id: str,
        rooms: Sequence[Any],
        summary: Mapping[str, Any],
        out_dir: Path,
        params: Mapping[str, Any] | None = None,
        trace_id: str | None = None,
    ) -> str | None:
        """Create (or find, by tag ``airflow.run_id``) the MLflow run of this DAG run and log into it.

        ``rooms`` are ``observability.task.PublishedRoom`` records. Returns the MLflow run id, or
        None when the server is unreachable or refused (one warning, never raised).
        """
        reason = self.unreachable()
        if reason is not None:
            _warn_once(
                "mlflow_unreachable",
                tracking_uri=self.tracking_uri,
                error=reason,
                hint=f"start the MLflow server (compose profile mlflow) or unset {MLFLOW_ENV}",
            )
            return None
        try:
            return self._log(dag_id, run_id, rooms, summary, out_dir, dict(params or {}), trace_id)
        except Exception as exc:  # noqa: BLE001 - a tracking fault never fails the placement
            _warn_once(
                "mlflow_log_failed",
                tracking_uri=self.tracking_uri,
                error=f"{type(exc).__name__}: {exc}",
                hint="check the MLflow server's log; the layouts themselves were written",
            )
            return None

    def _log(
        self,
        dag_id: str,
        run_id: str,
        rooms: Sequence[Any],
        summary: Mapping[str, Any],
        out_dir: Path,
        params: dict[str, Any],
        trace_id: str | None,
    ) -> str:
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", DEFAULT_HTTP_RETRIES)
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", DEFAULT_HTTP_TIMEOUT_S)
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=self.tracking_uri)
        experiment_id = self._experiment(client, dag_id)
        run, reused = self._run(client, experiment_id, dag_id, run_id)
        mlflow_run_id = run.info.run_id

        now = int(time.time() * 1000)
        p = self.params(rooms, params)
        metrics = self.metrics(rooms, summary)
        tags = self.tags(rooms)
        if trace_id:
            tags["otel.trace_id"] = trace_id
        existing = dict(run.data.params) if reused else {}
        client.log_batch(
            mlflow_run_id,
            metrics=[Metric(k, v, now, 0) for k, v in sorted(metrics.items())],
            params=[Param(k, v) for k, v in sorted(p.items()) if existing.get(k) != v],
            tags=[RunTag(k, v) for k, v in sorted(tags.items())],
        )
        artifacts = 0
        for room in rooms:
            folder = metric_key("rooms", room.result.grid_id).replace(".", "/", 1)
            for kind in ("svg", "report"):
                path = room.paths.get(kind)
                if path is not None and Path(path).is_file():
                    client.log_artifact(mlflow_run_id, str(path), artifact_path=folder)
                    artifacts += 1
        summary_file = out_dir / "summary.json"
        if summary_file.is_file():
            client.log_artifact(mlflow_run_id, str(summary_file))
            artifacts += 1
        client.set_terminated(mlflow_run_id, "FINISHED")
        log.info(
            "mlflow_run_logged",
            experiment=dag_id,
            mlflow_run_id=mlflow_run_id,
            reused=reused,
            params=len(p),
            metrics=len(metrics),
            artifacts=artifacts,
        )
        return str(mlflow_run_id)

    @staticmethod
    def _experiment(client: Any, name: str) -> str:
        exp = client.get_experiment_by_name(name)
        if exp is not None:
            return str(exp.experiment_id)
        try:
            return str(client.create_experiment(name))
        except Exception:
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise
            return str(exp.experiment_id)

    @staticmethod
    def _run(client: Any, experiment_id: str, dag_id: str, run_id: str) -> tuple[Any, bool]:
        quoted = run_id.replace("\\", "\\\\").replace("'", "\\'")
        found = client.search_runs(
            [experiment_id], filter_string=f"tags.`{RUN_ID_TAG}` = '{quoted}'", max_results=1,
            order_by=["attributes.start_time ASC"],
        )
        if found:
            return found[0], True
        run = client.create_run(experiment_id, run_name=run_id, tags={RUN_ID_TAG: run_id, DAG_ID_TAG: dag_id})
        return run, False

    # ----- what is logged ------------------------------------------------------------------
    @staticmethod
    def params(rooms: Sequence[Any], trigger: Mapping[str, Any]) -> dict[str, str]:
        """Trigger parameters, each room's standard and room type, and the model versions."""
        from .task import models_versions

        out = {metric_key("param", k): _param_value(v) for k, v in sorted(trigger.items())}
        for room in rooms:
            grid = room.result.final_grid
            out[metric_key("room", grid.grid_id, "standard")] = str(grid.detector_standard)
            out[metric_key("room", grid.grid_id, "room_type")] = str(grid.room_type)
        for name, version in models_versions().items():
            out[metric_key("model", name, "version")] = version
        return out

    @staticmethod
    def tags(rooms: Sequence[Any]) -> dict[str, str]:
        """The selected model of every stage of every room."""
        out: dict[str, str] = {}
        for room in rooms:
            for s in room.entry.get("stages", []):
                out[metric_key("selected", room.result.grid_id, s.get("stage"))] = str(s.get("model"))
        return out

    @staticmethod
    def metrics(rooms: Sequence[Any], summary: Mapping[str, Any]) -> dict[str, float]:  # noqa: C901 - a flat table
        """Every candidate's score per room and stage, the selected score, the final figures and run totals."""
        out: dict[str, float] = {}
        light_scores: list[float] = []
        for room in rooms:
            gid = room.result.grid_id
            for s in room.entry.get("stages", []):
                stage = str(s.get("stage"))
                selection = s.get("selection") or {}
                for cand in selection.get("candidates", []):
                    score = _number(cand.get("score"))
                    if score is not None:
                        out[metric_key(gid, stage, cand.get("model"), "score")] = score
                score = _number(s.get("score"))
                if score is not None:
                    out[metric_key(gid, stage, "selected_score")] = score
                    if stage == "lights":
                        light_scores.append(score)
            for key, value in room.result.headline.items():
                number = _number(value)
                if number is not None:
                    out[metric_key(gid, key)] = number
            out[metric_key(gid, "compliant")] = 1.0 if room.result.report.compliant else 0.0
            for name, stage in room.result.report.stages.items():
                score = _number(getattr(stage, "score", None))
                if score is not None:
                    out[metric_key(gid, "report", name, "score")] = score
        out["rooms"] = float(len(rooms))
        out["rooms_compliant"] = float(sum(1 for r in rooms if r.result.report.compliant))
        for key in ("lights", "diffusers", "detectors"):
            out[f"total_{key}"] = float(sum(int(r.result.headline.get(key) or 0) for r in rooms))
        if light_scores:
            out["mean_light_score"] = sum(light_scores) / len(light_scores)
        if not rooms and isinstance(summary.get("rooms"), int):
            out["rooms"] = float(summary["rooms"])
        return out


def describe(run: Any) -> dict[str, Any]:
    """A JSON-able view of an MLflow run (tests, debugging)."""
    view: dict[str, Any] = json.loads(json.dumps({
        "run_id": run.info.run_id,
        "params": dict(run.data.params),
        "metrics": dict(run.data.metrics),
        "tags": dict(run.data.tags),
    }))
    return view
