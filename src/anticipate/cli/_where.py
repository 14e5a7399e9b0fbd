"""Notes a command prints first when where its settings come from may surprise (audit28 F12).

Said once, on stderr before the command's work, and in its ``--json`` ``warnings``:
``MLFLOW_TRACKING_URI`` beats ``tracking.uri`` of an explicit ``--config`` file (the documented order:
option > environment > config), which sent a night's runs to another store in silence.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from anticipate.config import read_yaml


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
