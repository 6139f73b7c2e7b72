"""The Grafana dashboard queries only metrics the pipeline really pushes, and covers what an operator needs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from ceiling_grid import airflow_tasks as tasks
from ceiling_grid.observability import metrics as metrics_mod
from ceiling_grid.testing import room_payload
from tests.support.obs_backends import run_dag_in_process, task_info

REPO = Path(__file__).resolve().parents[1]
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "ceiling-grid.json"
STATSD_MAPPING = REPO / "deploy" / "statsd" / "mapping.yml"
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
                "offset", "inf", "nan"}
# The statsd-exporter exposes a mapped timer as a summary: the name, plus _sum and _count.
STATSD_SUFFIXES = ("", "_sum", "_count")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, label names, keywords or variables)."""
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\$\w+", "", text)  # Grafana variables
    names = set()
    for m in re.finditer(r"(?<![\w.])([A-Za-z_:][\w:]*)(\s*\()?", text):
        if m.group(2) is None and m.group(1) not in PROMQL_WORDS:
            names.add(m.group(1))
    return names


@pytest.fixture(scope="module")
def pushed_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every sample name the tasks of a real in-process DAG run push (the push itself is intercepted)."""
    data = tmp_path_factory.mktemp("dash")
    (data / "input").mkdir()
    (data / "input" / "private_office.json").write_text((REPO / "data" / "input" / "private_office.json").read_text())
    # a room that cannot be lit (all access panels but one tile): rule failures get counted too
    states = {(x, y): "access_panel" for x in range(8) for y in range(8) if (x, y) != (4, 4)}
    (data / "input" / "blocked.json").write_text(json.dumps(room_payload(8, 8, grid_id="blocked", states=states)))
    names: set[str] = set()

    def capture(self: metrics_mod.PipelineMetrics, job: str, grouping_key: Any = None, gateway: Any = None,
                timeout_s: float = 0.0, families: Any = None) -> bool:
        view = metrics_mod._PushView(self.registry, families)
        names.update(s.name for metric in view.collect() for s in metric.samples)
        return True

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(metrics_mod.PipelineMetrics, "push", capture)
        for var in ("PROMETHEUS_PUSHGATEWAY_URL", "OTEL_EXPORTER_OTLP_ENDPOINT", "MLFLOW_TRACKING_URI"):
            mp.delenv(var, raising=False)
        summary = run_dag_in_process(data, "dashboard_names")
        with pytest.raises(RuntimeError), tasks.task_scope(
            task_info("place_lights", 0, run_id="dashboard_names"), tasks.task_families("stage")):
            raise RuntimeError("a failed task try pushes its failure time")
    assert summary["compliant"] == 1 and summary["rooms"] == 2
    return names


def _exprs() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p.get("targets", [])]


def test_metric_name_parser_ignores_functions_labels_and_variables() -> None:
    """The parser keeps metric names only, also with by(), ranges, string matchers and $__range."""
    expr = ('histogram_quantile(0.95, sum by (le, model) (rate(x_bucket{job=~"$job", a="b{c}"}[$__range]))) '
            "/ on (model) group_left y_total or vector(0)")
    assert metric_names(expr) == {"x_bucket", "y_total"}


def test_dashboard_names_only_metrics_the_tasks_push(pushed_names: set[str]) -> None:
    """Every ceiling_grid_* name in a panel query is pushed by a real run's tasks (suffixes included)."""
    statsd = {m["name"] + s for m in yaml.safe_load(STATSD_MAPPING.read_text())["mappings"] for s in STATSD_SUFFIXES}
    assert "ceiling_grid_model_duration_seconds_bucket" in pushed_names  # the suffixed names are really there
    for title, expr in _exprs():
        names = metric_names(expr)
        assert names, f"{title}: no metric in {expr!r}"
        unknown = names - pushed_names - statsd
        assert not unknown, f"{title}: {sorted(unknown)} are not pushed by the pipeline nor mapped from StatsD"


def test_dashboard_shows_runs_durations_scores_selections_placements_and_rule_failures() -> None:
    """The panels cover the run count, task and model durations, scores by model, selections, placements, failures."""
    used = {name for _, expr in _exprs() for name in metric_names(expr)}
    assert {
        "ceiling_grid_last_success_timestamp_seconds",  # runs
        "ceiling_grid_dag_run_duration_seconds",
        "ceiling_grid_task_duration_seconds",
        "ceiling_grid_model_duration_seconds_bucket",
        "ceiling_grid_model_score",
        "ceiling_grid_model_selections_total",
        "ceiling_grid_components_placed_total",
        "ceiling_grid_rule_failures_total",
    } <= used
    score = next(expr for title, expr in _exprs() if "ceiling_grid_model_score" in expr)
    assert re.search(r"by \([^)]*\bmodel\b", score), "scores must be broken down by model"


def test_every_query_is_filtered_by_the_job_variable() -> None:
    """Pipeline panels honour the dashboard's job selector (DAG vs CLI pushes)."""
    dashboard = json.loads(DASHBOARD.read_text())
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["job"]
    for title, expr in _exprs():
        if any(name.startswith("ceiling_grid_") for name in metric_names(expr)):
            assert 'job=~"$job"' in expr, title
