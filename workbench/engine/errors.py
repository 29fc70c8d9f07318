"""The errors the workbench raises for anything a user can fix: bad input, unknown ids, locks.

Messages speak the domain ("the output file exists"), never a face's controls. Where the user has
an obvious way out, the error carries a ``hint`` key from :data:`HINT_KEYS`; each face turns it
into its own words (the CLI names a flag, the TUI a checkbox) through :func:`user_message`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

HINT_KEYS = ("overwrite", "replace", "grid", "top", "index", "confirm")
"""``overwrite``: allow replacing an output file; ``replace``: allow replacing a dataset;
``grid``: give a parameter grid; ``top``: ask for fewer results; ``index``: build the visual
index first; ``confirm``: confirm a destructive action."""


class WorkbenchError(Exception):
    """An error with a one-line message meant for the user (the CLI prints it and exits 2)."""

    exit_code = 2
    hint: str | None = None

    def __init__(self, message: str = "", *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            assert hint in HINT_KEYS, hint
            self.hint = hint


class InputError(WorkbenchError):
    """Bad input data: the message names the file, the line or column, and what was expected."""


class NotFoundError(WorkbenchError):
    """An unknown dataset, run, pin or board."""


class StoreError(WorkbenchError):
    """The store file cannot be used: foreign, newer schema, corrupt, locked, read-only."""


class StoreLockedError(StoreError):
    """Another process holds the store file."""


class Cancelled(WorkbenchError):
    """Long work stopped at the user's request."""

    exit_code = 130


class OutputExistsError(WorkbenchError):
    """A file to be written exists and overwriting was not allowed."""

    hint = "overwrite"

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


def _is_database_error(exc: BaseException) -> bool:
    """A DuckDB error, recognised without importing duckdb (faces must not import it)."""
    return any(
        c.__module__.split(".")[0] in ("duckdb", "_duckdb") and c.__name__ == "Error"
        for c in type(exc).__mro__
    )


def user_message(exc: BaseException, hints: Mapping[str, str] | None = None) -> tuple[str, int]:
    """The one line a face shows for ``exc``, and the exit status a command returns.

    ``hints`` maps :data:`HINT_KEYS` to the face's own advice (``{"overwrite": "pass --force"}``).
    Anything that is not a :class:`WorkbenchError`, an ``OSError`` or a database error is a bug:
    it gets exit status 1 and the words "internal error".
    """
    if isinstance(exc, WorkbenchError):
        text = str(exc)
        advice = (hints or {}).get(exc.hint or "")
        return (f"{text}; {advice}" if advice else text), exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", 130
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}", 2
    if _is_database_error(exc):
        first = (str(exc).strip().splitlines() or [""])[0]
        return f"database error: {first}", 2
    debug = " (WORKBENCH_DEBUG=1 for details)" if not os.environ.get("WORKBENCH_DEBUG") else ""
    return f"internal error: {type(exc).__name__}: {exc}{debug}", 1
