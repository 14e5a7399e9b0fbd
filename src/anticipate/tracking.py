"""MLflow tracking: the only module that imports MLflow (public ``mlflow.*`` APIs only).

Every command that computes something opens one run through :class:`Tracker`
(CONTRACTS section 8): tags ``anticipate.command``, ``anticipate.cutoff``,
``anticipate.git_commit`` and ``anticipate.data_digest``, the resolved config as
params and as ``config.yaml``, and the input data's digest as a dataset input.

The default store is ``sqlite:///mlflow.db`` with artifacts in ``./mlartifacts``;
an ``http://`` URI points at a real MLflow server (artifacts proxied by it).
Unreachable servers and unknown models raise :class:`ServiceUnavailable` /
:class:`ModelNotFound` (exit 3) with the command that would fix them.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

import mlflow
import mlflow.pyfunc
import pandas as pd
import yaml
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from anticipate.config import Config, config_as_flat_params
from anticipate.errors import ModelNotFound, ServiceUnavailable, UsageError

TAG_COMMAND = "anticipate.command"
TAG_CUTOFF = "anticipate.cutoff"
TAG_COMMIT = "anticipate.git_commit"
TAG_DIGEST = "anticipate.data_digest"
MODEL_NAME_DEFAULT = "anticipate-next-purchase"


def is_remote(uri: str) -> bool:
    """Whether ``uri`` names a tracking server (http/https) rather than a local store."""
    return uri.startswith(("http://", "https://"))


def git_commit(cwd: str | Path | None = None) -> str:
    """The current git commit of the working directory, or ``unknown``."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def check_reachable(uri: str, *, timeout: float = 5.0) -> None:
    """Fail fast with ServiceUnavailable when a tracking server does not answer ``/health``."""
    if not is_remote(uri):
        return
    import requests

    try:
        response = requests.get(uri.rstrip("/") + "/health", timeout=timeout)
    except requests.RequestException as exc:
        raise ServiceUnavailable(
            f"the MLflow tracking server at {uri} is unreachable ({type(exc).__name__}); start it, fix "
            "--tracking-uri / MLFLOW_TRACKING_URI, or use the local store "
            "(--tracking-uri sqlite:///mlflow.db). "
            "'anticipate allocate --model PATH' runs without the server from a local model copy"
        ) from None
    if response.status_code >= 500:
        raise ServiceUnavailable(f"the MLflow tracking server at {uri} answered HTTP {response.status_code}")


RACE_MARKERS = ("OperationalError", "IntegrityError", "already exists", "locked")


def _retry_on_store_race(fn: Any, attempts: int = 5) -> Any:
    """Call ``fn``, retrying while another process is creating the same SQLite store's tables."""
    import time

    for attempt in range(attempts):
        try:
            return fn()
        except Exception as exc:  # SQLAlchemy/MLflow errors of a store being initialised
            text = f"{type(exc).__name__}: {exc}"
            racing = any(s in text for s in RACE_MARKERS)
            if not racing or attempt == attempts - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


@contextlib.contextmanager
def service_errors(uri: str, what: str) -> Iterator[None]:
    """Turn connection failures talking to MLflow into ServiceUnavailable naming ``what``."""
    import requests

    try:
        yield
    except (requests.RequestException, ConnectionError) as exc:
        raise ServiceUnavailable(
            f"lost the MLflow tracking server at {uri} while {what} ({type(exc).__name__}); "
            "nothing was published as if it had succeeded; re-run when the server is back"
        ) from None
    except MlflowException as exc:
        text = str(exc)
        if any(s in text for s in ("Max retries", "Connection", "API request to", "timed out")):
            raise ServiceUnavailable(
                f"the MLflow tracking server at {uri} failed while {what}: {text.splitlines()[0][:300]}; "
                "re-run when the server is back"
            ) from None
        raise


class NextPurchasePyfunc(mlflow.pyfunc.PythonModel):
    """The registered model: a fitted next-purchase model plus what it was trained with.

    ``predict`` takes the feature table (columns ``feature_names``) and returns
    ``p_buy``, ``units_given_buy`` and ``expected_units`` (units over the horizon).
    ``meta`` holds item_level, horizon_days, lookback_days, families and the
    training cutoffs, so scoring rebuilds exactly the features the model saw.
    """

    def __init__(self, model: Any, meta: dict[str, Any]) -> None:
        self.model = model
        self.meta = dict(meta)

    @property
    def feature_names(self) -> list[str]:
        """The feature columns, in the order the model expects them."""
        return list(self.model.feature_names_)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
                ) -> pd.DataFrame:
        """Score a feature table: ``p_buy``, ``units_given_buy``, ``expected_units`` per row."""
        del context, params
        X = model_input[self.feature_names]
        p = self.model.predict_proba(X)
        units = self.model.predict_units(X)
        return pd.DataFrame({"p_buy": p, "units_given_buy": units, "expected_units": p * units})


