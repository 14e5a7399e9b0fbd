"""Publishing a directory never deletes what the command does not write (storage.publish)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from anticipate.cli import main
from anticipate.errors import OutputError
from anticipate.storage.publish import DirOutput, check_publishable, staging_dir

OUT = DirOutput("test", frozenset({"plan.csv", "summary.json"}))
SAMPLE_ARGS = ["--customers", "60", "--skus", "8", "--days", "40"]


def _instance(root: Path) -> Path:
    from anticipate.allocation import generate_instance

    inst = generate_instance(2, 6, seed=0)
    (root / "inst").mkdir()
    for name in ("warehouses", "skus", "cells"):
        getattr(inst, name).to_csv(root / "inst" / f"{name}.csv", index=False)
    return root / "inst"


def _victim(root: Path) -> Path:
    victim = root / "victim"
    victim.mkdir()
    (victim / "notes.txt").write_text("precious")
    return victim


def test_a_directory_with_a_foreign_entry_is_refused_and_kept(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    (victim / "plan.csv").write_text("old")
    refused = r"--out .*victim is a directory holding 'notes.txt', which test does not write.*new or empty"
    with pytest.raises(OutputError, match=refused), staging_dir(victim, OUT) as stage:
        (stage / "plan.csv").write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["victim"]  # no stage left behind
    assert (victim / "notes.txt").read_text() == "precious" and (victim / "plan.csv").read_text() == "old"


def test_an_empty_directory_and_a_previous_output_are_replaced(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    for text in ("first", "second"):
        with staging_dir(target, OUT) as stage:
            (stage / "plan.csv").write_text(text)
    assert (target / "plan.csv").read_text() == "second"


def test_a_file_is_refused_and_an_undeclared_staged_name_is_a_bug(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("keep")
    with pytest.raises(OutputError, match="is a file, not a directory"):
        check_publishable(tmp_path / "f", OUT)
    with pytest.raises(RuntimeError, match=r"notes\.txt"), staging_dir(tmp_path / "new", OUT) as stage:
        (stage / "notes.txt").write_text("x")
    assert not (tmp_path / "new").exists() and (tmp_path / "f").read_text() == "keep"


def test_solve_refuses_its_own_instance_and_a_users_directory(tmp_path: Path) -> None:
    inst = _instance(tmp_path)
    victim = _victim(tmp_path)
    for out, entry in ((inst, "cells.csv"), (victim, "notes.txt")):
        result = CliRunner().invoke(main, ["solve", "--instance", str(inst), "--out", str(out)])
        assert result.exit_code == 2 and f"holding '{entry}', which solve does not write" in result.output
    assert sorted(p.name for p in inst.iterdir()) == ["cells.csv", "skus.csv", "warehouses.csv"]
    assert (victim / "notes.txt").read_text() == "precious"
    for _ in range(2):  # a previous plan is replaced
        result = CliRunner().invoke(main, ["solve", "--instance", str(inst), "--out", str(tmp_path / "p")])
        assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["plan.csv", "plan.parquet", "summary.json"]


def test_sample_refuses_a_users_directory_and_replaces_a_previous_sample(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    result = CliRunner().invoke(main, ["sample", "--out", str(victim), *SAMPLE_ARGS])
    assert result.exit_code == 2 and "holding 'notes.txt', which sample does not write" in result.output
    assert sorted(p.name for p in victim.iterdir()) == ["notes.txt"]
    for _ in range(2):
        result = CliRunner().invoke(main, ["sample", "--out", str(tmp_path / "s"), *SAMPLE_ARGS])
        assert result.exit_code == 0, result.output


def test_backtest_refuses_a_data_directory_as_out_before_any_work(tmp_path: Path) -> None:
    data = tmp_path / "s3"
    assert CliRunner().invoke(main, ["sample", "--out", str(data), *SAMPLE_ARGS]).exit_code == 0
    before = sorted(p.name for p in data.iterdir())
    victim = _victim(tmp_path)
    for out, entry in ((data, "latent"), (victim, "notes.txt")):
        result = CliRunner().invoke(main, ["backtest", "--data", str(data), "--cutoffs", "2024-01-20",
                                           "--out", str(out)])
        assert result.exit_code == 2 and f"holding '{entry}', which backtest does not write" in result.output
    assert sorted(p.name for p in data.iterdir()) == before and (victim / "notes.txt").is_file()


def _store(tmp_path: Path, empty_store: Path) -> str:
    """An existing (empty) store in ``tmp_path``: allocate refuses a missing one before it looks at plans/."""
    import shutil

    return f"sqlite:///{shutil.copy(empty_store, tmp_path / 'mlflow.db')}"


def test_allocate_refuses_a_plan_directory_holding_a_foreign_file(tmp_path: Path, empty_store: Path) -> None:
    night = tmp_path / "plans" / "2025-01-02"
    night.mkdir(parents=True)
    (night / "notes.txt").write_text("precious")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"allocate:\n  plans_dir: {tmp_path / 'plans'}\n")
    result = CliRunner().invoke(main, ["allocate", "--config", str(cfg), "--date", "2025-01-02",
                                       "--data", str(tmp_path / "none"),
                                       "--tracking-uri", _store(tmp_path, empty_store)])
    assert result.exit_code == 2 and "the plan directory" in result.output and "notes.txt" in result.output
    assert (night / "notes.txt").read_text() == "precious"


# --------------------------------------------------------------------------- bad output paths: exit 2, named
def test_a_file_output_onto_a_directory_or_an_unwritable_place_is_a_user_error(tmp_path: Path) -> None:
    import pandas as pd

    from anticipate.storage.files import write_parquet

    (tmp_path / "adir.parquet").mkdir()
    (tmp_path / "afile").write_text("keep")
    frame = pd.DataFrame({"a": [1]})
    cases = {tmp_path / "adir.parquet": "it is a directory, not a file",
             tmp_path / "afile" / "x.parquet": "a file is in the way where a directory must be",
             tmp_path / "afile" / "sub" / "x.parquet": "a part of the path is a file, not a directory",
             Path("/proc/x.parquet"): "its directory does not accept new files"}
    for path, why in cases.items():
        with pytest.raises(OutputError, match=f"cannot write {path}: {why}"):
            write_parquet(frame, path)
    assert (tmp_path / "afile").read_text() == "keep" and not any((tmp_path / "adir.parquet").iterdir())


def test_solve_and_allocate_name_a_bad_output_path_with_exit_2(tmp_path: Path, empty_store: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    inst = _instance(tmp_path)
    (tmp_path / "afile").write_text("keep")
    blocked = str(tmp_path / "afile" / "p")
    result = CliRunner().invoke(main, ["solve", "--instance", str(inst), "--out", blocked])
    assert result.exit_code == 2 and "a file is in the way where a directory must be" in result.output
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"allocate:\n  plans_dir: {tmp_path / 'afile' / 'plans'}\n")
    result = CliRunner().invoke(main, ["allocate", "--config", str(cfg), "--date", "2025-01-02",
                                       "--tracking-uri", _store(tmp_path, empty_store)])
    assert result.exit_code == 2 and "a part of the path is a file, not a directory" in result.output
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    for out in (".", ".."):
        result = CliRunner().invoke(main, ["solve", "--instance", str(inst), "--out", out])
        assert result.exit_code == 2 and "is the current directory or contains it" in result.output, out
    assert (tmp_path / "afile").read_text() == "keep" and here.is_dir() and not any(here.iterdir())


def test_a_plans_dir_that_cannot_be_written_names_its_config_key(tmp_path: Path, empty_store: Path) -> None:
    """allocate has no output option: "pass an output path you can write to" left the planner guessing
    (audit24 #7)."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("allocate:\n  plans_dir: /proc/anticipate-plans\n")  # not writable, even by root
    result = CliRunner().invoke(main, ["allocate", "--config", str(cfg), "--date", "2025-01-02",
                                       "--tracking-uri", _store(tmp_path, empty_store)])
    from anticipate.pipelines.plan import plans_dir_fix

    assert result.exit_code == 2 and "cannot write /proc/anticipate-plans/.2025-01-02.lock" in result.output
    assert plans_dir_fix(Path("/proc/anticipate-plans")) in result.output.replace("\n", " ")
    assert "set allocate.plans_dir in the config (now /proc/anticipate-plans)" in result.output
    assert "pass an output path" not in result.output


def test_a_plan_that_cannot_be_staged_or_renamed_names_the_config_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the lock, the staging step said "pass an output path" too (an old plan owned by another user
    that cannot be renamed aside, a plans dir made read-only meanwhile): allocate has no output option.
    Then it said the key without its value, in words of its own (audit h27 #5): one function owns the
    advice, the lock's and the staging's, naming the value."""
    import errno
    import tempfile

    from anticipate.pipelines.plan import plan_output, plans_dir_fix
    from anticipate.storage import publish

    def refused(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    night = tmp_path / "plans" / "2025-01-02"
    for module, name in ((publish, "publish_dir"), (tempfile, "mkdtemp")):
        with monkeypatch.context() as patch:
            patch.setattr(module, name, refused)
            with pytest.raises(OutputError) as caught, staging_dir(night, plan_output(night.parent)) as stage:
                (stage / "plan.csv").write_text("new")
        message = str(caught.value)
        assert f"cannot write {night}: it is not writable" in message, name
        assert message.endswith(plans_dir_fix(night.parent)) and "output path" not in message, name
        assert f"set allocate.plans_dir in the config (now {night.parent})" in message, name


def test_a_publish_claiming_a_lock_it_does_not_hold_is_a_bug(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"locked=True\) without holding"), staging_dir(
        tmp_path / "out", OUT, locked=True
    ):
        pass
    assert not (tmp_path / "out").exists()
