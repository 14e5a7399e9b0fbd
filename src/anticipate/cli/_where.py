"""Notes a command prints first when where its settings come from may surprise (audit28 F12, F16).

Both are said once, on stderr before the command's work, and in its ``--json`` ``warnings``:

* ``MLFLOW_TRACKING_URI`` beats ``tracking.uri`` of an explicit ``--config`` file (the documented order:
  option > environment > config), which sent a night's runs to another store in silence;
* a command run below the project directory (a ``notebooks/`` folder, cron without ``cd``) does not read
  the project's ``configs/default.yaml`` and opens a store relative to where it runs. anticipate does not
  move to the project directory as ``git`` does: the config's relative paths (``data.dir``,
  ``tracking.uri sqlite:///mlflow.db``, ``allocate.plans_dir``) and the options' (``--data ../x``) are
  all relative to the working directory, and resolving some from the project and some from here would
  mix two bases. It names the project directory it found, the config and the store it used instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from anticipate.config import DEFAULT_CONFIG_PATH, read_yaml


def env_beats_config_note(env_uri: str | None, option_uri: str | None, configs: Sequence[Path]) -> str | None:
    """One line when ``MLFLOW_TRACKING_URI`` (``env_uri``) is used although a ``--config`` file (the last
    of ``configs`` to set it) gives another ``tracking.uri``; None when no option and no such file."""
    if not env_uri or option_uri:
        return None
    given = None
    for path in configs:
        tracking = read_yaml(Path(path)).get("tracking")
        if isinstance(tracking, dict) and tracking.get("uri"):
            given = (str(tracking["uri"]), path)
    if given is None or given[0] == env_uri:
        return None
    return (f"the tracking store is {env_uri} from the environment variable MLFLOW_TRACKING_URI, not "
            f"tracking.uri {given[0]} of --config {given[1]} (the variable wins over config files); pass "
            f"--tracking-uri to choose, or unset the variable")


def project_root(start: Path | None = None) -> Path | None:
    """The nearest directory above ``start`` (default: the working directory; not itself) holding
    ``configs/default.yaml``: the project a command run from a sub-directory belongs to, or None."""
    here = (start or Path.cwd()).resolve()
    return next((p for p in here.parents if (p / DEFAULT_CONFIG_PATH).is_file()), None)


def outside_project_note(configs: Sequence[Path], tracking_uri: str, tracking_source: str) -> str | None:
    """One line when the working directory has no ``configs/default.yaml`` but a directory above it does
    (:func:`project_root`): the project's defaults are not read here; names the config files and the
    store (its absolute file for a relative ``sqlite:///``) the command uses. None otherwise, and when
    ``configs`` holds the project's defaults file."""
    if DEFAULT_CONFIG_PATH.is_file():
        return None
    root = project_root()
    if root is None or any(Path(p).resolve() == (root / DEFAULT_CONFIG_PATH).resolve() for p in configs):
        return None  # no project above, or its defaults passed by hand
    used = ", then ".join(str(p) for p in configs) or "the built-in defaults"
    store, file = tracking_uri, Path(tracking_uri.removeprefix("sqlite:///"))
    if tracking_uri.startswith("sqlite:///") and not file.is_absolute():
        store += f" (= {file.resolve()})"
    return (f"running in {Path.cwd()}, below the project directory {root}, whose {DEFAULT_CONFIG_PATH} is "
            f"not read here: config {used}; tracking store {store} (from {tracking_source}); run from "
            f"{root}, or pass --config {root / DEFAULT_CONFIG_PATH} and --tracking-uri")
