"""Notes a command prints first when where its settings come from may surprise (audit28 F12, F16).

Both are said once, on stderr before the command's work, and in its ``--json`` ``warnings``:

* ``MLFLOW_TRACKING_URI`` beats ``tracking.uri`` of an explicit ``--config`` file, or one the project
  edited in ``./configs/default.yaml`` (the documented order: option > environment > config), which
  sent a night's runs to another store in silence;
* a command run below the project directory (a ``notebooks/`` folder, cron without ``cd``) does not read
  the project's ``configs/default.yaml`` and opens a store relative to where it runs. anticipate does not
  move to the project directory as ``git`` does: the config's relative paths (``data.dir``,
  ``tracking.uri sqlite:///mlflow.db``, ``allocate.plans_dir``) and the options' (``--data ../x``) are
  all relative to the working directory, and resolving some from the project and some from here would
  mix two bases. It is said only when it matters: the project's defaults would change the config used,
  or a command that records runs is about to create a new ``sqlite:///`` store here. It names the
  project directory, the keys that differ, the config and the store used instead.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from anticipate.config import (
    DEFAULT_CONFIG_PATH,
    Config,
    TrackingConfig,
    config_as_flat_params,
    load_config,
    read_yaml,
)
from anticipate.errors import ConfigError

#: Commands that create the tracking store when its ``sqlite:///`` file is missing (they record runs or
#: serve the store); the others refuse a missing store (exit 2) or warn that it was created.
STORE_CREATORS = frozenset({"train", "backtest", "experiment run", "ui"})
#: How many differing keys the note names before "and N more".
_SHOWN_KEYS = 4


def _tracking_uri_of(path: Path) -> str | None:
    """``tracking.uri`` of the config file at ``path``, None when it sets none."""
    tracking = read_yaml(path).get("tracking")
    return str(tracking["uri"]) if isinstance(tracking, dict) and tracking.get("uri") else None


def env_beats_config_note(env_uri: str | None, option_uri: str | None, configs: Sequence[Path]) -> str | None:
    """One line when ``MLFLOW_TRACKING_URI`` (``env_uri``) is used although a config file gives another
    ``tracking.uri``: the last of the ``--config`` files to set it, else the working directory's
    ``configs/default.yaml`` when it sets one other than the built-in default (a project's edit: the
    shipped file writes every default out). None when ``--tracking-uri`` (``option_uri``) chooses."""
    if not env_uri or option_uri:
        return None
    given = None
    if DEFAULT_CONFIG_PATH.is_file():
        uri = _tracking_uri_of(DEFAULT_CONFIG_PATH)
        if uri and uri != TrackingConfig().uri:
            given = (uri, f"{DEFAULT_CONFIG_PATH} (the project's defaults, read from the working directory)")
    for path in configs:
        uri = _tracking_uri_of(Path(path))
        if uri:
            given = (uri, f"--config {path}")
    if given is None or given[0] == env_uri:
        return None
    return (f"the tracking store is {env_uri} from the environment variable MLFLOW_TRACKING_URI, not "
            f"tracking.uri {given[0]} of {given[1]} (the variable wins over config files); pass "
            f"--tracking-uri to choose, or unset the variable")


def project_root(start: Path | None = None) -> Path | None:
    """The nearest directory above ``start`` (default: the working directory; not itself) holding
    ``configs/default.yaml``: the project a command run from a sub-directory belongs to, or None."""
    here = (start or Path.cwd()).resolve()
    return next((p for p in here.parents if (p / DEFAULT_CONFIG_PATH).is_file()), None)


def _project_differs(cfg: Config, project_file: Path, configs: Sequence[Path],
                     overrides: dict[str, Any] | None, ignore: Collection[str]) -> str:
    """What the project's defaults would change in ``cfg`` (the config used): ``key value (here value)``
    for the first keys that differ, but those in ``ignore`` (an option sets them), "" when none does."""
    try:
        theirs = config_as_flat_params(load_config([project_file, *configs], overrides=overrides))
    except ConfigError:
        return "it does not load here"
    ours = config_as_flat_params(cfg)
    keys = [k for k in theirs if theirs[k] != ours.get(k) and k not in ignore]
    if not keys:
        return ""
    shown = ", ".join(f"{k} {theirs[k]} (here {ours.get(k)})" for k in keys[:_SHOWN_KEYS])
    more = f" and {len(keys) - _SHOWN_KEYS} more" if len(keys) > _SHOWN_KEYS else ""
    return f"it sets {shown}{more}"


def outside_project_note(configs: Sequence[Path], cfg: Config, tracking_uri: str, tracking_source: str, *,
                         overrides: dict[str, Any] | None = None, ignore: Collection[str] = (),
                         creates_store: bool = False) -> str | None:
    """One line when the working directory has no ``configs/default.yaml``, a directory above it does
    (:func:`project_root`), and that matters: the project's file would change the config used (``cfg``,
    from ``configs`` and ``overrides``) in a key no option sets (``ignore``: ``data.dir`` under
    ``--data``), or the command (``creates_store``: it records runs) is about to
    create a new ``sqlite:///`` store here from a relative URI it was not given by ``--tracking-uri``.
    Names the keys that differ, the config files and the store (its absolute file). None otherwise, and
    when ``configs`` holds the project's defaults file."""
    if DEFAULT_CONFIG_PATH.is_file():
        return None
    root = project_root()
    if root is None or any(Path(p).resolve() == (root / DEFAULT_CONFIG_PATH).resolve() for p in configs):
        return None  # no project above, or its defaults passed by hand
    differs = _project_differs(cfg, root / DEFAULT_CONFIG_PATH, configs, overrides, ignore)
    file = Path(tracking_uri.removeprefix("sqlite:///"))
    relative = tracking_uri.startswith("sqlite:///") and not file.is_absolute()
    new_store = (creates_store and relative and not file.exists()
                 and not tracking_source.startswith("the option"))
    if not differs and not new_store:
        return None  # the same config, and the store used is the one that is here
    used = ", then ".join(str(p) for p in configs) or "the built-in defaults"
    store = tracking_uri if not relative else f"{tracking_uri} (= {file.resolve()}" + (
        ", which does not exist: a new, empty store is created there)" if new_store else ")")
    why = f" ({differs})" if differs else ""
    return (f"running in {Path.cwd()}, below the project directory {root}, whose {DEFAULT_CONFIG_PATH} is "
            f"not read here{why}: config {used}; tracking store {store} (from {tracking_source}); run from "
            f"{root}, or pass --config {root / DEFAULT_CONFIG_PATH} and --tracking-uri")
