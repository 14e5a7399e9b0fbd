"""The typed configuration tree, loaded from ``configs/default.yaml`` plus ``--config``.

Every section is a pydantic model with ``extra="forbid"``, so an unknown or
ill-typed key is an error naming its dotted key path. YAML is read by
:func:`anticipate.config_yaml.read_yaml` (safe tags only, bounded aliases, no repeated keys, no octal or
base-60 numbers).
A user file overrides the defaults key by key (deep merge).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from anticipate.config_yaml import deep_merge, dotted_leaves, read_yaml, set_dotted
from anticipate.errors import ConfigError
from anticipate.features.spec import DEFAULT_FAMILIES, Family, ItemLevel

DEFAULT_CONFIG_PATH = Path("configs/default.yaml")
#: The largest seed a 32-bit consumer takes (LightGBM's ``seed``, NumPy's legacy RandomState is 2**32 - 1).
SEED_MAX = 2**31 - 1


def _numeric(annotation: Any) -> bool:
    """Whether a field's type is a number (``int``, ``float``, or one of them or None)."""
    return annotation in (int, float) or any(a in (int, float) for a in get_args(annotation))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """Refuse true/false (YAML also reads yes/no/on/off so) where a number belongs: pydantic would
        take them as 1/0, so ``horizon_days: yes`` would plan a 1-day horizon without a word."""
        field = cls.model_fields.get(info.field_name or "")
        if isinstance(value, bool) and field is not None and _numeric(field.annotation):
            raise ValueError("a number is required, not true/false (YAML reads yes/no/on/off/true/false as "
                             "booleans); write the number")
        return value


class DataConfig(_Section):
    dir: str = "data/sample"


class IngestConfig(_Section):
    columns: dict[Literal["orders", "products", "regions", "warehouses", "supply"], dict[str, str]] = Field(
        default_factory=dict,
        description="per table: canonical column name -> source column name, "
        "e.g. {orders: {order_ts: InvoiceDate, customer_id: CustomerID}}",
    )
    max_reject_share: float = Field(0.01, ge=0.0, le=1.0)
    on_error: Literal["quarantine", "fail"] = "quarantine"
    chunk_rows: int = Field(1_000_000, ge=1)
    max_quantity: int = Field(
        1_000_000, ge=1, le=1_000_000_000,
        description="the largest accepted quantity of one order line; a line above it is rejected as "
        "'quantity above ingest.max_quantity' (a typo or a unit mix-up; at most 10**9, so that sums of "
        "units stay far below int64's overflow)",
    )
    date_format: str | None = Field(
        None,
        description="strftime format of the orders' text timestamps that are not ISO 8601, e.g. "
        "'%d/%m/%Y %H:%M'; null: detected, and a file whose day/month order its data does not "
        "settle is refused",
    )
    decimal: Literal[".", ","] | None = Field(
        None,
        description="the decimal mark of numbers in the source files ('.' or ','), for values such as "
        "'1,500' that read as a decimal under one mark and thousands-grouped under the other; null: "
        "settled from each file's data, and a file that does not settle it is refused",
    )

    @field_validator("date_format")
    @classmethod
    def _a_format(cls, value: str | None) -> str | None:
        if value is not None and "%" not in value:
            raise ValueError(f"{value!r} is not a strftime format; write e.g. '%d/%m/%Y %H:%M'")
        return value or None


class TimeConfig(_Section):
    horizon_days: int = Field(7, ge=1, le=366)
    lookback_days: int = Field(365, ge=1, le=3660)


class LightGBMParams(_Section):
    num_leaves: int = Field(31, ge=2)
    learning_rate: float = Field(0.05, gt=0.0, le=1.0)
    n_estimators: int = Field(600, ge=1)
    min_child_samples: int = Field(50, ge=1)
    subsample: float = Field(0.8, gt=0.0, le=1.0)
    subsample_freq: int = Field(1, ge=0)
    colsample_bytree: float = Field(0.8, gt=0.0, le=1.0)
    reg_lambda: float = Field(1.0, ge=0.0)
    early_stopping_rounds: int = Field(50, ge=1)


