"""The Airflow side of the DAG's tasks (adapter): task context, failure mapping, XCom guard, alerts.

The DAG file (``dags/ceiling_grid_pipeline.py``) calls one function here per task. Each binds the
task's identifiers to its logs, opens its telemetry, refuses unknown trigger keys, runs the batch
step from :mod:`ceiling_grid.orchestration` and guards what goes to XCom. An input error fails
the task on this try (``InputRejected``: one log line, no traceback, no retry); a transient one propagates,
so retries apply.
Airflow is imported lazily, so everything here also runs (and is tested) in plain Python.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import structlog

from . import orchestration as orch
from .config import Limits
from .errors import InputError, InputRejected, PayloadTooLargeError
from .logs import get_logger

__all__ = [
    "ALERT_WEBHOOK_ENV",
    "OBJECT_STORAGE_XCOM_BACKEND",
    "SKIPPED_XCOM_KEY",
    "TaskInfo",
    "alert_on_failure",
    "all_items",
    "asset_extra",
    "build_alert",
    "check_trigger",
    "guard_payload",
    "load_rooms_task",
    "plans_digest_task",
    "publish_task",
    "stage_task",
    "task_families",
    "task_scope",
]

log = get_logger(__name__)

ALERT_WEBHOOK_ENV = "CEILING_GRID_ALERT_WEBHOOK_URL"
DEFAULT_ALERT_TIMEOUT_S = 3.0
OBJECT_STORAGE_XCOM_BACKEND = "airflow.providers.common.io.xcom.backend.XComObjectStorageBackend"


# ----- task context and logging -----------------------------------------------------------

@dataclass(frozen=True)
class TaskInfo:
    """Who is running: the Airflow identifiers bound to every log line of a task."""

    dag_id: str = "ceiling_grid_pipeline"
    run_id: str = "manual"
    task_id: str = "task"
    try_number: int = 1
    map_index: int = -1

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> TaskInfo:
        """Build from an Airflow task context (``get_current_context()``)."""
        ti = context.get("ti") or context.get("task_instance")
        dag_run = context.get("dag_run")
        return cls(
            dag_id=str(getattr(ti, "dag_id", None) or getattr(dag_run, "dag_id", "") or ""),
            run_id=str(context.get("run_id") or getattr(dag_run, "run_id", "") or getattr(ti, "run_id", "")),
            task_id=str(getattr(ti, "task_id", "") or ""),
            try_number=int(getattr(ti, "try_number", 1) or 1),
            map_index=int(getattr(ti, "map_index", -1) if getattr(ti, "map_index", None) is not None else -1),
        )

    def fields(self) -> dict[str, Any]:
        return {"dag_id": self.dag_id, "run_id": self.run_id, "task_id": self.task_id,
                "try_number": self.try_number, "map_index": self.map_index}


@contextmanager
def task_scope(info: TaskInfo, families: frozenset[str] | None = None) -> Iterator[None]:
    """Bind the task identifiers to every structlog line, and turn input errors into a fail-now.

    ``InputError`` (malformed, oversized or impossible room) and ``PayloadTooLargeError`` cannot be
    cured by a retry: they are logged once, as one ``input_rejected`` line with the whole message,
    and end the task as ``InputRejected`` (exit 1, no traceback), which the DAG's retry policy
    (``retry_policy`` in the DAG's default_args) fails on this try. Anything else (e.g.
    ``TransientError``) propagates unchanged, so Airflow's retries apply. ``families`` are the metric
    families the task pushes at exit (default: its own timings only).
    """
    from .observability.task import TaskTelemetry

    extra = {} if families is None else {"families": families}
    # Telemetry: a task span on the DAG run's trace, metrics pushed and spans flushed at exit.
    with structlog.contextvars.bound_contextvars(**info.fields()), TaskTelemetry.from_info(info, **extra):
        try:
            yield
        except (InputError, PayloadTooLargeError) as exc:
            log.error("input_rejected",  # noqa: TRY400 - a rejected input needs its message, not a traceback
                      error_type=type(exc).__name__, error=str(exc), retry=False)
            raise InputRejected(exc) from None


# ----- payload guard ----------------------------------------------------------------------

T = TypeVar("T")


def guard_payload(obj: T, limits: Limits, what: str, chunk_size: int | None = None) -> T:
    """Return ``obj`` unchanged if its JSON is within ``limits.xcom_max_bytes``; else raise a clear error."""
    size = len(json.dumps(obj, separators=(",", ":")).encode())
    if size > limits.xcom_max_bytes:
        backend = (
            f"configure the object-storage XCom backend (AIRFLOW__CORE__XCOM_BACKEND={OBJECT_STORAGE_XCOM_BACKEND} "
            "with AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH) and raise CEILING_GRID_XCOM_MAX_BYTES"
        )
        if isinstance(obj, list) and len(obj) <= 1:
            fix = f"a smaller chunk_size cannot help: one room is over the guard. Fix: {backend}"
        else:
            smaller = f"a smaller chunk_size (now {chunk_size})" if chunk_size else "a smaller chunk_size"
            fix = f"Fix: trigger with {smaller}, or {backend}"
        raise PayloadTooLargeError(
            f"{what}: XCom payload is {size} bytes, over the guard of {limits.xcom_max_bytes} bytes "
            f"(CEILING_GRID_XCOM_MAX_BYTES); {fix}"
        )
    return obj


# ----- trigger request ------------------------------------------------------------------------

def check_trigger(conf: Mapping[str, Any] | None, known: Iterable[str]) -> None:
    """Refuse run-conf keys the DAG does not declare (a typo such as ``chunksize``), naming the closest one."""
    import difflib

    names = sorted(str(k) for k in known)
    unknown = sorted(str(k) for k in (conf or {}) if str(k) not in names)
    if not unknown:
        return
    described = []
    for key in unknown:
        close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
        described.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise InputError(f"run conf: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(described)}; "
                     f"this DAG takes {', '.join(names)} (fix: correct or drop the key)")


# ----- the three task bodies -----------------------------------------------------------------

def task_families(kind: str) -> frozenset[str]:
    """Metric families a task of ``kind`` (``load``, ``stage``, ``publish``) pushes; every task its own timings."""
    from .observability.metrics import MODEL_FAMILIES, RUN_FAMILIES, TASK_FAMILIES

    return {"stage": MODEL_FAMILIES, "publish": RUN_FAMILIES}.get(kind, frozenset()) | TASK_FAMILIES


SKIPPED_XCOM_KEY = "skipped"  # load_rooms -> publish: the files on_invalid='skip' left out


def load_rooms_task(context: Mapping[str, Any], declared: Iterable[str],
                    default_data_dir: Path | None = None) -> list[list[dict[str, Any]]]:
    """``load_rooms``: check the trigger and the output folder, validate every room, chunk them for XCom.

    With ``on_invalid='skip'``, the files left out go to XCom under ``skipped`` for ``publish``.
    """
    p = context["params"]
    with task_scope(TaskInfo.from_context(context), task_families("load")):
        check_trigger(getattr(context.get("dag_run"), "conf", None), declared)
        limits = Limits.from_env()
        chunk_size = int(p["chunk_size"])
        loaded = orch.load_batch(p["inputs"], detector_standard=p["detector_standard"], room_type=p["room_type"],
                                 chunk_size=chunk_size, base=orch.data_dir(default_data_dir), limits=limits,
                                 output_dir=p["output_dir"], run_id=str(context["run_id"]),
                                 on_invalid=str(p.get("on_invalid", "fail")))
        for i, chunk in enumerate(loaded.chunks):
            guard_payload(chunk, limits, f"load_rooms chunk {i}", chunk_size)
        skipped = guard_payload([f.to_dict() for f in loaded.skipped], limits, "load_rooms skipped files")
        ti = context.get("ti")
        if skipped and ti is not None:
            ti.xcom_push(key=SKIPPED_XCOM_KEY, value=skipped)
        return loaded.chunks


def stage_task(stage: str, chunk: Sequence[Mapping[str, Any]], context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``place_<stage>``: run one stage on every room of a chunk; the updated chunk goes back to XCom."""
    p = context["params"]
    with task_scope(TaskInfo.from_context(context), task_families("stage")):
        limits = Limits.from_env()
        out = orch.run_stage_on_chunk(stage, chunk, fail_on_infeasible=p["on_infeasible"] == "fail", limits=limits)
        return guard_payload(out, limits, f"{stage} chunk", int(p["chunk_size"]))


