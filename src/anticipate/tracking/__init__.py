"""MLflow tracking: the only package that imports MLflow (public ``mlflow.*`` APIs only).

One job per module:

* :mod:`~anticipate.tracking.store`: tracking URI and artifact setup, reachability,
  the git commit, MLflow's environment (set when a tracker opens, never at import);
* :mod:`~anticipate.tracking.errors`: MLflow failures -> exit codes, store races;
* :mod:`~anticipate.tracking.tags`: every ``anticipate.*`` tag name and search filter;
* :mod:`~anticipate.tracking.runs`: :class:`Tracker` and :class:`RunHandle` (run lifecycle);
* :mod:`~anticipate.tracking.registry`: logging, registering, resolving and loading models;
* :mod:`~anticipate.tracking.reader`: :class:`RunReader`, read-only queries;
* :mod:`~anticipate.tracking.compare`: which metrics of runs to compare and who wins;
* :mod:`~anticipate.tracking.pyfunc`: :class:`NextPurchasePyfunc`, the registered model.

Importing this package changes no global state (environment, MLflow's URIs).
"""

from __future__ import annotations

from anticipate.tracking.errors import retry_on_store_race, service_errors
from anticipate.tracking.pyfunc import NextPurchasePyfunc
from anticipate.tracking.reader import RunReader, RunRecord, resolve_run_id
from anticipate.tracking.registry import Registry
from anticipate.tracking.runs import RunHandle, Tracker
from anticipate.tracking.store import check_reachable, configure_mlflow, git_commit, is_remote
from anticipate.tracking.tags import TAG_COMMAND, TAG_COMMIT, TAG_CUTOFF, TAG_DIGEST

__all__ = [
    "TAG_COMMAND",
    "TAG_COMMIT",
    "TAG_CUTOFF",
    "TAG_DIGEST",
    "NextPurchasePyfunc",
    "Registry",
    "RunHandle",
    "RunReader",
    "RunRecord",
    "Tracker",
    "check_reachable",
    "configure_mlflow",
    "git_commit",
    "is_remote",
    "resolve_run_id",
    "retry_on_store_race",
    "service_errors",
]
