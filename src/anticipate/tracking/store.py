"""Where runs go and what MLflow needs from the process before a tracker talks to a store.

Importing this module changes nothing: the environment defaults MLflow reads
(HTTP retries and timeout, synchronous logging, quiet GitPython) and the global
tracking/registry URI are set by :func:`configure_mlflow`, which a tracker calls
when it opens. MLflow's own printed lines (``Successfully registered model``,
``View run ... at``) go through :func:`mlflow_chatter`, silenced under ``-q``.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from anticipate.errors import ServiceUnavailable, UsageError

#: Defaults for MLflow's environment, set (only where unset) when a tracker opens:
#: fail over a dead server in ~1 minute, not 10; log synchronously so a run that ends
#: FINISHED has everything; do not let GitPython complain when ``git`` is missing.
MLFLOW_ENV_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
    "GIT_PYTHON_REFRESH": "quiet",
}


def is_remote(uri: str) -> bool:
    """Whether ``uri`` names a tracking server (http/https) rather than a local store."""
    return uri.startswith(("http://", "https://"))


def _sqlite_file(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` tracking URI, or None for any other store."""
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


#: The first bytes of every SQLite database file.
SQLITE_HEADER = b"SQLite format 3\x00"
#: Where a tracking URI came from when the caller does not say (``Settings.tracking_source``).
ANY_SOURCE = "--tracking-uri, MLFLOW_TRACKING_URI or the config key tracking.uri"
_ABS_FIX = "sqlite:////abs/path/mlflow.db"


def _file_store_path(uri: str) -> Path | None:
    """The directory or file a URI names when MLflow would read it as its file store: a bare path or a
    ``file:`` URI (a Windows drive letter parses as a one-letter scheme), else None."""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if uri.startswith("databricks"):  # MLflow's own name of a Databricks workspace, not a path
        return None
    return Path(uri) if len(parsed.scheme) <= 1 else None


def _is_sqlite_file(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def check_uri_form(uri: str, source: str = "") -> None:
    """UsageError (exit 2) when ``uri`` is a bare path or ``file:`` URI: MLflow reads those as its retired
    file store and refuses it with an error that is no fault of anticipate (unless the user opted in with
    ``MLFLOW_ALLOW_FILE_STORE``); and when it is no store URI anticipate can use (:func:`_check_scheme`).
    ``source`` is where the URI came from (``Settings.tracking_source``)."""
    where = source or ANY_SOURCE
    if uri != uri.strip():  # 'sqlite:///mlflow.db ' made a new, empty store named with a space (audit25 F5)
        raise UsageError(f"the tracking URI {uri!r} (from {where}) begins or ends with white space, which "
                         f"would name another store; remove it: {uri.strip()!r}")
    path = _file_store_path(uri)
    if path is None:
        _check_scheme(uri, where)
        return
    if os.environ.get("MLFLOW_ALLOW_FILE_STORE", "").lower() in ("true", "1"):
        return
    if _is_sqlite_file(path):
        fix = f"{path} is an SQLite database: set it to exactly sqlite:///{path.resolve()}"
    elif path.is_dir():
        fix = (f"{path} is a directory (an MLflow file store?): move its runs into an SQLite store with "
               f"'mlflow migrate-filestore', then set it to {_ABS_FIX}")
    else:
        fix = (f"set it to {_ABS_FIX} (an absolute path: four slashes) or sqlite:///mlflow.db (relative to "
               "the current directory)")
    raise UsageError(
        f"the tracking URI {uri!r} (from {where}) is a plain path, not a store URI: MLflow would read it "
        f"as its retired file store and refuse it; {fix}"
    )


#: The URI schemes of a store anticipate can track to, besides ``file:`` (see :func:`check_uri_form`):
#: MLflow's SQLAlchemy databases and a tracking server.
DB_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
ACCEPTED_FORMS = ("sqlite:///mlflow.db (a local store), http://HOST:PORT or https://HOST (an MLflow tracking "
                  "server's root), postgresql:// or mysql:// (a database MLflow can use)")


def _check_scheme(uri: str, where: str) -> None:
    """UsageError (exit 2) for a tracking URI whose scheme anticipate cannot use (a typo such as ``htp://``,
    or ``databricks``, whose artifact and registry model anticipate does not drive) or a server URI with
    no host (``http:/host:5000``, one slash); audit24 #6: these ended as exit 1 (a "bug") or exit 3."""
    from urllib.parse import urlsplit

    head = f"the tracking URI {uri!r} (from {where})"
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"{head} is no URI ({exc}); use {ACCEPTED_FORMS}") from None
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not parts.hostname or (port is None and ":" in parts.netloc.rsplit("@", 1)[-1].strip("[]")):
            raise UsageError(f"{head} names no host: it must be {scheme}://HOST:PORT (two slashes), e.g. "
                             f"{scheme}://127.0.0.1:5000")
        return
    if scheme.split("+")[0] in DB_SCHEMES:
        if scheme.startswith("sqlite+"):  # audit31: the store checks read sqlite:/// only ('sqlite+pysqlite:///'
            raise UsageError(  # ':memory:' trained a model that vanished with the process)
                f"{head} names an SQLite driver: anticipate's local store is written sqlite:///PATH "
                "(Python's own sqlite3, the driver SQLAlchemy picks by default), so that it can check the "
                f"file before a run; use sqlite:///mlflow.db or {_ABS_FIX}")
        if scheme == "sqlite" and not uri.startswith("sqlite:///"):
            raise UsageError(f"{head} is not an SQLite file URI: use sqlite:///mlflow.db (three slashes, "
                             f"relative to the current directory) or {_ABS_FIX}")
        return
    what = ("names a Databricks workspace" if scheme in ("", "databricks") else
            f"has the scheme {parts.scheme + ':'!r}")
    raise UsageError(f"{head} {what}, which anticipate cannot track to (a typo?); use {ACCEPTED_FORMS}")


