"""io: atomic files and directories, the lock with stale-holder detection, digests."""

from __future__ import annotations

import datetime
import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anticipate.errors import DataError, LockHeld
from anticipate.storage.files import (
    atomic_path,
    data_dir_digest,
    load_dataset,
    read_parquet_checked,
    write_parquet,
    write_table,
)
from anticipate.storage.lock import exclusive_lock
from anticipate.storage.publish import DirOutput, recover_dir, staging_dir

#: a directory output of the tests: it may hold these names
OUT = DirOutput("test", frozenset({"a.txt", "b.txt", "plan.csv", "plan.parquet", "sub"}))


def test_atomic_path_leaves_target_untouched_on_error(tmp_path: Path) -> None:
    target = tmp_path / "x.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_staging_dir_replaces_whole_directory(tmp_path: Path) -> None:
    target = tmp_path / "plans" / "2025-01-01"
    with staging_dir(target, OUT) as stage:
        (stage / "a.txt").write_text("1")
    with staging_dir(target, OUT) as stage:
        (stage / "b.txt").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["2025-01-01"]


def test_staging_dir_failure_keeps_previous(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with staging_dir(target, OUT) as stage:
        (stage / "a.txt").write_text("1")
    with pytest.raises(ValueError), staging_dir(target, OUT) as stage:
        (stage / "b.txt").write_text("2")
        raise ValueError
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]


def test_recover_dir_restores_a_publish_cut_between_renames(tmp_path: Path) -> None:
    target = tmp_path / "out"
    old = tmp_path / ".out.old-123"
    old.mkdir()
    (old / "plan.csv").write_text("previous")
    recover_dir(target)
    assert (target / "plan.csv").read_text() == "previous"
    assert not old.exists()


def test_recover_dir_restores_the_newest_copy_whatever_the_pids(tmp_path: Path) -> None:
    """``old-9999`` sorts after ``old-10625`` as text; the older plan was put back (audit24 #7)."""
    target = tmp_path / "out"
    for age, (pid, plan) in enumerate([(9999, "older"), (10625, "newest")]):
        old = tmp_path / f".out.old-{pid}"
        old.mkdir()
        (old / "plan.csv").write_text(plan)
        os.utime(old, ns=(10**18 + age * 10**9, 10**18 + age * 10**9))
    recover_dir(target)
    assert (target / "plan.csv").read_text() == "newest"
    assert not list(tmp_path.glob(".out.old-*"))


def test_lock_refuses_a_live_holder_and_names_it(tmp_path: Path) -> None:
    lock = tmp_path / "allocate.lock"
    with exclusive_lock(lock, command="allocate --date 2025-01-01"), pytest.raises(
        LockHeld, match=r"allocate --date 2025-01-01.*pid"
    ), exclusive_lock(lock, command="second"):
        pass
    assert not lock.exists()


def test_the_lock_holders_start_is_named_in_utc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The exit-75 message printed the start in the local zone without saying so (audit24 #8)."""
    import time

    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        lock = tmp_path / "allocate.lock"
        with exclusive_lock(lock, command="night"), pytest.raises(LockHeld) as refused, exclusive_lock(
            lock, command="second"
        ):
            pass
    finally:
        monkeypatch.undo()
        time.tzset()
    shown = re.search(r"started (\S+ \S+ UTC)\)", str(refused.value))
    assert shown is not None, str(refused.value)
    stamp = datetime.datetime.strptime(shown.group(1), "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=datetime.UTC)
    assert abs(stamp.timestamp() - time.time()) < 60


def test_lock_taken_over_from_a_dead_holder(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead_pid = int(proc.stdout)
    lock = tmp_path / "allocate.lock"
    import socket

    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": dead_pid, "started": 0.0,
                                "command": "killed run"}))
    with exclusive_lock(lock, command="tonight") as me:
        assert me.pid == os.getpid()
        assert json.loads(lock.read_text())["command"] == "tonight"


