"""Domain exceptions. Each carries the process exit code the CLI maps it to.

Exit codes (docs/cli.md#exit-codes): 0 ok; 1 unexpected failure; 2 usage, config
or data error; 3 an upstream service or model unavailable; 75 another run holds
the lock. The library raises these; only the CLI turns them into exit codes.
"""

from __future__ import annotations


class AnticipateError(Exception):
    """Base class: a failure the user can act on. ``exit_code`` is for the CLI."""

    exit_code: int = 1


class UsageError(AnticipateError):
    """A bad argument or option value (exit 2)."""

    exit_code = 2


class ConfigError(AnticipateError):
    """A config file or key that fails validation (exit 2)."""

    exit_code = 2


class DataError(AnticipateError):
    """Input data that breaks the contract (exit 2).

    Parameters
    ----------
    message
        What is wrong and how to fix it.
    file, row, column
        Where: the source file, the 1-based source row and the column, when known.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file = file
        self.row = row
        self.column = column
        where = []
        if file is not None:
            where.append(f"file {file}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        prefix = (", ".join(where) + ": ") if where else ""
        super().__init__(prefix + message)


class OutputError(UsageError):
    """An output path that cannot be written or must not be replaced (exit 2); the message names it."""


class CutoffError(UsageError):
    """A cutoff date outside the valid range for a command (exit 2)."""


class ServiceUnavailable(AnticipateError):
    """An upstream service (tracking server) or a model that cannot be reached (exit 3)."""

    exit_code = 3


class ModelNotFound(ServiceUnavailable):
    """A model URI, version or alias that does not resolve (exit 3)."""


class LockHeld(AnticipateError):
    """Another run holds the lock for this output (exit 75)."""

    exit_code = 75


class DataChanged(AnticipateError):
    """The data directory was published anew (an ingest) while a command read it (exit 75: re-run)."""

    exit_code = 75
