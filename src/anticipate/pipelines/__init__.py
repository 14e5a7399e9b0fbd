"""One ``run_<verb>(...) -> Result`` per CLI verb: I/O at the edges, pure steps, tracking.

The CLI parses arguments, builds a :class:`Settings`, calls one ``run_*`` and prints
its :class:`Result`. Pipelines never print to stdout; progress goes to stderr.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anticipate.config import Config


@dataclass(frozen=True)
class Settings:
    """What every command receives: the validated config and the global options.

    ``data_dir`` and ``tracking_uri`` are already resolved (option > env > config);
    ``tracking_source`` says which of the three gave the URI, for messages ("" when unknown).
    ``verbosity`` is -1 (quiet), 0 (normal) or 1+ (verbose); ``progress`` is whether
    progress bars may be drawn on stderr; ``started_at`` is when the command began
    (seconds since epoch), the start time of the run it records. ``said`` holds the warnings already
    printed on stderr (:meth:`warn_now`, the CLI's notes on where the settings came from): the CLI
    prints a Result's warnings that are not in it, so each reaches stderr once.
    """

    cfg: Config
    data_dir: Path
    tracking_uri: str
    verbosity: int = 0
    progress: bool = True
    tracking_source: str = ""
    started_at: float = field(default_factory=time.time, compare=False)
    said: list[str] = field(default_factory=list, compare=False, repr=False)

    def warn_now(self, message: str) -> None:
        """Print ``message`` as a warning on stderr now, before hours of work, once: the command still
        returns it in its Result's warnings (for --json and summary.json), and the CLI does not repeat it."""
        if message not in self.said:
            self.said.append(message)
            sys.stderr.write(f"warning: {message}\n")
            sys.stderr.flush()


@dataclass
class Result:
    """What a command produced, in the shape of the ``--json`` object of docs/cli.md#the-json-object.

    ``text`` is the human-readable report printed without ``--json``.
    """

    command: str
    run_id: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    text: str = ""
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` object: command, status, run_id, metrics, counts, outputs (+ extra)."""
        out: dict[str, Any] = {
            "command": self.command,
            "status": "ok",
            "run_id": self.run_id,
            "metrics": {k: _finite_or_none(v) for k, v in self.metrics.items()},
            "counts": {k: int(v) for k, v in self.counts.items()},
            "outputs": {k: str(v) for k, v in self.outputs.items()},
        }
        if self.warnings:
            out["warnings"] = list(self.warnings)
        out.update(self.extra)
        return out


def _finite_or_none(value: float) -> float | None:
    v = float(value)
    return v if v == v and v not in (float("inf"), float("-inf")) else None
