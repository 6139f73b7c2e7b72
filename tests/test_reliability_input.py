"""Bad and impossible input (issue 7): every malformed room gets one clear line naming file, field and fix.

The corpus lives in ``tests/data/malformed/`` (one problem per file). Files that are too big to
commit (a 50 MB room) are generated in a temp folder. The CLI is driven as a user would drive it
(subprocess, exit codes); the DAG side goes through ``orchestration.load_rooms``, the function
the ``load_rooms`` task calls (the real stack is exercised in ``tests/integration/test_faults.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from ceiling_grid import InputError, LimitExceededError, load_room
from ceiling_grid.config import DEFAULT_MAX_FILE_BYTES
from ceiling_grid.grid import parse_room
from ceiling_grid.orchestration import load_rooms, resolve_under
from ceiling_grid.outputs import write_room_outputs
from ceiling_grid.records import PipelineResult
from ceiling_grid.testing import room_payload

CORPUS = Path(__file__).parent / "data" / "malformed"
CLI = [sys.executable, "-m", "ceiling_grid.cli"]
# A rejected room may allocate a little (the JSON text, pydantic's error list), never a grid.
NO_ALLOCATION_BYTES = 1024 * 1024

# file -> (the field or location the message must name, the fix it must suggest)
EXPECTED: dict[str, tuple[str, str]] = {
    "broken_json.json": ("line 3 column 1", "fix the JSON syntax"),
    "trailing_comma.json": ("line 1 column", "fix the JSON syntax"),
    "empty_file.json": ("line 1 column 1", "fix the JSON syntax"),
    "top_level_array.json": ("top level is a JSON list", 'write {"grid_id"'),
    "width_is_string.json": ("width = '3'", "use a whole number"),
    "width_is_bool.json": ("width = true", "use a whole number"),
    "cells_not_a_list.json": ("cells = ", "use a JSON array"),
    "cell_x_float.json": ("cells[1].x = 1.5", "use a whole number"),
    "missing_cells.json": ("cells is missing", "add the field"),
    "missing_width.json": ("width is missing", "add the field"),
    "missing_grid_id.json": ("grid_id is missing", "add the field"),
    "unknown_field.json": ("colour is not a known field", "remove the field or check its spelling"),
    "zero_width.json": ("width = 0", "use a larger value"),
    "negative_tile_height.json": ("height = -2", "use a larger value"),
    "negative_tile_size.json": ("tile_size_m = -0.6", "use a larger value"),
    "negative_flux.json": ("luminaire.flux_lm = -3400", "use a larger value"),
    "cell_count_mismatch.json": ("cells has 5 entries but width x height = 3 x 2 = 6",
                                 "give exactly one cell per tile"),
    "duplicate_cell.json": ("cells[5] repeats tile (0, 0)", "remove the duplicate"),
    "out_of_range_cell.json": ("cells[5].y = 9 is outside height 2", "use 0 <= y < 2"),
    "negative_cell.json": ("cells[0].x = -1 is outside width 3", "use 0 <= x < 3"),
    "unknown_component.json": ("cells[2].component = 'sprinkler_head'", "use one of the listed values"),
    "unknown_state.json": ("cells[2].state = 'skylight'", "use one of the listed values"),
    "unknown_room_type.json": ("room_type = 'kitchen'", "use one of classroom"),
    "unknown_detector_standard.json": ("detector_standard = 'nfpa99'", "use one of the listed values"),
    "nan_height.json": ("ceiling_height_m = NaN", "use a finite number"),
    "inf_height.json": ("ceiling_height_m = Infinity", "use a finite number"),
    "negative_height.json": ("ceiling_height_m = -2.7", "use a larger value"),
    "declared_huge.json": ("width x height = 1000000 x 1000000", "split the floor into rooms"),
    "grid_id_traversal.json": ("grid_id = '../../etc/evil'", "no path separators or '..'"),
    "grid_id_separator.json": ("grid_id = 'rooms/office'", "no path separators or '..'"),
    "grid_id_dotdot.json": ("grid_id = '..'", "no path separators or '..'"),
}


def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*.json"))


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def assert_clear(line: str, path: Path) -> None:
    """One line naming the file, the field (or location) and the fix, with no traceback."""
    field, fix = EXPECTED[path.name]
    assert line.startswith(f"{path}: "), line
    assert field in line and fix in line, line
    assert "Traceback" not in line and "\n" not in line


def test_corpus_and_expectations_match() -> None:
    """Every malformed room has an expected message and every expectation has a room file."""
    assert sorted(p.name for p in corpus_files()) == sorted(EXPECTED)


def test_cli_answers_each_malformed_room_with_one_clear_line(tmp_path: Path) -> None:
    """`ceiling-grid run` on the whole corpus exits 2, writes nothing, and prints exactly one line per file."""
    files = corpus_files()
    out = tmp_path / "out"
    proc = run_cli("run", *map(str, files), "--out", str(out), "--workers", "1")
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == len(files), proc.stderr
    for path, line in zip(files, lines, strict=True):
        assert_clear(line, path)
    assert not out.exists()


@pytest.mark.parametrize("name", ["broken_json.json", "declared_huge.json", "grid_id_traversal.json",
                                  "nan_height.json"])
def test_cli_single_bad_room_exits_two_with_one_line(name: str, tmp_path: Path) -> None:
    """One bad room alone: exit code 2, one stderr line, nothing on stdout, no output folder."""
    path = CORPUS / name
    proc = run_cli("run", str(path), "--out", str(tmp_path / "out"))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert_clear(proc.stderr.strip(), path)
    assert not (tmp_path / "out").exists()


def _peak_bytes(fn: Any) -> int:
    tracemalloc.start()
    with contextlib.suppress(InputError):
        fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def test_declared_million_by_million_room_is_rejected_before_any_allocation() -> None:
    """A 10^6 x 10^6 declaration raises LimitExceededError while tracemalloc's peak stays under 1 MiB."""
    with pytest.raises(LimitExceededError, match="exceeds the side limit"):
        load_room(CORPUS / "declared_huge.json")
    assert _peak_bytes(lambda: load_room(CORPUS / "declared_huge.json")) < NO_ALLOCATION_BYTES
    # The same without cells, and inside the side limit but over the cell limit (2000 x 2000).
    for w, h in [(10**6, 10**6), (2000, 2000)]:
        data = {"grid_id": "big", "width": w, "height": h, "cells": []}
        with pytest.raises(LimitExceededError):
            parse_room(data, "big.json")
        assert _peak_bytes(lambda d=data: parse_room(d, "big.json")) < NO_ALLOCATION_BYTES


