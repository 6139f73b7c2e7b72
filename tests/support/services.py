"""Local services the integration tests use, and the skip-or-fail rule when one is missing.

On a laptop a missing service skips the test with a message saying how to enable it.
Under ``CI=true`` a missing service fails the test: CI must never skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

POSTGRES_HOST = os.environ.get("CEILING_GRID_TEST_PG_HOST", "127.0.0.1")
POSTGRES_PORT = int(os.environ.get("CEILING_GRID_TEST_PG_PORT", "5432"))
POSTGRES_USER = os.environ.get("CEILING_GRID_TEST_PG_USER", "postgres")
REDIS_HOST = os.environ.get("CEILING_GRID_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("CEILING_GRID_TEST_REDIS_PORT", "6379"))

HOW_TO = {
    "postgres": "start PostgreSQL on 127.0.0.1:5432 with trust auth "
    "(pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)",
    "redis": "start Redis on 127.0.0.1:6379 (redis-server --daemonize yes --port 6379)",
    "chromium": "install Debian's chromium (apt-get install chromium) and pip playwright",
    "tiny disk": "run the tests as root (they mount a small tmpfs to get a real full disk)",
}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require(name: str, available: bool, detail: str = "") -> None:
    """Skip (laptop) or fail (CI) when ``name`` is not available."""
    if available:
        return
    msg = f"{name} is not available{': ' + detail if detail else ''}; to enable: {HOW_TO.get(name, name)}"
    if in_ci():
        pytest.fail(f"CI=true and {msg}", pytrace=False)
    pytest.skip(msg)


def require_postgres() -> None:
    require("postgres", port_open(POSTGRES_HOST, POSTGRES_PORT), f"nothing listens on {POSTGRES_HOST}:{POSTGRES_PORT}")


def require_redis() -> None:
    require("redis", port_open(REDIS_HOST, REDIS_PORT), f"nothing listens on {REDIS_HOST}:{REDIS_PORT}")


def require_executable(name: str, how: str) -> str:
    path = shutil.which(name)
    HOW_TO.setdefault(name, how)
    require(name, path is not None, f"{name} is not on PATH")
    assert path is not None
    return path


@contextlib.contextmanager
def tiny_disk(where: Path, size_kib: int = 64) -> Iterator[Path]:
    """A real file system of ``size_kib`` KiB mounted at ``where`` (tmpfs): writes past it fail with ENOSPC."""
    where.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0755", "tmpfs", str(where)],
                          capture_output=True, text=True) if shutil.which("mount") else None
    require("tiny disk", proc is not None and proc.returncode == 0,
            (proc.stderr.strip() if proc is not None else "no mount command") or "mount failed")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def interactive_signals() -> None:
    """``preexec_fn`` for a child that must see Ctrl-C as a terminal user's process does.

    A shell starts background jobs with SIGINT ignored, and Python then never installs its
    KeyboardInterrupt handler; a test run launched that way would otherwise test nothing.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
