"""fsio: bounded reads of regular files only, path-text checks, group commits that are all or nothing."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ceiling_grid import fsio
from ceiling_grid.errors import InputError, LimitExceededError, NotRegularFileError
from tests.support.services import interactive_signals, tiny_disk


def test_read_regular_file_refuses_devices_fifos_and_folders_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "room.json"
    os.mkfifo(fifo)  # no writer: a plain open() would block forever
    for path, kind in ((Path("/dev/zero"), "character device"), (fifo, "FIFO"), (tmp_path, "folder")):
        with pytest.raises(NotRegularFileError, match=kind):
            fsio.read_regular_file(path, 1024)


def test_read_regular_file_stops_one_byte_past_the_limit(tmp_path: Path) -> None:
    """A file that grew after stat (here: simply bigger) is cut off at limit + 1 bytes and refused."""
    big = tmp_path / "big.json"
    big.write_bytes(b"x" * 5000)
    assert fsio.read_regular_file(big, 5000) == b"x" * 5000
    with pytest.raises(LimitExceededError, match="over the limit of 4999 bytes"):
        fsio.read_regular_file(big, 4999)


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty path"),
    ("   ", "empty path"),
    ("in\x00put", "NUL byte"),
    ("a" * 300, "over 255"),
    ("x/" * 2100, "over 4096"),
])
def test_check_path_text_refuses_what_no_file_system_takes(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        fsio.check_path_text(text, "output_dir")
    assert fsio.check_path_text("  output/mine ", "output_dir") == "output/mine"


def test_is_transient_only_for_faults_a_retry_can_cure() -> None:
    assert fsio.is_transient(OSError(errno.ENOSPC, "No space left on device"))
    assert fsio.is_transient(OSError(errno.EIO, "Input/output error"))
    for code in (errno.ENAMETOOLONG, errno.ENOTDIR, errno.EACCES, errno.EROFS, errno.EINVAL):
        assert not fsio.is_transient(OSError(code, os.strerror(code)))


def test_commit_files_writes_every_file_and_leaves_no_staging(tmp_path: Path) -> None:
    out = tmp_path / "out"
    paths = fsio.commit_files(out, {"a.json": "{}\n", "a.svg": "<svg/>\n"})
    assert {p.name for p in out.iterdir()} == {"a.json", "a.svg"}
    assert paths["a.svg"].read_text() == "<svg/>\n"
    with pytest.raises(ValueError, match="plain file name"):
        fsio.commit_files(out, {"../x": ""})


def test_commit_files_on_a_full_disk_changes_nothing(tmp_path: Path) -> None:
    """ENOSPC half-way through a room: the old files stay as they were, no new file appears, no staging left."""
    with tiny_disk(tmp_path / "disk", size_kib=64) as disk:
        fsio.commit_files(disk, {"r.json": "old\n", "r.svg": "old\n"})
        with pytest.raises(OSError) as info:
            fsio.commit_files(disk, {"r.json": "new\n", "r.report.json": "x" * 200_000, "r.svg": "new\n"})
        assert info.value.errno == errno.ENOSPC and fsio.is_transient(info.value)
        assert sorted(p.name for p in disk.iterdir()) == ["r.json", "r.svg"]
        assert (disk / "r.json").read_text() == "old\n" and (disk / "r.svg").read_text() == "old\n"


KILL_MID_COMMIT = """
import os, signal, sys
from pathlib import Path
from ceiling_grid import fsio
real = os.replace
def replace_then_die(src, dst):
    real(src, dst)
    os.kill(os.getpid(), signal.SIGKILL)   # dies after the first of three renames
os.replace = replace_then_die
fsio.commit_files(Path(sys.argv[1]), {"r.json": "new\\n", "r.report.json": "new\\n", "r.svg": "new\\n"})
"""


def test_a_commit_killed_between_renames_is_completed_by_the_next_commit(tmp_path: Path) -> None:
    """SIGKILL after the journal: one file is new, two old; the next commit to the folder rolls it forward."""
    out = tmp_path / "out"
    fsio.commit_files(out, {"r.json": "old\n", "r.report.json": "old\n", "r.svg": "old\n"})
    proc = subprocess.run([sys.executable, "-c", KILL_MID_COMMIT, str(out)], capture_output=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    staged = [p for p in out.iterdir() if p.name.startswith(fsio.STAGING_PREFIX)]
    assert len(staged) == 1 and json.loads((staged[0] / "COMMIT").read_text())["files"]
    fsio.commit_files(out, {"other.json": "x\n"})  # any later commit recovers first
    assert sorted(p.name for p in out.iterdir()) == ["other.json", "r.json", "r.report.json", "r.svg"]
    assert {(out / n).read_text() for n in ("r.json", "r.report.json", "r.svg")} == {"new\n"}


def test_a_commit_killed_before_its_journal_is_discarded(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    dead = out / f"{fsio.STAGING_PREFIX}999999999-dead"
    dead.mkdir()
    (dead / "r.json").write_text("half\n")
    assert fsio.recover_staging(out) == [f"discarded {dead.name}"]
    assert list(out.iterdir()) == []


INTERRUPT_MID_COMMIT = """
import json, os, signal, sys
from pathlib import Path
from ceiling_grid import fsio
real = os.replace
def replace_then_interrupt(src, dst):
    real(src, dst)
    os.kill(os.getpid(), signal.SIGINT)   # Ctrl-C during the renames: held until the commit is done
os.replace = replace_then_interrupt
out = Path(sys.argv[1])
try:
    fsio.commit_files(out, {"r.json": "new\\n", "r.report.json": "new\\n", "r.svg": "new\\n"})
except KeyboardInterrupt:
    print(json.dumps(sorted(p.name for p in out.iterdir())))
"""


def test_ctrl_c_during_a_commit_arrives_after_it_leaving_no_staging_folder(tmp_path: Path) -> None:
    """The interrupt is delivered once the files are in place and the staging folder is gone, not in between."""
    proc = subprocess.run([sys.executable, "-c", INTERRUPT_MID_COMMIT, str(tmp_path / "out")], capture_output=True,
                          text=True, timeout=60, preexec_fn=interactive_signals)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == ["r.json", "r.report.json", "r.svg"]
