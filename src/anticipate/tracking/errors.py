"""MLflow failures translated into the project's exit codes, by exception type and status code.

* a connection that failed (``requests``/``urllib3``/socket errors anywhere in the
  exception's cause chain, which is how MLflow's REST client reports them) or a
  server answering 5xx -> :class:`~anticipate.errors.ServiceUnavailable` (exit 3);
* ``RESOURCE_DOES_NOT_EXIST``-type answers are told apart with :func:`is_not_found`;
* two processes creating the same SQLite store (``IntegrityError`` /
  ``OperationalError`` from SQLAlchemy or sqlite3, ``RESOURCE_ALREADY_EXISTS``) are
  retried by :func:`retry_on_store_race`.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from anticipate.errors import LockHeld, ServiceUnavailable

T = TypeVar("T")

#: MLflow error codes that mean "the thing named does not exist".
NOT_FOUND_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "ENDPOINT_NOT_FOUND"})
#: MLflow error codes of a resource created concurrently by another process.
ALREADY_EXISTS_CODES = frozenset({"RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"})
#: sqlite's own text when another connection holds the write lock; MLflow sometimes
#: re-raises it without the original exception, so this one message is also matched.
SQLITE_LOCKED = "database is locked"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it was raised from or while handling."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def error_code(exc: BaseException) -> str | None:
    """The MLflow error code name of ``exc`` (e.g. ``RESOURCE_DOES_NOT_EXIST``), or None."""
    from mlflow.exceptions import MlflowException

    return exc.error_code if isinstance(exc, MlflowException) else None


def http_status(exc: BaseException) -> int | None:
    """The HTTP status an MLflow error stands for (404, 503, ...), or None for other errors."""
    from mlflow.exceptions import MlflowException

    return exc.get_http_status_code() if isinstance(exc, MlflowException) else None


def is_not_found(exc: BaseException) -> bool:
    """Whether MLflow answered that the run, model, version or alias does not exist."""
    return error_code(exc) in NOT_FOUND_CODES


def is_connection_failure(exc: BaseException) -> bool:
    """Whether a network failure (refused, reset, timed out) is anywhere in the cause chain."""
    import requests
    import urllib3

    network = (requests.RequestException, urllib3.exceptions.HTTPError, ConnectionError, TimeoutError)
    return any(isinstance(e, network) for e in _chain(exc))


def is_store_race(exc: BaseException) -> bool:
    """Whether ``exc`` is another process creating the same store's tables or experiment."""
    import sqlalchemy.exc

    racing = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.IntegrityError, sqlite3.OperationalError,
              sqlite3.IntegrityError)
    for e in _chain(exc):
        if isinstance(e, racing) or error_code(e) in ALREADY_EXISTS_CODES:
            return True
        if error_code(e) is not None and SQLITE_LOCKED in str(e):
            return True
    return False


def retry_on_store_race(fn: Callable[[], T], attempts: int = 5) -> T:
    """Call ``fn``, retrying (0.5 s, 1 s, ... apart) while another process initialises the store."""
    for attempt in range(attempts):
        try:
            return fn()
        except Exception as exc:
            if not is_store_race(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def store_locked(exc: BaseException, uri: str, what: str) -> LockHeld | None:
    """LockHeld (exit 75: try again later) when an SQLite store stayed locked by another process anywhere in
    ``exc``'s cause chain while ``what``; None for any other error."""
    if not any(SQLITE_LOCKED in str(e) for e in _chain(exc)):
        return None
    return LockHeld(
        f"the MLflow store {uri} stayed locked by another process while {what} (another command, an "
        "'mlflow ui' or a notebook writing to it, past MLflow's wait); nothing was published as if it had "
        "succeeded; run again when that process is done, or give this one its own store (--tracking-uri)"
    )


@contextlib.contextmanager
def service_errors(uri: str, what: str) -> Iterator[None]:
    """Turn a lost server during ``what`` into ServiceUnavailable (exit 3) naming ``uri``, and a ``sqlite:``
    store another process kept locked into LockHeld (exit 75: try again later), not "a bug" (exit 1).

    Connection failures (by type, anywhere in the cause chain) and 5xx answers of a
    remote server are translated; every other error passes through unchanged.
    """
    from mlflow.exceptions import MlflowException

    from anticipate.tracking.store import is_remote

    try:
        yield
    except ServiceUnavailable:
        raise
    except Exception as exc:
        locked = store_locked(exc, uri, what)
        if locked is not None:
            raise locked from None
        if is_connection_failure(exc):
            raise ServiceUnavailable(
                f"lost the MLflow tracking server at {uri} while {what} ({type(exc).__name__}); "
                "nothing was published as if it had succeeded; re-run when the server is back"
            ) from None
        status = http_status(exc)
        if isinstance(exc, MlflowException) and is_remote(uri) and status is not None and status >= 500:
            raise ServiceUnavailable(
                f"the MLflow tracking server at {uri} failed while {what} (HTTP {status}): "
                f"{str(exc).splitlines()[0][:300]}; re-run when the server is back"
            ) from None
        raise
