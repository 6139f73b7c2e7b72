"""Where a run's outputs live: one output root, one folder per run id, a marker that says whose it is.

* Every run writes under the **output root**: ``$CEILING_GRID_OUTPUT_ROOT`` (absolute, or relative
  to the data folder), default ``<data folder>/output``. An ``output_dir`` outside it is refused.
* A run id maps one-to-one to a folder name: a readable slug plus 10 hex digits of the SHA-256 of
  the exact id (``mix:1`` -> ``mix_1-2c6a5d1e4f``, ``mix+1`` -> ``mix_1-9b0e...``).
* The folder holds ``.ceiling-grid-run.json`` with the exact run id; a folder whose marker names
  another run (or a folder with files and no marker) is never written into.
* A run folder never holds an input room, and never contains one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

from .errors import OutputLocationError
from .fsio import check_path_text

__all__ = [
    "DEFAULT_OUTPUT_ROOT",
    "OUTPUT_ROOT_ENV",
    "RUN_MARKER",
    "check_output_dir",
    "check_run_folder",
    "marker_text",
    "output_root",
    "run_folder_name",
]

OUTPUT_ROOT_ENV = "CEILING_GRID_OUTPUT_ROOT"
DEFAULT_OUTPUT_ROOT = "output"  # relative to the data folder
RUN_MARKER = ".ceiling-grid-run.json"
SLUG_MAX = 80
HASH_HEX = 10
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def output_root(base: Path) -> Path:
    """The output root: ``$CEILING_GRID_OUTPUT_ROOT`` (relative to ``base`` if not absolute), else ``base/output``."""
    text = os.environ.get(OUTPUT_ROOT_ENV, "").strip() or DEFAULT_OUTPUT_ROOT
    check_path_text(text, OUTPUT_ROOT_ENV)
    return (base / text).resolve()


def run_folder_name(run_id: str) -> str:
    """The folder of ``run_id``: a readable slug plus a short hash of the exact id (distinct ids, distinct folders)."""
    slug = _UNSAFE.sub("_", run_id).strip("._-")[:SLUG_MAX] or "run"
    digest = hashlib.sha256(run_id.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_HEX]
    return f"{slug}-{digest}"


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _check_folders_on_the_way(target: Path, root: Path, text: str) -> None:
    """Every existing folder from the root down to ``target`` is a folder we may write into."""
    on_the_way = [p for p in (target, *target.parents) if _inside(p, root)]
    for p in reversed(on_the_way):  # root first
        if not p.exists():
            break
        if not p.is_dir():
            raise OutputLocationError(
                f"output_dir: {text!r}: {p} is a file, not a folder (fix: pick another output_dir, "
                "or move that file away)")
        if not os.access(p, os.W_OK | os.X_OK):
            raise OutputLocationError(
                f"output_dir: {text!r}: the folder {p} is not writable for this user (fix: make it writable "
                "for the Airflow user, e.g. chown it to AIRFLOW_UID)")


def check_output_dir(base: Path, output_dir: str, inputs: Iterable[Path] = ()) -> Path:
    """``output_dir`` (relative to the data folder ``base``) resolved, if runs may write below it.

    Refused, as ``OutputLocationError`` naming the fix: NUL bytes and over-long names, anything
    outside the output root, a path through a file, an unwritable folder, and the folder of one
    of ``inputs``.
    """
    text = check_path_text(output_dir, "output_dir")
    root = output_root(base)
    target = (base / text).resolve()
    if not _inside(target, root):
        raise OutputLocationError(
            f"output_dir: {text!r} resolves to {target}, outside the output root {root} (fix: use 'output' "
            f"or a folder below it, e.g. 'output/mine'; or point {OUTPUT_ROOT_ENV} elsewhere)")
    _check_folders_on_the_way(target, root, text)
    for room in inputs:
        holder = room.resolve().parent
        if target == holder:
            raise OutputLocationError(
                f"output_dir: {text!r} is {holder}, which holds the input room {room.name} (fix: write "
                "outputs to a folder that holds no inputs, e.g. 'output')")
    return target


def check_run_folder(folder: Path, run_id: str, inputs: Iterable[Path] = ()) -> Path:
    """``folder`` if ``run_id`` may (re)write it (absent, empty, or marked as its own); else ``OutputLocationError``."""
    for room in inputs:
        if _inside(room.resolve(), folder):
            raise OutputLocationError(
                f"run folder {folder} holds the input room {room} (fix: copy the room elsewhere before "
                "re-running this run id, or trigger a new run)")
    if not folder.exists():
        return folder
    if not folder.is_dir():
        raise OutputLocationError(f"run folder {folder} is a file (fix: move it away, or trigger a new run id)")
    marker = folder / RUN_MARKER
    if marker.is_file():
        try:
            owner = json.loads(marker.read_text(encoding="utf-8")).get("run_id")
        except (OSError, ValueError, AttributeError):
            owner = None
        if owner != run_id:
            raise OutputLocationError(
                f"run folder {folder} belongs to run {owner!r}, not {run_id!r} (fix: trigger with another "
                "run id; nothing was overwritten)")
        return folder
    if any(folder.iterdir()):
        raise OutputLocationError(
            f"run folder {folder} holds files of no ceiling-grid run (no {RUN_MARKER}) (fix: move them "
            "away, or trigger with another run id; nothing was overwritten)")
    return folder


def marker_text(run_id: str) -> str:
    """The content of the run marker file."""
    return json.dumps({"run_id": run_id}, sort_keys=True) + "\n"