def test_fifty_megabyte_file_is_rejected_by_the_size_limit_unread(tmp_path: Path) -> None:
    """A 50 MB room file fails on its size (CLI exit 2, one line, fix named) without being read into memory."""
    big = tmp_path / "floor.json"
    with big.open("wb") as fh:  # sparse: 50 MB on paper, nothing on disk
        fh.write(b'{"grid_id": "floor", "width": 3, "height": 2, "cells": [')
        fh.truncate(50 * 1024 * 1024)
    assert big.stat().st_size > DEFAULT_MAX_FILE_BYTES
    assert _peak_bytes(lambda: load_room(big)) < NO_ALLOCATION_BYTES
    proc = run_cli("run", str(big), "--out", str(tmp_path / "out"))
    assert (proc.returncode, proc.stdout) == (2, "")
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"{big}: file is 52428800 bytes, over the limit of {DEFAULT_MAX_FILE_BYTES} bytes")
    assert "CEILING_GRID_MAX_FILE_BYTES" in line and "Traceback" not in line


def test_outputs_never_escape_the_output_folder_even_for_an_unvalidated_grid_id(tmp_path: Path) -> None:
    """Defence in depth: a '../' grid_id that bypassed validation makes write_room_outputs refuse, writing nothing."""
    out = tmp_path / "out"
    for evil in ("../evil", "a/../../evil", "/tmp/evil", "sub/room"):
        fake = cast(PipelineResult, SimpleNamespace(grid_id=evil))
        with pytest.raises(ValueError, match=r"outside|without path parts"):
            write_room_outputs(fake, out)
    assert sorted(p.name for p in tmp_path.rglob("*")) == []  # refused before anything is created


