"""The Click group, the shared option decorator and the error -> exit code mapping."""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from functools import wraps
from pathlib import Path
from typing import Any

import click

from anticipate import __version__
from anticipate.cli import _numbacache
from anticipate.cli._exit import EXIT_UNPRINTED
from anticipate.cli._once import OnceGroup
from anticipate.cli._signals import (
    EXIT_TERMINATED,
    Terminated,
    die_by_sigterm,
    sigterm_ignored,
    sigterm_raises,
)
from anticipate.errors import AnticipateError

#: Exit code of an unexpected failure (a bug); user errors carry their own (see anticipate.errors).
EXIT_FAILURE = 1

_GLOBAL_KEYS = ("data", "config", "tracking_uri", "as_json", "verbose", "quiet")


def _merge_globals(ctx: click.Context, local: dict[str, Any]) -> dict[str, Any]:
    """Options given on the command win over those given on the group."""
    group = (ctx.find_root().obj or {}) if ctx.parent is not None else {}
    merged = {}
    for key in _GLOBAL_KEYS:
        value = local.get(key)
        if key == "config":  # layered: the group's files, then the command's
            value = (*(group.get(key) or ()), *(value or ()))
        elif value in (None, False, 0):
            value = group.get(key, value)
        merged[key] = value
    return merged


