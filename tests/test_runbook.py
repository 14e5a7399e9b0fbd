"""The README's runbook followed literally (issue 14): reference tables once, the history, then three
nights of the cron lines — ``ingest --orders ... --append`` and ``allocate --date`` — each night's plan
published and readable by another account."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import TrainedWorld, run_cli, runbook_cron_command

REFERENCE = ("products", "regions", "warehouses", "supply")


def _with_date(args: list[str], date: str) -> list[str]:
    """The cron command with tonight's date where cron's shell substitutes ``$(date -u +%F)``."""
    return [date if a == "@DATE@" else a for a in args]


def _modes(directory: Path) -> dict[str, str]:
    """The mode of every file and directory under ``directory`` (``instance/cells.parquet``)."""
    return {p.relative_to(directory).as_posix(): oct(p.stat().st_mode & 0o777) for p in directory.rglob("*")}


@pytest.mark.slow
def test_the_runbook_three_nights(trained_world: TrainedWorld, tmp_path: Path, umask_022: None) -> None:
    site = trained_world.copy(tmp_path / "srv")  # the working directory of the cron jobs: mlflow.db here
    ingest, allocate = runbook_cron_command("ingest"), runbook_cron_command("allocate")
    assert "@DATE@" in allocate  # the UTC date, `date -u` (audit24 #3): a local one may not have begun in UTC
    shop = ingest[ingest.index("--out") + 1]
    assert allocate[allocate.index("--data") + 1] == shop and "--append" in ingest
    sources = [f"--{t}={site.data / f'{t}.parquet'}" for t in REFERENCE]
    done = run_cli("ingest", *sources, "--out", shop, cwd=site.root)
    assert done.returncode == 0, done.stderr[-2000:]
    orders = pd.read_parquet(site.data / "orders.parquet")
    days = orders["order_ts"].dt.normalize()
    nights = sorted(days.unique())[-3:]
    orders[days < nights[0]].to_parquet(site.root / "history.parquet")
    done = run_cli("ingest", "--orders", "history.parquet", "--append", "--out", shop, cwd=site.root)
    assert done.returncode == 0, done.stderr[-2000:]
    incoming = site.root / ingest[ingest.index("--orders") + 1]
    incoming.parent.mkdir(parents=True, exist_ok=True)
    for night in nights:
        orders[days == night].to_csv(incoming, index=False)
        done = run_cli(*ingest, cwd=site.root)
        assert done.returncode == 0, done.stderr[-2000:]
        date = (night + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
        done = run_cli(*_with_date(allocate, date), cwd=site.root)
        assert done.returncode == 0, done.stderr[-2000:]
        result = json.loads(done.stdout)
        plan_dir = site.root / result["outputs"]["plan_dir"]
        assert plan_dir.name == date and result["counts"]["units"] > 0
        assert oct(plan_dir.stat().st_mode & 0o777) == "0o755"
        modes = _modes(plan_dir)
        assert modes.pop("instance") == "0o755" and set(modes.values()) == {"0o644"}
        assert pd.read_parquet(plan_dir / "plan.parquet")["units"].sum() == result["counts"]["units"]
    assert len(pd.read_parquet(site.root / shop / "orders.parquet")) == len(orders)
    assert sorted(p.name for p in (site.root / "plans").iterdir() if p.is_dir()) == [
        (n + pd.Timedelta(days=1)).strftime("%Y-%m-%d") for n in nights]