def require_existing_store(uri: str, source: str = "") -> None:
    """UsageError (exit 2) when ``uri`` is a ``sqlite:`` file that does not exist, for a command that needs
    a model already in the store: opening it would create an empty store (and report "model not found",
    exit 3, for what is really a command run from another directory or a mistyped URI)."""
    path = _sqlite_file(uri)
    if path is None or path.exists():
        return
    where = source or ANY_SOURCE
    raise UsageError(
        f"no MLflow store at {path} (tracking URI {uri}, from {where}; current directory {Path.cwd()}), so "
        f"there is no model to load and nothing was created; run the command from the project directory "
        f"that holds the store, or pass --tracking-uri {_ABS_FIX}"
    )


def require_writable_store(uri: str, source: str = "") -> None:
    """UsageError (exit 2) when ``uri`` is a ``sqlite:`` store this process cannot write: its file (or the
    nearest existing directory above it, where MLflow would create it) is no writable SQLite database or
    directory. Checked before a command's work: MLflow retries opening such a store for ~100 s and then
    fails with an SQLAlchemy error (exit 1), after a whole ``train`` fit. Other stores pass (a server is
    checked when the tracker opens, :func:`check_reachable`)."""
    path = _sqlite_file(uri)
    if path is None:
        return
    problem = (_IN_MEMORY if str(path).split("?")[0] in (":memory:", "") else
               _write_problem(path.absolute()))
    if problem is None:
        return
    raise UsageError(
        f"cannot write the MLflow store of the tracking URI {uri} (from {source or ANY_SOURCE}): {problem}; "
        f"nothing was run. Pass a store you can write, e.g. --tracking-uri sqlite:///mlflow.db (in the "
        f"current directory {Path.cwd()}) or {_ABS_FIX}, or fix that path's permissions"
    )


_IN_MEMORY = ("it is an in-memory database, which forgets the run and any registered model when the command "
              "ends (the command would report a model version that no later command can load)")


def _write_problem(path: Path) -> str | None:
    """Why the SQLite store ``path`` (absolute) cannot be written, or None: a directory in its place, a file
    that is no SQLite database or is read-only, or a directory above it in which no file can be made."""
    import sqlite3
    import tempfile

    if path.is_dir():
        return f"{path} is a directory, not an SQLite database file"
    above = next(p for p in path.parents if p.exists())
    if not above.is_dir():
        return f"{above} is a file, so no store can be created under it at {path}"
    try:
        fd, probe = tempfile.mkstemp(prefix=".anticipate-write-check-", dir=above)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return f"no file can be created in {above} ({exc.strerror})"
    if not path.exists():
        return None
    try:
        con = sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True, timeout=5)
        try:
            con.execute("BEGIN IMMEDIATE")  # the write lock, released at once: nothing is written
            con.rollback()
        finally:
            con.close()
    except sqlite3.Error as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return None  # another process is writing to it: writable, and MLflow waits for its turn
        return f"{path} cannot be written as an SQLite database ({exc})"
    return None


def new_store_warning(uri: str) -> str | None:
    """Before a command that only reads runs opens ``uri``: a warning when it is a ``sqlite:`` file that
    does not exist yet (opening creates it empty: a mistyped file name reads as "no runs"), else None."""
    path = _sqlite_file(uri)
    if path is not None and str(path).split("?")[0] in (":memory:", ""):
        return (f"the tracking URI {uri} is an in-memory store: it is created empty for this command and "
                "vanishes when the command ends, so it never holds a run or model of another command; pass "
                "the store your runs are in with --tracking-uri (or MLFLOW_TRACKING_URI, tracking.uri)")
    if path is None or path.exists():
        return None
    return (f"there was no MLflow store at {path}, so an empty one was created there; if your runs are "
            "elsewhere, check --tracking-uri (or MLFLOW_TRACKING_URI, tracking.uri)")