def global_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--data --config --tracking-uri --json -v -q`` to a command (same meaning everywhere)."""
    options = [
        click.option(
            "--data",
            "data",
            type=click.Path(path_type=Path),
            default=None,
            help="Canonical data directory (default: data.dir in config).",
        ),
        click.option(
            "--config",
            "config",
            type=click.Path(path_type=Path),
            multiple=True,
            help="YAML config laid over ./configs/default.yaml (when it exists) key by key; unknown keys "
            "are errors. Repeat it to lay files over each other: a later file wins key by key.",
        ),
        click.option(
            "--tracking-uri",
            "tracking_uri",
            default=None,
            help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, then tracking.uri).",
        ),
        click.option(
            "--json", "as_json", is_flag=True, default=False, help="Print exactly one JSON object on stdout."
        ),
        click.option("-v", "--verbose", "verbose", count=True, help="More logging on stderr."),
        click.option(
            "-q",
            "--quiet",
            "quiet",
            is_flag=True,
            default=False,
            help="Only errors on stderr; no progress bars.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def make_settings(opts: dict[str, Any], overrides: dict[str, Any] | None = None,
                  notes: list[str] | None = None, command: str = ""):
    """Resolve the config and global options into :class:`anticipate.pipelines.Settings`.

    ``notes``, when given, receives the warnings about where the settings came from
    (:mod:`anticipate.cli._where`; ``command`` is the command's name), once each, and they are printed
    on stderr as they are found."""
    from anticipate.cli._where import STORE_CREATORS, env_beats_config_note, outside_project_note
    from anticipate.config import load_config
    from anticipate.pipelines import Settings

    cfg = load_config(opts.get("config") or None, overrides=overrides)
    data_dir = Path(opts["data"]) if opts.get("data") else Path(cfg.data.dir)
    env_uri = os.environ.get("MLFLOW_TRACKING_URI")
    tracking_uri = opts.get("tracking_uri") or env_uri or cfg.tracking.uri
    verbosity = -1 if opts.get("quiet") else int(opts.get("verbose") or 0)
    source = ("the option --tracking-uri" if opts.get("tracking_uri") else
              "the environment variable MLFLOW_TRACKING_URI" if env_uri else "the config key tracking.uri")
    configs = list(opts.get("config") or ())
    by_options = {"data.dir"} if opts.get("data") else set()
    by_options |= {"tracking.uri"} if tracking_uri != cfg.tracking.uri else set()
    found = [outside_project_note(configs, cfg, tracking_uri, source, overrides=overrides, ignore=by_options,
                                  creates_store=command in STORE_CREATORS),
             env_beats_config_note(env_uri, opts.get("tracking_uri"), configs)]
    for note in found:
        if note and notes is not None and note not in notes:
            notes.append(note)
            click.echo(f"warning: {note}", err=True)
    return Settings(
        cfg=cfg,
        data_dir=data_dir,
        tracking_uri=tracking_uri,
        verbosity=verbosity,
        progress=verbosity >= 0,
        tracking_source=source,
        said=notes if notes is not None else [],
    )


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    if verbosity < 0:
        level = logging.ERROR
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    # MLflow sets up its own handler from this variable when it is first imported (lazily, later);
    # its INFO chatter and serialisation advice are noise for a planner unless -v asks for them.
    # Its registration and run-link lines are print()s, not log records: under -q the tracker
    # swallows them (Settings.verbosity -> open_tracker(quiet=True) -> tracking.store.mlflow_chatter)
    # If MLflow is already imported (a program that calls this CLI in-process), its logger gets the
    # same level directly, so what reaches stderr does not depend on when MLflow was imported.
    mlflow_level = "ERROR" if verbosity <= 0 else logging.getLevelName(level)
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", mlflow_level)
    with contextlib.suppress(ValueError):  # a level MLflow does not know either: MLflow's own default
        logging.getLogger("mlflow").setLevel(os.environ["MLFLOW_LOGGING_LEVEL"].upper())
    # distributed sets its loggers' levels from Dask's config when first imported (INFO: 33 lines
    # for a local cluster), in this process and in every worker it spawns: the variable reaches both.
    # A worker's 'Unmanaged memory use is high' WARNING (distributed.worker.memory, repeated every 5
    # minutes) is advice for Dask tuning, shown with -v; a worker that dies of memory is its own error.
    # (Dask's logging config maps logger names, dots included, to levels: one variable holds both.)
    memory_level = "error" if verbosity <= 0 else "warning"
    if not any(name.startswith("DASK_LOGGING") for name in os.environ):  # the user's own Dask logging wins
        os.environ["DASK_LOGGING"] = repr({"distributed": "error" if verbosity < 0 else "warning",
                                           "distributed.worker.memory": memory_level})
    for noisy in ("alembic", "urllib3", "numba", "distributed", "matplotlib"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    logging.getLogger("distributed.worker.memory").setLevel(memory_level.upper())
    # LightGBM's warnings are about parameters we set ("n_jobs will be ignored" on Dask): -v shows them
    logging.getLogger("lightgbm").setLevel(logging.ERROR if verbosity <= 0 else level)


def emit(result: Any, *, as_json: bool, said: list[str] | None = None) -> None:
    """Print a Result: one JSON object with ``--json``, else its text; warnings to stderr either way
    (with ``--json`` also in the object), each once: ``said`` are those already printed, first in the
    object's warnings (:func:`make_settings`' notes)."""
    said = list(said or [])
    if said:
        result.warnings = [*(w for w in said if w not in result.warnings), *result.warnings]
    for warning in result.warnings:
        if warning not in said:
            click.echo(f"warning: {warning}", err=True)
    if as_json:
        click.echo(json.dumps(result.to_json(), sort_keys=True))
        return
    if result.text:
        click.echo(result.text)


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send everything written to stdout during the block to stderr, Python and C code alike.

    stdout holds only the command's result (with ``--json`` exactly one object), but
    libraries print there: MLflow through Python, HiGHS (1.16+) its banner from C
    straight to file descriptor 1. So both ``sys.stdout`` and descriptor 1 point at
    stderr while the command runs; the result is printed afterwards.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@contextlib.contextmanager
def _collector_paused(pause: bool) -> Iterator[None]:
    """Python's cyclic garbage collector off during the block when ``pause``, as it was after.

    The objects made meanwhile are frozen (:func:`gc.freeze`) before it is enabled again: else its
    first pass would walk every one of them (10 M-line ``features``: 0.17 s) for the few it frees.
    """
    was = gc.isenabled()
    if pause:
        gc.disable()
    try:
        yield
    finally:
        if pause and was:
            gc.freeze()
            gc.enable()


def command_body(
    name: str, *, collect_cycles: bool = True
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Wrap a command: resolve global options, run it, map exceptions to exit codes.

    The wrapped function receives ``settings_factory`` (a callable taking optional
    dotted config overrides) plus its own arguments, and returns a Result.

    ``collect_cycles=False``: the command runs with Python's cyclic garbage collector off, for a
    command whose memory is arrays, not Python objects in reference cycles. The collector's passes
    over the objects its imports create (pandas, NumPy, pyarrow, Numba, SciPy: millions) hold the
    GIL: ``features`` on 10 M order lines spent 0.3 s of its wall time in 420 collections, and one
    in 20 objects of its last full collection was garbage (10 M lines: same peak without them).
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(func)
        def wrapper(**kwargs: Any) -> None:
            ctx = click.get_current_context()
            opts = _merge_globals(ctx, {k: kwargs.pop(k, None) for k in _GLOBAL_KEYS})
            verbosity = -1 if opts.get("quiet") else int(opts.get("verbose") or 0)
            _configure_logging(verbosity)
            notes: list[str] = []  # make_settings' warnings, printed as found, then in --json's
            try:
                _numbacache.check()
                with sigterm_raises(), _stdout_to_stderr(), _collector_paused(not collect_cycles):
                    result = func(lambda overrides=None: make_settings(opts, overrides, notes, name),
                                  **kwargs)
            except AnticipateError as exc:
                _fail(name, str(exc), exc.exit_code, opts, notes)
            except KeyboardInterrupt:
                _fail(name, "interrupted; no output was published", 130, opts, notes)
            except Terminated:  # said like any failure, then the process ends by the signal as before
                _fail(name, "terminated by SIGTERM before it finished; no output was published",
                      EXIT_TERMINATED, opts, notes, die=die_by_sigterm)
            except click.exceptions.Exit:
                raise
            except click.ClickException:
                raise
            except Exception as exc:
                _fail_unexpected(name, exc, verbosity, opts, notes)
            else:
                with sigterm_ignored():  # published: the result is printed whatever comes now
                    try:
                        emit(result, as_json=bool(opts.get("as_json")), said=notes)
                    except OSError as exc:
                        _unprinted(name, result, exc)

        return wrapper

    return decorate


def _fail_unexpected(name: str, exc: Exception, verbosity: int, opts: dict[str, Any],
                     said: list[str]) -> None:
    """Exit for an exception no command handled: exit 75 for an SQLite store another process kept locked,
    else exit 1, "a bug" (with ``-v`` the traceback first)."""
    if verbosity >= 1:
        traceback.print_exc(file=sys.stderr)
    locked = _store_locked(exc)
    if locked is not None:  # while MLflow opened the store, outside the commands' own handling
        _fail(name, str(locked), locked.exit_code, opts, said)
    _fail(name, f"unexpected failure: {type(exc).__name__}: {exc}. This is a bug in anticipate; re-run with "
          "-v for the traceback and report it", EXIT_FAILURE, opts, said)


def _store_locked(exc: Exception) -> AnticipateError | None:
    """LockHeld (exit 75) when ``exc`` is an SQLite store another process kept locked (MLflow raises it while
    it opens the store, before a command's own tracking calls), naming the store MLflow was opening."""
    from anticipate.tracking.errors import store_locked

    mlflow = sys.modules.get("mlflow")
    uri = mlflow.get_tracking_uri() if mlflow is not None else "(the tracking store)"
    return store_locked(exc, uri, "anticipate opened it")


def _unprinted(name: str, result: Any, exc: OSError) -> None:
    """Exit :data:`EXIT_UNPRINTED` (74) when the result of a finished command could not be printed (stdout on
    a full disk, a closed pipe): said on stderr, if stderr can still be written, with what was published."""
    outputs = ", ".join(f"{v} ({k})" for k, v in (getattr(result, "outputs", None) or {}).items())
    done = f"it finished and published {outputs}" if outputs else "it finished"
    with contextlib.suppress(OSError, ValueError):
        why = exc.strerror or exc
        click.echo(f"anticipate {name}: error: its result could not be printed on stdout ({why}); {done}; "
                   "make room where stdout goes (or redirect it elsewhere) before the next run", err=True)
    sys.exit(EXIT_UNPRINTED)


def _fail(name: str, message: str, code: int, opts: dict[str, Any], said: list[str],
          die: Callable[[], None] | None = None) -> None:
    """Say ``message`` on stderr (and as the ``--json`` error object, with the warnings already ``said``:
    a store the environment chose may be why it failed), then exit ``code`` (or ``die()``)."""
    click.echo(f"anticipate {name}: error: {message}", err=True)
    if opts.get("as_json"):
        error = {"command": name, "status": "error", "exit_code": code, "error": message}
        click.echo(json.dumps({**error, **({"warnings": list(said)} if said else {})}, sort_keys=True))
    if die is not None:
        die()
    sys.exit(code)


@click.group(cls=OnceGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="anticipate")
@global_options
@click.pass_context
def main(ctx: click.Context, **opts: Any) -> None:
    """Anticipatory shipping: predict orders, pre-position stock, measure the value.

    Global options may be given before the command or after it.

    \b
    Examples:
      anticipate sample --out data/sample
      anticipate train
      anticipate evaluate
      anticipate promote latest --alias production
      anticipate allocate --date 2025-12-31
      anticipate backtest --from 2025-10-01 --to 2025-12-01 --every 7d
    """
    ctx.obj = dict(opts)
