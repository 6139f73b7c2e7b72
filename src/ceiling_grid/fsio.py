"""File-system I/O that loses nothing: bounded reads of regular files only, atomic writes, group commits.

* :func:`read_regular_file` opens without blocking, refuses FIFOs, devices and sockets from the
  open file itself (no stat/open race), and reads at most ``max_bytes + 1`` bytes whatever ``stat``
  says, so ``/dev/zero`` or a growing file cannot exhaust memory.
* :func:`atomic_write_text` writes one file via a temp file, ``fsync`` and ``os.replace``.
* :func:`commit_files` makes several files appear together or not at all: they are written and
  synced in a staging folder with a ``COMMIT`` journal written last, then renamed into place with
  SIGINT/SIGTERM held off; a process killed mid-way leaves a staging folder that the next commit to the
  same folder rolls forward (journal present) or throws away (journal absent).
* :func:`check_path_text` refuses path strings no file system accepts (NUL bytes, over-long names).
* :func:`is_transient` tells an OSError a retry may cure (full disk, I/O error) from one it cannot.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

from .errors import InputError, LimitExceededError, NotRegularFileError

__all__ = [
    "MAX_NAME_BYTES",
    "MAX_PATH_BYTES",
    "STAGING_PREFIX",
    "atomic_write_text",
    "check_path_text",
    "commit_files",
    "file_kind",
    "fsync_dir",
    "is_transient",
    "read_regular_file",
    "recover_staging",
    "write_synced",
]

MAX_NAME_BYTES = 255  # NAME_MAX of Linux, macOS and Windows file systems
MAX_PATH_BYTES = 4096  # PATH_MAX of Linux
STAGING_PREFIX = ".cg-staging-"
JOURNAL = "COMMIT"
READ_CHUNK = 1 << 20
# errno values a retry may cure: the disk fills or frees up, the device or a network mount recovers.
TRANSIENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EAGAIN, errno.EBUSY,
                              errno.ETIMEDOUT, errno.ESTALE, errno.EINTR, errno.ENOMEM})


def file_kind(mode: int) -> str:
    """A plain-words name of the file type in ``st_mode`` (``"FIFO"``, ``"character device"`` ...)."""
    for test, name in ((stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "FIFO (named pipe)"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISSOCK, "socket"), (stat.S_ISREG, "regular file")):
        if test(mode):
            return name
    return "special file"


def read_regular_file(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; refuses special files and bigger files.

    Raises ``NotRegularFileError`` for a FIFO, device, socket or folder (checked on the opened
    descriptor, opened with ``O_NONBLOCK`` so a FIFO without a writer cannot hang us),
    ``LimitExceededError`` once more than ``max_bytes`` bytes arrive, and ``OSError`` otherwise.
    """
    source = os.fspath(path)
    fd = os.open(source, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFileError(source, file_kind(info.st_mode))
        parts: list[bytes] = []
        got = 0
        while got <= max_bytes:
            # os.read allocates what it is asked for: ask for the size stat gave (+1 to see EOF), in chunks.
            want = min(READ_CHUNK, max_bytes + 1 - got, max(info.st_size + 1 - got, 64 * 1024))
            block = os.read(fd, want)
            if not block:
                break
            parts.append(block)
            got += len(block)
        if got > max_bytes:
            raise LimitExceededError(
                f"{source}: file is over the limit of {max_bytes} bytes "
                "(split the floor into rooms, or raise CEILING_GRID_MAX_FILE_BYTES)")
        return b"".join(parts)
    finally:
        os.close(fd)


def check_path_text(text: str, what: str) -> str:
    """``text`` stripped, if a file system can hold it; else ``InputError`` naming ``what`` and the fix."""
    if not isinstance(text, str):
        raise InputError(f"{what}: {text!r} is not a string (fix: give a path as text)")
    value = text.strip()
    if not value:
        raise InputError(f"{what}: empty path (fix: give a path relative to the data folder, or drop the entry)")
    if "\x00" in value:
        raise InputError(f"{what}: {value!r} contains a NUL byte (fix: remove the \\x00 character)")
    if len(value.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES:
        raise InputError(f"{what}: path is {len(value.encode())} bytes, over {MAX_PATH_BYTES} "
                         "(fix: use a shorter path)")
    for part in Path(value).parts:
        size = len(part.encode("utf-8", "surrogateescape"))
        if size > MAX_NAME_BYTES:
            raise InputError(f"{what}: the name {part[:40]!r}... is {size} bytes, over {MAX_NAME_BYTES} "
                             "(fix: use a shorter folder or file name)")
    return value


def is_transient(exc: OSError) -> bool:
    """True if a retry may cure ``exc`` (full disk, I/O error, busy or stale mount); False for the rest."""
    return exc.errno in TRANSIENT_ERRNOS


def fsync_dir(folder: Path) -> None:
    """Make renames in ``folder`` durable (best effort: some file systems cannot sync a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_synced(path: Path, text: str, mode: int = 0o644) -> None:
    """Write ``text`` to ``path`` and fsync it (no rename: for files inside a folder that is itself staged)."""
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(path, mode)


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temp file in the same folder + fsync + ``os.replace``: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write_synced(Path(tmp), text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


@contextlib.contextmanager
def _sigint_held() -> Iterator[None]:
    """Hold SIGINT/SIGTERM off while a few renames run, then act on them; no-op off the main thread.

    The Python-level handlers are swapped for ones that only note the signal, and the old handlers
    run once the block is done. (A thread signal mask would not do: numpy's BLAS threads leave
    SIGINT unblocked, so the kernel hands the signal to one of them and Python raises at once.)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def note(signum: int, _frame: object) -> None:
        caught.append(signum)

    old = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        for signum in dict.fromkeys(caught):
            previous = old[signal.Signals(signum)]
            if callable(previous):
                previous(signum, None)  # e.g. default_int_handler raises KeyboardInterrupt
            elif previous == signal.SIG_DFL:
                signal.raise_signal(signum)


def _roll_forward(staging: Path, folder: Path) -> None:
    """Move the journalled files into ``folder`` and remove ``staging``, with Ctrl-C held off until both are done.

    A held signal acts the moment the block ends, so the staging folder goes inside the held block
    too: otherwise an interrupt during the renames would leave its (emptied) folder behind.
    """
    names = json.loads((staging / JOURNAL).read_text(encoding="utf-8"))["files"]
    with _sigint_held():
        for name in names:
            src = staging / name
            if src.exists():  # already moved by the process that died
                os.replace(src, folder / name)
        fsync_dir(folder)
        shutil.rmtree(staging, ignore_errors=True)


def _owner_alive(name: str) -> bool:
    """Whether the process that named a staging folder ``.cg-staging-<pid>-<hex>`` still runs (not ours)."""
    pid_text = name.removeprefix(STAGING_PREFIX).split("-", 1)[0]
    if not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_staging(folder: Path) -> list[str]:
    """Finish or discard the group commits a killed process left in ``folder``; returns what was done."""
    done: list[str] = []
    if not folder.is_dir():
        return done
    for staging in sorted(folder.glob(f"{STAGING_PREFIX}*")):
        if not staging.is_dir() or _owner_alive(staging.name):
            continue
        if (staging / JOURNAL).is_file():
            _roll_forward(staging, folder)
            done.append(f"completed {staging.name}")
        else:
            shutil.rmtree(staging, ignore_errors=True)
            done.append(f"discarded {staging.name}")
    return done


def commit_files(folder: Path, files: Mapping[str, str]) -> dict[str, Path]:
    """Write ``{name: text}`` into ``folder`` so that all of them appear, or none (see module docstring).

    Names must be plain file names. On any error before the journal is written (a full disk, a
    permission problem) the staging folder is removed and no file in ``folder`` has changed.
    """
    for name in files:
        if not name or Path(name).name != name or name.startswith(STAGING_PREFIX):
            raise ValueError(f"{name!r} is not a plain file name")
    folder.mkdir(parents=True, exist_ok=True)
    recover_staging(folder)
    staging = folder / f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        for name, text in files.items():
            write_synced(staging / name, text)
        write_synced(staging / JOURNAL, json.dumps({"files": list(files)}))
        fsync_dir(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _roll_forward(staging, folder)
    return {name: folder / name for name in files}
