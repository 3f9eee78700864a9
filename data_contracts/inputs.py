"""pandera contracts of the input tables of SPEC.md, one DataFrameModel per table."""

from collections.abc import Callable
from functools import cache
from typing import Final

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from data_contracts.checks import (
    MAX_LEAD_TIME_MONTHS,
    MAX_UNITS,
    MIN_CAPACITY_PALLETS,
    MIN_CAPACITY_UNITS,
    MONTH_REGEX,
)
from data_contracts.coerce import is_number
from data_contracts.tables import INPUT_KEYS, PRODUCT_STATUSES


class InputContract(pa.DataFrameModel):
    """Shared base: types are coerced from text, extra columns are allowed (reported, ignored)."""

    class Config:
        coerce = True
        strict = False  # extra columns are kept and reported as an `info` finding
        ordered = False


class SalesHistory(InputContract):
    """Monthly sales per SKU × location; a month absent for a series means zero demand."""

    sku: Series[str] = pa.Field(description="SKU, non-empty")
    location: Series[str] = pa.Field(description="location (warehouse)")
    period: Series[str] = pa.Field(
        str_matches=MONTH_REGEX, description="month `YYYY-MM`, before the cycle"
    )
    qty: Series[float] = pa.Field(ge=0, finite=True, le=MAX_UNITS, description="units sold")

    class Config:
        unique = INPUT_KEYS["sales_history"]


class SalesForecast(InputContract):
    """The sales team's submission: one number per SKU (or family) × location × month."""

    sku: Series[str] = pa.Field(nullable=True, description="SKU; empty when `family` is given")
    family: Series[str] | None = pa.Field(
        nullable=True, description="family; a family row (sku empty) is split over its SKUs"
    )
    location: Series[str] = pa.Field(description="location")
    period: Series[str] = pa.Field(
        str_matches=MONTH_REGEX, description="month `YYYY-MM`, the cycle or later"
    )
    qty: Series[float] = pa.Field(ge=0, finite=True, le=MAX_UNITS, description="units")
    submitted_by: Series[str] | None = pa.Field(nullable=True, description="who submitted it")

    @pa.dataframe_check(name="sku_or_family", error="a row needs a sku or a family")
    @classmethod
    def sku_or_family(cls, df: pd.DataFrame) -> pd.Series:
        return df["sku"].notna() | df["family"].notna()

    @pa.dataframe_check(
        name="unique_forecast_key",
        error="duplicate key: one number per sku (or family) × location × period",
    )
    @classmethod
    def unique_forecast_key(cls, df: pd.DataFrame) -> pd.Series:
        item = df["sku"].where(df["sku"].notna(), "family:" + df["family"].astype(str))
        key = pd.DataFrame({"item": item, "location": df["location"], "period": df["period"]})
        return ~key.duplicated(keep=False)


class Products(InputContract):
    """Item master: one row per SKU."""

    sku: Series[str] = pa.Field(description="SKU")
    family: Series[str] = pa.Field(description="product family")
    units_per_pallet: Series[float] = pa.Field(
        gt=0, finite=True, le=MAX_UNITS, description="units per pallet"
    )
    lead_time_months: Series[int] = pa.Field(
        ge=0, le=MAX_LEAD_TIME_MONTHS, description="whole months order → receipt"
    )
    unit_cost: Series[float] = pa.Field(
        ge=0, finite=True, le=MAX_UNITS, description="cost per unit"
    )
    status: Series[str] | None = pa.Field(
        nullable=True, isin=list(PRODUCT_STATUSES), description="empty means active"
    )
    safety_stock_units: Series[float] | None = pa.Field(
        nullable=True, ge=0, finite=True, le=MAX_UNITS, description="units to keep on hand"
    )
    min_order_qty: Series[float] | None = pa.Field(
        nullable=True, ge=0, finite=True, le=MAX_UNITS, description="smallest order, units"
    )

    class Config:
        unique = INPUT_KEYS["products"]


class Warehouses(InputContract):
    """Capacity per location; a row with a period overrides the every-month row for that month."""

    location: Series[str] = pa.Field(description="location")
    period: Series[str] | None = pa.Field(
        nullable=True,
        str_matches=MONTH_REGEX,
        description="month `YYYY-MM`, or empty = every month",
    )
    storage_pallets: Series[float] = pa.Field(
        ge=MIN_CAPACITY_PALLETS, finite=True, le=MAX_UNITS,
        description="max pallets on hand at month end",
    )
    inbound_pallets: Series[float] = pa.Field(
        ge=MIN_CAPACITY_PALLETS, finite=True, le=MAX_UNITS,
        description="max pallets received per month",
    )
    outbound_units: Series[float] = pa.Field(
        ge=MIN_CAPACITY_UNITS, finite=True, le=MAX_UNITS, description="max units shipped per month"
    )
    overtime_pct: Series[float] = pa.Field(
        ge=0,
        finite=True,
        le=10,
        description="extra capacity with overtime, a fraction (0.2 = +20%)",
    )
    overtime_cost_per_pallet: Series[float] | None = pa.Field(
        nullable=True,
        ge=0,
        finite=True,
        le=MAX_UNITS,
        description="cost of a pallet moved in overtime",
    )

    class Config:
        unique = INPUT_KEYS["warehouses"]


class Inventory(InputContract):
    """Stock at the start of the cycle month; a SKU × location absent here has nothing."""

    sku: Series[str] = pa.Field(description="SKU")
    location: Series[str] = pa.Field(description="location")
    on_hand: Series[float] = pa.Field(ge=0, finite=True, le=MAX_UNITS, description="units on hand")

    class Config:
        unique = INPUT_KEYS["inventory"]