class ModelConfig(_Section):
    item_level: ItemLevel = "sku"
    train_windows: int = Field(12, ge=2, le=104, description="rolling-origin windows; last = validation")
    year_ago_windows: int = Field(
        0, ge=0, le=52, description="extra training windows around the same season last year (52 weeks back)"
    )
    # LightGBM takes a 32-bit int: 2**32 + 5 trained the model of seed 5, and 2**31 that of -2**31
    seed: int = Field(7, ge=0, le=SEED_MAX, description="random seed, 0 to 2**31 - 1 (LightGBM's int)")
    threads: int = Field(2, ge=1)
    calibrate: Literal["auto", "always", "never"] = "auto"
    registered_name: str = "anticipate-next-purchase"
    max_train_pairs: int = Field(3_000_000, ge=1000, description="down-sample above this many rows")
    classifier: LightGBMParams = Field(default_factory=LightGBMParams)
    regressor: LightGBMParams = Field(default_factory=LightGBMParams)

    @field_validator("registered_name")
    @classmethod
    def _a_registry_name(cls, value: str) -> str:
        """MLflow's rule for registered model names (mlflow.utils.validation._validate_model_name: not
        blank, no '/' or ':', not '.' nor starting '..'), and no '@' (models:/NAME@alias): checked here,
        not after the whole fit."""
        if not value.strip():
            raise ValueError("the registered model name is empty (nothing would be registered); write a "
                             "name, e.g. anticipate-next-purchase")
        bad = sorted({c for c in value if c in "/:@"})
        if bad or value != value.strip():
            raise ValueError(f"a registered model name cannot contain {' or '.join(map(repr, bad or [' ']))} "
                             "(nor start or end with a space); write e.g. 'shop-model-v2'")
        if value == "." or value.startswith(".."):  # MLflow's path rule: refused at registration, after a fit
            raise ValueError(f"a registered model name cannot be '.' or start with '..' ({value!r}: MLflow "
                             "reads names as paths); write e.g. 'shop-model-v2'")
        return value


class FeaturesConfig(_Section):
    # at least one: an empty list wrote a table of 0 features and LightGBM then crashed in train
    families: list[Family] = Field(default_factory=lambda: list(DEFAULT_FAMILIES), min_length=1)


class EconomicsConfig(_Section):
    # .inf passed ge=0 and was reported later as a bad value of products.parquet's column 'g'
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    value_local: float = Field(4.0, ge=0.0, description="g: value of a unit sold locally (currency)")
    cost_unsold: float = Field(0.5, ge=0.0, description="h: cost of a pre-positioned unit left unsold")
    move_cost_per_km: float = Field(0.0005, ge=0.0, description="currency per unit per km")


class NetworkConfig(_Section):
    max_service_km: float = Field(1500.0, gt=0.0)
    centre_lat: float | None = Field(None, ge=-90.0, le=90.0,
                                     description="central fulfilment centre; default: capacity-weighted "
                                     "centroid of the warehouses that serve a region")
    centre_lon: float | None = Field(None, ge=-180.0, le=180.0)

    @model_validator(mode="after")
    def _both_or_neither(self) -> NetworkConfig:
        """One coordinate alone was dropped in silence and the centroid used; refuse it."""
        if (self.centre_lat is None) != (self.centre_lon is None):
            given, missing = (("centre_lat", "centre_lon") if self.centre_lon is None
                              else ("centre_lon", "centre_lat"))
            raise ValueError(f"network.{given} is set but network.{missing} is missing; set both (the "
                             "central fulfilment centre) or neither (the capacity-weighted centroid of the "
                             "warehouses)")
        return self


class ForecastConfig(_Section):
    new_demand_windows: int = Field(4, ge=1, description="past horizons averaged for new demand")
    dispersion: float = Field(1.0, ge=1.0, description="variance multiplier for interval calibration")
    sku_share_days: int = Field(90, ge=7, description="history used to split categories into SKUs")
    year_ago_index: bool = Field(
        True, description="scale new demand by what the same horizon 52 weeks earlier did to it"
    )
    new_demand_split: Literal["region_x_sku", "cell"] = Field(
        "region_x_sku", description="new demand per region x SKU: the region's total times the SKU's share "
        "over all regions (region_x_sku), or each cell's own mean (cell)"
    )


