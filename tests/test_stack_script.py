"""scripts/stack.py's reporting, without a stack: the per-room table and a failed run's one-line errors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import load_stack_module

MESSAGE = "1 of 1 room files are invalid:\nbad/bad-room.json: cells[1].x = 7 is outside width 3 (fix: use 0 <= x < 3)"


def test_a_rejected_input_is_reported_once() -> None:
    """The task log holds input_rejected and the alert; make demo / make trigger print the message once."""
    mod = load_stack_module()
    events: list[dict[str, Any]] = [
        {"event": "input_rejected", "level": "error", "error_type": "InputError", "error": MESSAGE, "retry": "false"},
        {"event": "Task exited", "level": "error", "exit_code": 1},
        {"event": "task_failed_alert", "level": "error", "error": "see input_rejected above"},
    ]
    assert mod.failure_lines(events) == [f"  input_rejected: {MESSAGE}"]


def test_an_exception_and_its_alert_are_one_line() -> None:
    mod = load_stack_module()
    events: list[dict[str, Any]] = [
        {"event": "Task failed with exception", "level": "error",
         "error_detail": [{"exc_type": "TransientError", "exc_value": "disk full"}]},
        {"event": "task_failed_alert", "level": "error", "error": "disk full"},
        {"event": "progress", "level": "info", "error": "not an error line"},
    ]
    assert mod.failure_lines(events) == ["  Task failed with exception: TransientError: disk full"]


def test_the_summary_table_has_em_u0_and_the_skipped_files(capsys: pytest.CaptureFixture[str]) -> None:
    mod = load_stack_module()
    mod.print_summary({"rooms": 1, "compliant": 1, "output_dir": "/x", "results": [
        {"grid_id": "office", "compliant": True, "lights": 4, "air_supply": 1, "smoke_detectors": 1,
         "em_lux": 608.4, "u0": 0.8812, "models": {"lights": "LightModelA"}}],
        "skipped": [{"source": "bad/b.json", "error": "bad/b.json: width is missing (fix: add the field)"}]})
    out = capsys.readouterr().out.splitlines()
    assert out[1].split() == ["office", "COMPLIANT", "4", "1", "1", "608", "0.88", "LightModelA"]
    assert out[2] == "skipped bad/b.json: bad/b.json: width is missing (fix: add the field)"
    assert out[3] == "1 of 1 rooms compliant, 1 files skipped; outputs in /x"
