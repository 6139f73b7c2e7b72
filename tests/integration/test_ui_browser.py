"""The Airflow UI in headless Chromium: log in, trigger the DAG from its trigger form, see the run succeed."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from tests.support.services import require

pytestmark = [pytest.mark.integration, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-output"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
UI_TIMEOUT_MS = 60_000
RUN_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def page(airflow_stack: Any) -> Iterator[Any]:
    """A logged-in browser page on the session's Airflow stack."""
    require("chromium", CHROMIUM.exists(), f"{CHROMIUM} not found")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            tempfile.mkdtemp(prefix="cg_chromium_"), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1600, "height": 1000})
        ctx.set_default_timeout(UI_TIMEOUT_MS)
        p = ctx.new_page()
        p.goto(f"{airflow_stack.base_url}/dags/ceiling_grid_pipeline")
        p.fill("input[name='username']", airflow_stack.username)
        p.fill("input[name='password']", airflow_stack.password)
        p.click("button[type='submit']")
        p.wait_for_url(lambda url: "/auth/login" not in url)
        try:
            yield p
        finally:
            ctx.close()


def test_trigger_from_the_ui_form_and_see_success(page: Any, airflow_stack: Any, client: Any) -> None:
    """The trigger form shows the params; a UI-triggered run with chunk_size 3 succeeds and the run page says so."""
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(exist_ok=True)
    page.goto(f"{airflow_stack.base_url}/dags/ceiling_grid_pipeline", wait_until="networkidle")
    expect(page).to_have_title("ceiling_grid_pipeline - Airflow")
    page.get_by_role("button", name="Trigger Dag").click()
    dialog = page.get_by_role("dialog")
    for label in ("Room files or folders", "Smoke-detector standard", "Room type", "Output folder",
                  "Rooms per mapped task", "Impossible room"):
        expect(dialog.get_by_text(label).first).to_be_visible()
    dialog.get_by_label("Rooms per mapped task").fill("3")
    page.screenshot(path=str(SCREENSHOTS / "airflow_ui_trigger_form.png"))
    dialog.get_by_role("button", name="Trigger", exact=True).click()

    page.wait_for_url("**/dags/ceiling_grid_pipeline/runs/**")
    run_id = unquote(page.url.split("/runs/", 1)[1].split("?", 1)[0].rstrip("/"))
    run = airflow_stack.wait_run(client, run_id, timeout=RUN_TIMEOUT_S)
    assert run["state"] == "success", run
    assert run["conf"]["chunk_size"] == 3 and run["triggered_by"] == "ui"

    page.reload(wait_until="networkidle")
    header = page.get_by_role("heading", name=run_id, exact=True).locator("..")
    expect(header).to_contain_text("Success")
    page.screenshot(path=str(SCREENSHOTS / "airflow_ui_run_success.png"))
    page.get_by_role("button", name="Show Graph").first.click()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(SCREENSHOTS / "airflow_ui_graph.png"))
    summary = airflow_stack.xcom(client, run_id, "publish")
    mapped = [ti for ti in airflow_stack.task_instances(client, run_id) if ti["task_id"] == "place_lights"]
    assert len(mapped) == -(-summary["rooms"] // 3)

    # The run's "Ceiling plans" tab (the plugin's dag_run external view): one plan per room, as many luminaire
    # symbols drawn as its report counts.
    page.goto(f"{airflow_stack.base_url}/dags/ceiling_grid_pipeline/runs/{run_id}", wait_until="networkidle")
    page.get_by_role("link", name="Ceiling plans").first.click()
    page.wait_for_url("**/plugin/ceiling-plans")
    frame = page.frame_locator("iframe").first
    expect(frame.get_by_role("heading", name="Ceiling plans")).to_be_visible()
    expect(frame.locator("table.rooms tr[data-grid-id]")).to_have_count(summary["rooms"])
    page.screenshot(path=str(SCREENSHOTS / "airflow_ui_ceiling_plans_tab.png"), full_page=True)
    for room in summary["results"]:
        figure = frame.locator(f'figure.plan[data-grid-id="{room["grid_id"]}"]')
        expect(figure.locator("svg")).to_have_count(1)
        expect(figure.locator("g.light-layer g.luminaire")).to_have_count(room["lights"])
        report = airflow_stack.plan_file(client, run_id, f'{room["grid_id"]}.report.json')
        assert report["headline"]["lights"] == room["lights"]
    frame.locator('figure.plan[data-grid-id="classroom"]').screenshot(
        path=str(SCREENSHOTS / "airflow_ui_ceiling_plan_classroom.png"))

    # The task log view shows every flag's value (a JSON boolean used to render as a bare "compliant=").
    page.goto(f"{airflow_stack.base_url}/dags/ceiling_grid_pipeline/runs/{run_id}/tasks/publish",
              wait_until="networkidle")
    published = page.get_by_text("room_published").first
    expect(published).to_be_visible()
    lines = [ln for ln in page.locator("body").inner_text().splitlines() if "room_published" in ln]
    assert len(lines) == summary["rooms"]
    for line in lines:
        assert re.search(r"\bcompliant=(true|false)\b", line), line
    page.screenshot(path=str(SCREENSHOTS / "airflow_ui_publish_log.png"))
