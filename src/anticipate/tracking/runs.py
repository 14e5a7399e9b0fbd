"""The run lifecycle: :class:`Tracker` opens runs, :class:`RunHandle` logs to one run by its id.

Every command that computes something opens one run: tags ``anticipate.command``,
``anticipate.cutoff``, ``anticipate.git_commit`` and ``anticipate.data_digest``, the
resolved config as params and as ``config.yaml``, and the input data's digest as a
dataset input. Runs are created, written and ended through ``MlflowClient`` with
their own id, so nothing depends on MLflow's "active run" and a nested run needs no
active parent.

The default store is ``sqlite:///mlflow.db`` with artifacts in ``./mlartifacts``;
an ``http://`` URI points at a real MLflow server (artifacts proxied by it).
Unreachable servers and unknown models raise :class:`ServiceUnavailable` /
:class:`ModelNotFound` (exit 3) with the command that would fix them.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from anticipate.config import Config, config_as_flat_params
from anticipate.tracking import tags
from anticipate.tracking.artifacts import foreign_artifact_root
from anticipate.tracking.errors import retry_on_store_race, service_errors
from anticipate.tracking.registry import Registry
from anticipate.tracking.store import (
    check_reachable,
    check_uri_form,
    configure_mlflow,
    git_commit,
    local_artifact_root,
    mlflow_chatter,
)

PARAM_VALUE_LIMIT = 6000  # characters MLflow keeps of a param value

log = logging.getLogger("anticipate.tracking")
_SAID: set[str] = set()  # the store warnings this process has given


def now_ms() -> int:
    """The wall clock in milliseconds since 1970-01-01 UTC (MLflow's time unit)."""
    return int(time.time() * 1000)


def _finite(value: Any) -> bool:
    return value is not None and float(value) == float(value) and abs(float(value)) != float("inf")


@dataclass
class RunHandle:
    """One run, by id: every logging call goes to ``run_id`` whatever else is running."""

    run_id: str
    client: MlflowClient

    def log_metrics(self, metrics: dict[str, float], *, step: int | None = None) -> None:
        """Log finite numeric metrics (NaN/inf are skipped: MLflow cannot compare them)."""
        stamp = now_ms()
        batch = [Metric(k, float(v), stamp, step or 0) for k, v in metrics.items() if _finite(v)]
        if batch:
            self.client.log_batch(self.run_id, metrics=batch)

    def log_params(self, params: dict[str, Any]) -> None:
        """Log params (values stringified and cut to MLflow's 6000-character limit)."""
        batch = [Param(k, str(v)[:PARAM_VALUE_LIMIT]) for k, v in params.items()]
        if batch:
            self.client.log_batch(self.run_id, params=batch)

    def set_tags(self, run_tags: dict[str, Any]) -> None:
        """Set run tags (values stringified)."""
        batch = [RunTag(k, str(v)) for k, v in run_tags.items()]
        if batch:
            self.client.log_batch(self.run_id, tags=batch)

    def log_figure(self, figure: Any, artifact_file: str) -> None:
        """Log a matplotlib figure as a PNG artifact and close it."""
        import matplotlib.pyplot as plt

        self.client.log_figure(self.run_id, figure, artifact_file)
        plt.close(figure)

    def log_text(self, text: str, artifact_file: str) -> None:
        """Log a text artifact (Markdown tables, reports)."""
        self.client.log_text(self.run_id, text, artifact_file)

    def log_dict(self, obj: dict[str, Any], artifact_file: str) -> None:
        """Log a JSON or YAML artifact (by suffix)."""
        self.client.log_dict(self.run_id, obj, artifact_file)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        """Log a local file or directory as an artifact."""
        path = Path(path)
        if path.is_dir():
            self.client.log_artifacts(self.run_id, str(path), artifact_path)
        else:
            self.client.log_artifact(self.run_id, str(path), artifact_path)

    def log_dataset(self, digest: str, source: str) -> None:
        """Record the input data as a dataset input carrying our own content digest (first 36 chars)."""
        import warnings

        import mlflow.data
        from mlflow.entities import Dataset, DatasetInput, InputTag

        summary = pd.DataFrame({"data_digest": [digest]})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "source can be interpreted in multiple ways"
            dataset = mlflow.data.from_pandas(summary, source=str(Path(source).resolve()),
                                              name=Path(str(source)).name or "data", digest=digest[:36])
        entity = DatasetInput(Dataset(**dataset.to_dict()), tags=[InputTag("mlflow.data.context", "input")])
        self.client.log_inputs(self.run_id, datasets=[entity])


class Tracker:
    """Opens runs on one tracking store and one experiment.

    Parameters
    ----------
    uri
        ``sqlite:///mlflow.db`` (default) or an ``http(s)://`` server; a bare path or ``file:`` URI (MLflow's
        retired file store) is a UsageError.
    experiment
        Experiment name; created on first use (with ``artifact_location`` for local stores).
    artifact_location
        Where a local store keeps artifacts (``./mlartifacts``); ignored for servers.
    started_ms
        When the command began (ms since epoch). Pipelines open their run after the
        work, so the first run this tracker opens starts here; later runs start when
        opened. None: every run starts when opened.
    quiet
        Swallow MLflow's own printed lines (registration, run links): the CLI's ``-q``.
    offline_hint
        How the command can run without the server, said when the server is unreachable ("": nothing).
    source
        Where ``uri`` came from (``Settings.tracking_source``), named when it is refused ("": any place).
    """

    def __init__(self, uri: str, *, experiment: str = "anticipate", artifact_location: str = "./mlartifacts",
                 started_ms: int | None = None, quiet: bool = False, offline_hint: str = "",
                 source: str = "") -> None:
        self.uri = uri
        self.experiment = experiment
        self.artifact_location = artifact_location
        self.quiet = quiet
        self._pending_start_ms = started_ms
        check_uri_form(uri, source)
        check_reachable(uri, offline_hint=offline_hint, source=source)
        configure_mlflow(uri)
        self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        self.registry = Registry(self.client, uri, quiet=quiet)
        with service_errors(uri, "opening the experiment"):
            self.experiment_id = retry_on_store_race(self._ensure_experiment)

    @classmethod
    def from_config(cls, cfg: Config, uri: str, *, started_ms: int | None = None, quiet: bool = False,
                    offline_hint: str = "", source: str = "") -> Tracker:
        """A tracker for the resolved ``uri`` and the config's experiment and artifact location."""
        return cls(uri, experiment=cfg.tracking.experiment, artifact_location=cfg.tracking.artifact_location,
                   started_ms=started_ms, quiet=quiet, offline_hint=offline_hint, source=source)

    def _ensure_experiment(self) -> str:
        found = self.client.get_experiment_by_name(self.experiment)
        if found is not None:
            moved = foreign_artifact_root(self.uri, found.artifact_location, self.artifact_location)
            if moved and moved not in _SAID:
                _SAID.add(moved)  # once per process, however many trackers a command opens
                log.warning(moved)
            return found.experiment_id
        location = local_artifact_root(self.uri, self.artifact_location)
        try:
            return self.client.create_experiment(self.experiment, artifact_location=location)
        except MlflowException:
            found = self.client.get_experiment_by_name(self.experiment)  # created concurrently
            if found is None:
                raise
            return found.experiment_id

    def _start_ms(self, started_ms: int | None) -> int:
        """The start time of the run being opened: explicit, else the pending command start, else now."""
        pending, self._pending_start_ms = self._pending_start_ms, None
        return started_ms if started_ms is not None else pending if pending is not None else now_ms()

    def handle(self, run_id: str) -> RunHandle:
        """A handle logging to an existing run (e.g. a parent copying its children's results)."""
        return RunHandle(run_id, self.client)

    @contextlib.contextmanager
    def run(self, command: str, *, cfg: Config | None = None, cutoff: str | None = None,
            data_digest: str | None = None, data_source: str | None = None,
            parent_run_id: str | None = None, run_name: str | None = None,
            extra_tags: dict[str, str] | None = None, resume_run_id: str | None = None,
            started_ms: int | None = None) -> Iterator[RunHandle]:
        """Open a run with the project's tags; it ends FINISHED, or FAILED if the block raises.

        ``parent_run_id`` nests the run under another; ``resume_run_id`` reopens an
        existing run (an interrupted experiment parent); ``started_ms`` overrides the
        start time (ms since epoch).
        """
        if command not in tags.TRACKED_COMMANDS:  # runs list --command offers exactly these
            raise ValueError(f"{command!r} is not in tags.TRACKED_COMMANDS; add it there")
        start = self._start_ms(started_ms)
        if resume_run_id is not None:
            with service_errors(self.uri, f"resuming the '{command}' run"):
                self.client.update_run(resume_run_id, status="RUNNING")
            yield from self._body(self.handle(resume_run_id), command, cfg=None, data_digest=None,
                                  data_source=None)
            return
        run_tags = self._tags(command, cutoff, data_digest, parent_run_id, extra_tags)
        with service_errors(self.uri, f"recording the '{command}' run"):
            created = self.client.create_run(self.experiment_id, start_time=start, tags=run_tags,
                                             run_name=run_name or command)
        yield from self._body(self.handle(created.info.run_id), command, cfg=cfg, data_digest=data_digest,
                              data_source=data_source)

    @staticmethod
    def _tags(command: str, cutoff: str | None, data_digest: str | None, parent_run_id: str | None,
              extra_tags: dict[str, str] | None) -> dict[str, str]:
        source = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "anticipate"
        run_tags = {tags.TAG_COMMAND: command, tags.TAG_COMMIT: git_commit(),
                    "mlflow.source.type": "LOCAL", "mlflow.source.name": source}
        with contextlib.suppress(Exception):  # no user name in some containers
            run_tags["mlflow.user"] = getpass.getuser()
        if cutoff is not None:
            run_tags[tags.TAG_CUTOFF] = cutoff
        if data_digest is not None:
            run_tags[tags.TAG_DIGEST] = data_digest
        if parent_run_id is not None:
            run_tags[tags.TAG_PARENT] = parent_run_id
        run_tags.update(extra_tags or {})
        return run_tags

    def _body(self, handle: RunHandle, command: str, *, cfg: Config | None, data_digest: str | None,
              data_source: str | None) -> Iterator[RunHandle]:
        status = "FAILED"
        try:
            with service_errors(self.uri, f"recording the '{command}' run"):
                if cfg is not None:
                    handle.log_params(config_as_flat_params(cfg))
                    handle.log_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False),
                                    "config.yaml")
                if data_digest is not None:
                    handle.log_dataset(data_digest, data_source or "data")
                yield handle
            status = "FINISHED"
        finally:
            with contextlib.suppress(Exception), mlflow_chatter(self.quiet):
                self.client.set_terminated(handle.run_id, status=status, end_time=now_ms())

    # ------------------------------------------------------------------ models (see registry.py)
    def log_model(self, handle: RunHandle, python_model: Any, *, input_example: pd.DataFrame,
                  output_example: pd.DataFrame, registered_name: str | None) -> tuple[str | None, str]:
        """Log a pyfunc model to ``handle``'s run; register it when named (see :class:`Registry`)."""
        return self.registry.log_model(handle.run_id, python_model, input_example=input_example,
                                       output_example=output_example, registered_name=registered_name)

    def resolve_model_uri(self, model: str | None, *, name: str, default_alias: str | None) -> str:
        """Turn ``--model`` into a loadable URI (see :meth:`Registry.resolve_model_uri`)."""
        return self.registry.resolve_model_uri(model, name=name, default_alias=default_alias)

    def latest_version(self, name: str) -> str:
        """The highest registered version of ``name``; ModelNotFound if none."""
        return self.registry.latest_version(name)

    def load_model(self, uri: str, *, named: str | None = None) -> Any:
        """Load a pyfunc model and return the wrapped Python object (see :meth:`Registry.load_model`)."""
        return self.registry.load_model(uri, named=named)

    def set_alias(self, name: str, alias: str, run_or_version: str) -> str:
        """Point ``alias`` of ``name`` at a version, ``latest`` or a run id (prefix); return the version."""
        return self.registry.set_alias(name, alias, run_or_version)
