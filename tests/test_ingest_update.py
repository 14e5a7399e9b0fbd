"""Ingest into an existing data directory: kept tables, --append, the runbook's nightly step."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from anticipate.cli import main
from tests.conftest import runbook_cron_command

HEADER = "order_id,customer_id,order_ts,sku,quantity,unit_price,region\n"
REFERENCE = {
    "products": "sku,category,unit_volume\ns1,a,2.0\ns2,b,0.5\n",
    "regions": "region,lat,lon\nr1,50,5\nr2,51,6\n",
    "warehouses": "warehouse_id,lat,lon,capacity\nw1,50,5,100\nw2,51,6,50\n",
    "supply": "sku,units\ns1,40\ns2,30\n",
}


def _night(day: int, n: int = 20, tag: str = "o") -> str:
    return "".join(f"{tag}{day}-{i},c{i % 5},2025-03-{day:02d} {8 + i % 10:02d}:00:00,s{1 + i % 2},1,2.5,"
                   f"r{1 + i % 2}\n" for i in range(n))


def _run(*args: str, cwd: Path | None = None) -> tuple[int, dict, str]:
    old = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = CliRunner().invoke(main, ["--json", "-q", *args])
    finally:
        os.chdir(old)
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("{")]
    return result.exit_code, json.loads(lines[-1]) if lines else {}, result.output


def _reference(tmp_path: Path, out: Path) -> None:
    args = []
    for table, body in REFERENCE.items():
        path = tmp_path / f"{table}.csv"
        path.write_text(body)
        args += [f"--{table}", str(path)]
    code, _, output = _run("ingest", *args, "--out", str(out))
    assert code == 0, output


def _write(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    return path


def test_orders_only_ingest_keeps_the_reference_tables(tmp_path: Path) -> None:
    out = tmp_path / "shop"
    _reference(tmp_path, out)
    before = {t: (out / f"{t}.parquet").read_bytes() for t in REFERENCE}
    code, doc, output = _run("ingest", "--orders", str(_write(tmp_path / "o.csv", HEADER + _night(1))),
                             "--out", str(out))
    assert code == 0, output
    assert {t: (out / f"{t}.parquet").read_bytes() for t in REFERENCE} == before
    assert doc["counts"]["products_rows_kept"] == 2 and doc["counts"]["orders_rows_accepted"] == 20
    report = json.loads((out / "ingest_report.json").read_text())
    assert sorted(report["kept"]) == ["products", "regions", "supply", "warehouses"]
    # an orders-only ingest now checks the orders against the kept products
    bad = _write(tmp_path / "bad.csv", HEADER + _night(2) + "x,c1,2025-03-02,s9,1,1,r1\n")
    code, _, output = _run("ingest", "--orders", str(bad), "--out", str(out))
    assert code == 2 and "unknown sku" in output and (out / "orders.parquet").is_file()


def test_append_drops_repeats_of_existing_lines_and_counts_them(tmp_path: Path) -> None:
    out = tmp_path / "shop"
    _reference(tmp_path, out)
    code, _, output = _run("ingest", "--orders", str(_write(tmp_path / "n1.csv", HEADER + _night(1))),
                           "--append", "--out", str(out))
    assert code == 0, output
    overlap = HEADER + _night(1)[: _night(1).index("o1-5,")] + _night(2)  # 5 lines of night 1 again
    code, doc, output = _run("ingest", "--orders", str(_write(tmp_path / "n2.csv", overlap)), "--append",
                             "--out", str(out))
    assert code == 0, output  # 5 / 25 = 20% repeats do not count against the 1% reject limit
    counts = doc["counts"]
    assert (counts["rows_in"], counts["rows_accepted"], counts["rows_rejected"]) == (25, 20, 5)
    assert counts["orders_duplicates_existing"] == 5 and counts["orders_rows_existing"] == 20
    assert doc["metrics"]["reject_share"] == 0.0  # repeats of existing lines are not bad rows
    orders = pd.read_parquet(out / "orders.parquet")
    assert len(orders) == 40 and orders["order_id"].is_unique
    assert orders["order_id"].tolist()[:20] == [f"o1-{i}" for i in range(20)]  # existing lines first
    rejects = pd.read_parquet(out / "rejects.parquet")
    assert rejects["row"].tolist() == [1, 2, 3, 4, 5]
    assert set(rejects["reason"]) == {"duplicate of an existing line (already ingested)"}
    report = json.loads((out / "ingest_report.json").read_text())
    assert report["tables"]["orders"]["duplicates_existing"] == 5 and report["append"] is True
    assert report["rejects_carried"] == 0 and report["rows_rejected"] == len(rejects)
    assert all((out / f"{t}.parquet").is_file() for t in REFERENCE)


def test_a_failed_append_leaves_the_directory_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "shop"
    _reference(tmp_path, out)
    assert _run("ingest", "--orders", str(_write(tmp_path / "n1.csv", HEADER + _night(1))), "--append",
                "--out", str(out))[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = _write(tmp_path / "bad.csv", HEADER + "x,c1,never,s1,1,1,r1\n")
    code, _, output = _run("ingest", "--orders", str(bad), "--append", "--out", str(out))
    assert code == 2 and "bad.csv" in output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_append_rebuilds_the_customer_layout(tmp_path: Path) -> None:
    from anticipate.storage.layout import read_layout

    cfg = _write(tmp_path / "dask.yaml", "compute:\n  engine: dask\n  partitions: 3\n")
    out = tmp_path / "shop"
    for day in (1, 2):
        night = _write(tmp_path / f"n{day}.csv", HEADER + _night(day))
        code, _, output = _run("--config", str(cfg), "ingest", "--orders", str(night), "--append", "--out",
                               str(out))
        assert code == 0, output
    layout = read_layout(out)  # raises when the layout disagrees with orders.parquet
    assert layout is not None and layout.rows == 40 == len(pd.read_parquet(out / "orders.parquet"))
    # a reference table ingested later keeps the orders and their layout
    code, _, output = _run("--config", str(cfg), "ingest", "--products",
                           str(_write(tmp_path / "p.csv", REFERENCE["products"])), "--out", str(out))
    assert code == 0, output
    layout = read_layout(out)
    assert layout is not None and layout.rows == 40


def _runbook_ingest() -> list[str]:
    """The README runbook's nightly ingest command, as arguments after ``anticipate``."""
    return runbook_cron_command("ingest")