def all_items(chunks: Iterable[T]) -> list[T]:
    """Every item of a mapped task's results in one request.

    Iterating Airflow's lazy XCom sequence asks for one item past the end, which the supervisor
    logs as a false ``XCom not found`` error on every successful run; a slice is one request.
    """
    return list(chunks[:]) if isinstance(chunks, Sequence) else list(chunks)


def _skipped_files(context: Mapping[str, Any]) -> list[orch.SkippedFile]:
    """The files load_rooms skipped (validated again: XCom is data from another process)."""
    ti = context.get("ti")
    raw = ti.xcom_pull(task_ids="load_rooms", key=SKIPPED_XCOM_KEY) if ti is not None else None
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(f, Mapping) and isinstance(f.get("source"), str)
                                            and isinstance(f.get("error"), str) for f in raw):
        raise InputError(f"XCom {SKIPPED_XCOM_KEY!r} of load_rooms is not a list of {{source, error}} "
                         "(fix: clear and re-run the whole DAG run)")
    return [orch.SkippedFile(str(f["source"]), str(f["error"])) for f in raw]


def asset_extra(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The asset event's ``extra``: what a downstream DAG needs to find and judge the run's plans."""
    from .published import run_counts

    return {"run_id": summary["run_id"], **run_counts(summary), "output_dir": summary["output_dir"],
            "folder": summary["folder"]}


def publish_task(chunks: Iterable[Sequence[Mapping[str, Any]]], context: Mapping[str, Any],
                 default_data_dir: Path | None = None, asset: Any = None) -> dict[str, Any]:
    """``publish``: evaluate every room, write the run folder, return the run's summary.

    With ``asset`` (the task's outlet), its asset event carries :func:`asset_extra`.
    """
    p = context["params"]
    with task_scope(TaskInfo.from_context(context), task_families("publish")):
        limits = Limits.from_env()
        summary = orch.publish(all_items(chunks), run_id=str(context["run_id"]), output_dir=p["output_dir"],
                               base=orch.data_dir(default_data_dir), limits=limits,
                               skipped=_skipped_files(context))
        if asset is not None and context.get("outlet_events") is not None:
            context["outlet_events"][asset].extra.update(asset_extra(summary))
        return guard_payload(summary, limits, "publish summary")


def plans_digest_task(context: Mapping[str, Any], asset: Any,
                      default_data_dir: Path | None = None) -> list[dict[str, Any]]:
    """A consumer of the plans asset: per triggering event, the run's counts and the rooms that need a look.

    The event's ``extra`` only names the run; its summary is read from the run's own folder, found
    under the output root by the run id (a folder elsewhere, or of another run, is never read).
    """
    from .published import RunCatalog, run_counts
    from .runs import output_root

    with task_scope(TaskInfo.from_context(context)):
        catalog = RunCatalog(output_root(orch.data_dir(default_data_dir)))
        digests = []
        for event in context["triggering_asset_events"][asset]:
            extra = getattr(event, "extra", None) or {}
            run_id = extra.get("run_id")
            run = catalog.find(run_id) if isinstance(run_id, str) else None
            if run is None:
                log.warning("plans_not_found", run_id=str(run_id)[:250],
                            hint="the run folder is gone or was never published under this output root")
                continue
            summary = run.summary
            counts = run_counts(summary)
            attention = sorted(str(r.get("grid_id")) for r in summary.get("results", []) if not r.get("compliant"))
            digest = {"run_id": run_id, "folder": run.path.name, "rooms": counts["rooms"],
                      "compliant": counts["compliant"], "needs_attention": attention,
                      "skipped": [str(f.get("source")) for f in summary.get("skipped", [])]}
            log.info("plans_received", **digest)
            digests.append(digest)
        return digests


# ----- alerting ---------------------------------------------------------------------------------

def build_alert(context: Mapping[str, Any]) -> dict[str, Any]:
    """The alert of a failed task as one flat JSON-able dict: dag, task, run, try, exception type and text."""
    info = TaskInfo.from_context(context)
    exc = context.get("exception")
    kind = exc.error_type if isinstance(exc, InputRejected) else type(exc).__name__
    text = exc.message if isinstance(exc, InputRejected) else str(exc)
    return {
        "alert": "task_failed",
        "dag_id": info.dag_id,
        "task_id": info.task_id,
        "run_id": info.run_id,
        "try_number": info.try_number,
        "map_index": info.map_index,
        "exception_type": kind if isinstance(exc, BaseException) else None,
        # "error", not "exception": structlog treats an "exception" key as a traceback to format.
        "error": text[:2000] if exc is not None else None,
        "retry": not isinstance(exc, InputRejected),
    }


def alert_on_failure(
    context: Mapping[str, Any], *, post: Callable[[str, dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """``on_failure_callback``: log ONE structured ``task_failed_alert`` line, and POST it to the webhook if set.

    The webhook (``$CEILING_GRID_ALERT_WEBHOOK_URL``) gets the alert as JSON with a short timeout;
    a failing webhook is logged and never raises (an alert must not mask the task's own failure).
    """
    alert = build_alert(context)
    shown = {k: v for k, v in alert.items() if k != "alert"}
    if isinstance(context.get("exception"), InputRejected):  # its message is the input_rejected line above
        shown["error"] = "see input_rejected above"
    log.error("task_failed_alert", **shown)
    url = os.environ.get(ALERT_WEBHOOK_ENV, "").strip()
    if url:
        try:
            (post or _post_json)(url, alert)
        except Exception as exc:  # noqa: BLE001 - never let the alert path raise
            log.warning("alert_webhook_failed", url=url, error=f"{type(exc).__name__}: {exc}")
    return alert


def _post_json(url: str, payload: dict[str, Any]) -> None:
    import httpx

    response = httpx.post(url, json=payload, timeout=DEFAULT_ALERT_TIMEOUT_S)
    response.raise_for_status()
