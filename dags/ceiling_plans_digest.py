"""
### ceiling_plans_digest

An example of a DAG **scheduled on new ceiling plans**: every successful `publish` of
`ceiling_grid_pipeline` emits an event of the asset `ceiling_grid_plans`, whose `extra` carries the
run's summary (run id, rooms, compliant, infeasible, skipped, output folder). This DAG then runs once
and logs, per published run, its counts and the rooms that need a designer's look. Replace the task
with your own: a BIM sync, a report, a notification.

Created paused: unpause it in the UI (or `PATCH /api/v2/dags/ceiling_plans_digest`) to follow new plans.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import Asset, dag, get_current_context, task

# The outlet of ceiling_grid_pipeline's publish task (same name and group).
CEILING_PLANS = Asset(name="ceiling_grid_plans", group="ceiling-grid")


@dag(
    dag_id="ceiling_plans_digest",
    doc_md=__doc__,
    schedule=[CEILING_PLANS],
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    is_paused_upon_creation=True,
    tags=["ceiling-grid", "example"],
)
def ceiling_plans_digest() -> None:
    @task
    def digest() -> list[dict[str, Any]]:
        """Per triggering asset event: the run's counts and the rooms that are not compliant."""
        from ceiling_grid.airflow_tasks import plans_digest_task

        return plans_digest_task(get_current_context(), CEILING_PLANS)

    digest()


ceiling_plans_digest()
