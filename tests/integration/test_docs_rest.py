"""QUICKSTART.md's REST section, executed as written against the session's real stack."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def rest_block() -> str:
    """The first ```bash block under the '## REST' heading of QUICKSTART.md."""
    text = (REPO / "QUICKSTART.md").read_text(encoding="utf-8")
    section = text.split("\n## REST", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert match, "QUICKSTART.md's REST section has no bash block"
    return match.group(1)


def test_quickstart_rest_section_runs_as_written(airflow_stack: Any, tmp_path: Path) -> None:
    """Token, trigger, poll, logs and plans, with the doc's own curl lines: one compliant room comes back."""
    env = {**os.environ, "AIRFLOW": airflow_stack.base_url, "PASSWORD": airflow_stack.password}
    proc = subprocess.run(["bash", "-e", "-c", rest_block()], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=400)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert re.search(r"^run \S+", out, re.MULTILINE) and "state success" in out, out
    assert re.search(r"^private_office: COMPLIANT \| lights=4", out, re.MULTILINE), out
    assert "1 of 1 rooms compliant" in out
    assert re.search(r"^private_office COMPLIANT 4 lights \d+(\.\d+)? lx U0 0\.\d+ private_office\.svg$", out,
                     re.MULTILINE), out