@dataclass
class RunHandle:
    """An active run: logging helpers bound to its id."""

    run_id: str
    client: MlflowClient

    def log_metrics(self, metrics: dict[str, float], *, step: int | None = None) -> None:
        """Log finite numeric metrics (NaN/inf are skipped: MLflow cannot compare them)."""
        clean = {k: float(v) for k, v in metrics.items()
                 if v is not None and float(v) == float(v) and abs(float(v)) != float("inf")}
        if clean:
            mlflow.log_metrics(clean, step=step)

    def log_params(self, params: dict[str, Any]) -> None:
        """Log params (values stringified and cut to MLflow's 6000-character limit)."""
        mlflow.log_params({k: str(v)[:6000] for k, v in params.items()})

    def set_tags(self, tags: dict[str, Any]) -> None:
        """Set run tags."""
        mlflow.set_tags({k: str(v) for k, v in tags.items()})

    def log_figure(self, figure: Any, artifact_file: str) -> None:
        """Log a matplotlib figure as a PNG artifact and close it."""
        import matplotlib.pyplot as plt

        mlflow.log_figure(figure, artifact_file)
        plt.close(figure)

    def log_text(self, text: str, artifact_file: str) -> None:
        """Log a text artifact (Markdown tables, reports)."""
        mlflow.log_text(text, artifact_file)

    def log_dict(self, obj: dict[str, Any], artifact_file: str) -> None:
        """Log a JSON or YAML artifact (by suffix)."""
        mlflow.log_dict(obj, artifact_file)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        """Log a local file or directory as an artifact."""
        path = Path(path)
        if path.is_dir():
            mlflow.log_artifacts(str(path), artifact_path)
        else:
            mlflow.log_artifact(str(path), artifact_path)

    def log_frame(self, frame: pd.DataFrame, artifact_file: str) -> None:
        """Log a DataFrame as a Parquet artifact."""
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / Path(artifact_file).name
            frame.to_parquet(target, index=False)
            parent = str(Path(artifact_file).parent)
            mlflow.log_artifact(str(target), None if parent == "." else parent)


