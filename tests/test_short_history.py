"""Short histories just work (issue 16.5): fewer windows than configured train with a one-line warning."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anticipate.errors import UsageError
from anticipate.models.training import resolve_until, windows_that_fit
from tests.conftest import run_cli

SIXTY_DAYS = pd.DataFrame({"order_ts": pd.date_range("2025-11-01 10:00", "2025-12-30 10:00", freq="D")})


def test_windows_that_fit_count_whole_horizons_after_the_first_cutoff() -> None:
    ts = SIXTY_DAYS["order_ts"]
    assert windows_that_fit(pd.Timestamp("2025-12-24"), ts, 7) == 7  # 52 days after 2025-11-02
    assert windows_that_fit(pd.Timestamp("2025-11-10"), ts, 7) == 1
    assert windows_that_fit(pd.Timestamp("2025-11-01"), ts, 7) == 0


def test_a_short_history_trains_on_the_windows_that_fit() -> None:
    until, windows = resolve_until(None, SIXTY_DAYS, horizon_days=7, windows=12)
    assert (until, windows) == (pd.Timestamp("2025-12-24"), 7)
    assert resolve_until("2025-12-20", SIXTY_DAYS, horizon_days=7, windows=4) == (
        pd.Timestamp("2025-12-20"), 4)


def test_fewer_than_two_windows_is_refused_with_a_non_empty_range() -> None:
    with pytest.raises(UsageError, match="between 2025-11-16 and 2025-12-31"):
        resolve_until("2025-11-10", SIXTY_DAYS, horizon_days=7, windows=12)


def _nine_month_log(path: Path, seed: int = 3) -> None:
    """customer, date, amount only: 250 customers ordering every 5-40 days for nine months."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(250):
        gap, day = rng.uniform(5, 40), rng.uniform(0, 30)
        while day < 270:
            rows.append((f"C{c:03d}", pd.Timestamp("2025-01-01") + pd.Timedelta(days=float(day)),
                         round(float(rng.uniform(5, 80)), 2)))
            day += rng.exponential(gap)
    pd.DataFrame(rows, columns=["customer", "date", "amount"]).to_csv(path, index=False)


def test_a_nine_month_amount_only_log_trains_with_a_thirty_day_horizon(tmp_path: Path) -> None:
    _nine_month_log(tmp_path / "log.csv")
    (tmp_path / "h30.yaml").write_text("time: {horizon_days: 30}\ntracking: {uri: sqlite:///mlflow.db}\n")
    done = run_cli("-q", "ingest", "--orders", "log.csv", "--out", "data", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    done = run_cli("--data", "data", "--config", "h30.yaml", "--json", "train", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["status"] == "ok" and result["counts"]["val_pairs"] > 0
    assert any("of the 12 training windows" in w for w in result["warnings"])
    assert "training on" in done.stderr