_HOLD = """
import sys, time
from anticipate.errors import LockHeld
from anticipate.storage.lock import exclusive_lock
try:
    with exclusive_lock(sys.argv[1], command="holder"):
        start = time.time()
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
        print(start, time.time(), flush=True)
except LockHeld:
    print("refused", flush=True)
"""


def test_a_sigkilled_holder_releases_the_lock_at_once(tmp_path: Path) -> None:
    lock = tmp_path / "allocate.lock"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(lock), "600"], stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    with pytest.raises(LockHeld, match=f"pid {holder.pid}"), exclusive_lock(lock, command="second"):
        pass
    holder.kill()
    holder.wait(timeout=30)
    assert lock.exists()  # the killed run could not clean up; its record is stale
    with exclusive_lock(lock, command="next night") as me:
        assert json.loads(lock.read_text())["pid"] == me.pid


def test_racing_runs_after_a_crash_never_hold_the_lock_together(tmp_path: Path) -> None:
    """Eight runs start at once on a stale lock: the holding intervals never overlap."""
    lock = tmp_path / "allocate.lock"
    lock.write_text(json.dumps({"host": "here", "pid": 1, "started": 0.0, "command": "killed run"}))
    procs = [subprocess.Popen([sys.executable, "-c", _HOLD, str(lock), "0.3"], stdout=subprocess.PIPE,
                              text=True) for _ in range(8)]
    outputs = [p.communicate(timeout=120)[0].split() for p in procs]
    held = sorted((float(o[1]), float(o[2])) for o in outputs if o[0] == "held")
    assert held, outputs
    assert all(o[0] in {"held", "refused"} for o in outputs)
    for (_, end), (start, _) in itertools.pairwise(held):
        assert start >= end, f"two runs held the lock at once: {held}"


def test_parquet_writes_are_byte_identical(tmp_path: Path) -> None:
    frame = pd.DataFrame({"sku": ["a", "b"], "units": [1, 2]})
    write_parquet(frame, tmp_path / "1.parquet")
    write_parquet(frame, tmp_path / "2.parquet")
    assert (tmp_path / "1.parquet").read_bytes() == (tmp_path / "2.parquet").read_bytes()


def test_write_table_refuses_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"\.parquet or \.csv"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "x.xlsx")


