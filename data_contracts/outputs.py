"""pandera contracts of the published tables of SPEC.md, checked right before they are written."""

import itertools
from typing import Any, Final

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from data_contracts.checks import OUTPUT_MONTH_REGEX as MONTH_REGEX
from data_contracts.tables import (
    CAPACITY_STATUSES,
    CHANGE_KINDS,
    DEMAND_CLASSES,
    OUTPUT_KEYS,
    REASON_CODES,
    SAFETY_STOCK_ERROR_METHODS,
    SAFETY_STOCK_SOURCES,
    SEVERITIES,
)

# Rounding slack for equalities between float columns.
TOLERANCE = 1e-6


def _maybe_units(description: str) -> Any:
    """A quantity that may be empty (no interval, nothing before): finite and >= 0 if given."""
    return pa.Field(nullable=True, ge=0, finite=True, description=description)


def _slack(values: pd.Series) -> pd.Series:
    return TOLERANCE * values.abs().clip(lower=1.0)


class OutputContract(pa.DataFrameModel):
    """Shared base: SPEC columns are required; added optional columns are allowed."""

    class Config:
        coerce = True
        strict = False  # SPEC lets us add optional columns to outputs
        ordered = False


class ConsensusPlan(OutputContract):
    """One row per sku × location × period of the horizon."""

    cycle: Series[str] = pa.Field(str_matches=MONTH_REGEX, description="cycle of the run")
    plan_version: Series[int] = pa.Field(ge=1, description="published version, from 1")
    sku: Series[str] = pa.Field(description="SKU")
    location: Series[str] = pa.Field(description="location")
    period: Series[str] = pa.Field(str_matches=MONTH_REGEX, description="month")
    sales_forecast: Series[float] = pa.Field(
        ge=0, finite=True, description="sales' number after split"
    )
    baseline_forecast: Series[float] = pa.Field(
        ge=0, finite=True, description="statistical baseline"
    )
    consensus_demand: Series[float] = pa.Field(ge=0, finite=True, description="agreed demand")
    constrained_demand: Series[float] = pa.Field(
        ge=0, finite=True, description="<= consensus_demand"
    )
    shortfall: Series[float] = pa.Field(ge=0, finite=True, description="consensus - constrained")
    planned_receipts: Series[float] = pa.Field(ge=0, finite=True, description="new units arriving")
    order_release_period: Series[str] = pa.Field(
        nullable=True,
        str_matches=MONTH_REGEX,
        description="month to place the order (period - lead time)",
    )
    projected_on_hand: Series[float] = pa.Field(ge=0, finite=True, description="units at month end")
    reason: Series[str] = pa.Field(isin=list(REASON_CODES), description="reason code")

    @pa.dataframe_check(
        name="constrained_le_consensus", error="constrained_demand must be <= consensus_demand"
    )
    @classmethod
    def constrained_le_consensus(cls, df: pd.DataFrame) -> pd.Series:
        slack = _slack(df["consensus_demand"])
        return df["constrained_demand"] <= df["consensus_demand"] + slack

    @pa.dataframe_check(
        name="shortfall_balance", error="shortfall must equal consensus_demand - constrained_demand"
    )
    @classmethod
    def shortfall_balance(cls, df: pd.DataFrame) -> pd.Series:
        gap = df["consensus_demand"] - df["constrained_demand"]
        return (df["shortfall"] - gap).abs() <= _slack(df["consensus_demand"])

    class Config:
        unique = OUTPUT_KEYS["consensus_plan"]


