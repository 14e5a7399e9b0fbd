"""Where a local store's files are, when they are not where the store says.

A local MLflow store (``sqlite:///mlflow.db``) records absolute ``file:`` paths: the experiment's
artifact location and each logged model's. Copy or move the project and the copy's runs keep
writing into the original's ``mlartifacts/``; delete or move that directory and every model load
fails with MLflow's "No such artifact". These functions name the path instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse


def file_path(location: str | None) -> Path | None:
    """The local path of a ``file:`` URI (or a plain absolute path); None for anything remote."""
    if not location:
        return None
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    return Path(location) if parsed.scheme == "" and location.startswith("/") else None


def sqlite_directory(store_uri: str) -> Path | None:
    """The directory holding a ``sqlite:`` store's database file, else None."""
    if not store_uri.startswith("sqlite:///"):
        return None
    return Path(store_uri.removeprefix("sqlite:///")).resolve().parent


def foreign_artifact_root(store_uri: str, experiment_location: str | None, configured: str) -> str | None:
    """A warning when a local store files its experiment's artifacts outside the store's directory and
    not where ``tracking.artifact_location`` (``configured``, resolved from the working directory)
    points: the store was copied or moved, and its new runs write into the original's directory."""
    home, root = sqlite_directory(store_uri), file_path(experiment_location)
    if home is None or root is None:
        return None
    root = root.resolve()
    if root.is_relative_to(home) or root == Path(configured).resolve():
        return None
    gone = "" if root.exists() else " (which no longer exists)"
    return (f"the tracking store {store_uri} files its artifacts and models under {root}{gone}, outside "
            f"the store's directory {home}: a store copied or moved from elsewhere keeps writing there, and "
            f"loses its models with that directory; use the original store, or set tracking.experiment to a "
            f"new name so that new runs file under {Path(configured).resolve()}")


def missing_model_files(client: Any, uri: str) -> Path | None:
    """Where the files of the registered model ``uri`` (``models:/NAME@ALIAS`` or ``models:/NAME/V``)
    should be, when that is a local path that does not exist; None otherwise (or when unknown)."""
    if not uri.startswith("models:/"):
        return None
    name, sep, alias = uri.removeprefix("models:/").partition("@")
    try:
        if sep:
            version = client.get_model_version_by_alias(name, alias)
        else:
            name, _, number = name.rpartition("/")
            version = client.get_model_version(name, number)
        source = version.source
        if source.startswith("models:/"):  # MLflow 3: the version points at a logged model
            source = client.get_logged_model(source.removeprefix("models:/")).artifact_location
    except Exception:
        return None
    path = file_path(source)
    return path if path is not None and not path.exists() else None