def test_the_runbook_nightly_ingest_works_as_written(tmp_path: Path, umask_022: None) -> None:
    args = _runbook_ingest()
    assert args[0] == "ingest" and "--append" in args
    out = tmp_path / args[args.index("--out") + 1]
    _reference(tmp_path, out)
    orders_file = tmp_path / args[args.index("--orders") + 1]
    for day in (1, 2, 3):
        _write(orders_file, HEADER + _night(day))
        code, doc, output = _run(*args, cwd=tmp_path)
        assert code == 0, output
        assert doc["counts"]["orders_rows_accepted"] == 20
    orders = pd.read_parquet(out / "orders.parquet")
    assert len(orders) == 60 and orders["order_ts"].dt.day.tolist() == [1] * 20 + [2] * 20 + [3] * 20
    assert all((out / f"{t}.parquet").is_file() for t in REFERENCE)
    # readable by another account (a reporting user, the WMS)
    assert oct(out.stat().st_mode & 0o777) == "0o755"
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in out.iterdir()} == dict.fromkeys(
        [*(f"{t}.parquet" for t in [*REFERENCE, "orders", "rejects"]), "ingest_report.json"], "0o644")


@pytest.mark.parametrize("case", ["no column", "only unknown"])
def test_orders_without_a_usable_region_warn(tmp_path: Path, case: str) -> None:
    if case == "no column":
        body = "customer_id,order_ts\n" + "".join(f"c{i},2025-03-01\n" for i in range(5))
    else:
        body = "customer_id,order_ts,country\n" + "".join(f"c{i},2025-03-01,Unknown\n" for i in range(5))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["ingest", "--orders", str(_write(tmp_path / "o.csv", body)),
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "warning: orders: no usable region" in result.stderr
    report = json.loads((out / "ingest_report.json").read_text())
    assert any("no usable region" in w for w in report["warnings"])
    assert report["tables"]["orders"]["usable_region_rows"] == 0
    good = _write(tmp_path / "g.csv", HEADER + _night(1))
    result = CliRunner().invoke(main, ["ingest", "--orders", str(good), "--out", str(out)])
    assert result.exit_code == 0 and "no usable region" not in result.output


def test_new_reference_tables_are_checked_against_the_kept_orders_and_rejects_carry_over(
    tmp_path: Path
) -> None:
    out = tmp_path / "shop"
    _reference(tmp_path, out)
    night = HEADER + _night(1) + "".join(f"x{i},c1,2025-03-01,s1,0,1,r1\n" for i in range(1))
    code, _, output = _run("--config", str(_write(tmp_path / "c.yaml", "ingest:\n  max_reject_share: 0.1\n")),
                           "ingest", "--orders", str(_write(tmp_path / "n1.csv", night)), "--out", str(out))
    assert code == 0, output
    assert pd.read_parquet(out / "rejects.parquet")["table"].tolist() == ["orders"]
    products = _write(tmp_path / "p2.csv", "sku,category,unit_volume\ns1,a,2.0\n")  # s2 is gone
    code, doc, output = _run("ingest", "--products", str(products), "--out", str(out))
    assert code == 0, output
    assert any("10 of the 20 kept order lines have a sku that the new products table lacks" in w
               for w in doc["warnings"])
    report = json.loads((out / "ingest_report.json").read_text())
    assert report["rejects_carried"] == 1  # the kept orders' reject is still listed
    assert pd.read_parquet(out / "rejects.parquet")["reason"].tolist() == [
        "non-positive quantity (returns are not orders)"]


def _lines(day: int, *, minutes: bool = False, ids: bool = True) -> str:
    """20 distinct order lines of 2025-03-DAY with seconds (``minutes``: the same lines exported
    to the minute; ``ids``: with the order_id column)."""
    out = []
    for i in range(20):
        ts = f"2025-03-{day:02d} {8 + i % 10:02d}:{i:02d}" + ("" if minutes else f":{7 + i:02d}")
        line = f"c{i},{ts},s{1 + i % 2},1,2.5,r{1 + i % 2}\n"
        out.append(f"o{day}-{i},{line}" if ids else line)
    return "".join(out)


NO_ID_HEADER = HEADER.split(",", 1)[1]


def test_an_overlapping_export_in_another_layout_is_not_counted_twice(tmp_path: Path) -> None:
    out = tmp_path / "shop"
    history = HEADER + _lines(1) + _lines(2) + _lines(3)
    assert _run("ingest", "--orders", str(_write(tmp_path / "h.csv", history)), "--out", str(out))[0] == 0
    again = HEADER + _lines(2, minutes=True) + _lines(3, minutes=True) + _lines(4)  # nights 2-3 again
    code, doc, output = _run("ingest", "--orders", str(_write(tmp_path / "a.csv", again)), "--append",
                             "--out", str(out))
    assert code == 0, output
    assert doc["counts"]["orders_duplicates_existing"] == 40 and doc["counts"]["orders_rows_accepted"] == 20
    assert len(pd.read_parquet(out / "orders.parquet")) == 80
    rejects = pd.read_parquet(out / "rejects.parquet")
    assert rejects["value"].iloc[0] == "same order_id, sku, customer_id and day as existing line 21"
    report = json.loads((out / "ingest_report.json").read_text())["tables"]["orders"]
    assert report["duplicates_existing_by_key"] == 40 and "warnings" not in doc


def test_an_overlap_without_order_ids_is_kept_with_a_loud_warning(tmp_path: Path) -> None:
    out = tmp_path / "shop"
    history = HEADER + _lines(1) + _lines(2) + _lines(3)
    assert _run("ingest", "--orders", str(_write(tmp_path / "h.csv", history)), "--out", str(out))[0] == 0
    again = NO_ID_HEADER + _lines(2, minutes=True, ids=False) + _lines(3, minutes=True, ids=False)
    code, doc, output = _run("ingest", "--orders", str(_write(tmp_path / "a.csv", again)), "--append",
                             "--out", str(out))
    assert code == 0 and doc["counts"]["orders_rows_accepted"] == 40, output
    warning = next(w for w in doc["warnings"] if "within the existing orders" in w)
    assert "40 of the 40 new lines (100.0%) are dated 2025-03-02 08:00:00 to 2025-03-03 17:19:00" in warning
    assert "(which end 2025-03-03 17:19:26)" in warning and "counted twice" in warning
    assert "customer ids written differently, e.g. leading zeros dropped by a spreadsheet" in warning
    doc_on_disk = json.loads((out / "ingest_report.json").read_text())
    assert any("counted twice" in note for note in doc_on_disk["tables"]["orders"]["notes"])
    assert any("counted twice" in w for w in doc_on_disk["warnings"])
    one_late = HEADER + "z1,c1,2025-03-03 09:30:00,s1,1,2.5,r1\n"  # a late line within the last day
    code, doc, output = _run("ingest", "--orders", str(_write(tmp_path / "b.csv", one_late)), "--append",
                             "--out", str(out))
    assert code == 0 and "warnings" not in doc, output


def test_an_update_carries_over_every_entry_that_is_not_ingests_own(tmp_path: Path) -> None:
    """A synthetic world's latent/ (the truth baselines read it) and a user's notes survive an update."""
    out = tmp_path / "shop"
    _reference(tmp_path, out)
    latent = _write(out / "latent" / "world.json", '{"format": 2}')
    _write(out / "README.txt", "where this data came from")
    os.symlink("README.txt", out / "NOTES")
    code, _, output = _run("ingest", "--supply", str(_write(tmp_path / "s.csv", "sku,units\ns1,7\n")),
                             "--out", str(out))
    assert code == 0, output
    assert latent.read_text() == '{"format": 2}' and (out / "README.txt").read_text().startswith("where")
    assert os.readlink(out / "NOTES") == "README.txt"
    assert pd.read_parquet(out / "supply.parquet")["units"].tolist() == [7]
    assert json.loads((out / "ingest_report.json").read_text())["carried_over"] == ["NOTES", "README.txt",
                                                                                    "latent"]


# a live ingest into DIR/shop as the lock's file format has it: flock on DIR/.shop.lock, holder record,
# its stage being written
_HOLD_INGEST = """
import fcntl, json, os, socket, sys, time
from pathlib import Path
root = Path(sys.argv[1]).parent
fd = os.open(root / ".shop.lock", os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
os.write(fd, json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "started": time.time(),
                         "command": "anticipate ingest --out shop --append"}).encode())
(root / ".shop.stage-live").mkdir()
print("held", flush=True)
time.sleep(600)
"""


def test_a_second_ingest_into_the_same_directory_exits_75_and_leaves_the_live_stage(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "shop"
    _reference(tmp_path, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_INGEST, str(out)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        nightly = _write(tmp_path / "n1.csv", HEADER + _night(1))
        code, doc, output = _run("ingest", "--orders", str(nightly), "--append", "--out", str(out))
        assert code == 75 and doc["exit_code"] == 75, output
        assert f"another run holds the lock {tmp_path / '.shop.lock'}: 'anticipate ingest --out shop " \
               f"--append' (pid {holder.pid}" in output
        assert (tmp_path / ".shop.stage-live").is_dir()  # the live run's stage is not swept away
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    finally:
        holder.kill()
        holder.wait(timeout=30)
    code, _, output = _run("ingest", "--orders", str(nightly), "--append", "--out", str(out))
    assert code == 0, output
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".shop")) == []  # dead stage gone


def test_a_night_ingested_without_append_is_refused_and_a_tables_warning_is_kept(tmp_path: Path) -> None:
    """Replacing 100 order lines by one night's 20 (a cron job that forgot --append) is refused with exit 2
    before anything is written, naming both files' lines and days and the two fixes; --replace does it on
    purpose, with a warning. A products table whose unit_volume was defaulted keeps its warning through
    later orders-only ingests."""
    out = tmp_path / "shop"
    _reference(tmp_path, out)
    products = _write(tmp_path / "p.csv", "sku,category\ns1,a\ns2,b\n")  # no unit_volume: defaulted
    code, doc, output = _run("ingest", "--products", str(products), "--out", str(out))
    assert code == 0 and any("unit_volume" in w for w in doc["warnings"]), output
    history = _write(tmp_path / "h.csv", HEADER + "".join(_night(d) for d in range(1, 6)))
    code, doc, output = _run("ingest", "--orders", str(history), "--out", str(out))
    defaulted = "products: no column found for unit_volume"
    assert code == 0 and any(w.startswith(defaulted) for w in doc["warnings"])
    assert not any("were replaced" in w for w in doc["warnings"])  # no orders before: nothing replaced
    code, doc, output = _run("ingest", "--orders", str(history), "--out", str(out))  # the same file again
    assert code == 0 and not any("were replaced" in w for w in doc["warnings"]), output
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    night = _write(tmp_path / "n.csv", HEADER + _night(6))
    code, doc, output = _run("ingest", "--orders", str(night), "--out", str(out))
    assert code == 2, output
    assert (f"file {night}: the file's 20 accepted order line(s) (2025-03-06 to 2025-03-06) would replace "
            f"the 100 order lines of {out} (2025-03-01 to 2025-03-05): 80 fewer lines, no orders before "
            "2025-03-06") in output
    assert "--append" in output and "--replace" in output and "Traceback" not in output
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before  # byte-identical
    code, doc, output = _run("ingest", "--orders", str(night), "--out", str(out), "--dry-run")
    assert code == 0 and any("the real run would be refused (exit 2)" in w for w in doc["warnings"]), output
    code, doc, output = _run("ingest", "--orders", str(night), "--out", str(out), "--replace")
    assert code == 0, output
    (replaced,) = [w for w in doc["warnings"] if "were replaced" in w]
    assert replaced.startswith(f"orders: the 100 order lines of {out} were replaced by these 20 "
                               "(-80%, --replace)")
    assert any(w.startswith(defaulted) for w in doc["warnings"])
    code, doc, output = _run("ingest", "--orders", str(night), "--out", str(out), "--append", "--replace")
    assert code == 2 and "pass one of the two" in output
    more = _write(tmp_path / "m.csv", HEADER + _night(7))
    code, doc, output = _run("ingest", "--orders", str(more), "--append", "--out", str(out))
    assert code == 0 and not any("were replaced" in w for w in doc["warnings"])
    longer = _write(tmp_path / "l.csv", HEADER + "".join(_night(d) for d in range(6, 9)))  # a longer export
    code, doc, output = _run("ingest", "--orders", str(longer), "--out", str(out))
    assert code == 0 and doc["counts"]["orders_rows_accepted"] == 60, output


def test_appending_a_file_that_adds_nothing_leaves_the_orders_byte_identical(tmp_path: Path) -> None:
    """The same nightly file appended twice rewrote orders.parquet with an extra empty row group: other
    bytes and another data digest for the same data. Nothing new -> the file is not rewritten, and the
    result says so."""
    from anticipate.storage.digests import data_dir_digest

    out = tmp_path / "shop"
    _reference(tmp_path, out)
    history = _write(tmp_path / "h.csv", HEADER + "".join(_night(d) for d in range(1, 6)))
    assert _run("ingest", "--orders", str(history), "--out", str(out))[0] == 0
    night = _write(tmp_path / "n.csv", HEADER + _night(6))
    code, doc, output = _run("ingest", "--orders", str(night), "--append", "--out", str(out))
    assert code == 0 and doc["counts"]["orders_rows_accepted"] == 20, output
    before, digest = (out / "orders.parquet").read_bytes(), data_dir_digest(out)
    code, doc, output = _run("ingest", "--orders", str(night), "--append", "--out", str(out))
    assert code == 0, output
    assert (out / "orders.parquet").read_bytes() == before and data_dir_digest(out) == digest
    assert doc["counts"]["orders_rows_added"] == 0 and doc["counts"]["orders_duplicates_existing"] == 20
    assert any(w.startswith("orders: nothing new: none of the file's 20 line(s) was added") and
               "orders.parquet is unchanged" in w for w in doc["warnings"])
    text = CliRunner().invoke(main, ["ingest", "--orders", str(night), "--append", "--out", str(out)]).output
    assert ("120 existing + 0 new = 120 lines; 20 duplicates of existing lines dropped (counted as "
            "rejected); nothing new was added") in text
    assert (out / "orders.parquet").read_bytes() == before


def _receipts(day: int, customers: range) -> str:
    """Till receipts of 2025-03-DAY numbered from 1 every day (order ``1`` exists on every day)."""
    return "".join(f"{i + 1},c{c},2025-03-{day:02d} 09:{i:02d}:30,s1,1,2.5,r1\n"
                   for i, c in enumerate(customers))


def test_append_keeps_a_reused_order_id_of_another_customer_or_day(tmp_path: Path) -> None:
    """Order ids that restart every day: a new line is a repeat only of the same order's line (same
    order_id, sku, customer and day), not of order 1 of another customer on another day."""
    out = tmp_path / "shop"
    history = HEADER + _receipts(1, range(0, 10)) + _receipts(2, range(10, 20))
    assert _run("ingest", "--orders", str(_write(tmp_path / "h.csv", history)), "--out", str(out))[0] == 0
    night = HEADER + _receipts(3, range(20, 30)) + _receipts(2, range(10, 12))  # + 2 of night 2 again
    code, doc, output = _run("ingest", "--orders", str(_write(tmp_path / "n.csv", night)), "--append",
                             "--out", str(out))
    assert code == 0, output
    assert doc["counts"]["orders_rows_accepted"] == 10 and doc["counts"]["orders_duplicates_existing"] == 2
    orders = pd.read_parquet(out / "orders.parquet")
    assert len(orders) == 30 and sorted(orders["customer_id"].unique()) == sorted(f"c{c}" for c in range(30))
    assert pd.read_parquet(out / "rejects.parquet")["value"].tolist() == [
        "same as existing line 11", "same as existing line 12"]
    rounded = HEADER + "1,c20,2025-03-03 09:00,s1,1,2.5,r1\n" + "1,c21,2025-03-03 09:00,s1,1,2.5,r1\n"
    code, doc, output = _run("ingest", "--orders", str(_write(tmp_path / "r.csv", rounded)), "--append",
                             "--out", str(out))  # night 3's order 1 again (to the minute), and c21's new one
    assert code == 0 and doc["counts"]["orders_duplicates_existing"] == 1, output
    assert pd.read_parquet(out / "rejects.parquet")["value"].tolist()[-1] == (
        "same order_id, sku, customer_id and day as existing line 21")
    assert len(pd.read_parquet(out / "orders.parquet")) == 31


def test_an_order_id_whose_lines_lie_days_apart_is_warned_about(tmp_path: Path) -> None:
    """Receipts numbered per day: c1's order 1 of March 1 and of March 5 would be one order of March 1
    in the features. A basket that straddles midnight (23:50 -> 00:10) is one order and passes."""
    out = tmp_path / "shop"
    body = (HEADER + "1,c1,2025-03-01 09:00:00,s1,1,2.5,r1\n2,c2,2025-03-01 23:50:00,s1,1,2.5,r1\n"
            "2,c2,2025-03-02 00:10:00,s2,1,2.5,r1\n" + "".join(
                f"{i},c{i},2025-03-0{d} 10:00:00,s1,1,2.5,r1\n" for d in (2, 3, 4) for i in range(3, 6))
            + "1,c1,2025-03-05 09:00:00,s2,1,2.5,r1\n1,c1,2025-03-05 09:00:00,s1,2,2.5,r1\n")
    code, doc, output = _run("ingest", "--orders", str(_write(tmp_path / "pos.csv", body)), "--out", str(out))
    assert code == 0, output
    warning = next(w for w in doc["warnings"] if "order_id reused" in w)
    assert ("order_id reused: 4 order(s) (one customer_id + order_id) have lines more than 24 h apart, "
            "e.g. customer 'c1', order '1': 3 lines from 2025-03-01 to 2025-03-05") in warning
    assert "give each order a unique id" in warning and "without the order_id column" in warning
    on_disk = json.loads((out / "ingest_report.json").read_text())
    assert any("order_id reused: 4 order(s)" in w for w in on_disk["warnings"])
    assert "c2" not in warning
    code, doc, output = _run("--data", str(out), "features", "--out", str(tmp_path / "f.parquet"))
    assert code == 0, output  # features count c1's order at March 1: they repeat the warning
    assert any(w.startswith(f"the last ingest of {out} warned: orders: order_id reused: 4 order(s)")
               for w in doc["warnings"])


def test_an_appended_order_id_of_the_same_customer_days_later_is_warned_about(tmp_path: Path) -> None:
    """The check covers the new lines against the existing ones: c1's order 1 of last month and tonight's."""
    out = tmp_path / "shop"
    history = _write(tmp_path / "h.csv", HEADER + _receipts(1, range(0, 10)))  # c9's order is 10
    code, doc, output = _run("ingest", "--orders", str(history), "--out", str(out))
    assert code == 0 and "warnings" not in doc, output
    night = HEADER + _receipts(2, range(10, 20))  # other customers: order 1 again is no reuse
    code, doc, output = _run("ingest", "--orders", str(_write(tmp_path / "n.csv", night)), "--append",
                             "--out", str(out))
    assert code == 0 and "warnings" not in doc, output
    night = HEADER + _receipts(3, range(20, 29)) + "10,c9,2025-03-03 10:00:00,s2,1,2.5,r1\n"
    code, doc, output = _run("ingest", "--orders", str(_write(tmp_path / "n3.csv", night)), "--append",
                             "--out", str(out))
    assert code == 0, output
    assert any("1 order(s) (one customer_id + order_id) have lines more than 24 h apart, e.g. customer "
               "'c9', order '10': 2 lines from 2025-03-01 to 2025-03-03" in w for w in doc["warnings"])
