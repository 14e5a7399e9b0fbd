"""The typed config: defaults file in sync, unknown keys named, safe YAML only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from anticipate.config import Config, load_config, read_yaml, validate_config
from anticipate.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_default_yaml_equals_model_defaults() -> None:
    on_disk = read_yaml(ROOT / "configs" / "default.yaml")
    assert on_disk == Config().model_dump(mode="json")


def test_unknown_key_names_the_dotted_path_and_allowed_keys(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  item_levle: sku\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "model.item_levle" in str(err.value)
    assert "item_level" in str(err.value)  # the allowed keys are listed


def test_ill_typed_key_names_the_path_and_value() -> None:
    with pytest.raises(ConfigError, match=r"time\.horizon_days.*'soon'"):
        validate_config({"time": {"horizon_days": "soon"}})


def test_literal_key_lists_allowed_values() -> None:
    with pytest.raises(ConfigError, match=r"model\.item_level.*'sku' or 'category'"):
        validate_config({"model": {"item_level": "brand"}})


def test_user_file_overrides_key_by_key(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("time:\n  horizon_days: 14\n")
    cfg = load_config(path)
    assert cfg.time.horizon_days == 14
    assert cfg.time.lookback_days == Config().time.lookback_days


def test_dotted_overrides_apply_last(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("time:\n  horizon_days: 14\n")
    assert load_config(path, overrides={"time.horizon_days": 3}).time.horizon_days == 3


def test_python_object_tags_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("data: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match=r"not valid YAML.*remove the tag"):
        load_config(path)


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="alias bomb"):
        load_config(path)


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_non_mapping_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text(yaml.safe_dump([1, 2]))
    with pytest.raises(ConfigError, match="mapping"):
        load_config(path)


@pytest.mark.parametrize(
    ("text", "where", "fix"),
    [
        ("ingest:\n  max_reject_share: [1\n", "line 3, column 1", "close every ["),
        ("ingest:\n\tmax_reject_share: 0.2\n", "line 2, column 1", "not tabs"),
        ("data: !!python/object/apply:os.system ['echo pwned']\n", "line 1, column 7", "remove the tag"),
    ],
)
def test_malformed_yaml_is_one_paragraph_naming_file_line_and_fix(
    tmp_path: Path, text: str, where: str, fix: str
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert f"{path}, {where}" in message and fix in message and "\n" not in message
    assert not message.endswith("python object tags are refused")


@pytest.mark.parametrize(("key", "text"), [("time.horizon_days", "true"), ("time.horizon_days", "yes"),
                                           ("model.train_windows", "on"), ("economics.value_local", "false"),
                                           ("network.centre_lat", "true")])
def test_a_boolean_is_no_number(tmp_path: Path, key: str, text: str) -> None:
    """audit20 #12: ``horizon_days: true`` (or yes) was taken as 1 (pydantic's lax bool -> int)."""
    section, name = key.split(".")
    path = tmp_path / "c.yaml"
    path.write_text(f"{section}:\n  {name}: {text}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f"key '{key}': a number is required, not true/false" in str(err.value)
    assert err.value.exit_code == 2


def test_booleans_stay_booleans_and_every_shipped_config_still_loads(tmp_path: Path) -> None:
    from anticipate.pipelines import Settings
    from anticipate.pipelines.experiment import _validate_children, expand, load_spec

    path = tmp_path / "c.yaml"
    path.write_text("forecast:\n  year_ago_index: no\ntime:\n  horizon_days: 14\n"
                    "economics:\n  value_local: 3\n")
    cfg = load_config(path)
    assert (cfg.forecast.year_ago_index, cfg.time.horizon_days, cfg.economics.value_local) == (False, 14, 3.0)
    assert load_config(ROOT / "configs" / "default.yaml") == Config()
    settings = Settings(cfg=Config(), data_dir=ROOT / "data" / "sample", tracking_uri="sqlite:///unused.db")
    for spec_path in sorted((ROOT / "experiments").glob("*.yaml")):  # every grid point validates
        spec = load_spec(spec_path)
        _validate_children(settings, spec, expand(spec), spec_path)


@pytest.mark.parametrize("address", ["tcp://127.0.0.1", "tcp://host:abc", "tcp://host:8786/", "tcp://:8786",
                                     "tcp://host:99999", "127.0.0.1:8786"])
def test_a_scheduler_address_without_host_and_port_is_refused_naming_the_key(address: str) -> None:
    """audit21: these exited 1 ('a bug') or waited 10 s for exit 3."""
    from anticipate.config import ComputeConfig
    from anticipate.distributed.cluster import check_compute
    from anticipate.errors import UsageError

    with pytest.raises(UsageError, match=r"compute\.scheduler is .*: it must be 'local-cluster' or tcp://"):
        check_compute(ComputeConfig(scheduler=address))
    check_compute(ComputeConfig(scheduler="tcp://10.0.0.5:8786"))


@pytest.mark.parametrize(("limit", "ok"), [("lots", False), ("100MB", False), ("512MiB", True),
                                           ("2 GiB", True), ("6GB", True), ("auto", True),
                                           ("Auto", True)])
def test_a_worker_memory_limit_must_be_a_size_a_worker_can_run_in(limit: str, ok: bool) -> None:
    """'lots' exited 1 and '100MB' ended in a CommClosedError after Dask killed the workers (audit21);
    'auto', which Dask accepts, was refused as no size (audit24 #8)."""
    from anticipate.config import ComputeConfig
    from anticipate.distributed.cluster import check_compute
    from anticipate.errors import UsageError

    if ok:
        check_compute(ComputeConfig(memory_limit=limit))
    else:
        with pytest.raises(UsageError, match=r"compute\.memory_limit '.*' is.*or 'auto'"):
            check_compute(ComputeConfig(memory_limit=limit))


def test_a_config_error_in_keys_a_command_sets_says_so() -> None:
    said = r"with time\.horizon_days set by the command: key 'time\.horizon_days'"
    with pytest.raises(ConfigError, match=said):
        load_config(None, {"time.horizon_days": -1})


def test_repeated_config_files_are_laid_over_each_other_in_order(tmp_path: Path) -> None:
    """audit21 #12: '--config a.yaml --config b.yaml' dropped a.yaml in silence (Click keeps the last)."""
    from click.testing import CliRunner

    from anticipate.cli import main

    (tmp_path / "a.yaml").write_text("time:\n  horizon_days: 14\ndata:\n  dir: from_a\n")
    (tmp_path / "b.yaml").write_text("time:\n  horizon_days: 21\nmodel:\n  train_windows: 3\n")
    cfg = load_config([tmp_path / "a.yaml", tmp_path / "b.yaml"])
    assert (cfg.time.horizon_days, cfg.model.train_windows, cfg.data.dir) == (21, 3, "from_a")
    (tmp_path / "bad.yaml").write_text("model:\n  train_windos: 3\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: .*model\.train_windos"):
        load_config([tmp_path / "a.yaml", tmp_path / "bad.yaml"])
    # the CLI: a file before the command name and one after it are both read, the group's first
    done = CliRunner().invoke(main, ["--config", str(tmp_path / "a.yaml"), "features", "--config",
                                     str(tmp_path / "b.yaml"), "--out", str(tmp_path / "f.parquet")])
    assert done.exit_code == 2 and "from_a" in done.output, done.output  # a.yaml's data.dir, not the default


def test_an_empty_feature_family_list_is_refused_naming_the_key() -> None:
    """audit23 F7b: 'features.families: []' wrote a table of 0 features, then train crashed in LightGBM."""
    with pytest.raises(ConfigError, match=r"features\.families.*at least 1 item"):
        validate_config({"features": {"families": []}})


def test_the_projects_default_file_stays_under_a_config_overlay(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """audit24 #1: an edited ./configs/default.yaml counted only without --config; a one-key night file
    laid over it brought back the built-in defaults in silence (plan objective 3300.94 -> 1600.49)."""
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "default.yaml").write_text("economics:\n  value_local: 8.0\n")
    (tmp_path / "night.yaml").write_text("time:\n  horizon_days: 14\n")
    monkeypatch.chdir(tmp_path)
    cfg = load_config(["night.yaml"])
    assert (cfg.economics.value_local, cfg.time.horizon_days) == (8.0, 14)
    assert load_config(None).economics.value_local == 8.0
    # passed explicitly as well: read once, and a later file still wins
    again = load_config([Path("configs/default.yaml").resolve(), "night.yaml"])
    assert (again.economics.value_local, again.time.horizon_days) == (8.0, 14)
    (tmp_path / "over.yaml").write_text("economics:\n  value_local: 3.0\n")
    assert load_config(["over.yaml"]).economics.value_local == 3.0


@pytest.mark.parametrize(
    ("text", "key", "lines"),
    [
        ("time:\n  horizon_days: 14\nmodel:\n  seed: 3\ntime:\n  lookback_days: 200\n", "'time'", "1 and 5"),
        ("model:\n  classifier:\n    num_leaves: 8\n  seed: 3\n  classifier:\n    learning_rate: 0.1\n",
         "'model.classifier'", "2 and 5"),
        ("model:\n  seed: 3\n  seed: 4\n", "'model.seed'", "2 and 3"),
    ],
)
def test_a_key_written_twice_is_refused_with_both_lines(tmp_path: Path, text: str, key: str,
                                                        lines: str) -> None:
    """PyYAML keeps the last of two equal keys: a second `time:` section dropped the first in silence."""
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message and key in message and f"lines {lines}" in message


@pytest.mark.parametrize(("value", "read_as"), [("014", "12 (octal)"), ("1:10", "70 (base 60)"),
                                                ("-010", "-8 (octal)")])
def test_octal_and_base_60_numbers_are_refused(tmp_path: Path, value: str, read_as: str) -> None:
    """YAML 1.1 reads 014 as 12 and 1:10 as 70; the user meant neither."""
    path = tmp_path / "n.yaml"
    path.write_text(f"time:\n  horizon_days: {value}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message and "'time.horizon_days'" in message
    assert f"reads as {read_as}" in message and f"quote it ('{value}')" in message


@pytest.mark.parametrize(("text", "key"), [
    ("time: {lookback_days: 90, lookback_days: 365}\n", "'time.lookback_days'"),
    ("name: x\ngrid: {model.seed: [1, 2], model.seed: [3]}\n", "'grid.model.seed'"),
])
def test_a_key_written_twice_in_one_flow_mapping_is_refused(tmp_path: Path, text: str, key: str) -> None:
    """audit29 A1: the one-line spelling kept the last value in silence (a sweep ran 1 child, not 3)."""
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        read_yaml(path)
    assert key in str(err.value) and "written twice (both on line " in str(err.value)


def test_a_merge_of_a_mapping_that_merges_itself_is_refused(tmp_path: Path) -> None:
    """PyYAML 6.0 gives top.x = 1 here (the inner merged value over mid's own override x: 2)."""
    path = tmp_path / "chain.yaml"
    path.write_text("base: &b {x: 1, z: 0}\nmid: &m\n  <<: *b\n  x: 2\ntop:\n  <<: *m\n  y: 3\n")
    with pytest.raises(ConfigError, match=r"key 'top' merges \(<<\) the mapping at line 2, .* its 'x'"):
        read_yaml(path)
    path.write_text("c: &c {num_leaves: 8}\nd: &d\n  <<: *c\n  lr: 0.1\nm: {<<: *d}\n")  # no override
    assert read_yaml(path)["m"] == {"num_leaves": 8, "lr": 0.1}
    path.write_text("model:\n  seed: 3\n  seed: 4\n")
    with pytest.raises(ConfigError, match="drop the first without a word: write 'seed' once, with the value"):
        read_yaml(path)


def test_merge_keys_quoted_numbers_and_hex_still_load(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("a: &x {b: 1, c: 2}\nd:\n  <<: *x\n  b: 3\ne: [0, 0x1F, -3, 014.5, '014', \"1:10\"]\n")
    assert read_yaml(path) == {"a": {"b": 1, "c": 2}, "d": {"b": 3, "c": 2},
                               "e": [0, 31, -3, 14.5, "014", "1:10"]}


def test_experiment_grids_share_the_strict_reader(tmp_path: Path) -> None:
    from anticipate.pipelines.experiment import load_spec

    path = tmp_path / "grid.yaml"
    path.write_text("name: x\nname: y\n")
    with pytest.raises(ConfigError, match=r"key 'name' is written twice \(lines 1 and 2\)"):
        load_spec(path)


@pytest.mark.parametrize(("given", "missing"), [("centre_lat", "centre_lon"), ("centre_lon", "centre_lat")])
def test_one_centre_coordinate_alone_is_refused(tmp_path: Path, given: str, missing: str) -> None:
    """network.centre_lat without centre_lon was dropped: the centroid was used, summary said 'unset'."""
    path = tmp_path / "c.yaml"
    path.write_text(f"network:\n  {given}: 10\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value)
    assert f"network.{given} is set but network.{missing} is missing" in str(err.value)
    both = load_config(path, overrides={f"network.{missing}": 5}).network
    assert (both.centre_lat, both.centre_lon) in ((10, 5), (5, 10))


def test_a_rule_two_layered_files_fill_together_is_not_blamed_on_one(tmp_path: Path) -> None:
    """audit29 B4: centre_lat in one file, centre_lon and a bad seed in the next: the message blamed the
    first file for a missing centre_lon and never named model.seed."""
    lat, rest = tmp_path / "lat.yaml", tmp_path / "lon_badseed.yaml"
    lat.write_text("network:\n  centre_lat: 10\n")
    rest.write_text("network:\n  centre_lon: 5\nmodel:\n  seed: -1\n")
    with pytest.raises(ConfigError) as err:
        load_config([lat, rest])
    assert str(err.value).startswith(f"{rest}: key 'model.seed'")
    assert "centre_lon is missing" not in str(err.value)
    rest.write_text("network:\n  centre_lon: 5\n")
    network = load_config([lat, rest]).network
    assert (network.centre_lat, network.centre_lon) == (10, 5)


@pytest.mark.parametrize("value", ["1", "1.5", "0"])
def test_gap_tolerance_is_a_fraction_between_0_and_1(tmp_path: Path, value: str) -> None:
    """audit28 f14: allocate.gap_tolerance 1 certified the empty plan at once (0 units, blamed on data)."""
    path = tmp_path / "c.yaml"
    path.write_text(f"allocate:\n  gap_tolerance: {value}\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: key 'allocate\.gap_tolerance'"):
        load_config(path)


@pytest.mark.parametrize("key", ["value_local", "cost_unsold", "move_cost_per_km"])
@pytest.mark.parametrize("value", [".inf", ".nan"])
def test_non_finite_economics_are_refused_naming_the_key(tmp_path: Path, key: str, value: str) -> None:
    """audit28 f14: value_local .inf was reported as 'file products.parquet, row 1, column g'."""
    path = tmp_path / "c.yaml"
    path.write_text(f"economics:\n  {key}: {value}\n")
    with pytest.raises(ConfigError, match=rf"c\.yaml: key 'economics\.{key}': .*finite"):
        load_config(path)


@pytest.mark.parametrize(("text", "key"), [
    ("sample:\n  seed: -1\n", "sample.seed"),
    ("model:\n  seed: -3\n", "model.seed"),
    ("sample:\n  start: '2024-02-30'\n", "sample.start"),
    ("sample:\n  start: 2024-02-30\n", "sample.start"),  # unquoted: a ValueError inside PyYAML, exit 1
    ("sample:\n  start: '01/02/2024'\n", "sample.start"),  # was read as 2 January without a word
    ("sample:\n  start: 2024-1-5\n", "sample.start"),
    ("tracking:\n  experiment: ''\n", "tracking.experiment"),
    ("tracking:\n  experiment: '  '\n", "tracking.experiment"),
    ("model:\n  registered_name: ''\n", "model.registered_name"),  # exit 0, registering nothing
    ("model:\n  registered_name: 'shop model/v2'\n", "model.registered_name"),  # exit 1 after the fit
    ("model:\n  registered_name: 'a:b'\n", "model.registered_name"),
    ("model:\n  registered_name: 'a@b'\n", "model.registered_name"),
])
def test_values_that_failed_later_are_refused_at_config_load(tmp_path: Path, text: str, key: str) -> None:
    """audit28 f15: each of these was an exit 1 'This is a bug' (or a silent misreading) later on."""
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=rf"c\.yaml: key '{re.escape(key)}'"):
        load_config(path)


def test_iso_dates_load_quoted_or_not_and_names_agree_with_mlflow(tmp_path: Path) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.utils.validation import _validate_model_name

    path = tmp_path / "c.yaml"
    path.write_text("sample:\n  start: 2024-03-01\nmodel:\n  registered_name: shop model v2\n")
    cfg = load_config(path)
    assert cfg.sample.start == "2024-03-01" and cfg.model.registered_name == "shop model v2"
    _validate_model_name(cfg.model.registered_name)  # what we accept, MLflow accepts
    for accepted in ("a..b", "x.", ".x"):
        _validate_model_name(accepted)
        assert validate_config({"model": {"registered_name": accepted}}).model.registered_name == accepted
    for refused in ("", "shop model/v2", "a:b", ".", "..x", "..."):  # MLflow refuses: we refuse at load
        with pytest.raises(MlflowException):
            _validate_model_name(refused)
        with pytest.raises(ConfigError):
            validate_config({"model": {"registered_name": refused}})


def test_a_negative_seed_option_is_refused_naming_the_key() -> None:
    """audit28 f15: anticipate sample --seed -5 ended in numpy's ValueError, exit 1."""
    with pytest.raises(ConfigError, match=r"sample\.seed set by the command: key 'sample\.seed'"):
        load_config(None, overrides={"sample.seed": -5})


def test_a_seed_past_a_32_bit_int_is_refused_at_load_where_it_reaches_lightgbm(tmp_path: Path) -> None:
    """audit28: model.seed had no upper bound; LightGBM takes a 32-bit int, so 2**32 + 5 trained the
    model of seed 5 (and bigger ones failed deep in training, exit 1). sample.seed goes to NumPy's
    PCG64, which takes any non-negative int: it keeps working; an experiment's random.seed may not be
    negative (numpy's default_rng raised, exit 1)."""
    from anticipate.pipelines.experiment import load_spec

    assert load_config(None, overrides={"model.seed": 2**31 - 1}).model.seed == 2**31 - 1
    for seed in (2**31, 2**32 + 5, 2**64):
        with pytest.raises(ConfigError, match=r"key 'model\.seed'.* 2147483647"):
            load_config(None, overrides={"model.seed": seed})
    assert load_config(None, overrides={"sample.seed": 2**70}).sample.seed == 2**70
    spec = tmp_path / "sweep.yaml"
    spec.write_text("name: s\nrandom:\n  trials: 2\n  seed: -1\n  space: {model.seed: [1, 2]}\n")
    with pytest.raises(ConfigError, match=r"key 'random\.seed'"):
        load_spec(spec)


def test_more_sample_warehouses_than_regions_is_refused_naming_both_keys_and_the_maximum(
    tmp_path: Path,
) -> None:
    """audit28: a warehouse stands in one of the most populous regions, so sample.warehouses above
    sample.regions was cut to sample.regions in silence; now exit 2 before anything is written."""
    from tests.conftest import run_cli

    assert load_config(None, overrides={"sample.regions": 5, "sample.warehouses": 5}).sample.warehouses == 5
    (tmp_path / "r5.yaml").write_text("sample:\n  regions: 5\n")  # the default 8 warehouses
    done = run_cli("--config", "r5.yaml", "--json", "sample", "--out", "w", cwd=tmp_path, timeout=120)
    assert done.returncode == 2, done.stderr
    said = " ".join(done.stderr.split())
    assert "sample.warehouses is 8 but sample.regions is 5" in said
    assert "set sample.warehouses to at most 5, or raise sample.regions" in said
    assert '"exit_code": 2' in done.stdout and not (tmp_path / "w").exists()
