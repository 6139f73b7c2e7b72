"""The exceptions ceiling-grid raises, all under one base class.

Hierarchy::

    CeilingGridError                 - base: catch this to catch everything below
    ├── InputError                   - the input is wrong; retrying cannot help (never retried)
    │   ├── RoomValidationError      - a room file breaks the schema; lists every problem with its JSON path
    │   ├── LimitExceededError       - a file or a room is bigger than a configured limit
    │   ├── NotRegularFileError      - a FIFO, device, socket or folder where a regular file is needed
    │   ├── PhotometryFileError      - an IES or LDT file cannot be used; names the file, the line and the fix
    │   ├── OutputLocationError      - the output folder cannot be used (outside the root, holds inputs,
    │   │                              belongs to another run, not a folder, not writable)
    │   └── InfeasibleRoomError      - no compliant layout exists; names the blocking rule
    ├── PayloadTooLargeError         - a payload (e.g. an Airflow XCom) is over its size guard
    ├── StageFailedError             - a model raised instead of returning a layout (a bug, not bad input)
    └── TransientError               - an outside fault (disk, network) that a retry may cure

    SystemExit
    └── InputRejected                - an Airflow task ends on an input error: exit 1, no traceback, no retry

Every message says what went wrong *and* what to do next.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "CeilingGridError",
    "InfeasibleRoomError",
    "InputError",
    "InputRejected",
    "Issue",
    "LimitExceededError",
    "NotRegularFileError",
    "OutputLocationError",
    "PayloadTooLargeError",
    "PhotometryFileError",
    "RoomValidationError",
    "StageFailedError",
    "TransientError",
    "did_you_mean",
]


def did_you_mean(value: object, options: Iterable[str]) -> str:
    """``"did you mean 'light'? "`` for a near miss among ``options`` (case ignored), else ``""``."""
    if not isinstance(value, str):
        return ""
    choices = {o.lower(): o for o in options}
    close = difflib.get_close_matches(value.lower(), list(choices), n=1, cutoff=0.6)
    return f"did you mean {choices[close[0]]!r}? " if close else ""


class CeilingGridError(Exception):
    """Base class of every error ceiling-grid raises on purpose."""


class InputError(CeilingGridError):
    """The input itself is wrong. Fix the input; a retry gives the same answer."""


@dataclass(frozen=True)
class Issue:
    """One problem in a room file: where (JSON path), what, and how to fix it."""

    path: str
    message: str
    fix: str = ""

    def render(self, source: str) -> str:
        where = f"{source}: " if source else ""
        loc = f"{self.path}: " if self.path and not self.message.startswith(self.path) else ""
        tail = f" (fix: {self.fix})" if self.fix else ""
        return f"{where}{loc}{self.message}{tail}"


class RoomValidationError(InputError):
    """A room file breaks the schema. ``issues`` holds every problem found, in file order."""

    def __init__(self, source: str, issues: Sequence[Issue]) -> None:
        self.source = source
        self.issues = list(issues)
        shown = self.issues[:20]
        lines = [issue.render(source) for issue in shown]
        if len(self.issues) > len(shown):
            lines.append(f"{source}: ... and {len(self.issues) - len(shown)} more problems")
        super().__init__("\n".join(lines) if lines else f"{source}: invalid room")


class LimitExceededError(InputError):
    """A file or room is larger than a configured limit (checked before any large allocation)."""


class NotRegularFileError(InputError):
    """A path names a FIFO, a device, a socket or a folder where a regular file is needed."""

    def __init__(self, source: str, kind: str) -> None:
        self.source = source
        self.what = f"is a {kind}, not a regular room file"
        self.fix = "pass a .json file" if kind == "folder" else "pass a regular .json file; copy the data into one"
        super().__init__(f"{source}: {self.what} (fix: {self.fix})")


class PhotometryFileError(InputError):
    """An IES LM-63 or EULUMDAT file is broken or unsupported; ``line`` is 1-based (None: the whole file)."""

    def __init__(self, source: str, line: int | None, what: str, fix: str) -> None:
        self.source = source
        self.line = line
        self.what = what
        self.fix = fix
        where = f"{source}: line {line}: " if line else f"{source}: "
        super().__init__(f"{where}{what} (fix: {fix})")


class OutputLocationError(InputError):
    """The output folder cannot be used: outside the output root, holding inputs, another run's, or unwritable."""


class InfeasibleRoomError(InputError):
    """No layout can satisfy the hard rules in this room; ``rule`` names the one that blocks it."""

    def __init__(self, source: str, rule: str, reason: str) -> None:
        self.source = source
        self.rule = rule
        self.reason = reason
        super().__init__(f"{source}: infeasible under rule {rule}: {reason}")


class PayloadTooLargeError(CeilingGridError):
    """A serialised payload is over its size guard (e.g. Airflow XCom)."""


class ModelFailure(Protocol):
    """What a failed model run tells: its name and its error (``runner.ModelRun`` is one)."""

    @property
    def model(self) -> str: ...

    @property
    def error(self) -> str | None: ...


class StageFailedError(CeilingGridError):
    """A model raised instead of returning a result; the stage (and the room) cannot continue.

    This is a bug in a model, not bad input: the message names the model and the error, and
    the ``model_failed`` log event carries the traceback.
    """

    def __init__(self, grid_id: str, stage: str, failures: Sequence[ModelFailure]) -> None:
        self.grid_id = grid_id
        self.stage = stage
        self.failures = list(failures)
        what = "; ".join(f"{f.model} raised {f.error}" for f in self.failures)
        super().__init__(
            f"{grid_id}: stage {stage} failed: {what} (a model bug, not an input problem: see the "
            "model_failed log event for the traceback and report it with the room file)"
        )


class TransientError(CeilingGridError):
    """An outside fault (I/O, network) that may succeed on retry."""


class InputRejected(SystemExit):
    """The end of an Airflow task whose input was rejected (the one-line message was logged already).

    Airflow's task runner logs an exception with its whole traceback, but a ``SystemExit`` as one
    ``Task exited`` line; the DAG's ``retry_policy`` fails it at once.
    """

    def __init__(self, error: BaseException) -> None:
        super().__init__(1)
        self.error_type = type(error).__name__
        self.message = str(error)

    def __str__(self) -> str:
        return f"{self.error_type}: {self.message}"
