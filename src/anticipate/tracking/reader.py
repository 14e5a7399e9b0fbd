"""Reading runs back, read-only: search, one run by id or unique id prefix, a JSON artifact.

Used by ``runs list``, ``runs compare``, ``experiment run`` and ``promote``; nothing
here writes to the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from anticipate.errors import UsageError
from anticipate.tracking import tags
from anticipate.tracking.errors import service_errors

RUN_ID_LENGTH = 32


@dataclass(frozen=True)
class RunRecord:
    """A run as the bench commands see it: ids, status, times (ms since epoch), tags, params, metrics."""

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
        return self.tags.get(tags.TAG_COMMAND, "?")

    @property
    def duration_s(self) -> float | None:
        """Wall-clock seconds from the run's start to its end, or None while running."""
        return None if self.end_ms is None else (self.end_ms - self.start_ms) / 1000.0


def record(run: Any) -> RunRecord:
    """An MLflow ``Run`` as a :class:`RunRecord`."""
    return RunRecord(run_id=run.info.run_id, experiment_id=run.info.experiment_id,
                     name=run.info.run_name or "", status=run.info.status,
                     start_ms=int(run.info.start_time),
                     end_ms=None if run.info.end_time is None else int(run.info.end_time),
                     tags=dict(run.data.tags), params=dict(run.data.params), metrics=dict(run.data.metrics))


def resolve_run_id(client: MlflowClient, uri: str, text: str) -> str:
    """The full id of the one run whose id is ``text`` or starts with it (any experiment).

    UsageError (exit 2) when no run or more than one run matches, naming the candidates.
    """
    tags.check_run_id_prefix(text)
    if len(text) == RUN_ID_LENGTH:
        return text
    with service_errors(uri, "looking up a run id"):
        experiments = [e.experiment_id for e in client.search_experiments()]
        found = client.search_runs(experiments, filter_string=tags.run_id_starts_with(text), max_results=10)
    if len(found) == 1:
        return found[0].info.run_id
    if not found:
        raise UsageError(f"no run id starts with {text!r}; list runs with 'anticipate runs list'")
    names = ", ".join(f"{r.info.run_id} ({r.data.tags.get(tags.TAG_COMMAND, '?')})" for r in found[:5])
    more = " ..." if len(found) > 5 else ""
    raise UsageError(
        f"run id prefix {text!r} is ambiguous: {names}{more}; give more characters of the id"
    )


class RunReader:
    """Read-only access to runs of a tracker's store and experiment."""

    def __init__(self, tracker: Any) -> None:
        self.tracker = tracker
        self.client: MlflowClient = tracker.client

    def search(self, filter_string: str = "", *, all_experiments: bool = False, max_results: int = 50,
               order_by: list[str] | None = None) -> list[RunRecord]:
        """Runs matching an MLflow search filter, newest first (UsageError for a bad filter)."""
        with service_errors(self.tracker.uri, "searching runs"):
            if all_experiments:
                ids = [e.experiment_id for e in self.client.search_experiments()]
            else:
                ids = [self.tracker.experiment_id]
            try:
                runs = self.client.search_runs(ids, filter_string=filter_string, max_results=max_results,
                                               order_by=order_by or ["attributes.start_time DESC"])
            except MlflowException as exc:
                if exc.get_http_status_code() >= 500:
                    raise
                raise UsageError(f"--filter {filter_string!r} is not a valid MLflow search filter: "
                                 f"{str(exc).splitlines()[0][:300]}") from None
        return [record(r) for r in runs]

    def resolve(self, text: str) -> str:
        """The full run id for a run id or a unique prefix of one (see :func:`resolve_run_id`)."""
        return resolve_run_id(self.client, self.tracker.uri, text)

    def get(self, run_id: str) -> RunRecord:
        """One run by id or unique id prefix; UsageError naming the id when it does not exist."""
        full = self.resolve(run_id)
        with service_errors(self.tracker.uri, "reading a run"):
            try:
                return record(self.client.get_run(full))
            except MlflowException as exc:
                if exc.get_http_status_code() >= 500:
                    raise
                raise UsageError(
                    f"unknown run id {run_id!r}; list runs with 'anticipate runs list'"
                ) from None

    def load_json_artifact(self, run_id: str, path: str) -> dict[str, Any] | None:
        """A JSON artifact of a run, or None if the run has none at ``path``."""
        import mlflow.artifacts

        try:
            return mlflow.artifacts.load_dict(f"runs:/{run_id}/{path}")
        except (MlflowException, OSError, ValueError):
            return None