def test_truncated_parquet_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    write_parquet(pd.DataFrame({"a": range(1000)}), path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_parquet_checked(path)


def test_dictionary_read_gives_categoricals_of_the_same_values(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    frame = pd.DataFrame(
        {"c": ["b", "a", None, "b", "c"] * 3, "n": range(15), "t": list("xyzzy") * 3}, dtype=object
    ).astype({"n": "int64"})
    write_parquet(frame, path)
    read = read_parquet_checked(path, dictionary=["c", "n", "missing"])
    assert list(read.columns) == ["c", "n", "t"] and isinstance(read["c"].dtype, pd.CategoricalDtype)
    assert list(read["c"].cat.categories) == ["b", "a", "c"]  # first appearance
    assert read["c"].isna().sum() == 3 and read["n"].dtype == "int64"
    assert not isinstance(read["t"].dtype, pd.CategoricalDtype)
    plain = read_parquet_checked(path)
    pd.testing.assert_series_equal(read["c"].astype(plain["c"].dtype), plain["c"])
    assert list(read_parquet_checked(path, columns=["t", "c"], dictionary=["c"]).columns) == ["t", "c"]
    empty = tmp_path / "empty.parquet"
    write_parquet(frame.iloc[:0].astype({"c": "str"}), empty)
    assert len(read_parquet_checked(empty, dictionary=["c"])["c"].cat.categories) == 0


def test_dictionary_read_takes_the_named_columns_from_the_files_dictionaries(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    frame = pd.DataFrame({"c": list("babca") * 3, "n": range(15), "t": list("xyzzy") * 3})
    write_parquet(frame, path)
    plain = read_parquet_checked(path)
    for stored in (("t",), ("c", "t"), True):
        read = read_parquet_checked(
            path, columns=["t", "n", "c"], dictionary=["c", "t"], stored_dictionaries=stored
        )
        assert list(read.columns) == ["t", "n", "c"]
        for name in ("c", "t"):  # categoricals either way, of the same values
            assert isinstance(read[name].dtype, pd.CategoricalDtype)
            pd.testing.assert_series_equal(read[name].astype(plain[name].dtype), plain[name])


def test_load_dataset_missing_directory_says_how_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="anticipate sample"):
        load_dataset(tmp_path / "nope")


def test_a_missing_relative_data_directory_names_the_working_directory_and_the_path_looked_at(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """audit28: 'data directory data/shop does not exist' from a notebook folder did not say that a
    relative --data (or data.dir) is read from the working directory, nor where it looked."""
    (tmp_path / "notebooks" / "empty").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "notebooks")
    here = tmp_path.resolve() / "notebooks"
    with pytest.raises(DataError) as err:
        load_dataset(Path("data/shop"))
    assert str(err.value).startswith(f"data directory data/shop (relative to the working directory: "
                                     f"{here / 'data' / 'shop'}) does not exist")
    with pytest.raises(DataError) as err:
        load_dataset(Path("empty"))
    assert str(err.value).startswith(f"empty/orders.parquet (relative to the working directory: "
                                     f"{here / 'empty' / 'orders.parquet'}) is missing")
    with pytest.raises(DataError) as err:  # an absolute path is said as given
        load_dataset(tmp_path / "nope")
    assert str(err.value).startswith(f"data directory {tmp_path / 'nope'} does not exist;")
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "orders.parquet").write_bytes(b"PAR1")
    with pytest.raises(DataError) as err:  # audit33: a table's file given as --data "did not exist"
        load_dataset(tmp_path / "shop" / "orders.parquet")
    table = tmp_path / "shop" / "orders.parquet"
    assert str(err.value) == (f"the data directory {table} is a file; pass the directory holding the "
                              f"canonical tables (--data {tmp_path / 'shop'})")


def test_data_dir_digest_changes_with_content(tmp_path: Path) -> None:
    write_parquet(pd.DataFrame({"a": [1]}), tmp_path / "orders.parquet")
    first = data_dir_digest(tmp_path)
    write_parquet(pd.DataFrame({"a": [2]}), tmp_path / "orders.parquet")
    assert data_dir_digest(tmp_path) != first


def test_outputs_respect_the_umask_not_mkstemp_private_modes(tmp_path: Path, umask_022: None) -> None:
    from anticipate.storage.files import write_json

    frame = pd.DataFrame({"a": [1, 2]})
    plain = [write_parquet(frame, tmp_path / "f.parquet"), write_table(frame, tmp_path / "f.csv"),
             write_json({"a": 1}, tmp_path / "r.json")]
    with staging_dir(tmp_path / "plans" / "2025-01-01", OUT) as stage:
        write_parquet(frame, stage / "plan.parquet")
        (stage / "sub").mkdir()
    published = tmp_path / "plans" / "2025-01-01"
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in [*plain, published, published / "plan.parquet",
                                                               published / "sub"]}
    assert modes == {"f.parquet": "0o644", "f.csv": "0o644", "r.json": "0o644", "2025-01-01": "0o755",
                     "plan.parquet": "0o644", "sub": "0o755"}


def test_a_stricter_umask_is_respected_too(tmp_path: Path) -> None:
    code = ("import os, sys; os.umask(0o077); from anticipate.storage.files import write_json; "
            "from anticipate.storage.publish import DirOutput, staging_dir; "
            "write_json({}, sys.argv[1] + '/a.json'); "
            "exec('with staging_dir(sys.argv[1] + \"/d\", DirOutput(\"t\", frozenset())) as s: pass'); "
            "print(oct(os.stat(sys.argv[1] + '/a.json').st_mode & 0o777), "
            "oct(os.stat(sys.argv[1] + '/d').st_mode & 0o777))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["0o600", "0o700"]


def test_a_small_dictionary_limit_keeps_every_value(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"x": rng.normal(size=5000), "n": rng.integers(0, 5, 5000).astype(float)})
    frame.loc[::7, "x"] = np.nan
    path = write_parquet(frame, tmp_path / "t.parquet", dictionary_bytes=1024)  # "x" overflows it at once
    pd.testing.assert_frame_equal(pd.read_parquet(path), frame, check_exact=True)


