"""Never lose data: a run writes only below the output root, into its own folder, checked before any work."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ceiling_grid import airflow_tasks as tasks
from ceiling_grid import orchestration as orch
from ceiling_grid.errors import InputError, OutputLocationError, TransientError
from ceiling_grid.runs import RUN_MARKER, check_output_dir, check_run_folder, run_folder_name
from ceiling_grid.testing import room_payload
from tests.support.services import tiny_disk

REPO = Path(__file__).resolve().parents[1]
SAMPLE_ROOMS = REPO / "data" / "input"
DAG_PARAMS = ("inputs", "detector_standard", "room_type", "output_dir", "chunk_size", "on_infeasible")


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` (relative path) -> sha256 of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data folder with the six sample rooms in input/."""
    folder = tmp_path / "data"
    shutil.copytree(SAMPLE_ROOMS, folder / "input")
    return folder


@pytest.fixture(scope="module")
def laid_out(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[list[dict[str, Any]]]]:
    """Two small rooms taken through every stage once (data folder, chunks ready for publish)."""
    folder = tmp_path_factory.mktemp("laid") / "data"
    (folder / "input").mkdir(parents=True)
    for i, (w, h) in enumerate(((6, 5), (7, 4))):
        (folder / "input" / f"r{i}.json").write_text(json.dumps(room_payload(w, h, grid_id=f"r{i}")))
    chunks = orch.load_rooms(["input"], chunk_size=1, base=folder)
    for stage in orch.STAGES:
        chunks = [orch.run_stage_on_chunk(stage, c, fail_on_infeasible=False) for c in chunks]
    return folder, chunks


# ----- the output root and the run folder -----------------------------------------------------

@pytest.mark.parametrize("output_dir", [".", "input", "output/../input", "/etc", "../elsewhere"])
def test_output_dirs_outside_the_output_root_are_refused(data: Path, output_dir: str) -> None:
    with pytest.raises(OutputLocationError, match="outside the output root"):
        check_output_dir(data, output_dir)


