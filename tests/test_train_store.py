"""``train`` checks its tracking store before the fit (audit28 leftover): a store it cannot write, or a
server that does not answer, wasted the whole fit, then failed (an SQLite store it could not create: after
~100 s of MLflow's retries, exit 1 "a bug")."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from anticipate.config import load_config
from anticipate.errors import ConfigError, ServiceUnavailable, UsageError
from anticipate.pipelines import Settings
from anticipate.tracking.store import require_writable_store
from tests.conftest import TrainedWorld, free_port, run_cli


@pytest.fixture
def no_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fit that fails the test: the store must be refused before any fitting starts."""
    import anticipate.pipelines.model as model

    def fit(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was fitted before the tracking store was checked")

    monkeypatch.setattr(model, "fit_on_windows", fit)


def _train(world: TrainedWorld, uri: str) -> None:
    from anticipate.pipelines.model import run_train

    settings = Settings(cfg=load_config(world.config), data_dir=world.data, tracking_uri=uri, progress=False,
                        tracking_source="the option --tracking-uri")
    run_train(settings)


def test_a_store_train_cannot_write_is_refused_before_the_fit(trained_world: TrainedWorld, tmp_path: Path,
                                                              workdir: Path, no_fit: None) -> None:
    (tmp_path / "afile").write_text("a file, not a directory")
    (tmp_path / "notes.txt").write_text("not an SQLite database")
    (tmp_path / "adir.db").mkdir()
    cases = {
        f"sqlite:///{tmp_path}/afile/mlflow.db": f"{tmp_path}/afile is a file, so no store can be created",
        f"sqlite:///{tmp_path}/notes.txt": "cannot be written as an SQLite database (file is not a database)",
        f"sqlite:///{tmp_path}/adir.db": f"{tmp_path}/adir.db is a directory, not an SQLite database",
    }
    for uri, problem in cases.items():
        with pytest.raises(UsageError) as refused:
            _train(trained_world, uri)
        said = str(refused.value)
        assert refused.value.exit_code == 2 and "\n" not in said
        assert said.startswith(f"cannot write the MLflow store of the tracking URI {uri} (from the option "
                               f"--tracking-uri): ") and problem in said, said
        assert "--tracking-uri sqlite:///mlflow.db" in said
    assert (tmp_path / "notes.txt").read_text() == "not an SQLite database"
    with pytest.raises(UsageError, match="in-memory database, which forgets the run"):  # audit30 C5:
        _train(trained_world, "sqlite:///:memory:")  # exit 0 with a models:/NAME/1 no command could load
    with pytest.raises(ServiceUnavailable) as down:  # exit 3 as for every command, but before the fit
        _train(trained_world, f"http://127.0.0.1:{free_port()}")
    assert "is unreachable" in str(down.value)


def test_train_with_an_unwritable_store_exits_2_in_one_paragraph(trained_world: TrainedWorld,
                                                                 tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    uri = f"sqlite:///{tmp_path}/afile/mlflow.db"
    done = run_cli(*trained_world.args("-q", "train"), "--tracking-uri", uri, cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    [line] = [ln for ln in done.stderr.splitlines() if "error:" in ln]
    assert f"cannot write the MLflow store of the tracking URI {uri}" in line
    assert "Traceback" not in done.stderr


def test_stores_train_can_write_pass_the_check(tmp_path: Path) -> None:
    """A new store in a directory still to be made (MLflow makes it), an existing store, one another
    process is writing to, and a server (checked when the tracker opens) all pass."""
    require_writable_store(f"sqlite:///{tmp_path}/new/dir/mlflow.db")
    store = tmp_path / "mlflow.db"
    with sqlite3.connect(store) as con:
        con.execute("create table t (x)")
    require_writable_store(f"sqlite:///{store}")
    busy = sqlite3.connect(store)
    busy.execute("BEGIN IMMEDIATE")
    try:
        require_writable_store(f"sqlite:///{store}")
    finally:
        busy.close()
    require_writable_store("http://127.0.0.1:5000")
    assert not (tmp_path / "new").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["mlflow.db"]


@pytest.mark.parametrize("name", ["..model", "."])
def test_a_registered_name_mlflow_refuses_is_a_config_error(name: str) -> None:
    """MLflow refuses a registered model name that reads as another path (``.``, ``..x``) when it registers
    the model, after the fit; the config refuses it first (exit 2)."""
    with pytest.raises(ConfigError) as refused:
        load_config(None, {"model.registered_name": name})
    assert refused.value.exit_code == 2 and "model.registered_name" in str(refused.value)
