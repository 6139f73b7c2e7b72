"""The Airflow 3 plugin: the plan view app at ``/ceiling-grid``, a "Ceiling plans" run tab and a nav entry.

Registered through the ``airflow.plugins`` entry point of the package, so every Airflow that has
ceiling-grid installed (``make up``, the compose image) loads it; nothing goes in a plugins folder.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from airflow.plugins_manager import AirflowPlugin

__all__ = ["URL_PREFIX", "CeilingGridPlugin", "LazyPlanApp"]

URL_PREFIX = "/ceiling-grid"
_Scope = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
_Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class LazyPlanApp:
    """An ASGI app that builds the FastAPI plan view on its first request.

    Every Airflow component loads plugins; only the api-server ever serves a request, so only it
    pays for FastAPI and Airflow's auth imports.
    """

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        if self._app is None:
            from .app import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


class CeilingGridPlugin(AirflowPlugin):
    """ceiling-grid's plan view inside the Airflow UI."""

    name = "ceiling_grid"
    # AirflowPlugin declares these as plain class-level lists
    fastapi_apps: list[Any] = [  # noqa: RUF012
        {"app": LazyPlanApp(), "url_prefix": URL_PREFIX, "name": "ceiling-grid plans"}]
    external_views: list[Any] = [  # noqa: RUF012
        {"name": "Ceiling plans", "href": "ceiling-grid/runs/{RUN_ID}", "destination": "dag_run",
         "url_route": "ceiling-plans"},
        {"name": "Ceiling plans", "href": "ceiling-grid/runs", "destination": "nav", "category": "browse",
         "url_route": "ceiling-grid-runs"},
    ]
