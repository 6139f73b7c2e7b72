"""scripts/init-env and `make init`: a .env with fresh secrets that the compose stack accepts."""

from __future__ import annotations

import base64
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.support.compose import COMPOSE_FILE, REPO_ROOT, read_env_file

INIT_ENV = REPO_ROOT / "scripts/init-env"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
PLACEHOLDER = "CHANGE_ME_run_make_init"


def init_env(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(INIT_ENV), *args], capture_output=True, text=True, timeout=60)


def test_init_env_writes_fresh_secrets(tmp_path: Path) -> None:
    """Every placeholder becomes a distinct fresh secret; the Fernet key is valid; the file is private."""
    target = tmp_path / ".env"
    result = init_env("--env-file", str(target))
    assert result.returncode == 0, result.stderr
    env = read_env_file(target)
    example = read_env_file(ENV_EXAMPLE)
    assert set(env) == set(example)
    secrets = {k: v for k, v in env.items() if example[k] == PLACEHOLDER}
    assert len(secrets) >= 6
    assert all(len(v) >= 20 and PLACEHOLDER not in v for v in secrets.values())
    assert len(set(secrets.values())) == len(secrets)
    key = env["AIRFLOW__CORE__FERNET_KEY"]
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    expected_uid = 50000 if os.getuid() == 0 else os.getuid()
    assert env["AIRFLOW_UID"] == str(expected_uid)
    assert all(v == example[k] for k, v in env.items() if k not in secrets and k != "AIRFLOW_UID")


def test_two_runs_give_different_secrets(tmp_path: Path) -> None:
    """Secrets are random per run, never a fixed default."""
    a, b = tmp_path / "a.env", tmp_path / "b.env"
    init_env("--env-file", str(a))
    init_env("--env-file", str(b))
    ea, eb = read_env_file(a), read_env_file(b)
    assert ea["AIRFLOW__API_AUTH__JWT_SECRET"] != eb["AIRFLOW__API_AUTH__JWT_SECRET"]
    assert ea["AIRFLOW_ADMIN_PASSWORD"] != eb["AIRFLOW_ADMIN_PASSWORD"]


def test_existing_env_is_kept_unless_forced(tmp_path: Path) -> None:
    """An existing .env is refused (exit 1), kept with --if-missing (exit 0), replaced with --force."""
    target = tmp_path / ".env"
    init_env("--env-file", str(target))
    before = target.read_text()
    refused = init_env("--env-file", str(target))
    assert refused.returncode == 1 and "--force" in refused.stderr
    assert init_env("--env-file", str(target), "--if-missing").returncode == 0
    assert target.read_text() == before
    assert init_env("--env-file", str(target), "--force").returncode == 0
    assert target.read_text() != before


def test_set_overrides_a_value(tmp_path: Path) -> None:
    """--set KEY=VALUE replaces the example value (used for CeleryExecutor in the rehearsal)."""
    target = tmp_path / ".env"
    assert init_env("--env-file", str(target), "--set", "AIRFLOW__CORE__EXECUTOR=CeleryExecutor").returncode == 0
    assert read_env_file(target)["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert init_env("--env-file", str(tmp_path / "x.env"), "--set", "novalue").returncode != 0


def test_make_init_writes_the_env_once(tmp_path: Path) -> None:
    """`make init` runs scripts/init-env and is idempotent (keeps the secrets on a second call)."""
    target = tmp_path / ".env"
    first = subprocess.run(["make", "-s", "init", f"ENV_FILE={target}"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    secret = read_env_file(target)["AIRFLOW__API_AUTH__JWT_SECRET"]
    second = subprocess.run(["make", "-s", "init", f"ENV_FILE={target}"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert second.returncode == 0 and "kept" in second.stdout
    assert read_env_file(target)["AIRFLOW__API_AUTH__JWT_SECRET"] == secret


def test_env_example_documents_every_compose_variable() -> None:
    """Each variable docker-compose.yml interpolates is in .env.example, with a comment above it."""
    text = re.sub(r"\$\$", "", COMPOSE_FILE.read_text())
    used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    lines = ENV_EXAMPLE.read_text().splitlines()
    defined = {line.split("=", 1)[0]: i for i, line in enumerate(lines) if "=" in line and not line.startswith("#")}
    missing = used - set(defined)
    assert not missing, f".env.example lacks {sorted(missing)}"
    for key, i in defined.items():
        above = lines[:i]
        block = []
        for line in reversed(above):
            if not line.strip() or line.startswith("# ---"):
                break
            block.append(line)
        assert any(line.startswith("#") for line in block), f"{key} has no comment"


@pytest.mark.parametrize("secret", ["AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY"])
def test_generated_secrets_survive_compose_interpolation(tmp_path: Path, secret: str) -> None:
    """Generated values contain no `$`, quotes or spaces, so Compose passes them through unchanged."""
    target = tmp_path / ".env"
    init_env("--env-file", str(target))
    value = read_env_file(target)[secret]
    assert re.fullmatch(r"[A-Za-z0-9_\-=]+", value)
