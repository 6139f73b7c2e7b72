"""No open doors (issue 7): REST auth on a real stack, viewers cannot trigger, XCom capped, no usable default secret.

The REST checks run on the reliability stack (``rl_stack``: SimpleAuthManager with ``admin`` and a
``viewer`` user). The compose checks complement ``tests/test_compose_lint.py`` (which already
covers: no hard-coded secrets, placeholders refused by airflow-init, Postgres unpublished,
localhost-only ports, non-root services): here, every published service that takes a secret
from ``.env`` must be gated by airflow-init's placeholder check.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import yaml

from ceiling_grid.testing import room_payload
from tests.integration import rl_stack

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DAG = "ceiling_grid_pipeline"
SECRET_KEY = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN")


@pytest.fixture(scope="session")
def rl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[rl_stack.RlStack]:
    """The reliability stack shared with test_faults.py."""
    yield rl_stack.acquire(tmp_path_factory)
    rl_stack.release()


def _trigger_body(run_id: str) -> dict[str, Any]:
    return {"dag_run_id": run_id, "logical_date": None, "conf": {"inputs": ["input/private_office.json"]}}


def test_unauthenticated_and_forged_requests_get_401(rl: rl_stack.RlStack) -> None:
    """No token (401), a garbage token or one signed with another secret (401/403): reads and triggers refused."""
    base = rl.stack.base_url
    forged = jwt.encode({"sub": "admin", "role": "admin", "aud": "apache-airflow"}, "not-the-secret-" * 5,
                        algorithm="HS512")
    # No credentials: 401. Credentials that do not verify: Airflow 3.3 answers 403 ("Invalid JWT token").
    for headers, denied in (({}, {401}), ({"Authorization": "Bearer nonsense"}, {401, 403}),
                            ({"Authorization": f"Bearer {forged}"}, {401, 403})):
        assert httpx.get(f"{base}/api/v2/dags", headers=headers, timeout=10).status_code in denied
        assert httpx.get(f"{base}/api/v2/dags/{DAG}/dagRuns", headers=headers, timeout=10).status_code in denied
        r = httpx.post(f"{base}/api/v2/dags/{DAG}/dagRuns", json=_trigger_body("rl_sec_anon"), headers=headers,
                       timeout=10)
        assert r.status_code in denied, r.text[:200]
    assert rl.admin.get(f"/api/v2/dags/{DAG}/dagRuns/rl_sec_anon").status_code == 404


def test_wrong_password_gets_no_token(rl: rl_stack.RlStack) -> None:
    """A wrong password (or an unknown user) is refused with 401 and no token."""
    assert rl.login("admin", "admin").status_code == 401
    assert rl.login(rl_stack.VIEWER, rl.viewer_password + "x").status_code == 401
    assert rl.login("nobody", rl.viewer_password).status_code == 401


def test_viewer_can_read_but_cannot_trigger_or_change_the_dag(rl: rl_stack.RlStack) -> None:
    """The viewer role lists DAGs and runs (200) but gets 403 on trigger, pause and run deletion."""
    with rl.client_for(rl_stack.VIEWER, rl.viewer_password) as viewer:
        assert viewer.get("/api/v2/dags").status_code == 200
        assert viewer.get(f"/api/v2/dags/{DAG}/dagRuns").status_code == 200
        r = viewer.post(f"/api/v2/dags/{DAG}/dagRuns", json=_trigger_body("rl_sec_viewer"))
        assert r.status_code == 403, r.text[:200]
        assert viewer.patch(f"/api/v2/dags/{DAG}", json={"is_paused": True}).status_code == 403
        assert viewer.delete(f"/api/v2/dags/{DAG}/dagRuns/rl_sec_viewer").status_code == 403
    assert rl.admin.get(f"/api/v2/dags/{DAG}/dagRuns/rl_sec_viewer").status_code == 404
    assert rl.admin.get(f"/api/v2/dags/{DAG}").json()["is_paused"] is False


def test_oversized_xcom_fails_the_run_once_with_the_offload_path(rl: rl_stack.RlStack) -> None:
    """A chunk over the XCom guard fails load_rooms on try 1, naming chunk_size and the offload backend."""
    big = rl.data / "big"
    big.mkdir(exist_ok=True)
    (big / "hall.json").write_text(json.dumps(room_payload(140, 140, grid_id="hall")))  # ~0.7 MB as XCom JSON
    run_id = rl.stack.trigger(rl.admin, {"inputs": ["big"], "chunk_size": 1}, run_id="rl_sec_xcom")
    run = rl.stack.wait_run(rl.admin, run_id, timeout=300)
    assert run["state"] == "failed"
    tis = {t["task_id"]: t for t in rl.stack.task_instances(rl.admin, run_id)}
    assert (tis["load_rooms"]["state"], tis["load_rooms"]["try_number"]) == ("failed", 1)
    events = rl.stack.task_log(rl.admin, run_id, "load_rooms", 1)
    (rejected,) = [e for e in events if e.get("event") == "input_rejected"]
    assert rejected["error_type"] == "PayloadTooLargeError" and rejected["retry"] == "false"
    for phrase in ("XCom payload is", "over the guard of 524288 bytes", "CEILING_GRID_XCOM_MAX_BYTES",
                   "XComObjectStorageBackend", "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH"):
        assert phrase in rejected["error"], phrase


# ----- compose: no usable default secret -----------------------------------------------------------


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((REPO / "docker-compose.yml").read_text()))


def _init_checked_names(services: dict[str, Any]) -> set[str]:
    """The variables airflow-init refuses when missing or still a CHANGE_ME placeholder."""
    script = "\n".join(services["airflow-init"]["command"])
    match = re.search(r"for name in (.*?); do", script, re.DOTALL)
    assert match, "airflow-init no longer has its secret check loop"
    return set(match.group(1).replace("\\", " ").split())


def _gated_by_init(svc: dict[str, Any]) -> bool:
    deps = svc.get("depends_on") or {}
    return isinstance(deps, dict) and (deps.get("airflow-init") or {}).get("condition") == \
        "service_completed_successfully"


def test_every_published_service_with_a_secret_waits_for_the_placeholder_check() -> None:
    """A service taking a secret from .env and publishing a port starts only after airflow-init accepted it."""
    services = _compose()["services"]
    checked = _init_checked_names(services)
    # POSTGRES_PASSWORD is checked through AIRFLOW__DATABASE__SQL_ALCHEMY_CONN, which embeds it.
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" in checked
    checked.add("POSTGRES_PASSWORD")
    for name, svc in services.items():
        env = svc.get("environment") or {}
        secret_vars = {var for key, value in env.items() if SECRET_KEY.search(key)
                       for var in re.findall(r"\$\{([A-Z0-9_]+)", str(value))}
        if not secret_vars or name == "airflow-init":
            continue
        assert secret_vars <= checked, f"{name}: {secret_vars - checked} not refused by airflow-init when a placeholder"
        if svc.get("ports"):
            assert _gated_by_init(svc), f"{name} publishes {svc['ports']} but starts without airflow-init's check"