def require_store(uri: str) -> None:
    """UsageError when ``uri`` is a ``sqlite:`` store in a directory that does not exist, for commands
    that only read runs or models: opening it would create the directories and an empty store and
    then report "no runs" for what is really a mistyped path (a new store file in an existing
    directory is fine: a fresh project's first ``runs list``)."""
    path = _sqlite_file(uri)
    if path is not None and not path.exists() and not path.parent.is_dir():
        raise UsageError(
            f"no MLflow store at {path}: its directory {path.parent} does not exist (tracking URI {uri}); "
            "check --tracking-uri (or MLFLOW_TRACKING_URI, tracking.uri)"
        )


def local_artifact_root(uri: str, artifact_location: str) -> str | None:
    """The artifact location a new experiment gets: a ``file:`` URI locally, None on a server.

    A server proxies artifacts itself, so its experiments take the server's default.
    """
    return None if is_remote(uri) else Path(artifact_location).resolve().as_uri()


def configure_mlflow(uri: str) -> None:
    """Prepare MLflow for ``uri``: environment defaults and the global tracking/registry URI.

    Called when a :class:`~anticipate.tracking.runs.Tracker` opens, never at import.
    The global URI is what ``mlflow.pyfunc.load_model`` and model registration read.
    """
    import mlflow

    for key, value in MLFLOW_ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)


@contextlib.contextmanager
def mlflow_chatter(quiet: bool) -> Iterator[None]:
    """Swallow what MLflow prints during the block when ``quiet`` (the CLI's ``-q``).

    MLflow prints registration lines with ``print(file=sys.stderr)`` and run links
    with ``sys.stdout.write``, not through logging, so log levels cannot silence
    them; both streams are redirected for the block instead.
    """
    if not quiet:
        yield
        return
    sink = io.StringIO()
    with contextlib.redirect_stderr(sink), contextlib.redirect_stdout(sink):
        yield


def git_commit(cwd: str | Path | None = None) -> str:
    """The current git commit of the working directory, or ``unknown``."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def check_reachable(uri: str, *, timeout: float = 5.0, offline_hint: str = "", source: str = "") -> None:
    """Fail fast with ServiceUnavailable when a tracking server does not answer ``/health``, and with
    UsageError when it answers 404 there (the URI's path is wrong, e.g. a proxy prefix: audit24 #6).

    ``timeout`` is in seconds; local stores are not checked. ``offline_hint`` ends the message: how the
    command at hand can run without the server (a command that only reads runs has none). ``source``:
    where the URI came from.
    """
    if not is_remote(uri):
        return
    from urllib.parse import urlsplit

    import requests

    try:
        response = requests.get(uri.rstrip("/") + "/health", timeout=timeout)
    except requests.RequestException as exc:
        raise ServiceUnavailable(
            f"the MLflow tracking server at {uri} is unreachable ({type(exc).__name__}); start it, fix "
            "--tracking-uri / MLFLOW_TRACKING_URI, or use the local store "
            "(--tracking-uri sqlite:///mlflow.db)" + (f"; {offline_hint}" if offline_hint else "")
        ) from None
    if response.status_code == 404 and not _api_answers(uri, timeout):
        root = uri.split("://", 1)[0] + "://" + urlsplit(uri).netloc
        raise UsageError(
            f"the tracking URI {uri} (from {source or ANY_SOURCE}) is wrong: the server there answered "
            f"HTTP 404 for {uri.rstrip('/')}/health, so no MLflow tracking server is at that path; use the "
            f"server's root, e.g. {root} (or the prefix it was started with, --static-prefix)"
        )
    if response.status_code >= 500:
        raise ServiceUnavailable(f"the MLflow tracking server at {uri} answered HTTP {response.status_code}")


def _api_answers(uri: str, timeout: float) -> bool:
    """Whether MLflow's REST API answers under ``uri`` although ``/health`` did not: a proxy may route
    only ``/api/``. An answer is a 200 or MLflow's JSON error (``error_code``), not a web server's 404."""
    import requests

    try:
        response = requests.get(uri.rstrip("/") + "/api/2.0/mlflow/experiments/get",
                                params={"experiment_id": "0"}, timeout=timeout)
        return response.ok or "error_code" in response.json()
    except (requests.RequestException, ValueError):
        return False