class Tracker:
    """Opens runs on one tracking store and one experiment.

    Parameters
    ----------
    uri
        ``sqlite:///mlflow.db`` (default), a ``file:`` path or an ``http(s)://`` server.
    experiment
        Experiment name; created on first use (with ``artifact_location`` for local stores).
    artifact_location
        Where a local store keeps artifacts (``./mlartifacts``); ignored for servers.
    """

    def __init__(self, uri: str, *, experiment: str = "anticipate",
                 artifact_location: str = "./mlartifacts") -> None:
        self.uri = uri
        self.experiment = experiment
        self.artifact_location = artifact_location
        check_reachable(uri)
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        with service_errors(uri, "opening the experiment"):
            self.experiment_id = _retry_on_store_race(self._ensure_experiment)

    @classmethod
    def from_config(cls, cfg: Config, uri: str) -> Tracker:
        """A tracker for the resolved ``uri`` and the config's experiment and artifact location."""
        return cls(uri, experiment=cfg.tracking.experiment, artifact_location=cfg.tracking.artifact_location)

    def _ensure_experiment(self) -> str:
        found = self.client.get_experiment_by_name(self.experiment)
        if found is not None:
            return found.experiment_id
        location = None if is_remote(self.uri) else Path(self.artifact_location).resolve().as_uri()
        try:
            return self.client.create_experiment(self.experiment, artifact_location=location)
        except MlflowException:
            found = self.client.get_experiment_by_name(self.experiment)  # created concurrently
            if found is None:
                raise
            return found.experiment_id

    @contextlib.contextmanager
    def run(self, command: str, *, cfg: Config | None = None, cutoff: str | None = None,
            data_digest: str | None = None, data_source: str | None = None,
            parent_run_id: str | None = None, run_name: str | None = None,
            extra_tags: dict[str, str] | None = None, resume_run_id: str | None = None
            ) -> Iterator[RunHandle]:
        """Open a run tagged per CONTRACTS section 8; ends FAILED if the block raises.

        ``parent_run_id`` nests the run (the parent must be the active run);
        ``resume_run_id`` reopens an existing run (an interrupted experiment parent).
        """
        if resume_run_id is not None:
            with service_errors(self.uri, f"resuming the '{command}' run"):
                active = mlflow.start_run(run_id=resume_run_id)
            yield from self._finish(active, command, cfg=None, data_digest=None, data_source=None)
            return
        tags = {TAG_COMMAND: command, TAG_COMMIT: git_commit()}
        if cutoff is not None:
            tags[TAG_CUTOFF] = cutoff
        if data_digest is not None:
            tags[TAG_DIGEST] = data_digest
        tags.update(extra_tags or {})
        with service_errors(self.uri, f"recording the '{command}' run"):
            active = mlflow.start_run(experiment_id=self.experiment_id, run_name=run_name or command,
                                      nested=parent_run_id is not None, parent_run_id=parent_run_id,
                                      tags=tags)
        yield from self._finish(active, command, cfg=cfg, data_digest=data_digest, data_source=data_source)

    def _finish(self, active: Any, command: str, *, cfg: Config | None, data_digest: str | None,
                data_source: str | None) -> Iterator[RunHandle]:
        status = "FAILED"
        try:
            with service_errors(self.uri, f"recording the '{command}' run"):
                handle = RunHandle(active.info.run_id, self.client)
                if cfg is not None:
                    handle.log_params(config_as_flat_params(cfg))
                    handle.log_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False),
                                    "config.yaml")
                if data_digest is not None:
                    _log_dataset(data_digest, data_source or "data")
                yield handle
            status = "FINISHED"
        finally:
            with contextlib.suppress(Exception):
                mlflow.end_run(status=status)

    # ------------------------------------------------------------------ models
    def log_model(self, handle: RunHandle, python_model: mlflow.pyfunc.PythonModel, *,
                  input_example: pd.DataFrame, output_example: pd.DataFrame,
                  registered_name: str | None) -> tuple[str | None, str]:
        """Log a pyfunc model with signature and input example; register it when named.

        Returns ``(registered version or None, a URI that loads this exact model)``.
        """
        from mlflow.models import infer_signature

        signature = infer_signature(input_example, output_example)
        with service_errors(self.uri, "logging the model"):
            info = mlflow.pyfunc.log_model(name="model", python_model=python_model, signature=signature,
                                           input_example=input_example,
                                           registered_model_name=registered_name)
        version = getattr(info, "registered_model_version", None)
        if registered_name and version is None:
            query = f"name='{registered_name}' and run_id='{handle.run_id}'"
            versions = self.client.search_model_versions(query)
            version = max((int(v.version) for v in versions), default=None)
        if version is not None:
            return str(version), f"models:/{registered_name}/{version}"
        return None, info.model_uri

    def resolve_model_uri(self, model: str | None, *, name: str, default_alias: str | None) -> str:
        """Turn ``--model`` into a loadable URI.

        ``None`` means the ``default_alias`` of ``name`` (or its latest version when
        ``default_alias`` is None); a bare number is a version, ``@alias`` an alias,
        ``runs:/``, ``models:/`` and local paths pass through.
        """
        if model is None:
            if default_alias is not None:
                return f"models:/{name}@{default_alias}"
            return f"models:/{name}/{self.latest_version(name)}"
        if model.isdigit():
            return f"models:/{name}/{model}"
        if model.startswith("@"):
            return f"models:/{name}{model}"
        if model == "latest":
            return f"models:/{name}/{self.latest_version(name)}"
        return model

    def latest_version(self, name: str) -> str:
        """The highest registered version of ``name``; ModelNotFound if none."""
        with service_errors(self.uri, "looking up the model registry"):
            try:
                versions = self.client.search_model_versions(f"name='{name}'")
            except MlflowException:
                versions = []
        if not versions:
            raise ModelNotFound(
                f"no registered versions of model '{name}' in {self.uri}; run 'anticipate train' first"
            )
        return str(max(int(v.version) for v in versions))

    def load_model(self, uri: str) -> Any:
        """Load a pyfunc model and return the wrapped Python object (``unwrap_python_model``)."""
        with service_errors(self.uri, f"loading the model {uri}"):
            try:
                loaded = mlflow.pyfunc.load_model(uri)
            except (MlflowException, OSError) as exc:
                hint = ("run 'anticipate promote VERSION --alias production' to set the alias" if "@" in uri
                        else "check the URI with 'anticipate runs list', or run 'anticipate train'")
                raise ModelNotFound(
                    f"cannot load model {uri}: {str(exc).splitlines()[0][:300]}; {hint}"
                ) from None
        return loaded.unwrap_python_model()

    def set_alias(self, name: str, alias: str, run_or_version: str) -> str:
        """Point ``alias`` of ``name`` at a version (a number, ``latest`` or a run id); return it."""
        if run_or_version == "latest":
            version = self.latest_version(name)
        elif run_or_version.isdigit():
            version = run_or_version
        else:
            with service_errors(self.uri, "looking up the model registry"):
                versions = self.client.search_model_versions(f"name='{name}' and run_id='{run_or_version}'")
            if not versions:
                raise ModelNotFound(
                    f"run {run_or_version} registered no version of '{name}'; pass a version number "
                    "(see 'anticipate runs list --command train')"
                )
            version = str(max(int(v.version) for v in versions))
        with service_errors(self.uri, "setting the alias"):
            try:
                self.client.set_registered_model_alias(name, alias, version)
            except MlflowException as exc:
                raise ModelNotFound(
                    f"cannot set alias '{alias}' on {name} version {version}: "
                    f"{str(exc).splitlines()[0][:200]}"
                ) from None
        return version


