"""build_plan: scope -> consensus demand -> capacity plan -> reasons, exceptions, family totals."""

from dataclasses import dataclass, field

import pandas as pd

from data_contracts.periods import month_numbers, periods_of_numbers
from data_contracts.tables import PLAN_ROW_COLUMNS, SAFETY_STOCK_COLUMNS, SEVERITY_ORDER
from reconciliation.capacity import REPORT_COLUMNS, plan_capacity
from reconciliation.consensus import build_demand
from reconciliation.cross_location import CrossLocation
from reconciliation.fence import fence_exceptions, firm_matrix, firm_receipts
from reconciliation.inputs import get_table, products_frame, text
from reconciliation.promotions import (
    EXCEPTION_COLUMNS,
    check_promo_uplifts,
    clean_promotions,
    judge_promo_uplifts,
    promotion_load,
)
from reconciliation.reasons import assign_reasons
from reconciliation.safety_stock import compute_safety_stock
from reconciliation.scope import planned_keys
from reconciliation.settings import PlanSettings
from reconciliation.trust import TRUST_COLUMNS

# Optional columns kept for planners and the report (SPEC allows additions).
EXTRA_PLAN_COLUMNS = [
    "family", "promo_uplift_pct", "promo_adjusted_baseline", "submitted_by", "sales_weight",
    "open_orders", "demand_class", "firm_receipt", "booked_qty", "override_qty",
]
FAMILY_COLUMNS = [
    "family", "location", "period", "sales_forecast", "baseline_forecast", "consensus_demand",
    "constrained_demand", "shortfall", "planned_receipts",
]


@dataclass
class PlanResult:
    """Everything build_plan produces; frames are ready for contracts and publishing."""

    consensus_plan: pd.DataFrame
    capacity_report: pd.DataFrame
    exceptions: pd.DataFrame
    trust: pd.DataFrame
    family_plan: pd.DataFrame
    promotion_load: pd.DataFrame = field(default_factory=pd.DataFrame)
    # How the supply side was planned (lot sizing, its budget and cost against the LP), for
    # the manifest; see reconciliation.capacity.supply_summary.
    supply_plan: dict[str, object] = field(default_factory=dict)
    # The safety stock the LP held per planned sku x location, given or computed, with its
    # inputs (reconciliation.safety_stock).
    safety_stock: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=SAFETY_STOCK_COLUMNS))


def build_plan(
    tables: dict[str, pd.DataFrame], baseline: pd.DataFrame, cycle: str, horizon: int,
    settings: PlanSettings | None = None, forecast_error: pd.DataFrame | None = None,
    previous_plan: pd.DataFrame | None = None, cross: CrossLocation | None = None,
) -> PlanResult:
    """The consensus, capacity-constrained plan of `cycle` for `horizon` months.

    `tables` are validated SPEC input tables (optional ones may be absent); `baseline` is the
    SPEC baseline_forecast for every planned SKU x location x month. `forecast_error` is
    fit_baselines' cumulative CV error: with it, SKUs whose products.safety_stock_units is
    empty get a computed safety stock (reconciliation.safety_stock); without it they hold none.
    `previous_plan` is the previous cycle's current consensus_plan
    (reconciliation.fence.PREVIOUS_COLUMNS), read only when `settings.frozen_months` turns the
    time fence on; its receipts inside the fence are kept (`firm_receipt`). Exceptions use ""
    for a sku/location/period that does not apply (location-level rows have sku "").
    `cross`: the evidence of every location (reconciliation/cross_location.py) when `tables`
    hold only some locations' rows; the plan of those locations is then their part of the
    catalogue's plan. None: `tables` are the whole catalogue.
    """
    settings = settings or PlanSettings()
    products = products_frame(tables)
    keys = planned_keys(tables, cycle, horizon)
    rows, trust, exc_demand = build_demand(
        tables, baseline, keys, products, cycle, horizon, settings,
        cross.trust_observations if cross is not None else None,
    )
    safety = compute_safety_stock(tables, keys, forecast_error, baseline, cycle, settings)
    fence = firm_receipts(previous_plan, keys, products, cycle, horizon, settings)
    rows, report, exc_supply, supply = plan_capacity(
        rows, tables, products, cycle, horizon, settings,
        safety.set_index(["sku", "location"])["safety_stock_units"],
        firm=(lambda k, p: firm_matrix(fence, k, p)) if fence.active else None,
        scales=cross.scales if cross is not None else None)
    rows["firm_receipt"] = rows["firm_units"] > 0
    if settings.frozen_months > 0:
        supply["time_fence"] = {
            "frozen_months": settings.frozen_months, "months": fence.months,
            "firm_receipts": int(rows["firm_receipt"].sum()),
            "firm_units": round(float(rows["firm_units"].sum()), 4),
        }
    exc_fence = fence_exceptions(rows, fence, settings)
    rows["reason"] = assign_reasons(rows, settings.tolerance)
    lead = rows["sku"].map(products["lead_time_months"]).fillna(0).to_numpy(int)
    release = pd.Series(periods_of_numbers(month_numbers(rows["period"]) - lead),
                        index=rows.index, dtype="object")
    # SPEC: empty where nothing is ordered (receipts before cycle + lead time are already 0).
    rows["order_release_period"] = release.where(rows["planned_receipts"] > 0, None)
    plan = rows[PLAN_ROW_COLUMNS + EXTRA_PLAN_COLUMNS].reset_index(drop=True)

    sh = get_table(tables, "sales_history")
    history = sh[["sku", "location", "period"]].assign(qty=sh["qty"].fillna(0.0))
    promos = clean_promotions(tables)
    load, exc_load = promotion_load(promos, plan, products)
    exc_promo = check_promo_uplifts(promos, history[history["period"] < cycle], products, cycle,
                                    settings) if cross is None else judge_promo_uplifts(
        promos[promos["end_period"] >= cycle], cross.realised_uplifts, products, settings)
    exceptions = collect_exceptions(
        [exc_demand, exc_supply, exc_promo, exc_load, fence.exceptions, exc_fence])
    return PlanResult(
        consensus_plan=plan,
        capacity_report=report[REPORT_COLUMNS].reset_index(drop=True) if not report.empty
        else pd.DataFrame(columns=REPORT_COLUMNS),
        exceptions=exceptions,
        trust=trust if not trust.empty else pd.DataFrame(columns=TRUST_COLUMNS),
        family_plan=family_totals(plan),
        promotion_load=load,
        supply_plan=supply,
        safety_stock=safety,
    )


def family_totals(plan: pd.DataFrame) -> pd.DataFrame:
    """family x location x period sums of the plan's quantities (coherent by construction)."""
    if plan.empty:
        return pd.DataFrame(columns=FAMILY_COLUMNS)
    return plan.groupby(["family", "location", "period"], as_index=False)[
        FAMILY_COLUMNS[3:]].sum()


def collect_exceptions(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """All exceptions in SPEC columns, "" for missing keys, errors first."""
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in EXCEPTION_COLUMNS})
    exc = pd.concat([p[EXCEPTION_COLUMNS] for p in parts], ignore_index=True)
    # Exceptions are built by the core, not read: their keys may be NaN/None where none applies.
    for c in EXCEPTION_COLUMNS:
        exc[c] = text(exc[c])
    order = exc["severity"].map(SEVERITY_ORDER).fillna(len(SEVERITY_ORDER))
    exc = exc.assign(_o=order).sort_values(["_o", "location", "sku", "period", "type"],
                                           kind="stable")
    return exc.drop(columns="_o").reset_index(drop=True)