class BaselineForecast(OutputContract):
    """Statistical baseline per sku × location × period, with prediction intervals."""

    sku: Series[str] = pa.Field(description="SKU")
    location: Series[str] = pa.Field(description="location")
    period: Series[str] = pa.Field(str_matches=MONTH_REGEX, description="month")
    model: Series[str] = pa.Field(description="model that produced the forecast")
    forecast: Series[float] = pa.Field(ge=0, finite=True, description="point forecast, units")
    lo_80: Series[float] = _maybe_units("80% interval, low")
    hi_80: Series[float] = _maybe_units("80% interval, high")
    lo_95: Series[float] = _maybe_units("95% interval, low")
    hi_95: Series[float] = _maybe_units("95% interval, high")
    demand_class: Series[str] = pa.Field(isin=list(DEMAND_CLASSES), description="demand pattern")

    @pa.dataframe_check(
        name="intervals_nested",
        error="intervals must nest: lo_95 <= lo_80 <= forecast <= hi_80 <= hi_95",
    )
    @classmethod
    def intervals_nested(cls, df: pd.DataFrame) -> pd.Series:
        ok = pd.Series(True, index=df.index)
        chain = ["lo_95", "lo_80", "forecast", "hi_80", "hi_95"]
        for low, high in itertools.pairwise(chain):
            pair_ok = df[low] <= df[high] + _slack(df[high])
            ok &= pair_ok | df[low].isna() | df[high].isna()
        return ok

    class Config:
        unique = OUTPUT_KEYS["baseline_forecast"]


class CapacityReport(OutputContract):
    """Load against capacity per location × month."""

    location: Series[str] = pa.Field(description="location")
    period: Series[str] = pa.Field(str_matches=MONTH_REGEX, description="month")
    inbound_pallets: Series[float] = pa.Field(ge=0, finite=True, description="pallets received")
    inbound_capacity_pallets: Series[float] = pa.Field(
        ge=0, finite=True, description="without overtime"
    )
    storage_pallets: Series[float] = pa.Field(
        ge=0, finite=True, description="pallets on hand at month end"
    )
    storage_capacity_pallets: Series[float] = pa.Field(
        ge=0, finite=True, description="max pallets on hand"
    )
    outbound_units: Series[float] = pa.Field(ge=0, finite=True, description="units shipped")
    outbound_capacity_units: Series[float] = pa.Field(
        ge=0, finite=True, description="without overtime"
    )
    overtime_pallets: Series[float] = pa.Field(
        ge=0, finite=True, description="pallets moved in overtime"
    )
    overtime_units: Series[float] = pa.Field(
        ge=0, finite=True, description="units shipped in overtime"
    )
    overtime_cost: Series[float] = pa.Field(ge=0, finite=True, description="cost of overtime")
    status: Series[str] = pa.Field(
        isin=list(CAPACITY_STATUSES),
        description="ok/overtime/short; short only where a capacity limit of the month cuts",
    )
    lead_time_shortfall_units: Series[float] = pa.Field(
        ge=0, finite=True,
        description="demand lost to lead time (before a receipt can arrive); no capacity helps",
    )

    class Config:
        unique = OUTPUT_KEYS["capacity_report"]


class Exceptions(OutputContract):
    """What the S&OP meeting should look at; sku/location/period empty for wider scopes."""

    sku: Series[str] = pa.Field(nullable=True, description="SKU, empty when not SKU-specific")
    location: Series[str] = pa.Field(nullable=True, description="location, or empty")
    period: Series[str] = pa.Field(
        nullable=True, str_matches=MONTH_REGEX, description="month, or empty"
    )
    type: Series[str] = pa.Field(description="exception type")
    severity: Series[str] = pa.Field(isin=list(SEVERITIES), description="info/warning/error")
    message: Series[str] = pa.Field(description="what happened, in words")


