"""The docs say what the code does (the rough edges a new user hit; the REST section runs in test_docs_rest.py)."""

from __future__ import annotations

import re
from pathlib import Path

from ceiling_grid.runs import run_folder_name

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
QUICKSTART = (REPO / "QUICKSTART.md").read_text(encoding="utf-8")


def test_make_trigger_is_described_as_rest_that_waits() -> None:
    row = next(line for line in README.splitlines() if "`make trigger`" in line)
    assert "(CLI)" not in row and "REST" in row and "NO_WAIT=1" in row
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^trigger: setup ## trigger one run over REST .*wait", makefile, re.MULTILINE)


def test_the_run_folder_rule_is_documented_with_a_true_example() -> None:
    run_id = "manual__2026-12-02T00:41:11.710663+00:00"
    slug, digest = run_folder_name(run_id).rsplit("-", 1)
    assert f"`{run_id}` writes to `{slug}-<hash>/`" in QUICKSTART.replace("\n", " ")
    assert len(digest) == 10 and "first 10 hex digits of the SHA-256" in QUICKSTART.replace("\n", " ")


def test_the_local_task_logs_are_in_airflow_home() -> None:
    local = QUICKSTART.split("## Path B", 1)[1].split("\n## ", 1)[0]
    assert "`airflow_home/logs/dag_id=ceiling_grid_pipeline/run_id=<run_id>/task_id=<task>/attempt=<n>.log`" in local
    assert "`airflow_home/stack-logs/<component>.log`" in local


def test_env_example_does_not_ask_to_unpause_a_dag_created_unpaused() -> None:
    env = (REPO / ".env.example").read_text(encoding="utf-8")
    assert "unpause ceiling_grid_pipeline" not in env
    assert "is_paused_upon_creation=False" in env
    dag = (REPO / "dags" / "ceiling_grid_pipeline.py").read_text(encoding="utf-8")
    assert "is_paused_upon_creation=False" in dag
    trigger = QUICKSTART.split("**Trigger a run.**", 1)[1].split("**See the plans.**", 1)[0]
    assert "dags unpause" not in trigger


def test_the_consumer_dag_in_the_docs_uses_the_published_asset() -> None:
    dag = (REPO / "dags" / "ceiling_grid_pipeline.py").read_text(encoding="utf-8")
    asset = 'Asset(name="ceiling_grid_plans", group="ceiling-grid")'
    assert asset in dag and asset in QUICKSTART
    assert asset in (REPO / "dags" / "ceiling_plans_digest.py").read_text(encoding="utf-8")