@pytest.mark.parametrize("seed", [0, 1])
def test_text_column_encoded_in_two_halves_equals_one_pass(seed: int) -> None:
    import pyarrow as pa

    from anticipate.storage.dictionary import _categorical

    rng = np.random.default_rng(seed)
    words = np.array([f"c{i:03d}" for i in range(300)], dtype=object)
    values = words[rng.integers(0, 300, 5000) ** 2 // 300]  # skewed: many ids appear only late
    cuts = np.sort(rng.choice(np.arange(1, 5000), size=6, replace=False))
    column = pa.chunked_array([pa.array(part, pa.large_string()) for part in np.split(values, cuts)])
    pool = pa.system_memory_pool()
    whole, halves = _categorical(column, pool, split_rows=10**9), _categorical(column, pool, split_rows=1)
    assert list(halves.categories) == list(pd.unique(values))  # first appearance, over both halves
    assert halves.codes.dtype == whole.codes.dtype
    np.testing.assert_array_equal(halves.codes, whole.codes)
    assert halves.categories.equals(whole.categories) and halves.categories.dtype == whole.categories.dtype
    text = pa.large_string()
    with_null = pa.chunked_array([pa.array(["a", None], text), pa.array(["b"], text)])
    assert list(_categorical(with_null, pool, split_rows=1).codes) == [0, -1, 1]  # nulls: one pass


@pytest.mark.parametrize(("change", "said"), [
    (lambda f: f.drop(columns="region"), "the orders table has no column 'region' (string)"),
    (lambda f: f.assign(order_ts=f["order_ts"].astype(str)), "column 'order_ts' of the orders table is"),
    (lambda f: f.drop(columns="unit_price"), None),  # optional without a default: may be absent
])
def test_a_hand_made_table_without_its_canonical_columns_is_a_data_error(tmp_path: Path, change: object,
                                                                          said: str | None) -> None:
    """A KeyError or TypeError (exit 1) deep in a command became a DataError naming file and column."""
    from anticipate.storage.files import load_dataset

    orders = pd.DataFrame({"order_id": ["o1", "o2"], "customer_id": ["a", "b"], "sku": ["s", "t"],
                           "order_ts": pd.to_datetime(["2025-01-01", "2025-01-02"]), "quantity": [1, 2],
                           "unit_price": [1.0, 2.0], "region": ["R1", "R1"]})
    change(orders).to_parquet(tmp_path / "orders.parquet")
    if said is None:
        assert len(load_dataset(tmp_path).orders) == 2
        return
    with pytest.raises(DataError, match=re.escape(said)) as err:
        load_dataset(tmp_path)
    assert err.value.file == str(tmp_path / "orders.parquet")


def test_a_reference_table_repeating_its_key_is_refused_and_the_orders_are_not() -> None:
    from anticipate.storage.keys import check_unique_key

    supply = pd.DataFrame({"sku": [f"s{i % 7}" for i in range(14)], "units": 1})
    with pytest.raises(DataError, match=r"7 sku\(s\) are on more than one row \('s0', 's1', 's2', 's3', "
                       r"'s4', \.\.\.\).*keeps one of identical rows, sums the lots of one SKU") as caught:
        check_unique_key(Path("d/supply.parquet"), "supply", supply)
    assert caught.value.file == "d/supply.parquet" and caught.value.column == "sku"
    check_unique_key(Path("d/orders.parquet"), "orders", supply)  # one order, many lines
    check_unique_key(Path("d/supply.parquet"), "supply", supply.drop_duplicates("sku"))
