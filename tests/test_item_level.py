"""model.item_level: category never makes SKUs without a category one item 'ALL' silently (audit F6).

Without a products table, or when no SKU of the orders has a category, every command that builds
items refuses (exit 2) naming the key, the file and the fix; when some SKUs have none, it warns with
their count and share of the order lines, in its printed and recorded warnings.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from anticipate.errors import DataError
from anticipate.features.build import build_features
from anticipate.features.items import category_warnings
from tests.conftest import TrainedWorld, run_cli

CATEGORY = "model:\n  item_level: category\n  train_windows: 4\n  classifier: {n_estimators: 20}\n" \
           "  regressor: {n_estimators: 20}\n"
#: The shared world's last full cutoff and its data end.
CUTOFF, DATE = "2024-08-21", "2024-08-28"


def _refusal(done: object, data: Path, what: str) -> None:
    """Exit 2 with one paragraph naming the key, the products file and both fixes."""
    assert done.returncode == 2, done.stderr[-2000:]
    message = done.stderr.strip().splitlines()[-1]
    assert "error: model.item_level is category but" in message and what in message
    assert "products.parquet" in message and str(data) in message
    assert "'anticipate ingest --products FILE --out" in message and "set model.item_level: sku" in message
    assert "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def world(trained_world: TrainedWorld, tmp_path_factory: pytest.TempPathFactory) -> TrainedWorld:
    """A copy of the shared world with a category model trained on it (its URI in ``train``), and data
    directories beside ``data``: ``noproducts`` (no products.parquet), ``some`` (3 SKUs dropped from the
    products, 2 blanked to 'ALL'), ``blank`` (every category 'ALL')."""
    w = trained_world.copy(tmp_path_factory.mktemp("item-level") / "world")
    (w.root / "category.yaml").write_text(CATEGORY)
    done = run_cli(*w.args("-q", "--json", "train", config=w.root / "category.yaml"))
    assert done.returncode == 0, done.stderr[-3000:]
    products = pd.read_parquet(w.data / "products.parquet")
    for name in ("noproducts", "some", "blank"):
        (w.root / name).mkdir()
        for f in w.data.glob("*.parquet"):
            (w.root / name / f.name).write_bytes(f.read_bytes())
    (w.root / "noproducts" / "products.parquet").unlink()
    some = products.iloc[3:].copy()
    some.loc[some.index[:2], "category"] = "ALL"
    some.to_parquet(w.root / "some" / "products.parquet", index=False)
    products.assign(category="ALL").to_parquet(w.root / "blank" / "products.parquet", index=False)
    return TrainedWorld(w.root, json.loads(done.stdout))


def _args(world: TrainedWorld, data: str, *command: str) -> list[str]:
    return ["--data", str(world.root / data), "--config", str(world.root / "category.yaml"), "--tracking-uri",
            world.tracking_uri, *command]


def test_commands_refuse_category_level_without_a_products_table(world: TrainedWorld, tmp_path: Path) -> None:
    data, model = world.root / "noproducts", world.train["outputs"]["model_uri"]
    what = f"the data directory {data} holds no products table (products.parquet)"
    for command in (["features", "--out", str(tmp_path / "f.parquet")], ["train"],
                    ["predict", "--model", model, "--out", str(tmp_path / "p.parquet")],
                    ["evaluate", "--model", model, "--cutoff", CUTOFF]):
        done = run_cli(*_args(world, "noproducts", *command))
        _refusal(done, data, what)
    assert not (tmp_path / "f.parquet").exists() and not (tmp_path / "p.parquet").exists()


def test_commands_refuse_when_no_sku_has_a_category(world: TrainedWorld, tmp_path: Path) -> None:
    data, model = world.root / "blank", world.train["outputs"]["model_uri"]
    what = f"none of the 60 SKUs of the orders has a category (0 not in {data}/products.parquet, 60 with an"
    for command in (["features", "--out", str(tmp_path / "f.parquet")],
                    ["forecast", "--model", model, "--out", str(tmp_path / "fc.parquet")],
                    ["allocate", "--model", model, "--date", DATE],
                    ["backtest", "--model", model, "--cutoffs", CUTOFF, "--out", str(tmp_path / "bt")]):
        done = run_cli(*_args(world, "blank", *command), cwd=tmp_path)
        _refusal(done, data, what)
    assert not any((tmp_path / name).exists() for name in ("f.parquet", "fc.parquet", "bt"))
    assert not list(tmp_path.glob("plans/*/summary.json"))


def test_some_skus_without_a_category_are_warned_with_their_share(world: TrainedWorld, tmp_path: Path) \
        -> None:
    orders = pd.read_parquet(world.data / "orders.parquet")
    products = pd.read_parquet(world.data / "products.parquet")
    assert orders["sku"].nunique() == 60
    share = orders["sku"].isin(products["sku"].iloc[:5]).mean()  # the first 3 dropped, the next 2 blank
    expected = (f"model.item_level is category but 5 of the 60 SKUs of the orders ({share:.1%} of the order "
                f"lines) have no category (3 not in {world.root / 'some'}/products.parquet, 2 with an empty "
                "category ('ALL')): they all become the one item 'ALL'")
    model = world.train["outputs"]["model_uri"]
    for command in (["features", "--out", str(tmp_path / "f.parquet")],
                    ["predict", "--model", model, "--out", str(tmp_path / "p.parquet")]):
        done = run_cli(*_args(world, "some", "--json", *command))
        assert done.returncode == 0, done.stderr[-2000:]
        [warning] = [w for w in json.loads(done.stdout)["warnings"] if "no category" in w]
        assert warning.startswith(expected) and warning.endswith("or set model.item_level: sku")
        assert f"warning: {warning}" in done.stderr
    assert set(pd.read_parquet(tmp_path / "f.parquet")["item"]) >= {"ALL"}


def _variant(world: TrainedWorld, name: str, products: pd.DataFrame) -> None:
    """A data directory ``name`` beside the world's: its tables, with ``products`` instead."""
    (world.root / name).mkdir()
    for f in world.data.glob("*.parquet"):
        (world.root / name / f.name).write_bytes(f.read_bytes())
    products.to_parquet(world.root / name / "products.parquet", index=False)


