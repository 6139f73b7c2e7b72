"""Library log events: booleans travel as "true"/"false" (Airflow's UI log view drops a JSON boolean's value)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from ceiling_grid import orchestration as orch
from ceiling_grid.logs import get_logger, shown
from ceiling_grid.testing import room_payload


@pytest.fixture(autouse=True)
def default_structlog() -> Iterator[None]:
    """structlog's defaults (an earlier test may have configured the CLI's warning-level filter)."""
    saved: dict[str, Any] = structlog.get_config()
    structlog.reset_defaults()
    yield
    structlog.configure(**saved)


def test_shown_turns_only_booleans_into_words() -> None:
    assert [shown(v) for v in (True, False, 0, 1, None, "x", 0.5)] == ["true", "false", 0, 1, None, "x", 0.5]


def test_every_level_and_bound_fields_log_flags_as_words() -> None:
    with capture_logs() as events:
        log = get_logger("ceiling_grid.test").bind(retry=False)
        log.info("a", compliant=True, count=3)
        log.warning("b", ok=False)
        log.error("c", infeasible=True)
    assert [(e["event"], e.get("compliant"), e.get("ok"), e.get("infeasible")) for e in events] == [
        ("a", "true", None, None), ("b", None, "false", None), ("c", None, None, "true")]
    assert all(e["retry"] == "false" for e in events) and events[0]["count"] == 3


def test_the_pipelines_own_events_carry_no_json_booleans(tmp_path: Path) -> None:
    """The events a DAG run logs (stage selection, models, publish) hold no bare True/False."""
    (tmp_path / "input").mkdir()
    (tmp_path / "input" / "r.json").write_text(json.dumps(room_payload(8, 6, grid_id="r")))
    with capture_logs() as events:
        chunks = orch.load_rooms(["input"], base=tmp_path)
        for stage in orch.STAGES:
            chunks = [orch.run_stage_on_chunk(stage, chunks[0], fail_on_infeasible=False)]
        orch.publish(chunks, run_id="logs", base=tmp_path)
    published = [e for e in events if e["event"] == "room_published"]
    assert published and published[0]["compliant"] in ("true", "false")
    flags = [(e["event"], k) for e in events for k, v in e.items() if isinstance(v, bool)]
    assert flags == []


def test_the_calling_line_is_the_callsite_not_this_module() -> None:
    """Airflow's ``loc=`` names the line that logged: the flag processor adds no wrapper frame."""
    callsite = structlog.processors.CallsiteParameterAdder([structlog.processors.CallsiteParameter.MODULE])
    with capture_logs(processors=[callsite]) as events:
        get_logger("ceiling_grid.test").info("here", ok=True)
    assert events[0]["module"] == "test_logs" and events[0]["ok"] == "true"
