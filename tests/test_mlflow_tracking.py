"""MLflow tracking against a real ``mlflow server`` (SQLite backend, local artifacts, loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ceiling_grid.observability.mlflow_tracking import RUN_ID_TAG, metric_key
from tests.support.obs_backends import DAG_ID, MlflowServer, only_backend, run_dag_in_process

REPO = Path(__file__).resolve().parents[1]
MLFLOW_PORT = 28240
ROOMS = ("private_office.json", "corridor.json")


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    server = MlflowServer(tmp_path_factory.mktemp("mlflow"), MLFLOW_PORT)
    try:
        yield server.spawn().wait_ready()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mlflow_data")
    (root / "input").mkdir()
    for name in ROOMS:
        (root / "input" / name).write_text((REPO / "data" / "input" / name).read_text())
    return root


def _runs(uri: str, run_id: str) -> list[object]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(DAG_ID)
    assert exp is not None
    return list(client.search_runs([exp.experiment_id], filter_string=f"tags.`{RUN_ID_TAG}` = '{run_id}'"))


def test_publish_logs_one_mlflow_run_with_params_metrics_and_artifacts(
    mlflow_server: MlflowServer, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Experiment = dag_id; the run has room params, model versions, every light score, selections and files."""
    from mlflow.tracking import MlflowClient

    only_backend(monkeypatch, "MLFLOW_TRACKING_URI", mlflow_server.url)
    summary = run_dag_in_process(data, "mlflow_it_1")
    (run,) = _runs(mlflow_server.url, "mlflow_it_1")
    params, metrics, tags = run.data.params, run.data.metrics, run.data.tags  # type: ignore[attr-defined]
    results = {r["grid_id"]: r for r in summary["results"]}
    for gid, r in results.items():
        assert params[metric_key("room", gid, "room_type")] in {"office", "corridor"}
        assert params[metric_key("room", gid, "standard")]
        for model in ("LightModelA", "LightModelB", "LightModelC"):
            assert 0 <= metrics[metric_key(gid, "lights", model, "score")] <= 200
        chosen = r["models"]["lights"]
        assert tags[metric_key("selected", gid, "lights")] == chosen
        assert metrics[metric_key(gid, "lights", "selected_score")] == pytest.approx(
            metrics[metric_key(gid, "lights", chosen, "score")], abs=1e-3)
        assert metrics[metric_key(gid, "lights")] == r["lights"]
        assert metrics[metric_key(gid, "detectors")] == r["smoke_detectors"]
        assert metrics[metric_key(gid, "compliant")] == (1.0 if r["compliant"] else 0.0)
    assert {k for k in params if k.startswith("model.")} == {
        f"model.{m}.version" for m in ("LightModelA", "LightModelB", "LightModelC", "AirSupplyModel",
                                       "SmokeDetectorModel")}
    assert metrics["rooms"] == len(results) and metrics["rooms_compliant"] == summary["compliant"]
    assert metrics["total_lights"] == sum(r["lights"] for r in results.values())
    assert tags[RUN_ID_TAG] == "mlflow_it_1" and run.info.status == "FINISHED"  # type: ignore[attr-defined]
    client = MlflowClient(tracking_uri=mlflow_server.url)
    files = {a.path for a in client.list_artifacts(run.info.run_id)}  # type: ignore[attr-defined]
    assert "summary.json" in files
    for gid in results:
        room_files = {Path(a.path).name for a in client.list_artifacts(run.info.run_id, f"rooms/{gid}")}  # type: ignore[attr-defined]
        assert room_files == {f"{gid}.svg", f"{gid}.report.json"}
    svg = client.download_artifacts(run.info.run_id, f"rooms/{next(iter(results))}", str(data / "dl"))  # type: ignore[attr-defined]
    assert any(p.read_text().lstrip().startswith("<svg") or "<svg" in p.read_text()[:300]
               for p in Path(svg).glob("*.svg"))


def test_a_retried_publish_reuses_the_mlflow_run(
    mlflow_server: MlflowServer, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Running the same DAG run id again logs into the existing MLflow run; a new run id makes a new one."""
    only_backend(monkeypatch, "MLFLOW_TRACKING_URI", mlflow_server.url)
    run_dag_in_process(data, "mlflow_it_2")
    (first,) = _runs(mlflow_server.url, "mlflow_it_2")
    run_dag_in_process(data, "mlflow_it_2")
    (again,) = _runs(mlflow_server.url, "mlflow_it_2")
    assert again.info.run_id == first.info.run_id  # type: ignore[attr-defined]
    assert again.data.metrics == first.data.metrics  # type: ignore[attr-defined]
    assert len(_runs(mlflow_server.url, "mlflow_it_1")) == 1
