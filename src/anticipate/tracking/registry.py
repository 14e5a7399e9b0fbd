"""The model registry: logging and registering the model, resolving ``--model``, aliases, loading.

``--model`` accepts a registry version (``3``), an alias (``@production``),
``latest``, a ``models:/`` URI, a ``runs:/RUN/model`` URI (RUN may be a unique
prefix of the run id) or a local model directory. ``promote`` accepts a version,
``latest`` or a run id (or unique prefix). Naming something that does not exist is
a user error (exit 2); a model that cannot be loaded is exit 3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from anticipate.errors import ModelNotFound, UsageError
from anticipate.tracking import tags
from anticipate.tracking.artifacts import missing_model_files
from anticipate.tracking.errors import http_status, is_connection_failure, is_not_found, service_errors
from anticipate.tracking.reader import RUN_ID_LENGTH, resolve_run_id
from anticipate.tracking.store import mlflow_chatter

#: A bare number this long that is no registered version may be a run-id prefix of digits only.
MIN_NUMERIC_RUN_PREFIX = 8
#: What pyfunc.log_model records as the flavor of a custom PythonModel.
_FLAVOR_NAME = "pyfunc.CustomPythonModel"
#: The distributions the registered model needs to load and predict, pinned to the installed
#: versions when it is logged (:func:`model_requirements`).
MODEL_PACKAGES = ("mlflow", "anticipate", "cloudpickle", "lightgbm", "numpy", "pandas", "scikit-learn",
                  "scipy")


def model_requirements() -> list[str]:
    """``package==version`` of each installed :data:`MODEL_PACKAGES` entry: the model's requirements.txt.

    Given to MLflow explicitly: its inference starts a Python subprocess that loads the
    model to see what it imports (12 s of train's wall time on the real log), and it left
    out lightgbm, which the model cannot predict without.
    """
    from importlib.metadata import PackageNotFoundError, version

    pinned = []
    for name in MODEL_PACKAGES:
        try:
            pinned.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            continue
    return pinned


def is_registry_reference(model: str | None) -> bool:
    """Whether ``--model`` names something in the tracking store (nothing given: the default alias; a
    version, ``@alias``, ``latest``, a ``models:/`` or ``runs:/`` URI) rather than a local copy or a URI of
    another artifact store."""
    return (model is None or model.isdigit() or model == "latest"
            or model.startswith(("@", "models:/", "runs:/")))


def local_model_path(model: str | None) -> Path | None:
    """The directory ``--model`` names when it is a local path (or a ``file:`` URI), else None."""
    if is_registry_reference(model):
        return None
    assert model is not None
    parsed = urlparse(model)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    return Path(model) if len(parsed.scheme) <= 1 else None  # a drive letter parses as a scheme


def check_local_model(model: str | None) -> None:
    """UsageError (exit 2) when ``--model`` is a local path that is not an MLflow model directory: a typo
    in a path is the user's to fix, not an outage (exit 3)."""
    path = local_model_path(model)
    if path is None or (path / "MLmodel").is_file():
        return
    what = ("does not exist" if not path.exists()
            else "is not an MLflow model directory (it has no MLmodel file)")
    raise UsageError(
        f"--model {model}: {path} {what}; pass a local model copy (the directory holding MLmodel that "
        "mlflow.artifacts.download_artifacts wrote), or a registry version, @ALIAS, 'latest', models:/ or "
        "runs:/ URI"
    )


def _user_error(exc: MlflowException) -> bool:
    """Whether MLflow refused a request for a reason the user can fix (HTTP 4xx)."""
    status = http_status(exc)
    return status is not None and 400 <= status < 500


class Registry:
    """Registry operations on one store; ``quiet`` silences MLflow's printed lines (``-q``)."""

    def __init__(self, client: MlflowClient, uri: str, *, quiet: bool = False) -> None:
        self.client = client
        self.uri = uri
        self.quiet = quiet

    # ------------------------------------------------------------------ logging
    def log_model(self, run_id: str, python_model: Any, *, input_example: pd.DataFrame,
                  output_example: pd.DataFrame, registered_name: str | None) -> tuple[str | None, str]:
        """Log a pyfunc model to run ``run_id`` (artifact ``model``); register it when named.

        Returns ``(registered version or None, a URI that loads this exact model)``.
        """
        from mlflow.models import Model, infer_signature

        signature = infer_signature(input_example, output_example)
        with service_errors(self.uri, "logging the model"), mlflow_chatter(self.quiet):
            # MLflow 3 files the logged model under the *active* experiment, the Default one (0,
            # artifacts in ./mlruns of the directory the store was made in) unless told: the run's own
            # keeps it beside the run's artifacts, where a backup of the store finds it
            mlflow.set_experiment(experiment_id=self.client.get_run(run_id).info.experiment_id)
            info = Model.log(artifact_path=None, name="model", flavor=mlflow.pyfunc, run_id=run_id,
                             python_model=python_model, signature=signature, input_example=input_example,
                             pip_requirements=model_requirements(), flavor_name=_FLAVOR_NAME)
        if not registered_name:
            return None, info.model_uri
        version = self.register(info.model_uri, registered_name)
        return version, f"models:/{registered_name}/{version}"

    def register(self, model_uri: str, name: str) -> str:
        """Register the logged model ``model_uri`` as a new version of ``name``; return the version.

        MLflow prints "Successfully registered model" / "Created version" lines here;
        they are swallowed when the registry is quiet (``-q``).
        """
        with service_errors(self.uri, "registering the model"), mlflow_chatter(self.quiet):
            created = mlflow.register_model(model_uri, name)
        return str(created.version)

    # ------------------------------------------------------------------ resolving
    def resolve_model_uri(self, model: str | None, *, name: str, default_alias: str | None) -> str:
        """Turn ``--model`` into a loadable URI.

        ``None`` means the ``default_alias`` of ``name`` (or its latest version when
        ``default_alias`` is None); a bare number is a version, ``@alias`` an alias,
        ``runs:/PREFIX/...`` gets the full run id, ``models:/`` and local paths pass through.
        """
        if model is None:
            if default_alias is not None:
                self.require_alias(name, default_alias, given=False)
                return f"models:/{name}@{default_alias}"
            return f"models:/{name}/{self.latest_version(name)}"
        if model.isdigit():
            if not self._has_version(name, model):
                raise self._no_version(name, model, "pass one of them with --model, or an @alias")
            return f"models:/{name}/{model}"
        if model.startswith("@"):
            self.require_alias(name, model[1:], given=True)
            return f"models:/{name}{model}"
        if model.startswith("models:/") and "@" in model:
            named, _, alias = model[len("models:/"):].partition("@")
            self.require_alias(named, alias, given=True)
            return model
        if model.startswith("models:/") and model.rpartition("/")[2].isdigit():
            named, _, number = model[len("models:/"):].rpartition("/")
            if not self._has_version(named, number):  # a mistyped name or version is the user's (exit 2)
                raise self._no_version(named, number, "pass one of them with --model, or an @alias")
            return model
        if model == "latest":
            return f"models:/{name}/{self.latest_version(name)}"
        if model.startswith("runs:/"):
            run, _, rest = model[len("runs:/"):].partition("/")
            if not rest.strip("/"):
                raise UsageError(
                    f"--model {model} names a run, not a model in it: train logs its model as "
                    f"runs:/RUN/model; pass --model runs:/{run or 'RUN'}/model (anticipate runs list)")
            if tags.is_run_id_prefix(run) and len(run) < RUN_ID_LENGTH:
                return f"runs:/{resolve_run_id(self.client, self.uri, run)}/{rest}"
        return model

    def versions(self, name: str, run_id: str | None = None) -> list[int]:
        """The registered version numbers of ``name`` (made by ``run_id`` when given), ascending."""
        with service_errors(self.uri, "looking up the model registry"):
            try:
                found = self.client.search_model_versions(tags.model_versions_of(name, run_id))
            except MlflowException as exc:
                if not _user_error(exc):
                    raise
                found = []
        return sorted(int(v.version) for v in found)

    def latest_version(self, name: str) -> str:
        """The highest registered version of ``name``; ModelNotFound (exit 3) if none."""
        versions = self.versions(name)
        if not versions:
            raise ModelNotFound(
                f"no registered versions of model '{name}' in {self.uri}; run 'anticipate train' first"
            )
        return str(versions[-1])

    def version_for(self, name: str, ref: str) -> str:
        """The version ``ref`` names: a version number, ``latest`` or a run id / unique prefix.

        UsageError (exit 2) when the version or run does not exist or the run registered none.
        """
        if ref == "latest":
            return self.latest_version(name)
        if ref.isdigit() and self._has_version(name, ref):
            return ref
        if ref.isdigit() and len(ref) < MIN_NUMERIC_RUN_PREFIX:
            raise self._no_version(name, ref, "pass one of them, 'latest' or a train run id (see "
                                              "'anticipate runs list --command train')")
        if not tags.is_run_id_prefix(ref):
            raise UsageError(
                f"{ref!r} is not a version number, 'latest' or a run id; e.g. 'anticipate promote 3' or "
                "'anticipate promote latest'"
            )
        run_id = resolve_run_id(self.client, self.uri, ref)
        made = self.versions(name, run_id)
        if not made:
            raise UsageError(
                f"run {run_id} registered no version of '{name}'; pass a version number "
                "(see 'anticipate runs list --command train')"
            )
        return str(made[-1])

    def _no_version(self, name: str, ref: str, fix: str) -> UsageError:
        """The exit-2 error for a version number ``ref`` that ``name`` does not have, listing its versions."""
        known = self.versions(name)
        listed = ", ".join(map(str, known[-10:])) if known else "none yet: run 'anticipate train'"
        if not known:
            with service_errors(self.uri, "looking up the model registry"):
                names = sorted(m.name for m in self.client.search_registered_models())
            listed += f"; the store's registered models: {', '.join(names) or 'none'}"
        return UsageError(f"model '{name}' has no version {ref} in the tracking store {self.uri} "
                          f"(registered versions: {listed}); {fix}")

    def _has_version(self, name: str, version: str) -> bool:
        with service_errors(self.uri, "looking up the model registry"):
            try:
                self.client.get_model_version(name, version)
            except MlflowException as exc:
                if is_not_found(exc) or _user_error(exc):
                    return False
                raise
        return True

    # ------------------------------------------------------------------ aliases and loading
    def set_alias(self, name: str, alias: str, ref: str) -> str:
        """Point ``alias`` of ``name`` at the version ``ref`` names (see :meth:`version_for`); return it."""
        version = self.version_for(name, ref)
        with service_errors(self.uri, "setting the alias"):
            try:
                self.client.set_registered_model_alias(name, alias, version)
            except MlflowException as exc:
                if not _user_error(exc):
                    raise
                raise UsageError(
                    f"cannot set alias '{alias}' on {name} version {version}: "
                    f"{str(exc).splitlines()[0][:200]}"
                ) from None
        return version

    def version_facts(self, name: str, version: str) -> dict[str, Any]:
        """What a promotion should show of a version: ``version``, its training cutoff (``cutoff``: the
        train run's ``--until``) and ``val_auc`` (None where the run is gone or logged none)."""
        with service_errors(self.uri, "reading a model version"):
            run_id = self.client.get_model_version(name, version).run_id
            try:
                run = self.client.get_run(run_id) if run_id else None
            except MlflowException as exc:
                if not is_not_found(exc):
                    raise
                run = None
        data = run.data if run is not None else None
        return {"version": str(version),
                "cutoff": data.tags.get(tags.TAG_CUTOFF) if data else None,
                "val_auc": data.metrics.get("val.auc") if data else None}

    def alias_version(self, name: str, alias: str) -> str | None:
        """The version ``alias`` of ``name`` points at, or None when it points nowhere yet."""
        with service_errors(self.uri, "reading a model alias"):
            try:
                return str(self.client.get_model_version_by_alias(name, alias).version)
            except MlflowException as exc:
                if not (is_not_found(exc) or _user_error(exc)):  # an unknown alias is a 400 locally
                    raise
                return None

    def aliases(self, name: str) -> dict[str, str] | None:
        """Every alias of the registered model ``name`` -> its version, or None when ``name`` is not
        registered in this store."""
        with service_errors(self.uri, "reading the model's aliases"):
            try:
                found = self.client.get_registered_model(name)
            except MlflowException as exc:
                if not (is_not_found(exc) or _user_error(exc)):
                    raise
                return None
        return {str(k): str(v) for k, v in (found.aliases or {}).items()}

    def require_alias(self, name: str, alias: str, *, given: bool) -> None:
        """Refuse an alias of ``name`` that points nowhere, naming the store and the aliases that exist:
        UsageError (exit 2) when the user ``given`` it (a typo), ModelNotFound (exit 3) for a command's
        default alias (nobody promoted a model yet)."""
        if self.alias_version(name, alias) is not None:
            return
        known = self.aliases(name)
        error = UsageError if given else ModelNotFound
        if known is None:
            raise error(f"no model named '{name}' is registered in the tracking store {self.uri}; check "
                        "--tracking-uri, or run 'anticipate train' and 'anticipate promote'")
        listed = ", ".join(f"@{a} (version {v})" for a, v in sorted(known.items())) or "none"
        raise error(
            f"model '{name}' has no alias '@{alias}' in the tracking store {self.uri} "
            f"(its aliases: {listed}); "
            f"{'pass one of them with --model, or ' if given and known else ''}point it at a version with "
            f"'anticipate promote VERSION --alias {alias}'"
        )

    def pin(self, uri: str) -> tuple[str, dict[str, str | None]]:
        """The URI to load for ``uri`` (as :meth:`resolve_model_uri` returns it) and where that model comes
        from (:meth:`model_source`), from one reading of the registry: an alias (``models:/NAME@ALIAS``) is
        read once and pinned to its version, ``models:/NAME/VERSION``, so a promotion while the command
        loads cannot make it name one version and score with another. An alias that points nowhere is
        passed through unpinned (loading it fails with its own message)."""
        name, sep, alias = uri.removeprefix("models:/").partition("@")
        if not (uri.startswith("models:/") and sep):
            return uri, self.model_source(uri)
        found = self._version_record(lambda: self.client.get_model_version_by_alias(name, alias))
        if found is None:
            return uri, {"version": None, "run_id": None}
        version = str(found.version)
        return f"models:/{name}/{version}", {"version": version, "run_id": found.run_id or None}

    def model_source(self, uri: str) -> dict[str, str | None]:
        """Where the model ``uri`` comes from: its registry ``version`` and the ``run_id`` of the run that
        logged it, each None where unknown (a ``runs:/`` URI, a logged model's ``models:/m-ID`` or a local
        copy names no version; a version the store no longer finds names neither). An alias is read afresh
        here: a command that loads a model takes its source from :meth:`pin`, which it loads by."""
        path = local_model_path(uri)
        if uri.startswith("runs:/"):
            return {"version": None, "run_id": uri.removeprefix("runs:/").partition("/")[0] or None}
        if path is not None:
            from mlflow.models import Model

            run_id = Model.load(str(path)).run_id if (path / "MLmodel").is_file() else None
            return {"version": None, "run_id": run_id or None}
        if not uri.startswith("models:/"):  # another artifact store's URI
            return {"version": None, "run_id": None}
        name, sep, alias = uri.removeprefix("models:/").partition("@")
        if not sep and "/" not in name:  # a logged, unregistered model (a sweep child's)
            logged = self._version_record(lambda: self.client.get_logged_model(name))
            return {"version": None, "run_id": (logged.source_run_id or None) if logged else None}
        if sep:
            found = self._version_record(lambda: self.client.get_model_version_by_alias(name, alias))
        else:
            named, _, number = name.rpartition("/")
            found = self._version_record(lambda: self.client.get_model_version(named, number))
        if found is None:
            return {"version": None, "run_id": None}
        return {"version": str(found.version), "run_id": found.run_id or None}

    def _version_record(self, read: Any) -> Any:
        """``read()`` (a registry lookup) under the store's service errors; None when the store does not
        find what it names."""
        with service_errors(self.uri, "reading the model version"):
            try:
                return read()
            except MlflowException as exc:
                if not (is_not_found(exc) or _user_error(exc)):
                    raise
                return None

    def load_model(self, uri: str, *, named: str | None = None) -> Any:
        """Load a pyfunc model and return the wrapped Python object; ModelNotFound (exit 3) if it fails,
        naming ``named`` (the URI the user's ``--model`` resolved to, e.g. an alias :meth:`pin` pinned)."""
        import mlflow.pyfunc

        shown = named or uri
        with service_errors(self.uri, f"loading the model {shown}"):
            try:
                # The dependency check compares the model's pip requirements with the installed
                # packages (~2.7 s per process); MLflow's warnings are muted unless -v anyway.
                loaded = mlflow.pyfunc.load_model(uri, suppress_warnings=True)
            except (MlflowException, OSError) as exc:
                if is_connection_failure(exc):
                    raise
                gone = missing_model_files(self.client, uri)
                if gone is not None:
                    raise ModelNotFound(
                        f"cannot load model {shown} (tracking store {self.uri}): its files are missing at "
                        f"{gone}; the store's artifact directory was moved or deleted, or the store was "
                        "copied without it: put it back at that path, or train and promote a model again"
                    ) from None
                alias = shown.rpartition("@")[2] if shown.startswith("models:/") and "@" in shown else None
                hint = (f"run 'anticipate promote VERSION --alias {alias}' to set the alias" if alias
                        else "check the URI with 'anticipate runs list', or run 'anticipate train'")
                raise ModelNotFound(
                    f"cannot load model {shown} (tracking store {self.uri}): "
                    f"{str(exc).splitlines()[0][:300]}; {hint}"
                ) from None
        return loaded.unwrap_python_model()