def test_dag_load_rooms_reports_every_bad_file_of_the_corpus_at_once(tmp_path: Path) -> None:
    """The load_rooms task logic rejects the corpus folder with one InputError holding one line per file."""
    data = tmp_path / "data"
    (data / "bad").mkdir(parents=True)
    for path in corpus_files():
        (data / "bad" / path.name).write_bytes(path.read_bytes())
    with pytest.raises(InputError) as err:
        load_rooms(["bad"], base=data)
    lines = str(err.value).splitlines()
    assert lines[0] == f"{len(EXPECTED)} of {len(EXPECTED)} room files are invalid:"
    for path, line in zip(corpus_files(), lines[1:], strict=True):
        field, fix = EXPECTED[path.name]
        assert line.startswith(f"bad/{path.name}: ") and field in line and fix in line, line
    assert str(data) not in str(err.value)  # labels are relative to the data folder


@pytest.mark.parametrize("inputs", ["../secrets", "/etc", "input/../../x.json", "input/../../../etc/passwd"])
def test_dag_inputs_escaping_the_data_folder_are_refused(inputs: str, tmp_path: Path) -> None:
    """An `inputs` param leaving the data folder is refused with the folder named, before anything is read."""
    data = tmp_path / "data"
    (data / "input").mkdir(parents=True)
    with pytest.raises(InputError, match="outside the data folder"):
        load_rooms([inputs], base=data)
    with pytest.raises(InputError, match="outside the data folder"):
        resolve_under(data, inputs, "inputs")


def test_dag_inputs_symlink_out_of_the_data_folder_is_refused(tmp_path: Path) -> None:
    """A symlink inside the data folder that points outside it is refused like a '../' path."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "room.json").write_text(json.dumps(room_payload(2, 2, grid_id="leak")))
    data = tmp_path / "data"
    data.mkdir()
    (data / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InputError, match="outside the data folder"):
        load_rooms(["link"], base=data)


def write_infeasible_rooms(folder: Path) -> dict[str, Path]:
    """Two impossible rooms: every tile blocked (sprinklers), and a 1-tile BS 5839-1 room (0.5 m wall clearance)."""
    folder.mkdir(parents=True, exist_ok=True)
    rooms = {
        "all-blocked": room_payload(5, 4, grid_id="all-blocked",
                                    states={(x, y): "sprinkler" for x in range(5) for y in range(4)}),
        "too-small": room_payload(2, 2, grid_id="too-small", detector_standard="bs5839_1"),
    }
    paths = {}
    for gid, payload in rooms.items():
        paths[gid] = folder / f"{gid}.json"
        paths[gid].write_text(json.dumps(payload))
    return paths


def test_cli_infeasible_rooms_name_the_rule_and_exit_one(tmp_path: Path) -> None:
    """Impossible rooms: exit 1, an INFEASIBLE summary naming the rule, and a report listing rule and reason."""
    paths = write_infeasible_rooms(tmp_path / "rooms")
    out = tmp_path / "out"
    proc = run_cli("run", *map(str, paths.values()), "--out", str(out), "--workers", "1")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = {line.split(":", 1)[0]: line for line in proc.stdout.splitlines()}
    assert "INFEASIBLE (" in lines["all-blocked"] and "D5:" in lines["all-blocked"]
    assert "every ceiling tile is blocked" in lines["all-blocked"]
    assert "INFEASIBLE (" in lines["too-small"]
    assert "D2: " in lines["too-small"] and "no ceiling tile is 0.5 m from the walls" in lines["too-small"]
    for gid in paths:
        report = json.loads((out / f"{gid}.report.json").read_text())
        assert report["compliant"] is False and report["outcome"] == "infeasible"
        assert report["infeasible"] and all(i["rule"] and i["reason"] for i in report["infeasible"])
