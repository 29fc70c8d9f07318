"""The errors the workbench raises for anything a user can fix: bad input, unknown ids, locks."""

from __future__ import annotations


class WorkbenchError(Exception):
    """An error with a one-line message meant for the user (the CLI prints it and exits 2)."""

    exit_code = 2


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