class AllocateConfig(_Section):
    plans_dir: str = "plans"
    max_staleness_days: int = Field(2, ge=0)
    lp_bound_max_cells: int = Field(20_000, ge=0, description="compute the HiGHS bound up to this size")
    gap_tolerance: float = Field(
        1e-4, gt=0.0, lt=1.0,  # 1 certified the empty plan at once (a gap of 100%): 0 units, exit 2
        description="the allocator stops at this relative gap (a fraction, 0 < gap_tolerance < 1)",
    )
    polish_max_units: int = Field(50_000, ge=0, description="solve small plans exactly with HiGHS MIP")
    max_forecast_ratio: float = Field(
        3.0,
        gt=1.0,
        description="refuse to publish a plan whose forecast total is more than this many times (or less "
        "than 1/this of) the units per horizon ordered recently in the served regions",
    )


class BacktestConfig(_Section):
    naive_windows: int = Field(4, ge=1)
    out_dir: str = "backtests"


class TrackingConfig(_Section):
    uri: str = "sqlite:///mlflow.db"
    artifact_location: str = "./mlartifacts"
    experiment: str = Field("anticipate", max_length=500, description="MLflow experiment name (not blank)")

    @field_validator("experiment")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the experiment name is empty; write a name, e.g. anticipate")
        return value


class ComputeConfig(_Section):
    engine: Literal["local", "dask"] = "local"
    scheduler: str = Field("local-cluster", description="'local-cluster' or tcp://HOST:PORT")
    n_workers: int = Field(2, ge=1)
    threads_per_worker: int = Field(1, ge=1)
    memory_limit: str = "6GB"
    partitions: int = Field(8, ge=1)
    connect_seconds: float = Field(
        10.0, gt=0, description="how long to try a tcp:// scheduler before exit 3 (unreachable), seconds"
    )



class SampleConfig(_Section):
    customers: int = Field(5000, ge=1)
    skus: int = Field(300, ge=1)
    categories: int = Field(20, ge=1)
    regions: int = Field(50, ge=1)
    warehouses: int = Field(8, ge=1)
    days: int = Field(730, ge=14)
    start: str = Field("2024-01-01", description="first day of the history, YYYY-MM-DD")
    seed: int = Field(7, ge=0, description="random seed (numpy's PCG64 takes any non-negative int)")

    @model_validator(mode="after")
    def _a_warehouse_per_region(self) -> SampleConfig:
        """A warehouse stands in one of the most populous regions: more than there are regions was cut
        to that many in silence (audit28)."""
        if self.warehouses > self.regions:
            raise ValueError(f"sample.warehouses is {self.warehouses} but sample.regions is {self.regions}, "
                             f"and each warehouse stands in a region of its own: set sample.warehouses to at "
                             f"most {self.regions}, or raise sample.regions")
        return self

    @field_validator("start")
    @classmethod
    def _iso_date(cls, value: str) -> str:
        """Only YYYY-MM-DD: '01/02/2024' was read as 2 January without a word, and '2024-02-30' was a bug."""
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise ValueError
            date.fromisoformat(value)
        except ValueError:
            raise ValueError("a date is written YYYY-MM-DD (e.g. 2024-01-31), a day that exists") from None
        return value