def test_the_output_root_can_be_moved_with_the_environment(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CEILING_GRID_OUTPUT_ROOT", "results")
    assert check_output_dir(data, "results/a") == (data / "results" / "a").resolve()
    with pytest.raises(OutputLocationError, match="outside the output root"):
        check_output_dir(data, "output")


def test_an_output_dir_through_a_file_or_holding_inputs_is_refused(data: Path) -> None:
    (data / "output").mkdir()
    (data / "output" / "taken").write_text("a file\n")
    with pytest.raises(OutputLocationError, match="is a file, not a folder"):
        check_output_dir(data, "output/taken")
    with pytest.raises(OutputLocationError, match="is a file, not a folder"):
        check_output_dir(data, "output/taken/below")
    (data / "output" / "rooms").mkdir()
    room = data / "output" / "rooms" / "a.json"
    room.write_text("{}")
    with pytest.raises(OutputLocationError, match=r"holds the input room a\.json"):
        check_output_dir(data, "output/rooms", [room])


def test_a_run_folder_of_another_run_or_of_strangers_is_never_claimed(tmp_path: Path) -> None:
    folder = tmp_path / run_folder_name("mix:1")
    assert check_run_folder(folder, "mix:1") == folder  # absent: fine
    folder.mkdir()
    assert check_run_folder(folder, "mix:1") == folder  # empty: fine
    (folder / RUN_MARKER).write_text(json.dumps({"run_id": "mix+1"}))
    with pytest.raises(OutputLocationError, match="belongs to run 'mix\\+1'"):
        check_run_folder(folder, "mix:1")
    (folder / RUN_MARKER).unlink()
    (folder / "notes.txt").write_text("mine\n")
    with pytest.raises(OutputLocationError, match="holds files of no ceiling-grid run"):
        check_run_folder(folder, "mix:1")


# ----- load_rooms checks everything first -------------------------------------------------------

def test_a_run_with_output_dir_dot_and_run_id_input_fails_first_and_leaves_the_inputs_byte_identical(
        data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The incident: output_dir '.' and run id 'input' used to rewrite all six data/input/*.json."""
    before = tree_digest(data)
    calls: list[str] = []
    real = orch.chunk_rooms
    monkeypatch.setattr(orch, "chunk_rooms", lambda *a, **k: calls.append("chunk") or real(*a, **k))
    for output_dir in (".", "input"):
        with pytest.raises(OutputLocationError, match="outside the output root"):
            orch.load_rooms(["input"], base=data, output_dir=output_dir, run_id="input")
        with pytest.raises(OutputLocationError, match="outside the output root"):  # and publish refuses too
            orch.publish([], run_id="input", output_dir=output_dir, base=data)
    assert tree_digest(data) == before
    assert calls == ["chunk", "chunk"]  # only the up-front chunk_size check ran: no room was read or chunked


@pytest.mark.parametrize(("inputs", "message"), [
    ([""], r"inputs\[0\]: empty path"),
    (["input", "  "], r"inputs\[1\]: empty path"),
    ([], "no room files or folders given"),
    (["in\x00put"], "NUL byte"),
    (["a" * 300], "over 255"),
])
def test_bad_inputs_are_input_errors_not_the_sample_rooms(data: Path, inputs: list[str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        orch.load_rooms(inputs, base=data)


@pytest.mark.parametrize(("output_dir", "message"), [
    ("output/\x00x", "NUL byte"),
    ("output/" + "n" * 300, "over 255"),
    ("output/afile", "is a file, not a folder"),
    ("", "empty path"),
])
def test_bad_output_dirs_fail_in_load_rooms(data: Path, output_dir: str, message: str) -> None:
    (data / "output").mkdir()
    (data / "output" / "afile").write_text("x\n")
    with pytest.raises(InputError, match=message):
        orch.load_rooms(["input"], base=data, output_dir=output_dir, run_id="r1")


def test_unknown_conf_keys_are_refused_with_the_closest_name() -> None:
    tasks.check_trigger({"inputs": ["input"], "chunk_size": 2}, DAG_PARAMS)
    tasks.check_trigger(None, DAG_PARAMS)
    with pytest.raises(InputError, match="unknown key 'chunksize' \\(did you mean 'chunk_size'\\?\\)"):
        tasks.check_trigger({"chunksize": 1}, DAG_PARAMS)
    with pytest.raises(InputError, match=r"unknown keys 'outdir' .*'zzz'; this DAG takes chunk_size"):
        tasks.check_trigger({"zzz": 1, "outdir": "x"}, DAG_PARAMS)


# ----- publish: one folder per run id, rewritten whole --------------------------------------------

def listing(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_run_ids_that_slug_alike_land_in_different_folders_with_their_own_summary(laid_out: Any) -> None:
    data, chunks = laid_out
    first = orch.publish(chunks, run_id="mix:1", base=data)
    second = orch.publish(chunks[:1], run_id="mix+1", base=data)
    assert first["output_dir"] != second["output_dir"]
    for summary, rooms in ((first, 2), (second, 1)):
        folder = Path(summary["output_dir"])
        on_disk = json.loads((folder / "summary.json").read_text())
        assert on_disk["run_id"] == summary["run_id"] and on_disk["rooms"] == rooms
        assert listing(folder) == {*on_disk["files"], "summary.json", RUN_MARKER}
        assert json.loads((folder / RUN_MARKER).read_text()) == {"run_id": summary["run_id"]}


def test_a_rerun_of_the_same_run_id_rewrites_its_folder_exactly(laid_out: Any) -> None:
    data, chunks = laid_out
    full = orch.publish(chunks, run_id="again", base=data)
    folder = Path(full["output_dir"])
    assert {"r0.json", "r1.json"} <= listing(folder)
    (folder / "r1.svg").write_text("tampered\n")
    rerun = orch.publish(chunks[:1], run_id="again", base=data)  # e.g. an input was removed in between
    assert rerun["output_dir"] == str(folder)
    assert listing(folder) == {"r0.json", "r0.report.json", "r0.svg", "summary.json", RUN_MARKER}
    assert rerun["files"] == ["r0.json", "r0.report.json", "r0.svg"]
    assert [p.name for p in folder.parent.iterdir() if p.name.startswith(".")] == []  # no staging left


def test_publish_refuses_a_folder_that_belongs_to_another_run(laid_out: Any) -> None:
    data, chunks = laid_out
    folder = data / "output" / run_folder_name("owned")
    folder.mkdir(parents=True)
    (folder / RUN_MARKER).write_text(json.dumps({"run_id": "somebody-else"}))
    (folder / "theirs.json").write_text("{}\n")
    with pytest.raises(OutputLocationError, match="belongs to run 'somebody-else'"):
        orch.publish(chunks, run_id="owned", base=data)
    assert listing(folder) == {RUN_MARKER, "theirs.json"}


def test_a_full_disk_in_publish_is_transient_and_leaves_nothing_half_written(laid_out: Any) -> None:
    data, chunks = laid_out
    with tiny_disk(data / "output" / "small", size_kib=48) as disk:
        with pytest.raises(TransientError, match=r"No space left on device.*the task retries"):
            orch.publish(chunks, run_id="full", output_dir="output/small", base=data)
        assert list(disk.iterdir()) == []  # no run folder, no staging: the retry starts clean
