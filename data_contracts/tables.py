"""Names and columns of every table in SPEC.md, shared by readers, contracts and writers."""

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # pandas stays unimported for the light readers of these names
    import pandas as pd

# Input tables: name -> required?
INPUT_TABLES: Final[dict[str, bool]] = {
    "sales_history": True,
    "sales_forecast": True,
    "products": True,
    "warehouses": True,
    "inventory": True,
    "open_orders": False,
    "promotions": False,
    "forecast_history": False,
    "overrides": False,
    "customer_orders": False,
}

INPUT_COLUMNS: Final[dict[str, list[str]]] = {
    "sales_history": ["sku", "location", "period", "qty"],
    "sales_forecast": ["sku", "family", "location", "period", "qty", "submitted_by"],
    "products": [
        "sku", "family", "units_per_pallet", "lead_time_months", "unit_cost",
        "status", "safety_stock_units", "min_order_qty",
    ],
    "warehouses": [
        "location", "period", "storage_pallets", "inbound_pallets", "outbound_units",
        "overtime_pct", "overtime_cost_per_pallet",
    ],
    "inventory": ["sku", "location", "on_hand"],
    "open_orders": ["sku", "location", "period", "qty"],
    "promotions": ["promo_id", "sku", "location", "start_period", "end_period", "uplift_pct"],
    "forecast_history": ["cycle", "sku", "location", "period", "qty", "submitted_by"],
    "overrides": ["sku", "location", "period", "qty", "reason", "approved_by"],
    "customer_orders": ["sku", "location", "period", "qty"],
}

# Columns a table may omit (SPEC: "optional").
OPTIONAL_COLUMNS: Final[dict[str, set[str]]] = {
    "sales_forecast": {"family", "submitted_by"},
    "products": {"status", "safety_stock_units", "min_order_qty"},
    "warehouses": {"period", "overtime_cost_per_pallet"},
}

# What differs from the previous published plan (SPEC `plan_changes`).
PLAN_CHANGES_COLUMNS: Final[list[str]] = [
    "sku", "location", "period", "change", "previous_cycle", "previous_version",
    "consensus_demand_before", "consensus_demand_after", "planned_receipts_before",
    "planned_receipts_after", "order_release_period_before", "order_release_period_after",
]

# The safety stock each planned sku x location held in the plan, given or computed, with the
# inputs of a computed one (reconciliation/safety_stock.py); published as safety_stock.parquet.
SAFETY_STOCK_COLUMNS: Final[list[str]] = [
    "sku", "location", "source", "service_level", "z", "lead_time_months", "months_protected",
    "error_method", "error_sigma", "safety_stock_units",
]
SAFETY_STOCK_SOURCES: Final[tuple[str, ...]] = ("given", "computed", "none")
SAFETY_STOCK_ERROR_METHODS: Final[tuple[str, ...]] = ("cv", "pooled", "interval")

# Semantic version of the published tables' contract (data_contracts.output_schema, and
# `contract_version` in every manifest): major when a column, type or rule gets stricter or goes
# away (a reader may break), minor when something is added, patch for wording.
CONTRACT_VERSION: Final = "1.1.0"

OUTPUT_COLUMNS: Final[dict[str, list[str]]] = {
    "consensus_plan": [
        "cycle", "plan_version", "sku", "location", "period", "sales_forecast",
        "baseline_forecast", "consensus_demand", "constrained_demand", "shortfall",
        "planned_receipts", "order_release_period", "projected_on_hand", "reason",
    ],
    "baseline_forecast": [
        "sku", "location", "period", "model", "forecast", "lo_80", "hi_80", "lo_95", "hi_95",
        "demand_class",
    ],
    "capacity_report": [
        "location", "period", "inbound_pallets", "inbound_capacity_pallets", "storage_pallets",
        "storage_capacity_pallets", "outbound_units", "outbound_capacity_units",
        "overtime_pallets", "overtime_units", "overtime_cost", "status",
        "lead_time_shortfall_units",
    ],
    "exceptions": ["sku", "location", "period", "type", "severity", "message"],
    "plan_changes": PLAN_CHANGES_COLUMNS,
}

# consensus_plan as the planner builds it; publishing stamps cycle and plan_version in front.
PLAN_STAMP_COLUMNS: Final[list[str]] = ["cycle", "plan_version"]
PLAN_ROW_COLUMNS: Final[list[str]] = [
    c for c in OUTPUT_COLUMNS["consensus_plan"] if c not in PLAN_STAMP_COLUMNS]

REASON_CODES: Final[tuple[str, ...]] = (
    "BASELINE", "SALES_ACCEPTED", "SALES_SHRUNK", "PROMO_UPLIFT", "OVERRIDE", "NEW_ITEM",
    "CAPACITY_PREBUILD", "CAPACITY_OVERTIME", "CAPACITY_SHORTFALL",
    "LEAD_TIME_SHORTFALL",
)
DEMAND_CLASSES: Final[tuple[str, ...]] = ("smooth", "erratic", "intermittent", "lumpy", "new")
SEVERITIES: Final[tuple[str, ...]] = ("info", "warning", "error")
# Severity -> rank, most severe first (0 = error): exceptions are listed errors first.
SEVERITY_ORDER: Final[dict[str, int]] = {s: rank for rank, s in enumerate(reversed(SEVERITIES))}
CAPACITY_STATUSES: Final[tuple[str, ...]] = ("ok", "overtime", "short")
CHANGE_KINDS: Final[tuple[str, ...]] = ("new", "increased", "decreased", "cancelled", "moved")
PRODUCT_STATUSES: Final[tuple[str, ...]] = ("active", "new", "phase_out")

# Unique key of every table (SPEC's "key" column). sales_forecast's key is "sku or family":
# its contract derives that key itself (see inputs.SalesForecast).
INPUT_KEYS: Final[dict[str, list[str]]] = {
    "sales_history": ["sku", "location", "period"],
    "sales_forecast": ["sku", "family", "location", "period"],
    "products": ["sku"],
    "warehouses": ["location", "period"],
    "inventory": ["sku", "location"],
    "open_orders": ["sku", "location", "period"],
    "promotions": ["promo_id", "sku", "location"],
    "forecast_history": ["cycle", "sku", "location", "period", "submitted_by"],
    "overrides": ["sku", "location", "period"],
    "customer_orders": ["sku", "location", "period"],
}

OUTPUT_KEYS: Final[dict[str, list[str]]] = {
    "consensus_plan": ["cycle", "plan_version", "sku", "location", "period"],
    "baseline_forecast": ["sku", "location", "period"],
    "capacity_report": ["location", "period"],
    "plan_changes": ["sku", "location", "period"],
    "safety_stock": ["sku", "location"],
}


def stamp_version(df: "pd.DataFrame", cycle: str, version: int) -> "pd.DataFrame":
    """`df` with the run that publishes it (cycle, plan_version) as its first columns."""
    out = df.reset_index(drop=True).copy()
    out.insert(0, "plan_version", version)
    out.insert(0, "cycle", cycle)
    return out


def order_columns(df: "pd.DataFrame", table: str) -> "pd.DataFrame":
    """SPEC's columns of `table` first, in SPEC order; extra columns after them."""
    spec = OUTPUT_COLUMNS[table]
    return df.reset_index(drop=True)[spec + [c for c in df.columns if c not in spec]]