def test_a_hand_made_products_table_repeating_a_sku_is_refused_at_load(world: TrainedWorld,
                                                                         tmp_path: Path) -> None:
    """Ingest keeps one row per SKU (refkeys); a hand-made table repeating one made item_column fail with
    pandas' 'cannot reindex on an axis with duplicate labels' (exit 1)."""
    products = pd.read_parquet(world.data / "products.parquet")
    repeat = products.iloc[[4, 1]].assign(category="other")
    _variant(world, "repeated", pd.concat([products, repeat], ignore_index=True))
    data = world.root / "repeated"
    done = run_cli(*_args(world, "repeated", "features", "--out", str(tmp_path / "f.parquet")))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    message = done.stderr.strip().splitlines()[-1]
    skus = ", ".join(repr(s) for s in products["sku"].iloc[[4, 1]])
    assert f"file {data}/products.parquet" in message and "column 'sku'" in message
    assert f"the products table repeats its key: 2 sku(s) are on more than one row ({skus})" in message
    assert "keep one row per sku in" in message and "'anticipate ingest --products FILE" in message
    assert not (tmp_path / "f.parquet").exists()


def test_category_warnings_count_skus_and_their_order_lines() -> None:
    products = pd.DataFrame({"sku": ["a", "b", "c", "e"], "category": ["x", "ALL", None, " "]})
    skus = pd.Series(["a", "a", "a", "b", "d", "a", "c", "e"]).astype("category")
    [warning] = category_warnings("category", products, skus, data_dir="shop")
    assert warning.startswith("model.item_level is category but 4 of the 5 SKUs of the orders (50.0% of "
                              "the order lines) have no category (1 not in shop/products.parquet, 3 with an "
                              "empty category ('ALL')): they all become the one item 'ALL'")
    assert category_warnings("sku", None, skus) == []
    known = skus.cat.remove_categories("d").dropna()
    assert category_warnings("category", products.assign(category=list("xyxy")), known) == []
    with pytest.raises(DataError, match=r"none of the 3 SKUs of the orders has a category \(1 not in"):
        category_warnings("category", products, pd.Series(["b", "c", "d"]))
    with pytest.raises(DataError, match=r"holds a products table \(products.parquet\) without a category"):
        category_warnings("category", products.drop(columns="category"), skus)


def test_the_items_are_all_exactly_where_the_warning_counts_a_blank_category() -> None:
    """An empty or whitespace category was an item "" (or "  ") while the warning counted it as blank."""
    from anticipate.demand.forecast import shares_from_units
    from anticipate.features.items import item_column

    products = pd.DataFrame({"sku": ["a", "b", "c", "d", "e"], "category": ["x", "", "  ", None, "ALL"]})
    orders = pd.DataFrame({"sku": ["a", "b", "c", "d", "e", "f"]})
    assert item_column(orders, "category", products).tolist() == ["x", "ALL", "ALL", "ALL", "ALL", "ALL"]
    [warning] = category_warnings("category", products, orders["sku"])
    assert "5 of the 6 SKUs" in warning and "1 not in products.parquet, 4 with an empty category" in warning
    units = pd.DataFrame({"region": ["r"], "item": ["x"], "sku": ["a"], "units": [1.0]})
    unsold = shares_from_units(units, products).query("item != 'x'")
    assert set(unsold["item"]) == {"ALL"} and unsold["share"].tolist() == [0.25] * 4


def test_one_category_for_every_sku_is_warned_not_refused() -> None:
    products = pd.DataFrame({"sku": ["a", "b", "c"], "category": ["Shoes", "Shoes", "Shoes"]})
    skus = pd.Series(["a", "b", "a", "c"]).astype("category")
    [warning] = category_warnings("category", products, skus, data_dir="shop")
    assert warning.startswith("model.item_level is category but all 3 SKUs of the orders have the one "
                              "category 'Shoes' in shop/products.parquet: the model forecasts the whole shop "
                              "as one item")
    assert "set model.item_level: sku" in warning
    assert category_warnings("category", products, pd.Series(["a", "a"])) == []  # one SKU: its own item
    assert category_warnings("category", products.assign(category=["Shoes", "Hats", "Shoes"]), skus) == []
    assert category_warnings("sku", products, skus) == []


def test_the_feature_engine_refuses_category_level_without_products() -> None:
    orders = pd.DataFrame({"order_id": ["o1"], "customer_id": ["c"], "order_ts": [pd.Timestamp("2025-01-01")],
                           "sku": ["s"], "quantity": [1], "region": ["r"]})
    with pytest.raises(DataError, match=r"model.item_level is category .* no products table"):
        build_features(orders, pd.Timestamp("2025-01-02"), lookback_days=30, item_level="category")
