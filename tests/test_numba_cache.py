"""audit24 #5: a service account with no writable home on a read-only install could not import a kernel
("cannot cache function ...: no locator available"): NUMBA_CACHE_DIR falls back to a temp directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from anticipate.cli import _numbacache, main
from anticipate.cli._numbacache import decide


@pytest.fixture
def blocked(tmp_path: Path) -> Path:
    """A regular file: nothing can be created under it, whoever runs the test (root included)."""
    path = tmp_path / "a-file"
    path.write_text("")
    return path


def test_the_cache_falls_back_to_temp_only_when_numba_has_nowhere_to_write(tmp_path: Path, blocked: Path):
    no_home = {"HOME": str(blocked / "home")}
    target, said = decide(no_home, [blocked / "pkg"], temp=str(tmp_path / "temp"))
    assert target == str(tmp_path / "temp" / f"anticipate-numba-{os.getuid()}") and Path(target).is_dir()
    assert f"{blocked}/home/.cache/numba (not writable): NUMBA_CACHE_DIR={target}" in said
    assert oct(Path(target).stat().st_mode & 0o777) == "0o700"
    (tmp_path / "pkg").mkdir()
    assert decide(no_home, [tmp_path / "pkg"], temp=str(tmp_path / "t2")) == (None, "")  # in-tree works
    xdg = {**no_home, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    assert decide(xdg, [blocked / "pkg"], temp=str(tmp_path / "t2")) == (None, "")  # the user cache works
    chosen = {**no_home, "NUMBA_CACHE_DIR": str(tmp_path / "mine")}
    assert decide(chosen, [blocked / "pkg"], temp=str(tmp_path / "t2")) == (None, "")  # the user's choice
    assert not (tmp_path / "t2").exists()


def test_no_writable_place_at_all_is_exit_2_naming_numba_cache_dir(tmp_path: Path, blocked: Path,
                                                                    monkeypatch: pytest.MonkeyPatch):
    target, said = decide({"HOME": str(blocked)}, [blocked / "pkg"], temp=str(blocked / "temp"))
    assert target is None and "it cannot be created" in said
    assert "set NUMBA_CACHE_DIR to a directory this user can write" in said
    monkeypatch.setattr(_numbacache, "MESSAGE", said)  # what the CLI decided at import in such a process
    result = CliRunner().invoke(main, ["sample", "--out", str(tmp_path / "s")])
    assert result.exit_code == 2 and "NUMBA_CACHE_DIR" in result.output, result.output
    assert not (tmp_path / "s").exists()


NOBODY = 65534


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0 or not shutil.which("setpriv"),
                    reason="runs a command as an unprivileged user: needs root and setpriv")
def test_a_user_without_home_on_a_read_only_install_runs_commands(tmp_path: Path):
    package = Path(_numbacache.__file__).resolve().parents[1]
    as_nobody = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    probe = subprocess.run([*as_nobody, "test", "-w", str(package / "features")], check=False)
    if probe.returncode == 0:
        pytest.skip(f"{package} is writable by uid {NOBODY}: not a read-only install")
    work = Path(tempfile.mkdtemp(prefix="h25-numba-"))  # pytest's tmp_path is not reachable by nobody
    try:
        os.chown(work, NOBODY, NOBODY)
        env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
        env |= {"HOME": "/nonexistent", "TMPDIR": str(work)}
        code = ("import os, anticipate.cli; import anticipate.features._kernels; "
                "print(os.environ['NUMBA_CACHE_DIR'])")
        imported = subprocess.run([*as_nobody, sys.executable, "-c", code], cwd=work, env=env,
                                  capture_output=True, text=True, timeout=120, check=False)
        assert imported.returncode == 0, imported.stderr[-2000:]  # was "no locator available"
        assert imported.stdout.strip() == str(work / f"anticipate-numba-{NOBODY}")
        cli = subprocess.run([*as_nobody, str(Path(sys.executable).parent / "anticipate"), "-v", "sample",
                              "--out", "s", "--customers", "50", "--skus", "10", "--days", "30"], cwd=work,
                             env=env, capture_output=True, text=True, timeout=120, check=False)
        said = " ".join(cli.stderr.split())
        assert cli.returncode == 0, said
        assert f"NUMBA_CACHE_DIR={work}/anticipate-numba-{NOBODY} for this run" in said
    finally:
        shutil.rmtree(work, ignore_errors=True)
