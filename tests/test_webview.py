"""The plan view: the run catalog, the page data and HTML, and the app's routes (Airflow's auth is tested on the
running stack in tests/integration/test_plan_view.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ceiling_grid import orchestration as orch
from ceiling_grid.runs import RUN_MARKER, run_folder_name
from ceiling_grid.testing import room_payload
from ceiling_grid.webview import RunCatalog, run_data, valid_run_id
from ceiling_grid.webview.app import create_app
from ceiling_grid.webview.view import run_link

RUN_ID = "manual__2026-12-02T00:41:11.710663+00:00"


def _publish(data: Path, run_id: str, output_dir: str = "output") -> dict[str, Any]:
    chunks = orch.load_rooms(["input"], base=data, chunk_size=10)
    for stage in orch.STAGES:
        chunks = [orch.run_stage_on_chunk(stage, chunks[0], fail_on_infeasible=False)]
    return dict(orch.publish(chunks, run_id=run_id, output_dir=output_dir, base=data))


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A data folder with two small rooms laid out and published under RUN_ID, and a second run in output/b."""
    data = tmp_path_factory.mktemp("webview") / "data"
    (data / "input").mkdir(parents=True)
    (data / "input" / "office_a.json").write_text(json.dumps(room_payload(10, 8, grid_id="office_a")))
    (data / "input" / "office_b.json").write_text(json.dumps(room_payload(8, 6, grid_id="office_b")))
    summary = _publish(data, RUN_ID)
    _publish(data, "second_run", output_dir="output/b")
    return data, summary


@pytest.fixture
def client(published: tuple[Path, dict[str, Any]]) -> TestClient:
    catalog = RunCatalog(published[0] / "output")
    return TestClient(create_app(lambda: catalog, dependencies=[]))


def test_run_ids_are_validated() -> None:
    assert valid_run_id(RUN_ID) and valid_run_id("scheduled__x") and valid_run_id("a b")
    for bad in ("", "../../etc", "a/b", "a\\b", "x" * 251, "a\x00b", "line\nbreak"):
        assert not valid_run_id(bad), bad


def test_catalog_finds_runs_by_id_at_any_depth_and_lists_the_newest_first(published: tuple[Path, Any]) -> None:
    data, summary = published
    catalog = RunCatalog(data / "output")
    run = catalog.find(RUN_ID)
    assert run is not None and run.path == Path(summary["output_dir"])
    nested = catalog.find("second_run")
    assert nested is not None and nested.path.parent.name == "b"
    assert [r.run_id for r in catalog.recent()] == ["second_run", RUN_ID]
    assert catalog.find("manual__2026-12-02T00_41_11.710663_00_00") is None  # the folder's slug is not an id


def test_a_folder_whose_marker_names_another_run_is_not_that_run(tmp_path: Path) -> None:
    folder = tmp_path / run_folder_name("mine")
    folder.mkdir()
    (folder / RUN_MARKER).write_text(json.dumps({"run_id": "theirs"}))
    (folder / "summary.json").write_text("{}")
    assert RunCatalog(tmp_path).find("mine") is None
    assert RunCatalog(tmp_path).recent() == []


def test_files_are_served_only_if_the_summary_lists_them(published: tuple[Path, Any], tmp_path: Path) -> None:
    data, _ = published
    run = RunCatalog(data / "output").find(RUN_ID)
    assert run is not None
    assert run.file("office_a.svg") is not None and run.file("summary.json") is not None
    (run.path / "extra.txt").write_text("not listed")
    try:
        for name in ("extra.txt", RUN_MARKER, "../office_a.svg", "/etc/passwd", "office_a.svg/..", ""):
            assert run.file(name) is None, name
    finally:
        (run.path / "extra.txt").unlink()


def test_run_data_has_one_row_per_room_with_rounded_figures(published: tuple[Path, Any]) -> None:
    data, summary = published
    run = RunCatalog(data / "output").find(RUN_ID)
    assert run is not None
    out = run_data(run)
    assert out["rooms"] == summary["rooms"] == 2 and out["compliant"] == summary["compliant"]
    by_id = {r["grid_id"]: r for r in out["results"]}
    published_rows = {r["grid_id"]: r for r in summary["results"]}
    for grid_id, row in by_id.items():
        src = published_rows[grid_id]
        assert row["lights"] == src["lights"] and row["smoke_detectors"] == src["smoke_detectors"]
        assert row["em_lux"] == round(src["em_lux"]) and row["u0"] == round(src["u0"], 2)
        assert row["worst_coverage_m"] == round(src["worst_coverage_m"], 2)
        assert row["regularity"]["rows"] >= 1 and row["models"]["lights"].startswith("LightModel")
        assert row["files"]["svg"] == f"{grid_id}.svg"


def test_the_run_page_shows_the_table_and_every_plan_inline(client: TestClient, published: tuple[Path, Any]) -> None:
    _, summary = published
    page = client.get(f"/runs/{run_link(RUN_ID)}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "<?xml" not in html and html.count("<svg") == summary["rooms"]
    for room in summary["results"]:
        figure = re.search(rf'<figure class="plan" id="room-\d+" data-grid-id="{room["grid_id"]}">(.*?)</figure>',
                           html, re.DOTALL)
        assert figure is not None
        layer = re.search(r'<g class="light-layer">(.*?)</g></g>', figure.group(1) + "</g>", re.DOTALL)
        assert layer is not None and layer.group(0).count('<g class="luminaire">') == room["lights"]
    assert f"./{run_link(RUN_ID)}/files/office_a.report.json" in html


def test_the_json_api_and_the_run_list(client: TestClient) -> None:
    one = client.get(f"/api/runs/{run_link(RUN_ID)}")
    assert one.status_code == 200 and one.json()["run_id"] == RUN_ID and one.json()["rooms"] == 2
    runs = client.get("/api/runs").json()
    assert [r["run_id"] for r in runs] == ["second_run", RUN_ID] and runs[1]["rooms"] == 2
    page = client.get("/runs")
    assert page.status_code == 200 and f'href="./runs/{run_link(RUN_ID)}"' in page.text


def test_unknown_runs_traversal_and_unlisted_files_are_404(client: TestClient) -> None:
    missing = client.get("/runs/no_such_run")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "No ceiling plans for this run" in missing.text and "no_such_run" in missing.text
    assert client.get("/api/runs/no_such_run").json()["detail"].startswith("no published ceiling-grid run")
    assert client.get("/runs/..%2F..%2Fetc").status_code == 404
    assert client.get(f"/runs/{run_link(RUN_ID)}/files/..%2F..%2Finput%2Foffice_a.json").status_code == 404
    assert client.get(f"/runs/{run_link(RUN_ID)}/files/{RUN_MARKER}").status_code == 404
    svg = client.get(f"/runs/{run_link(RUN_ID)}/files/office_a.svg")
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
    assert "script-src" not in svg.headers["content-security-policy"]
    assert svg.headers["content-security-policy"].startswith("default-src 'none'")
