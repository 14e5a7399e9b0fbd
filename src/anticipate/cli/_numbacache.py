"""Where Numba caches compiled kernels when neither of its own places is writable (audit24 #5).

The kernels are compiled with ``cache=True``. Numba puts the cache in the ``__pycache__`` beside
each module, else in its per-user cache directory (``$XDG_CACHE_HOME`` or ``~/.cache``, ``/numba``);
with neither writable (a read-only install run by a service account without a home) *importing* a
kernel module fails: "cannot cache function ...: no locator available". Numba reads
``NUMBA_CACHE_DIR`` once, when it is first imported, so this module is imported by
:mod:`anticipate.cli` before anything imports Numba and, only in that case and only when the
variable is unset, points it at a per-user directory under :func:`tempfile.gettempdir`. The CLI says
so at ``-v`` (:func:`check`) and exits 2 naming ``NUMBA_CACHE_DIR`` when that is not writable either.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]


def writable(path: Path) -> bool:
    """Whether ``path`` is, or could be created as, a directory this process can write into."""
    path = Path(path)
    while not path.exists():
        if path.parent == path:
            return False
        path = path.parent
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)


def user_cache_dir(env: Mapping[str, str]) -> Path:
    """Numba's per-user cache directory (its ``appdirs.user_cache_dir('numba')``, not imported here:
    importing any part of Numba reads its configuration)."""
    if sys.platform == "darwin":
        return Path(env.get("HOME", "~")).expanduser() / "Library" / "Caches" / "numba"
    if sys.platform.startswith("win"):
        return Path(env.get("LOCALAPPDATA", "~")).expanduser() / "numba" / "Cache"
    cache = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".cache")
    return Path(cache) / "numba"


def package_dirs(root: Path = PACKAGE) -> list[Path]:
    """Every package directory under ``root`` (each kernel's cache goes to its own ``__pycache__``)."""
    return [Path(d) for d, _, files in os.walk(root) if "__init__.py" in files]


def fallback_dir(env: Mapping[str, str], dirs: Iterable[Path], temp: str | None = None) -> Path | None:
    """The directory ``NUMBA_CACHE_DIR`` must name, or None when Numba can cache by itself: it is set
    already, or every kernel package's ``__pycache__`` or the per-user cache directory is writable.
    ``temp`` defaults to :func:`tempfile.gettempdir` (which raises OSError when none is usable)."""
    if env.get("NUMBA_CACHE_DIR"):
        return None
    if all(writable(d / "__pycache__") for d in dirs) or writable(user_cache_dir(env)):
        return None
    uid = os.getuid() if hasattr(os, "getuid") else os.getpid()
    return Path(temp or tempfile.gettempdir()) / f"anticipate-numba-{uid}"


def prepare(path: Path) -> str | None:
    """Create ``path`` for this user only; why it cannot serve as the cache, or None when it can."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        return f"it cannot be created ({exc.strerror or exc})"
    if hasattr(os, "getuid") and path.stat().st_uid != os.getuid():
        return "it belongs to another user"
    return None if writable(path) else "it is not writable"


def decide(env: Mapping[str, str], dirs: Iterable[Path], temp: str | None = None) -> tuple[str | None, str]:
    """``(directory to set as NUMBA_CACHE_DIR or None, what to say)``; the message is an error when the
    directory is None and the message is not empty."""
    try:
        target = fallback_dir(env, dirs, temp)
    except OSError as exc:  # no usable temporary directory at all
        return None, _refusal(env, "no temporary directory is usable", str(exc))
    if target is None:
        return None, ""
    problem = prepare(target)
    if problem is not None:
        return None, _refusal(env, f"the fallback {target}", problem)
    return str(target), (f"Numba cannot cache compiled kernels beside the package ({PACKAGE}) or in "
                         f"{user_cache_dir(env)} (not writable): NUMBA_CACHE_DIR={target} for this run")


def _refusal(env: Mapping[str, str], what: str, why: str) -> str:
    return (f"Numba has nowhere to cache compiled kernels: neither the package's __pycache__ ({PACKAGE}) nor "
            f"{user_cache_dir(env)} is writable, and {what}: {why}; set NUMBA_CACHE_DIR to a directory this "
            "user can write (e.g. NUMBA_CACHE_DIR=/var/cache/anticipate/numba)")


TARGET, MESSAGE = decide(os.environ, package_dirs())
if TARGET is not None:
    os.environ["NUMBA_CACHE_DIR"] = TARGET


def check() -> None:
    """At the start of a command: UsageError when Numba has nowhere to cache, else say at ``-v`` where
    the cache went when this module chose the directory."""
    import logging

    from anticipate.errors import UsageError

    if TARGET is None and MESSAGE:
        raise UsageError(MESSAGE)
    if MESSAGE:
        logging.getLogger("anticipate").info(MESSAGE)
