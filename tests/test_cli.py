"""The CLI contract: every command has help with examples and is in the README; errors map to exit codes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from anticipate.cli import main
from tests.conftest import run_cli, stand_in_model_store

ROOT = Path(__file__).resolve().parents[1]
CONTRACT_COMMANDS = ["sample", "ingest", "features", "train", "evaluate", "predict", "forecast", "solve",
                     "allocate", "backtest", "promote", "runs", "experiment", "ui"]


def _leaf_commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    out: dict[str, click.Command] = {}
    for name, cmd in group.commands.items():
        full = f"{prefix}{name}"
        if isinstance(cmd, click.Group):
            out.update(_leaf_commands(cmd, full + " "))
        else:
            out[full] = cmd
    return out


def test_every_command_has_help_with_examples() -> None:
    commands = _leaf_commands(main)
    assert commands, "no commands registered"
    for name, cmd in commands.items():
        text = cmd.help or ""
        assert "Examples:" in text, f"'{name}' help has no Examples: block"
        assert f"anticipate {name}" in text, f"'{name}' examples do not show 'anticipate {name}'"


def test_every_group_has_help_with_examples() -> None:
    groups = {name: cmd for name, cmd in main.commands.items() if isinstance(cmd, click.Group)}
    assert set(groups) == {"runs", "experiment"}
    for name, group in groups.items():
        text = group.help or ""
        assert "Examples:" in text, f"'{name}' group help has no Examples: block"
        assert f"anticipate {name} " in text, f"'{name}' examples do not show 'anticipate {name}'"


def test_every_command_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in _leaf_commands(main):
        found = re.search(rf"anticipate {re.escape(name)}\b", readme)
        assert found, f"README never shows 'anticipate {name}'"


def test_registered_commands_are_the_contract_surface() -> None:
    registered = set(main.commands)
    unknown = registered - set(CONTRACT_COMMANDS)
    assert not unknown, f"commands outside docs/cli.md#commands: {unknown}"


@pytest.mark.parametrize("name", sorted(_leaf_commands(main)))
def test_help_runs(name: str) -> None:
    result = CliRunner().invoke(main, [*name.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "--json" in result.output


def test_a_limit_below_one_is_a_usage_error_naming_the_option(tmp_path: Path) -> None:
    """``runs list --limit -1`` blamed the (absent) --filter; it never reaches the store now."""
    result = CliRunner().invoke(main, ["--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}", "runs", "list",
                                       "--limit", "-1"])
    assert result.exit_code == 2 and "--limit" in result.output and "filter" not in result.output
    assert not (tmp_path / "m.db").exists()


def test_an_option_given_twice_is_refused_not_resolved_by_the_last(tmp_path: Path) -> None:
    """audit33 F3: ``ingest --orders d29.csv --orders d30.csv`` ingested d30.csv alone (2025-12-29 missing
    from the data, exit 0), and two --map for one column used the last; every command's single-valued
    options are now refused when repeated, before anything runs. A global option given before and after
    the command stays the documented layering (the command's wins); repeatable options stay repeatable."""
    for d in ("d29.csv", "d30.csv"):
        (tmp_path / d).write_text("order_id,customer_id,order_ts,sku\no1,c1,2025-12-29 10:00:00,s1\n")
    twice = CliRunner().invoke(main, ["ingest", "--orders", str(tmp_path / "d29.csv"),
                                      f"--orders={tmp_path / 'd30.csv'}", "--out", str(tmp_path / "out")])
    assert twice.exit_code == 2, twice.output
    assert (f"--orders was given 2 times ({tmp_path / 'd29.csv'}, {tmp_path / 'd30.csv'}), and only the last "
            "would be used: give it once. ingest reads one file per table") in twice.output
    assert not (tmp_path / "out").exists()
    store = f"sqlite:///{tmp_path / 'm.db'}"
    limit = CliRunner().invoke(main, ["--tracking-uri", store, "runs", "list", "--limit", "3",
                                      "--limit", "4"])
    assert limit.exit_code == 2 and "--limit was given 2 times (3, 4)" in limit.output
    maps = CliRunner().invoke(main, ["ingest", "--orders", str(tmp_path / "d29.csv"), "--out",
                                     str(tmp_path / "o"), "--map", "orders.customer_id=buyer",
                                     "--map", "orders.customer_id=payer"])
    assert maps.exit_code == 2
    assert "--map orders.customer_id is given twice, as 'buyer' and 'payer'" in maps.output
    layered = CliRunner().invoke(main, ["--tracking-uri", "nope", "runs", "list", "--tracking-uri", store])
    assert "given 2 times" not in layered.output and not (tmp_path / "out").exists()


def test_reading_runs_from_a_store_in_a_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    """A mistyped sqlite URI created the directories and an empty store, then said 'no runs match'."""
    uri = f"sqlite:///{tmp_path / 'typo' / 'dir' / 'x.db'}"
    for args in (["runs", "list"], ["runs", "compare", "aaa", "bbb"]):
        result = CliRunner().invoke(main, ["--tracking-uri", uri, *args])
        assert result.exit_code == 2 and "does not exist" in result.output, result.output
    assert not (tmp_path / "typo").exists()
    from anticipate.tracking.store import new_store_warning

    (tmp_path / "mm.db").touch()  # a store that exists: nothing to say
    assert new_store_warning(f"sqlite:///{tmp_path / 'mm.db'}") is None
    said = new_store_warning(f"sqlite:///{tmp_path / 'm.db'}")  # a mistyped name: runs list says so
    assert said is not None and said.startswith(f"there was no MLflow store at {tmp_path / 'm.db'}")


def test_reading_runs_from_an_in_memory_store_says_it_vanishes_with_the_process(tmp_path: Path) -> None:
    """audit31 C: ``sqlite:///:memory:`` was said to be "no MLflow store at :memory:, so an empty one was
    created there", as if a file had been made that a later command could read."""
    result = CliRunner().invoke(main, ["--tracking-uri", "sqlite:///:memory:", "runs", "list", "--json"])
    assert result.exit_code == 0, result.output
    [said] = json.loads(result.stdout)["warnings"]
    assert said.startswith("the tracking URI sqlite:///:memory: is an in-memory store: it is created empty "
                           "for this command and vanishes when the command ends")
    assert "was created there" not in result.output


def test_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("tim:\n  horizon_days: 7\n")
    result = CliRunner().invoke(main, ["ingest", "--orders", "x.csv", "--out", str(tmp_path / "o"),
                                       "--config", str(cfg)])
    assert result.exit_code == 2
    assert "unknown key 'tim'" in result.output


def test_json_error_is_one_object_on_stdout(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("tim: 1\n")
    result = CliRunner().invoke(main, ["--json", "ingest", "--orders", "x.csv", "--out", str(tmp_path / "o"),
                                       "--config", str(cfg)])
    assert result.exit_code == 2
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["status"] == "error"
    assert payload["exit_code"] == 2


def test_json_stdout_holds_one_object_even_when_c_code_prints(tmp_path: Path) -> None:
    """HiGHS prints its banner from C on descriptor 1; with --json it must land on stderr."""
    from anticipate.allocation import generate_instance

    inst = generate_instance(3, 20, seed=0)
    (tmp_path / "inst").mkdir()
    for name in ("warehouses", "skus", "cells"):
        getattr(inst, name).to_csv(tmp_path / "inst" / f"{name}.csv", index=False)
    done = run_cli("--json", "solve", "--instance", "inst", "--out", "plan", "--lp-bound", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["command"] == "solve", done.stdout[:300]


# ------------------------------------------------------------------- promote and -q on a real registry
@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A local store with version 1 of the default model name (a stand-in model; loading is not tested)."""
    from anticipate.config import Config

    store = stand_in_model_store(tmp_path_factory.mktemp("registry"),
                                 registered_name=Config().model.registered_name)
    assert store["version"] == "1"
    return store


def test_promote_of_a_missing_version_is_a_user_error(registered: dict[str, str]) -> None:
    done = run_cli("--tracking-uri", registered["uri"], "promote", "99", cwd=Path(registered["root"]))
    assert done.returncode == 2, done.stderr
    assert "has no version 99 in the tracking store" in done.stderr
    assert "(registered versions: 1)" in done.stderr and "Traceback" not in done.stderr
    by_run = run_cli("--json", "--tracking-uri", registered["uri"], "promote", registered["run_id"][:8],
                     cwd=Path(registered["root"]))
    assert by_run.returncode == 0, by_run.stderr
    assert json.loads(by_run.stdout)["counts"]["model_version"] == 1


def test_quiet_option_silences_mlflow_registration_lines(registered: dict[str, str],
                                                         capfd: pytest.CaptureFixture[str]) -> None:
    """-q reaches the tracker a pipeline opens; MLflow prints these lines itself, not via logging."""
    from anticipate.cli._core import make_settings
    from anticipate.pipelines._common import open_tracker

    def register(quiet: bool) -> str:
        settings = make_settings({"tracking_uri": registered["uri"], "quiet": quiet})
        open_tracker(settings).registry.register(registered["model_uri"], "quiet-check")
        seen = capfd.readouterr()
        return seen.out + seen.err

    assert "Created version" in register(quiet=False)
    printed = register(quiet=True)
    assert "Created version" not in printed and "registered model" not in printed.lower()


# what `import anticipate.cli` sets unless the environment already has it: (variable, printed
# expression, printed by default, a value given, printed when given)
ENV_DEFAULTS = [
    ("OMP_WAIT_POLICY", "os.environ['OMP_WAIT_POLICY']", "passive", "active", "active"),
    ("OPENBLAS_THREAD_TIMEOUT", "os.environ['OPENBLAS_THREAD_TIMEOUT']", "4", "28", "28"),
    ("NUMPY_MADVISE_HUGEPAGE", "numpy._core.multiarray._get_madvise_hugepage()", "False", "1", "True"),
    ("ARROW_DEFAULT_MEMORY_POOL", "__import__('pyarrow').default_memory_pool().backend_name", "system",
     "jemalloc", "jemalloc"),
]


@pytest.mark.parametrize(("variable", "expression", "default", "value", "given"), ENV_DEFAULTS)
def test_the_cli_sets_its_environment_defaults_unless_the_environment_says_otherwise(
        variable: str, expression: str, default: str, value: str, given: str) -> None:
    import os
    import subprocess
    import sys

    script = f"import os, anticipate.cli, numpy; print({expression})"
    env = {k: v for k, v in os.environ.items() if k != variable}
    printed = [subprocess.run([sys.executable, "-c", script], env=e, capture_output=True, text=True,
                              check=True).stdout.split() for e in (env, env | {variable: value})]
    assert printed == [[default], [given]]


ARENA_SCRIPT = """
import ctypes, threading
import anticipate.cli
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
def allocate():
    libc.free(libc.malloc(64))
threads = [threading.Thread(target=allocate) for _ in range(3)]
for t in threads: t.start()
for t in threads: t.join()
libc.malloc_stats()  # one "Arena N:" paragraph per arena, on stderr
"""


@pytest.mark.skipif(__import__("platform").libc_ver()[0] != "glibc", reason="glibc's malloc arenas")
def test_the_cli_keeps_one_malloc_arena_unless_the_environment_says_otherwise() -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    runs = [subprocess.run([sys.executable, "-c", ARENA_SCRIPT], env=e, capture_output=True, text=True,
                           check=True) for e in (env, env | {"MALLOC_ARENA_MAX": "8"})]
    arenas = [run.stderr.count("Arena ") for run in runs]
    assert arenas[0] == 1 and arenas[1] > 1


@pytest.mark.parametrize(("verbosity", "level"), [(0, "ERROR"), (-1, "ERROR"), (1, "INFO")])
def test_mlflow_log_level_does_not_depend_on_when_mlflow_was_imported(monkeypatch: pytest.MonkeyPatch,
                                                                      verbosity: int, level: str) -> None:
    import logging

    import mlflow  # noqa: F401  imported before the command configures logging

    from anticipate.cli._core import _configure_logging

    monkeypatch.setenv("MLFLOW_LOGGING_LEVEL", "")  # records what to put back after the test
    monkeypatch.delenv("MLFLOW_LOGGING_LEVEL")
    saved = logging.getLogger("mlflow").level
    logging.getLogger("mlflow").setLevel(logging.DEBUG)
    try:
        _configure_logging(verbosity)
        assert logging.getLevelName(logging.getLogger("mlflow").level) == level
    finally:
        logging.getLogger("mlflow").setLevel(saved)


# ------------------------------------------------------------------- tracking URIs and model references
def test_a_bare_path_as_tracking_uri_is_a_usage_error_naming_its_source_and_fix(
        workdir: Path, empty_store: Path) -> None:
    """audit20 #7: a bare path (MLflow's retired file store) was exit 1 "unexpected failure ... a bug"."""
    import shutil

    shutil.copy(empty_store, workdir / "mlflow.db")  # an SQLite file named by its path, not its URI
    (workdir / "c.yaml").write_text(f"tracking:\n  uri: file:{workdir / 'mlruns'}\n")
    cases = [(["--tracking-uri", str(workdir / "mlflow.db")], {}, "the option --tracking-uri",
              f"set it to exactly sqlite:///{workdir / 'mlflow.db'}"),
             ([], {"MLFLOW_TRACKING_URI": "./mlruns"}, "the environment variable MLFLOW_TRACKING_URI",
              "sqlite:////abs/path/mlflow.db (an absolute path: four slashes) or sqlite:///mlflow.db"),
             (["--config", "c.yaml"], {}, "the config key tracking.uri", "sqlite:////abs/path/mlflow.db")]
    for options, env, source, fix in cases:
        for command in (["runs", "list"], ["promote", "latest"], ["allocate", "--date", "2024-08-28"]):
            result = CliRunner().invoke(main, [*options, *command], env=env)
            assert result.exit_code == 2, result.output
            assert f"(from {source}) is a plain path" in result.output and fix in result.output, result.output
    assert sorted(p.name for p in workdir.iterdir()) == ["c.yaml", "mlflow.db"]  # no plans/, no mlruns/


def test_a_mistyped_tracking_uri_is_a_usage_error_naming_it_and_its_config_key(workdir: Path) -> None:
    """audit24 #6: 'htp://' was exit 1 (a "bug"), 'http:/host' (one slash) exit 3 "lost the server"."""
    (workdir / "c.yaml").write_text("tracking:\n  uri: http:/127.0.0.1:5077\n")
    typo = run_cli("--tracking-uri", "htp://127.0.0.1:5077", "allocate", "--date", "2024-08-28", cwd=workdir)
    slash = run_cli("--config", "c.yaml", "allocate", "--date", "2024-08-28", cwd=workdir)
    assert typo.returncode == 2 and slash.returncode == 2, typo.stderr + slash.stderr
    assert "'htp://127.0.0.1:5077' (from the option --tracking-uri) has the scheme 'htp:'" in typo.stderr
    assert "sqlite:///mlflow.db" in typo.stderr and "Traceback" not in typo.stderr
    said = " ".join(slash.stderr.split())
    assert "'http:/127.0.0.1:5077' (from the config key tracking.uri) names no host" in said, said
    assert sorted(p.name for p in workdir.iterdir()) == ["c.yaml"]  # no plans/, no store


MODEL_COMMANDS = [["allocate", "--date", "2024-08-28"], ["forecast", "--out", "f.parquet"],
                  ["predict", "--out", "p.parquet"], ["evaluate"],
                  ["backtest", "--model", "@production", "--cutoffs", "2024-08-14"], ["promote", "latest"]]


@pytest.mark.parametrize("command", MODEL_COMMANDS, ids=lambda c: c[0])
def test_a_model_command_away_from_its_store_creates_nothing_and_says_where_it_looked(
        trained_world, tmp_path: Path, command: list[str]) -> None:
    """audit20 #8: run from another directory, the default sqlite:///mlflow.db was created empty (and
    plans/), then exit 3 "Registered Model ... not found; run promote"."""
    done = run_cli("--data", str(trained_world.data), "--config", str(trained_world.config), *command,
                   cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    said = " ".join(done.stderr.split())
    assert ("no MLflow store at mlflow.db (tracking URI sqlite:///mlflow.db, from the config key "
            f"tracking.uri; current directory {tmp_path})") in said, said
    assert "--tracking-uri sqlite:////abs/path/mlflow.db" in said
    assert list(tmp_path.iterdir()) == []


def test_a_missing_default_alias_is_exit_3_naming_the_store(trained_world, tmp_path: Path) -> None:
    """audit20 #8: the exit-3 "not found" message did not name the tracking URI the README promises."""
    store = stand_in_model_store(tmp_path / "store", registered_name="anticipate-next-purchase")
    done = run_cli("--data", str(trained_world.data), "--config", str(trained_world.config), "--tracking-uri",
                   store["uri"], "forecast", "--out", "f.parquet", cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    said = " ".join(done.stderr.split())
    assert ("model 'anticipate-next-purchase' has no alias '@production' in the tracking store "
            f"{store['uri']} (its aliases: none); point it at a version with 'anticipate promote VERSION "
            "--alias production'") in said, said


def test_a_model_reference_that_names_nothing_is_a_usage_error_naming_it(trained_world,
                                                                          tmp_path: Path) -> None:
    """audit20 #9: '@prod' was told to set --alias production; a mistyped path, a version that does not
    exist and 'backtest --model @nope' were exit 3 (service unavailable, model not found)."""
    common = ["--data", str(trained_world.data), "--config", str(trained_world.config), "--tracking-uri",
              trained_world.tracking_uri]
    aliases = "(its aliases: @production (version 1)); pass one of them with --model"
    cases = [(["forecast", "--model", "models:/anticipate-next-purchase@prod", "--out", "f.parquet"],
              f"has no alias '@prod' in the tracking store {trained_world.tracking_uri} {aliases}"),
             (["backtest", "--model", "@nope", "--cutoffs", "2024-08-14"],
              f"no alias '@nope' in the tracking store {trained_world.tracking_uri} {aliases}"),
             (["allocate", "--date", "2024-08-28", "--model", "@nope"],
              f"no alias '@nope' in the tracking store {trained_world.tracking_uri} {aliases}"),
             (["forecast", "--model", "models:/other-name/1", "--out", "f.parquet"],  # audit23 F9: exit 3
              "model 'other-name' has no version 1 in the tracking store "
              f"{trained_world.tracking_uri} (registered versions: none yet: run 'anticipate train'; the "
              "store's registered models: anticipate-next-purchase)"),
             (["forecast", "--model", "99", "--out", "f.parquet"],
              f"has no version 99 in the tracking store {trained_world.tracking_uri} (registered "
              "versions: 1); pass one of them with --model, or an @alias"),
             (["allocate", "--date", "2024-08-28", "--model", str(tmp_path / "nonexist")],
              f"--model {tmp_path / 'nonexist'}: {tmp_path / 'nonexist'} does not exist; pass a local "
              "model copy")]
    for command, message in cases:
        done = run_cli(*common, *command, cwd=tmp_path)
        said = " ".join(done.stderr.split())
        assert done.returncode == 2 and message in said, said
        assert "--alias production" not in said
    assert not (tmp_path / "plans").exists()  # the model is resolved before the night's lock


def test_the_unreachable_server_hint_fits_the_command_and_the_model_given(tmp_path: Path,
                                                                          monkeypatch) -> None:
    """audit20 #9: 'allocate --model PATH' was recommended under 'runs list' and when --model PATH was
    given. An unreachable server left an empty plans/ behind (the lock came before the model)."""
    from tests.conftest import free_port

    monkeypatch.chdir(tmp_path)
    uri = f"http://127.0.0.1:{free_port()}"
    copy = tmp_path / "model-copy"
    copy.mkdir()
    (copy / "MLmodel").write_text("flavors: {}\n")
    listed = CliRunner().invoke(main, ["--tracking-uri", uri, "runs", "list"])
    given = CliRunner().invoke(main, ["--tracking-uri", uri, "--data", str(ROOT / "data" / "sample"),
                                      "allocate", "--date", "2025-12-31", "--model", str(copy)])
    for result in (listed, given):
        assert result.exit_code == 3 and f"{uri} is unreachable" in result.output, result.output
        assert "runs without the server" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model-copy"]  # no plans/
    assert (f"--model {copy} is a local copy, but the run is still recorded in the tracking store: pass a "
            "local one too (--tracking-uri sqlite:///local.db)") in " ".join(given.output.split())


@pytest.mark.parametrize("command", [["features"], ["predict"], ["forecast"]], ids=lambda c: c[0])
def test_an_out_inside_the_data_directory_is_refused_before_it_replaces_a_table(
        trained_world, tmp_path: Path, command: list[str]) -> None:
    """audit23 F4: 'features --out data/shop/orders.parquet' wrote the feature table over the orders (exit 0)
    and the next command failed on a missing order_ts."""
    data = tmp_path / "data"
    shutil.copytree(trained_world.data, data)
    before = (data / "orders.parquet").read_bytes()
    done = run_cli("--data", str(data), "--config", str(trained_world.config), "--tracking-uri",
                   trained_world.tracking_uri, *command, "--out", str(data / "orders.parquet"), cwd=tmp_path)
    said = " ".join(done.stderr.split())
    assert done.returncode == 2, said
    assert f"--out {data / 'orders.parquet'} is inside the data directory" in said, said
    assert (data / "orders.parquet").read_bytes() == before


def test_mlflow_tracking_uri_over_a_config_files_tracking_uri_is_said_once(tmp_path: Path) -> None:
    """audit28 F12: MLFLOW_TRACKING_URI silently beat tracking.uri of an explicit --config file, and train
    registered its model into another store; the (documented) order stands, but one line says so,
    naming both, on stderr and in --json's warnings."""
    env_db, cfg_db = tmp_path / "env.db", tmp_path / "cfg.db"
    (tmp_path / "trk.yaml").write_text(f"tracking:\n  uri: sqlite:///{cfg_db}\n")
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{env_db}"}
    done = run_cli("--json", "runs", "list", "--config", "trk.yaml", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    said = [line for line in done.stderr.splitlines() if "the variable wins" in line]
    assert len(said) == 1 and f"sqlite:///{env_db}" in said[0]
    assert f"tracking.uri sqlite:///{cfg_db}" in said[0]
    assert said[0].removeprefix("warning: ") in json.loads(done.stdout)["warnings"]
    quiet = run_cli("--json", "runs", "list", "--config", "trk.yaml", "--tracking-uri", f"sqlite:///{env_db}",
                    cwd=tmp_path, env=env)  # the option chooses: nothing to say
    assert quiet.returncode == 0 and "the variable wins" not in quiet.stderr


def test_mlflow_tracking_uri_over_the_projects_edited_tracking_uri_is_said_too(tmp_path: Path) -> None:
    """audit28 F12, the other file: a tracking.uri the project wrote into ./configs/default.yaml lost to
    MLFLOW_TRACKING_URI without a word (only an explicit --config was checked). The shipped file writes
    every default out, so its unedited sqlite:///mlflow.db stays silent: the variable is the documented
    way to point a project at a server."""
    env_db, own_db = tmp_path / "env.db", tmp_path / "own.db"
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "default.yaml").write_text(f"tracking:\n  uri: sqlite:///{own_db}\n")
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{env_db}"}
    done = run_cli("--json", "runs", "list", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    said = [line for line in done.stderr.splitlines() if "the variable wins" in line]
    assert len(said) == 1, done.stderr
    assert f"not tracking.uri sqlite:///{own_db} of configs/default.yaml (the project's defaults" in said[0]
    assert said[0].removeprefix("warning: ") in json.loads(done.stdout)["warnings"]
    (tmp_path / "configs" / "default.yaml").write_text("tracking:\n  uri: sqlite:///mlflow.db\n")
    shipped = run_cli("runs", "list", cwd=tmp_path, env=env)
    assert shipped.returncode == 0 and "the variable wins" not in shipped.stderr, shipped.stderr


def test_below_the_project_directory_nothing_is_said_where_it_changes_nothing(tmp_path: Path) -> None:
    """audit28 F16 follow-up: the note fired in any sub-folder of the project. It now fires only when the
    project's configs/default.yaml would change the config used, or a command that records runs is about
    to create a new store here; a project whose defaults are the built-in ones, a --config that sets the
    same keys, a store that is here or named by --tracking-uri, and a sample are silent."""
    project, note = tmp_path / "proj", "below the project directory"
    (project / "configs").mkdir(parents=True)
    (project / "notebooks").mkdir()
    (project / "configs" / "default.yaml").write_text((ROOT / "configs" / "default.yaml").read_text())
    here = project / "notebooks"
    for args in (["runs", "list"], ["sample", "--out", "w", "--days", "30", "--customers", "20"]):
        done = run_cli("-q", *args, cwd=here)
        assert done.returncode == 0 and note not in done.stderr, (args, done.stderr)
    # train records runs: from here it would create notebooks/mlflow.db, a new store beside the project's
    fresh = run_cli("--data", "nodata", "--tracking-uri", "sqlite:///mlflow.db", "train", cwd=here)
    assert fresh.returncode == 2 and note not in fresh.stderr, fresh.stderr  # the option chose it
    (here / "mlflow.db").unlink(missing_ok=True)  # runs list above created an empty one
    created = run_cli("--data", "nodata", "train", cwd=here)
    first = " ".join(created.stderr.split())
    assert created.returncode == 2 and note in first, created.stderr
    assert (f"tracking store sqlite:///mlflow.db (= {here / 'mlflow.db'}, which does not exist: a new, empty "
            "store is created there)") in first
    (here / "mlflow.db").touch()  # a store of its own here: the user's choice
    kept = run_cli("--data", "nodata", "train", cwd=here)
    assert kept.returncode == 2 and note not in kept.stderr, kept.stderr
    (project / "configs" / "default.yaml").write_text("time:\n  horizon_days: 14\n")
    (here / "h14.yaml").write_text("time:\n  horizon_days: 14\n")
    same = run_cli("--config", "h14.yaml", "runs", "list", cwd=here)
    assert same.returncode == 0 and note not in same.stderr, same.stderr
    other = run_cli("runs", "list", cwd=here)
    assert "(it sets time.horizon_days 14 (here 7)): config the built-in defaults" in other.stderr


def test_a_command_below_the_project_directory_says_its_defaults_are_not_read(tmp_path: Path) -> None:
    """audit28 F16: run from notebooks/, the project's configs/default.yaml was not read (horizon 7, not
    the project's 14) and a new mlflow.db appeared there, without a word. The command's first line now
    names the project directory, the config and the store it used; from the project directory, nothing."""
    project = tmp_path / "proj"
    (project / "configs").mkdir(parents=True)
    (project / "notebooks").mkdir()
    (project / "configs" / "default.yaml").write_text("time:\n  horizon_days: 14\n")
    done = run_cli("--json", "runs", "list", cwd=project / "notebooks")
    assert done.returncode == 0, done.stderr[-2000:]
    first = done.stderr.splitlines()[0]
    assert first.startswith(f"warning: running in {project / 'notebooks'}, below the project directory "
                            f"{project}, whose configs/default.yaml is not read here"), first
    assert "config the built-in defaults" in first
    assert f"tracking store sqlite:///mlflow.db (= {project / 'notebooks' / 'mlflow.db'})" in first
    assert first.removeprefix("warning: ") in json.loads(done.stdout)["warnings"]
    home = run_cli("--json", "runs", "list", cwd=project)
    assert home.returncode == 0 and "below the project directory" not in home.stderr
    passed = run_cli("runs", "list", "--config", "../configs/default.yaml", cwd=project / "notebooks")
    assert passed.returncode == 0 and "below the project directory" not in passed.stderr


def test_a_sigterm_after_the_work_is_published_still_ends_with_exit_0(tmp_path: Path) -> None:
    """audit30 B2: SIGTERM while the result was being printed (the work done and published) ended the
    process by the signal: a cron job saw exit 143 beside an "ok" JSON object."""
    import subprocess
    import sys

    script = (
        "import os, signal, sys\n"
        "import anticipate.cli._core as core\n"
        "from anticipate.cli import main\n"
        "printing = core.emit\n"
        "def emit(result, **kw):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)  # a stop arriving as the result is printed\n"
        "    printing(result, **kw)\n"
        "core.emit = emit\n"
        "main(['--json', '-q', 'sample', '--out', sys.argv[1], '--customers', '40', '--skus', '4',\n"
        "      '--days', '60'])\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "w")], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["status"] == "ok"
    assert (tmp_path / "w" / "orders.parquet").is_file()


def test_an_in_process_command_leaves_sigterm_as_it_found_it(tmp_path: Path) -> None:
    """The ignore around printing the result was left in place: a process calling the CLI in-process (a
    notebook, the test workers) then passed an ignored SIGTERM to every child it started, which no
    terminate() could stop (found as a hung http.server in tests/test_distributed.py)."""
    import signal

    before = signal.getsignal(signal.SIGTERM)
    done = CliRunner().invoke(main, ["-q", "sample", "--out", str(tmp_path / "w"), "--customers", "40",
                                     "--skus", "4", "--days", "60"])
    assert done.exit_code == 0, done.output
    assert signal.getsignal(signal.SIGTERM) is before