class Config(_Section):
    """The whole configuration. Sections mirror ``configs/default.yaml``."""

    data: DataConfig = Field(default_factory=DataConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    time: TimeConfig = Field(default_factory=TimeConfig)
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    economics: EconomicsConfig = Field(default_factory=EconomicsConfig)
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    forecast: ForecastConfig = Field(default_factory=ForecastConfig)
    allocate: AllocateConfig = Field(default_factory=AllocateConfig)
    backtest: BacktestConfig = Field(default_factory=BacktestConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    compute: ComputeConfig = Field(default_factory=ComputeConfig)
    sample: SampleConfig = Field(default_factory=SampleConfig)


def validate_config(raw: dict[str, Any], *, source: str = "config") -> Config:
    """Validate a raw mapping into a :class:`Config`, or raise one ConfigError listing the keys."""
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: " + "; ".join(_problems(exc))) from None


def _problems(exc: ValidationError) -> list[str]:
    """One phrase per key pydantic refused: ``key 'time.horizon_days': ... (got 0)``."""
    problems = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(err["loc"][:-1])
            problems.append(f"unknown key '{key}' (allowed here: {', '.join(allowed)})")
        else:
            message = err["msg"].removeprefix("Value error, ")
            got = "" if isinstance(err.get("input"), dict) else f" (got {err.get('input')!r})"
            problems.append(f"key '{key}': {message}{got}")
    return problems


def _refuse_in_the_file(layers: list[tuple[str, dict[str, Any]]], together: list[str]) -> None:
    """ConfigError naming the file a problem of the laid-over config is in, when that file has the same
    problem alone. A rule over two keys that two files fill between them (``network.centre_lat`` in
    one, ``centre_lon`` in the other) fails in each file alone but not together: not reported."""
    for name, layer in layers if len(layers) > 1 else []:
        try:
            Config.model_validate(layer)
        except ValidationError as exc:
            own = [problem for problem in _problems(exc) if problem in together]
            if own:
                raise ConfigError(f"{name}: " + "; ".join(own)) from None


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] = Config
    for part in loc:
        field = model.model_fields.get(str(part))
        if field is None or not isinstance(field.annotation, type) or not issubclass(
            field.annotation, BaseModel
        ):
            return []
        model = field.annotation
    return sorted(model.model_fields)


def load_config(
    path: str | Path | Sequence[str | Path] | None = None, overrides: dict[str, Any] | None = None
) -> Config:
    """Load the model defaults, overlay ``path`` (if any) and dotted ``overrides``.

    The defaults are the pydantic field defaults; ``configs/default.yaml`` writes
    them all out (a test keeps the two equal). The file ``configs/default.yaml`` of the
    working directory, when it exists, is the first layer, under ``path`` too: a project's
    edited defaults hold whether or not a ``--config`` is laid over them.

    Parameters
    ----------
    path
        A user YAML file (``--config``), or several (``--config a.yaml --config b.yaml``) laid over
        each other in order, key by key; keys none of them names keep their defaults. A problem of the
        whole that one file has alone (an unknown or ill-typed key) names that file.
    overrides
        ``{"time.horizon_days": 14}`` style overrides applied last.
    """
    paths = _with_project_defaults([path] if isinstance(path, str | Path) else list(path or []))
    layers = [(str(one), read_yaml(Path(one))) for one in paths]
    raw: dict[str, Any] = {}
    for _, layer in layers:
        raw = deep_merge(raw, layer)
    source = ", then ".join(name for name, _ in layers) or "defaults"
    for dotted, value in (overrides or {}).items():
        raw = set_dotted(raw, dotted, value)
    if overrides:  # an option (--scheduler, --decimal ...) or a grid key sets these keys
        source = f"{source} with {', '.join(overrides)} set by the command"
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        together = _problems(exc)
    _refuse_in_the_file(layers, together)
    raise ConfigError(f"{source}: " + "; ".join(together))


def _with_project_defaults(paths: list[str | Path]) -> list[str | Path]:
    """``paths`` under the working directory's ``configs/default.yaml`` when it exists (once, even when
    it is also passed). Under ``--config`` too: a project that edits its defaults file and lays a
    one-key night file over it would otherwise lose its edits in silence."""
    if not DEFAULT_CONFIG_PATH.is_file():
        return paths
    own = DEFAULT_CONFIG_PATH.resolve()
    return [DEFAULT_CONFIG_PATH, *(p for p in paths if Path(p).resolve() != own)]


def config_as_flat_params(cfg: Config) -> dict[str, str]:
    """Flatten the config to ``{"model.seed": "7", ...}`` for MLflow params."""
    return {key: str(value) for key, value in dotted_leaves(cfg.model_dump(mode="json"))}
