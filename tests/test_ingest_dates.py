"""Ingest reads dates the way the file means them, or refuses: the day/month order is checked on
every row, and a stray far-future tail cannot move the end of the data."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from anticipate.cli import main
from anticipate.ingest import dateorder

HEADER = "order_id,customer_id,order_ts,sku,quantity,unit_price,region\n"


def _run(*args: str) -> tuple[int, str, dict]:
    result = CliRunner().invoke(main, ["--json", "ingest", *args])
    lines = [ln for ln in result.stdout.strip().splitlines() if ln.startswith("{")]
    return result.exit_code, result.output, json.loads(lines[-1]) if lines else {}


def _lines(dates: list[str], tag: str = "o") -> str:
    """One order line per date string, times 08:15, distinct ids."""
    return "".join(f"{tag}{i},c{i % 7},{d} 08:15,s{i % 3},1,2.50,r1\n" for i, d in enumerate(dates))


def _file(tmp_path: Path, name: str, dates: list[str], tag: str = "o") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + _lines(dates, tag))
    return path


def test_twin_swaps_day_and_month_and_year_first_has_none() -> None:
    assert dateorder.twin("%m/%d/%Y %H:%M") == "%d/%m/%Y %H:%M"
    assert dateorder.twin("%d.%m.%y") == "%m.%d.%y"
    assert dateorder.twin("%Y-%m-%d %H:%M") is None and dateorder.twin("%Y/%m/%d") is None
    assert dateorder.twin(None) is None and dateorder.twin("%d %b %Y") is None


def test_a_file_whose_dates_fit_both_orders_is_refused_until_the_format_is_stated(tmp_path: Path) -> None:
    src = _file(tmp_path, "ambig.csv", [f"{d:02d}/12/2025" for d in range(1, 13)] * 3)
    out = tmp_path / "shop"
    code, output, _ = _run("--orders", str(src), "--out", str(out))
    assert code == 2 and not out.exists()
    assert "ambig.csv" in output and "column 'order_ts'" in output and "ambiguous" in output
    assert "--date-format '%d/%m/%Y %H:%M'" in output and "ingest.date_format" in output
    code, output, _ = _run("--orders", str(src), "--out", str(out), "--date-format", "%d/%m/%Y %H:%M")
    assert code == 0, output
    days = pd.read_parquet(out / "orders.parquet")["order_ts"].dt.strftime("%Y-%m-%d")
    assert sorted(set(days)) == [f"2025-12-{d:02d}" for d in range(1, 13)]
    report = json.loads((out / "ingest_report.json").read_text())["tables"]["orders"]
    assert report["date_format"] == "%d/%m/%Y %H:%M" and report["date_format_source"] == "stated"


def test_the_config_key_states_the_format_too(tmp_path: Path) -> None:
    src = _file(tmp_path, "ambig.csv", ["01/02/2025", "02/02/2025"])
    cfg = tmp_path / "c.yaml"
    cfg.write_text("ingest:\n  date_format: '%d/%m/%Y %H:%M'\n")
    result = CliRunner().invoke(main, ["--config", str(cfg), "ingest", "--orders", str(src), "--out",
                                       str(tmp_path / "shop")])
    assert result.exit_code == 0, result.output
    days = pd.read_parquet(tmp_path / "shop" / "orders.parquet")["order_ts"].dt.day.tolist()
    assert days == [1, 2]


def test_an_appended_night_in_an_ambiguous_order_leaves_the_directory_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "shop"
    history = _file(tmp_path, "history.csv", [f"2026-01-{d:02d}" for d in range(1, 5)] * 5, tag="h")
    assert _run("--orders", str(history), "--out", str(out))[0] == 0
    before = (out / "orders.parquet").read_bytes()
    night = _file(tmp_path, "night.csv", ["05/01/2026"] * 6, tag="n")
    code, output, _ = _run("--orders", str(night), "--append", "--out", str(out))
    assert code == 2 and "night.csv" in output and "'05/01/2026 08:15'" in output
    assert "2026-05-01 08:15:00 month-first but 2026-01-05 08:15:00 day-first" in output
    assert (out / "orders.parquet").read_bytes() == before
    code, output, _ = _run("--orders", str(night), "--append", "--out", str(out), "--date-format",
                           "%d/%m/%Y %H:%M")
    assert code == 0, output
    assert pd.read_parquet(out / "orders.parquet")["order_ts"].max() == pd.Timestamp("2026-01-05 08:15")


def _day_first_late(n_early: int = 1200) -> list[str]:
    """A day-first log whose first ``n_early`` lines all have day <= 12 (then 13-20 January)."""
    early = [f"{1 + i % 12:02d}/01/2024" for i in range(n_early)]
    return sorted(early, key=lambda d: d[:2]) + [f"{d}/01/2024" for d in range(13, 21)] * 50


def test_a_day_first_file_whose_first_rows_also_read_month_first_is_read_day_first(tmp_path: Path) -> None:
    """The first 1,000 rows (days up to 12) fit month-first too; the whole file settles it: 400 dates
    parse only day-first and none only month-first, so every date is read day-first, with a note
    (it was refused, asking for --date-format, before the whole file was read first)."""
    src = _file(tmp_path, "dmy.csv", _day_first_late())
    code, output, out = _run("--orders", str(src), "--out", str(tmp_path / "shop"), "--on-error", "fail")
    assert code == 0 and out["counts"]["rows_accepted"] == 1600, output
    assert "400 dates parse only as %d/%m/%Y %H:%M (first row 1201, '13/01/2024 08:15')" in output
    assert "every date is read day-first (%d/%m/%Y %H:%M)" in output
    ts = pd.read_parquet(tmp_path / "shop" / "orders.parquet")["order_ts"]
    assert (ts.dt.month == 1).all() and ts.dt.day.max() == 20  # all in January: 12/01 is 12 January
    report = json.loads((tmp_path / "shop" / "ingest_report.json").read_text())
    assert report["tables"]["orders"]["date_format"] == "%d/%m/%Y %H:%M"


@pytest.mark.parametrize("day_first", [False, True])
def test_a_day_above_12_anywhere_settles_the_order(tmp_path: Path, day_first: bool) -> None:
    dates = [f"01/{1 + i % 12:02d}/2024" for i in range(1500)] + ["01/25/2024"]  # month-first, late proof
    if day_first:
        dates = ["25/01/2024"] + [f"{1 + i % 12:02d}/02/2024" for i in range(1500)]
    src = _file(tmp_path, "f.csv", dates)
    code, output, out = _run("--orders", str(src), "--out", str(tmp_path / "shop"))
    assert code == 0 and out["counts"]["rows_rejected"] == 0, output
    ts = pd.read_parquet(tmp_path / "shop" / "orders.parquet")["order_ts"]
    assert ts.min() == (pd.Timestamp("2024-01-25 08:15") if day_first else pd.Timestamp("2024-01-01 08:15"))


def test_a_file_mixing_both_orders_is_refused(tmp_path: Path) -> None:
    src = _file(tmp_path, "mix.csv", ["01/25/2024", "02/01/2024", "25/01/2024"])
    code, output, _ = _run("--orders", str(src), "--out", str(tmp_path / "shop"))
    assert code == 2 and "mix two orders" in output and "first row 3, '25/01/2024 08:15'" in output


def test_iso_dates_and_equal_day_and_month_are_not_ambiguous(tmp_path: Path) -> None:
    src = _file(tmp_path, "f.csv", ["05/05/2025", "07/07/2025", "2025-03-01"])
    code, output, _ = _run("--orders", str(src), "--out", str(tmp_path / "shop"))
    assert code == 0, output


def _two_years(tmp_path: Path, extra: str = "") -> Path:
    """Two orders a day from 2024-01-01 to 2025-12-30 (ISO), then ``extra`` lines."""
    days = pd.date_range("2024-01-01", "2025-12-30", freq="D")
    body = "".join(f"h{i}{k},c{i % 9},{d:%Y-%m-%d} 1{k}:00:00,s1,1,2.50,r1\n"
                   for i, d in enumerate(days) for k in range(2))
    path = tmp_path / "history.csv"
    path.write_text(HEADER + body + extra)
    return path


TYPO = "z1,c1,2026-12-30 10:00:00,s1,1,12.50,r1\n"


def test_a_year_typo_after_two_years_is_quarantined_and_said(tmp_path: Path) -> None:
    code, output, out = _run("--orders", str(_two_years(tmp_path, TYPO)), "--out", str(tmp_path / "shop"))
    assert code == 0 and out["counts"]["rows_rejected"] == 1, output
    assert any("1 line(s) dated 2026-12-30 come 365 days after the rest of the data, which ends 2025-12-30"
               in w for w in out["warnings"])
    doc = json.loads((tmp_path / "shop" / "ingest_report.json").read_text())
    report = doc["tables"]["orders"]
    assert report["last_day"] == "2025-12-30" and "stray future tail" in report["notes"][0]
    assert any("stray future tail" in w for w in doc["warnings"])  # what allocate passes on
    rejects = pd.read_parquet(tmp_path / "shop" / "rejects.parquet")
    assert rejects[["row", "reason"]].values.tolist() == [[1461, "after the data's own max + 1 day"]]


def test_a_year_typo_appended_is_checked_against_the_existing_orders(tmp_path: Path) -> None:
    out = tmp_path / "shop"
    assert _run("--orders", str(_two_years(tmp_path)), "--out", str(out))[0] == 0
    alone = tmp_path / "typo.csv"
    alone.write_text(HEADER + TYPO)
    code, output, _ = _run("--orders", str(alone), "--append", "--out", str(out))
    assert code == 2 and "after the data's own max + 1 day" in output
    assert pd.read_parquet(out / "orders.parquet")["order_ts"].max() < pd.Timestamp("2025-12-31")
    night = tmp_path / "night.csv"
    night.write_text(HEADER + "".join(f"n{i},c{i},2025-12-31 0{i % 10}:00:00,s1,1,2.5,r1\n"
                                      for i in range(150)) + TYPO)
    code, output, result = _run("--orders", str(night), "--append", "--out", str(out))
    assert code == 0 and result["counts"]["orders_rows_accepted"] == 150, output
    orders = pd.read_parquet(out / "orders.parquet")
    assert len(orders) == 1460 + 150 and orders["order_ts"].max() == pd.Timestamp("2025-12-31 09:00")


def _stamped(stamps: list[str]) -> str:
    return HEADER + "".join(f"o{i},c{i % 7},{t},s{i % 3},1,2.50,r1\n" for i, t in enumerate(stamps))


@pytest.mark.parametrize("stray, reason", [
    ("2024-01-01 06:00:00+05:00", "UTC offset in a file whose date format has none"),
    ("2024-01-01 06:00:00Z", "UTC offset in a file whose date format has none"),
])
def test_a_timestamp_with_an_offset_in_a_file_without_is_rejected_not_moved(
        tmp_path: Path, stray: str, reason: str) -> None:
    """One format per file: an offset row among naive ones was moved 5 h with exit 0 and no word (the
    report said '%Y-%m-%d %H:%M:%S'); it is a bad row naming row, column and reason, and a file with
    every third row so is refused by the reject share."""
    naive = [f"2024-01-{d:02d} 06:00:00" for d in range(1, 29)] * 4
    src = tmp_path / "o.csv"
    src.write_text(_stamped([*naive[:50], stray, *naive[50:]]))
    out = tmp_path / "shop"
    code, output, doc = _run("--orders", str(src), "--out", str(out), "--max-reject-share", "0.05")
    assert code == 0, output
    assert doc["counts"]["orders_rows_rejected"] == 1
    rejects = pd.read_parquet(out / "rejects.parquet")
    assert rejects[["row", "column", "value", "reason"]].to_dict("records") == [
        {"row": 51, "column": "order_ts", "value": stray, "reason": reason}]
    assert pd.read_parquet(out / "orders.parquet")["order_ts"].dt.hour.unique().tolist() == [6]
    mixed = tmp_path / "mixed.csv"
    mixed.write_text(_stamped([t + ("+05:00" if i % 3 == 0 else "") for i, t in enumerate(naive)]))
    code, output, _ = _run("--orders", str(mixed), "--out", str(tmp_path / "m"))
    assert code == 2 and not (tmp_path / "m").exists()
    assert "row 1, column 'order_ts', value '2024-01-01 06:00:00+05:00': UTC offset in a file whose date " \
           "format has none" in " ".join(output.split())


def test_a_timestamp_without_an_offset_in_a_file_with_them_is_rejected(tmp_path: Path) -> None:
    """'Z' and '+02:00' mix fine (both say their offset); a naive row among them does not."""
    zoned = [f"2024-01-{d:02d}T06:00:00{'Z' if d % 2 else '+02:00'}" for d in range(1, 29)] * 4
    src = tmp_path / "o.csv"
    src.write_text(_stamped([*zoned[:10], "2024-01-11T06:00:00", *zoned[10:]]))
    out = tmp_path / "shop"
    code, output, doc = _run("--orders", str(src), "--out", str(out), "--max-reject-share", "0.05")
    assert code == 0 and doc["counts"]["orders_rows_rejected"] == 1, output
    rejects = pd.read_parquet(out / "rejects.parquet")
    assert rejects[["row", "column", "reason"]].to_dict("records") == [
        {"row": 11, "column": "order_ts", "reason": "no UTC offset in a file whose date format has one"}]
    assert sorted(pd.read_parquet(out / "orders.parquet")["order_ts"].dt.hour.unique()) == [4, 6]
