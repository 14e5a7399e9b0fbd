"""progress: a nightly log (stderr not a terminal) gets one line per stage; -q gets nothing."""

from __future__ import annotations

import re

import pytest

from anticipate.progress import stages, track


def test_stages_in_a_log_are_numbered_lines(capsys: pytest.CaptureFixture[str]) -> None:
    with stages(3, enabled=True, description="allocate") as bar:
        bar.step("loading data and model")
        bar.step("forecasting")
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2
    assert re.fullmatch(r"\d\d:\d\d:\d\d allocate \[1/3\] loading data and model \(\+\d+\.\d s\)", err[0])
    assert " allocate [2/3] forecasting (+" in err[1]


def test_quiet_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with stages(3, enabled=False, description="allocate") as bar:
        bar.step("loading")
    assert list(track([1, 2], total=2, enabled=False, description="backtest")) == [1, 2]
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_track_in_a_log_prints_each_item(capsys: pytest.CaptureFixture[str]) -> None:
    assert list(track(["2025-11-24", "2025-12-01"], total=2, enabled=True, description="backtest")) == [
        "2025-11-24", "2025-12-01"]
    err = capsys.readouterr().err
    assert "backtest [1/2] 2025-11-24" in err and "backtest [2/2] 2025-12-01" in err