def _log_dataset(digest: str, source: str) -> None:
    """Record the input data as an MLflow dataset input carrying our own content digest."""
    import warnings

    summary = pd.DataFrame({"data_digest": [digest]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "source can be interpreted in multiple ways"
        dataset = mlflow.data.from_pandas(summary, source=str(Path(source).resolve()),
                                          name=Path(str(source)).name or "data", digest=digest[:36])
    mlflow.log_input(dataset, context="input")


# --------------------------------------------------------------------------- reading runs back
@dataclass(frozen=True)
class RunRecord:
    """A run as the bench commands see it: ids, status, times, tags, params, metrics."""

    run_id: str
    experiment_id: str
    name: str
    status: str
    start_ms: int
    end_ms: int | None
    tags: dict[str, str]
    params: dict[str, str]
    metrics: dict[str, float]

    @property
    def command(self) -> str:
        """The anticipate command that made the run (tag), or ``?``."""
        return self.tags.get(TAG_COMMAND, "?")

    @property
    def duration_s(self) -> float | None:
        """Wall-clock seconds, or None while running."""
        return None if self.end_ms is None else (self.end_ms - self.start_ms) / 1000.0


def _record(run: Any) -> RunRecord:
    return RunRecord(run_id=run.info.run_id, experiment_id=run.info.experiment_id,
                     name=run.info.run_name or "", status=run.info.status,
                     start_ms=int(run.info.start_time),
                     end_ms=None if run.info.end_time is None else int(run.info.end_time),
                     tags=dict(run.data.tags), params=dict(run.data.params), metrics=dict(run.data.metrics))


class RunReader:
    """Read-only access to runs for ``runs list``, ``runs compare`` and ``experiment run``."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker
        self.client = tracker.client

    def search(self, filter_string: str = "", *, all_experiments: bool = False, max_results: int = 50,
               order_by: list[str] | None = None) -> list[RunRecord]:
        """Runs matching an MLflow search filter, newest first."""
        if all_experiments:
            ids = [e.experiment_id for e in self.client.search_experiments()]
        else:
            ids = [self.tracker.experiment_id]
        with service_errors(self.tracker.uri, "searching runs"):
            try:
                runs = self.client.search_runs(ids, filter_string=filter_string, max_results=max_results,
                                               order_by=order_by or ["attributes.start_time DESC"])
            except MlflowException as exc:
                raise UsageError(f"--filter {filter_string!r} is not a valid MLflow search filter: "
                                 f"{str(exc).splitlines()[0][:300]}") from None
        return [_record(r) for r in runs]

    def get(self, run_id: str) -> RunRecord:
        """One run by id; UsageError naming the id when it does not exist."""
        with service_errors(self.tracker.uri, "reading a run"):
            try:
                return _record(self.client.get_run(run_id))
            except MlflowException:
                raise UsageError(
                    f"unknown run id {run_id!r}; list runs with 'anticipate runs list'"
                ) from None

    def load_json_artifact(self, run_id: str, path: str) -> dict[str, Any] | None:
        """A JSON artifact of a run, or None if the run has none at ``path``."""
        try:
            return mlflow.artifacts.load_dict(f"runs:/{run_id}/{path}")
        except (MlflowException, OSError, ValueError):
            return None

    def log_metrics_to(self, run_id: str, metrics: dict[str, float]) -> None:
        """Log metrics onto an existing run (the experiment parent copies its children's)."""
        import time as _time

        from mlflow.entities import Metric

        now = int(_time.time() * 1000)
        batch = [Metric(k, float(v), now, 0) for k, v in metrics.items() if v == v]
        if batch:
            self.client.log_batch(run_id, metrics=batch)
