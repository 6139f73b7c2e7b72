"""The plan view's FastAPI app, mounted by the Airflow api-server at ``/ceiling-grid``.

Routes (every one behind Airflow's own auth: no credentials 401, a bad token 403, a user who may not
read runs of the DAG 403; a valid UI session cookie or JWT passes; a viewer may read):

* ``GET /runs``: the recent runs, newest first, with compliant/total (the UI's nav entry).
* ``GET /runs/{run_id}``: one run's room table and plans (the "Ceiling plans" tab of a DAG run).
* ``GET /runs/{run_id}/files/{name}``: a file the run's ``summary.json`` lists.
* ``GET /api/runs`` and ``GET /api/runs/{run_id}``: the same data as JSON.

An unknown or malformed run id, or an unlisted file, is 404; only the output root is ever read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from ..published import DEFAULT_RECENT, RunCatalog, RunFolder
from .pages import not_found_page, run_list_page, run_page
from .view import run_data, run_list_entry

__all__ = ["DAG_ID", "airflow_auth", "create_app", "default_catalog"]

DAG_ID = "ceiling_grid_pipeline"
_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store", "Referrer-Policy": "same-origin"}
_FILE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"  # a served SVG never runs script


def default_catalog() -> RunCatalog:
    """The runs under the pipeline's output root (``$CEILING_GRID_OUTPUT_ROOT`` below the data folder)."""
    from ..orchestration import data_dir
    from ..runs import output_root

    return RunCatalog(output_root(data_dir()))


def airflow_auth() -> list[Any]:
    """Airflow's own check: the caller must be allowed to read runs of ``ceiling_grid_pipeline``."""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.api_fastapi.core_api.security import requires_access_dag

    return [Depends(requires_access_dag("GET", DagAccessEntity.RUN, param_dag_id=DAG_ID))]


def create_app(catalog: Callable[[], RunCatalog] = default_catalog,
               dependencies: Sequence[Any] | None = None) -> FastAPI:
    """The app; ``dependencies`` default to :func:`airflow_auth` (tests of the pages alone may pass ``[]``)."""
    app = FastAPI(title="ceiling-grid plans", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=list(airflow_auth() if dependencies is None else dependencies))

    def find(run_id: str) -> RunFolder:
        run = catalog().find(run_id)
        if run is None:
            raise HTTPException(status_code=404, detail=f"no published ceiling-grid run {run_id[:250]!r} "
                                "(fix: check the run id; a run shows here once its publish task succeeded)")
        return run

    @app.get("/runs", response_class=HTMLResponse)
    def runs_page() -> HTMLResponse:
        entries = [run_list_entry(r) for r in catalog().recent(DEFAULT_RECENT)]
        return HTMLResponse(run_list_page(entries), headers=_HEADERS)

    @app.get("/api/runs")
    def runs_json() -> JSONResponse:
        return JSONResponse([run_list_entry(r) for r in catalog().recent(DEFAULT_RECENT)], headers=_HEADERS)

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    def one_run_page(run_id: str) -> HTMLResponse:
        run = catalog().find(run_id)
        if run is None:  # e.g. the "Ceiling plans" tab of another DAG's run: a page, not raw JSON
            return HTMLResponse(not_found_page(run_id), status_code=404, headers=_HEADERS)
        return HTMLResponse(run_page(run_data(run), run.text), headers=_HEADERS)

    @app.get("/api/runs/{run_id}")
    def one_run_json(run_id: str) -> JSONResponse:
        return JSONResponse(run_data(find(run_id)), headers=_HEADERS)

    @app.get("/runs/{run_id}/files/{name}")
    def run_file(run_id: str, name: str) -> FileResponse:
        run = find(run_id)
        path = run.file(name)
        if path is None:
            raise HTTPException(status_code=404, detail=f"run {run_id!r} has no file {name[:200]!r}")
        return FileResponse(path, media_type=RunFolder.media_type(name),
                            headers={**_HEADERS, "Content-Security-Policy": _FILE_CSP})

    return app