class OpenOrders(InputContract):
    """Orders already placed, arriving regardless."""

    sku: Series[str] = pa.Field(description="SKU")
    location: Series[str] = pa.Field(description="location")
    period: Series[str] = pa.Field(
        str_matches=MONTH_REGEX, description="arrival month, the cycle or later"
    )
    qty: Series[float] = pa.Field(gt=0, finite=True, le=MAX_UNITS, description="units arriving")

    class Config:
        unique = INPUT_KEYS["open_orders"]


class Promotions(InputContract):
    """Planned and past promotions."""

    promo_id: Series[str] = pa.Field(description="promotion id")
    sku: Series[str] = pa.Field(description="SKU")
    location: Series[str] = pa.Field(description="location")
    start_period: Series[str] = pa.Field(str_matches=MONTH_REGEX, description="first month")
    end_period: Series[str] = pa.Field(
        str_matches=MONTH_REGEX, description="last month, not before the start"
    )
    uplift_pct: Series[float] = pa.Field(
        ge=0, finite=True, le=MAX_UNITS, description="expected % over baseline (25 = +25%)"
    )

    @pa.dataframe_check(name="start_not_after_end", error="start_period must be <= end_period")
    @classmethod
    def start_not_after_end(cls, df: pd.DataFrame) -> pd.Series:
        return df["start_period"] <= df["end_period"]

    class Config:
        unique = INPUT_KEYS["promotions"]


class ForecastHistory(InputContract):
    """Past sales submissions, to learn how far to trust each submitter."""

    cycle: Series[str] = pa.Field(str_matches=MONTH_REGEX, description="cycle of the submission")
    sku: Series[str] = pa.Field(description="SKU")
    location: Series[str] = pa.Field(description="location")
    period: Series[str] = pa.Field(str_matches=MONTH_REGEX, description="month forecast")
    qty: Series[float] = pa.Field(ge=0, finite=True, le=MAX_UNITS, description="units")
    submitted_by: Series[str] = pa.Field(nullable=True, description="who submitted it")

    class Config:
        unique = INPUT_KEYS["forecast_history"]


class Overrides(InputContract):
    """The S&OP meeting's decisions, taken as decided."""

    sku: Series[str] = pa.Field(description="SKU")
    location: Series[str] = pa.Field(description="location")
    period: Series[str] = pa.Field(str_matches=MONTH_REGEX, description="month")
    qty: Series[float] = pa.Field(ge=0, finite=True, le=MAX_UNITS, description="agreed units")
    reason: Series[str] = pa.Field(description="why, non-empty")
    approved_by: Series[str] = pa.Field(description="who decided, non-empty")

    class Config:
        unique = INPUT_KEYS["overrides"]


class CustomerOrders(InputContract):
    """Orders customers have already booked; consensus demand is never below them."""

    sku: Series[str] = pa.Field(description="SKU")
    location: Series[str] = pa.Field(description="location")
    period: Series[str] = pa.Field(
        str_matches=MONTH_REGEX, description="delivery month, the cycle or later"
    )
    qty: Series[float] = pa.Field(gt=0, finite=True, le=MAX_UNITS, description="units booked")

    class Config:
        unique = INPUT_KEYS["customer_orders"]


INPUT_MODELS: Final[dict[str, type[InputContract]]] = {
    "sales_history": SalesHistory,
    "sales_forecast": SalesForecast,
    "products": Products,
    "warehouses": Warehouses,
    "inventory": Inventory,
    "open_orders": OpenOrders,
    "promotions": Promotions,
    "forecast_history": ForecastHistory,
    "overrides": Overrides,
    "customer_orders": CustomerOrders,
}


@cache
def number_columns(table: str) -> frozenset[str]:
    """The columns of input `table` its contract types as numbers; the others are text."""
    schema = INPUT_MODELS[table].to_schema()
    return frozenset(name for name, column in schema.columns.items() if is_number(column))


# Rules that depend on the cycle: table -> column -> (operator, readable rule).
CYCLE_RULES: Final[dict[str, dict[str, tuple[str, str]]]] = {
    "sales_history": {"period": ("lt", "must be before the cycle {cycle}")},
    "sales_forecast": {"period": ("ge", "must be the cycle {cycle} or later")},
    "open_orders": {"period": ("ge", "must be the cycle {cycle} or later")},
    "customer_orders": {"period": ("ge", "must be the cycle {cycle} or later")},
}


def _against_cycle(op: str, cycle: str) -> Callable[[pd.Series], pd.Series]:
    """Compare months with the cycle; malformed months are left to the format rule."""

    def check(periods: pd.Series) -> pd.Series:
        malformed = ~periods.astype(str).str.fullmatch(MONTH_REGEX)
        return malformed | ((periods < cycle) if op == "lt" else (periods >= cycle))

    return check


def input_schema(table: str, cycle: str | None) -> pa.DataFrameSchema:
    """The table's schema with the rules that depend on the cycle (e.g. history before it)."""
    schema = INPUT_MODELS[table].to_schema()
    if cycle is None:
        return schema
    updates = {}
    for column, (op, rule) in CYCLE_RULES.get(table, {}).items():
        error = rule.format(cycle=cycle)
        check = pa.Check(
            _against_cycle(op, cycle),
            name="before_cycle" if op == "lt" else "from_cycle",
            error=error,
        )
        updates[column] = {"checks": [*schema.columns[column].checks, check]}
    return schema.update_columns(updates) if updates else schema