class PlanChanges(OutputContract):
    """What differs from the previous published plan; empty before/after: key absent there."""

    sku: Series[str] = pa.Field(description="SKU")
    location: Series[str] = pa.Field(description="location")
    period: Series[str] = pa.Field(str_matches=MONTH_REGEX, description="month")
    change: Series[str] = pa.Field(isin=list(CHANGE_KINDS), description="kind of change")
    previous_cycle: Series[str] = pa.Field(
        str_matches=MONTH_REGEX, description="cycle of the plan compared with"
    )
    previous_version: Series[int] = pa.Field(ge=1, description="version of that plan")
    consensus_demand_before: Series[float] = _maybe_units("consensus demand in the previous plan")
    consensus_demand_after: Series[float] = _maybe_units("consensus demand in this plan")
    planned_receipts_before: Series[float] = _maybe_units("planned receipts in the previous plan")
    planned_receipts_after: Series[float] = _maybe_units("planned receipts in this plan")
    order_release_period_before: Series[str] = pa.Field(
        nullable=True, str_matches=MONTH_REGEX, description="order release in the previous plan"
    )
    order_release_period_after: Series[str] = pa.Field(
        nullable=True, str_matches=MONTH_REGEX, description="order release in this plan"
    )

    @pa.dataframe_check(
        name="change_agrees_with_receipts",
        error="new needs receipts only after, cancelled only before, moved both and another "
        "release month",
    )
    @classmethod
    def change_agrees_with_receipts(cls, df: pd.DataFrame) -> pd.Series:
        before = df["planned_receipts_before"].fillna(0.0) > TOLERANCE
        after = df["planned_receipts_after"].fillna(0.0) > TOLERANCE
        release_b = df["order_release_period_before"].fillna("")
        release_a = df["order_release_period_after"].fillna("")
        change = df["change"]
        return (
            ((change != "new") | (~before & after))
            & ((change != "cancelled") | (before & ~after))
            & ((change != "moved") | (before & after & (release_b != release_a)))
        )

    @pa.dataframe_check(
        name="one_previous_plan", error="every row must name the same previous plan"
    )
    @classmethod
    def one_previous_plan(cls, df: pd.DataFrame) -> pd.Series:
        plans = df[["previous_cycle", "previous_version"]].drop_duplicates()
        return pd.Series(len(plans) <= 1, index=df.index)

    class Config:
        unique = OUTPUT_KEYS["plan_changes"]


class SafetyStock(OutputContract):
    """The safety stock the plan held per planned sku × location, and where it came from."""

    sku: Series[str] = pa.Field(description="SKU")
    location: Series[str] = pa.Field(description="location")
    source: Series[str] = pa.Field(
        isin=list(SAFETY_STOCK_SOURCES),
        description="given (products.safety_stock_units), computed (from the baseline's CV "
        "error) or none (empty and not computed: a phase_out SKU, or no baseline error)")
    service_level: Series[float] = pa.Field(
        nullable=True, gt=0, lt=1, description="cycle service level aimed at (computed only)")
    z: Series[float] = pa.Field(
        nullable=True, finite=True, description="standard normal quantile of service_level")
    lead_time_months: Series[int] = pa.Field(ge=0, description="products.lead_time_months")
    months_protected: Series[int] = pa.Field(
        ge=1, description="lead time + 1 review month: the error horizon the stock covers")
    error_method: Series[str] = pa.Field(
        nullable=True, isin=list(SAFETY_STOCK_ERROR_METHODS),
        description="where error_sigma came from: cv (own CV error shrunk to the pooled one), "
        "pooled (the model group's pooled error), interval (the baseline's 95 % interval)")
    error_sigma: Series[float] = _maybe_units(
        "sigma of the cumulative forecast error over months_protected (units)")
    safety_stock_units: Series[float] = pa.Field(
        ge=0, finite=True, description="units the plan keeps on hand as a buffer")

    class Config:
        unique = OUTPUT_KEYS["safety_stock"]


OUTPUT_MODELS: Final[dict[str, type[OutputContract]]] = {
    "consensus_plan": ConsensusPlan,
    "baseline_forecast": BaselineForecast,
    "capacity_report": CapacityReport,
    "exceptions": Exceptions,
    "plan_changes": PlanChanges,
    "safety_stock": SafetyStock,
}
