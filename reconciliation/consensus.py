"""Unconstrained consensus demand per SKU x location x month: baseline, promos, sales, overrides.

consensus = ref + w * (sales - ref), ref = promo-adjusted baseline, w in [0, 1] from `trust`,
so it always lies between the promo-adjusted baseline and the sales number (inclusive). Where
sales submitted no number it is the promo-adjusted baseline. Booked customer_orders come before
both: where they exceed that number, consensus is the booked quantity (exception
CUSTOMER_ORDERS_ABOVE_CONSENSUS). An override replaces it as decided, orders or not.
"""

import numpy as np
import pandas as pd
from scipy.special import ndtr

from data_contracts.periods import horizon_periods
from reconciliation.family_split import family_rows_of, split_family_forecast
from reconciliation.inputs import get_table, text
from reconciliation.promotions import EXCEPTION_COLUMNS, clean_promotions, uplift_by_month
from reconciliation.scope import booked_orders, split_targets
from reconciliation.settings import PlanSettings
from reconciliation.trust import estimate_trust, sales_weights, team_of, trust_table

KEY = ["sku", "location"]
ROW_KEY = ["sku", "location", "period"]
Z95, Z80 = 1.959964, 1.281552
# booked_qty and override_qty stay: the plan publishes them, so the next cycle's waterfall
# (reconciliation/waterfall.py) can rebuild this consensus from its parts.
DEMAND_ONLY_COLUMNS = ["lo_80", "hi_80", "lo_95", "hi_95", "promo_ids", "override_reason",
                       "approved_by"]


def plan_grid(keys: pd.DataFrame, cycle: str, horizon: int) -> pd.DataFrame:
    """keys x horizon months, sorted by sku, location, period (the plan's row order)."""
    periods = horizon_periods(cycle, horizon)
    grid = keys[KEY].loc[keys.index.repeat(len(periods))].reset_index(drop=True)
    grid["period"] = np.tile(periods, len(keys))
    return grid


def sales_numbers(
    tables: dict[str, pd.DataFrame], keys: pd.DataFrame, baseline: pd.DataFrame,
    cycle: str, horizon: int,
) -> pd.DataFrame:
    """SKU-level sales numbers (sku, location, period, sales_forecast, submitted_by).

    SKU rows and split family rows of the same key x month add up (a family row and a SKU row
    are separate statements of demand). The team of a key x month is the one whose row carried
    the largest quantity.
    """
    periods = set(horizon_periods(cycle, horizon))
    sf = get_table(tables, "sales_forecast")
    sf = sf[sf["period"].isin(periods)]
    sku_rows = sf[sf["sku"] != ""]
    rows = sku_rows[ROW_KEY].assign(
        qty=sku_rows["qty"].fillna(0.0), submitted_by=team_of(sku_rows["submitted_by"]))
    fam = family_rows_of(sf)
    if not fam.empty:
        targets = split_targets(tables, cycle, horizon).merge(keys[KEY], on=KEY, how="inner")
        fam = fam.assign(submitted_by=team_of(fam["submitted_by"]))
        split = split_family_forecast(fam, targets, baseline)
        rows = pd.concat([rows, split.drop(columns="family")], ignore_index=True)
    if rows.empty:
        return pd.DataFrame(columns=[*ROW_KEY, "sales_forecast", "submitted_by"])
    rows = rows.sort_values("qty", ascending=False, kind="stable")
    return rows.groupby(ROW_KEY, as_index=False).agg(
        sales_forecast=("qty", "sum"), submitted_by=("submitted_by", "first")
    )


def percentile_label(p: float) -> str:
    """'P98', 'P99.7', '>P99.9' -- precise where it matters, in the tails."""
    if p >= 99.95:
        return ">P99.9"
    if p <= 0.05:
        return "<P0.1"
    if 1 <= p <= 99:
        return f"P{p:.0f}"
    return f"P{p:.1f}"


def plausibility_exceptions(rows: pd.DataFrame) -> pd.DataFrame:
    """Warnings where the sales number is outside the baseline's 95% interval (promo-scaled).

    The percentile uses a normal approximation: sigma from the 95% bounds (80% if those are
    degenerate) around the point forecast, all scaled by the month's promo factor.
    """
    # New items have a cold-start baseline whose interval says nothing about the sales number.
    r = rows[rows["has_sales"] & ~rows["is_new"]]
    factor = 1 + r["promo_uplift_pct"] / 100.0
    lo95, hi95 = r["lo_95"] * factor, r["hi_95"] * factor
    flag = r["lo_95"].notna() & r["hi_95"].notna() & (
        (r["sales_forecast"] > hi95 + 1e-9) | (r["sales_forecast"] < lo95 - 1e-9)
    )
    r, lo95, hi95, factor = r[flag], lo95[flag], hi95[flag], factor[flag]
    if r.empty:
        return pd.DataFrame(columns=EXCEPTION_COLUMNS)
    sigma = (hi95 - lo95) / (2 * Z95)
    sigma80 = (r["hi_80"] - r["lo_80"]) * factor / (2 * Z80)
    sigma = sigma.where(sigma > 0, sigma80)
    above = r["sales_forecast"] > hi95
    z = (r["sales_forecast"] - r["baseline_forecast"] * factor) / sigma.where(sigma > 0, 1.0)
    # A zero-width interval (an all-zero baseline) puts any other number in the far tail.
    z = z.where(sigma > 0, np.where(above, np.inf, -np.inf))
    pct = pd.Series(100 * ndtr(z.to_numpy(float)), index=r.index)
    msg = [
        f"sales {s:,.0f} at {percentile_label(p)} of the baseline "
        f"({'above' if a else 'below'} its 95% interval {lo:,.0f}..{hi:,.0f}"
        f"{', promo-adjusted' if f > 1 else ''})"
        for s, p, a, lo, hi, f in zip(r["sales_forecast"], pct, above, lo95, hi95, factor,
                                      strict=True)
    ]
    return pd.DataFrame({
        "sku": r["sku"], "location": r["location"], "period": r["period"],
        "type": "SALES_OUTSIDE_BASELINE_INTERVAL", "severity": "warning", "message": msg,
    }).reset_index(drop=True)


def build_demand(
    tables: dict[str, pd.DataFrame], baseline: pd.DataFrame, keys: pd.DataFrame,
    products: pd.DataFrame, cycle: str, horizon: int, settings: PlanSettings,
    trust_obs: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Plan rows with consensus_demand, the trust table, and the demand-side exceptions.

    `trust_obs`: every location's past submissions (`trust_observations`) where `tables` hold
    some locations only; None to take them from `tables`."""
    exceptions: list[pd.DataFrame] = []
    rows = plan_grid(keys, cycle, horizon)
    rows["family"] = rows["sku"].map(products["family"]).fillna("")

    # The baseline is forecasting's output (possibly read back from a cache), not an input
    # table that get_table typed: its keys are made text here.
    b = baseline.copy()
    for c in ("sku", "location", "period"):
        b[c] = text(b[c])
    b = b.drop_duplicates(ROW_KEY, keep="last")
    bcols = ["forecast", "lo_80", "hi_80", "lo_95", "hi_95"]
    for c in bcols:
        b[c] = pd.to_numeric(b[c], errors="coerce") if c in b else np.nan
    if "demand_class" not in b:
        b["demand_class"] = ""
    rows = rows.merge(b[[*ROW_KEY, *bcols, "demand_class"]], on=ROW_KEY, how="left")
    missing = rows["forecast"].isna()
    if missing.any():
        miss = rows[missing].groupby(KEY, as_index=False)["period"].agg(["min", "size"])
        exceptions.append(pd.DataFrame({
            "sku": miss["sku"], "location": miss["location"], "period": miss["min"],
            "type": "BASELINE_MISSING", "severity": "warning",
            "message": [f"no baseline forecast for {n} month(s); planned with baseline 0"
                        for n in miss["size"]],
        }))
    rows["baseline_forecast"] = rows.pop("forecast").fillna(0.0).clip(lower=0)
    rows["demand_class"] = text(rows["demand_class"])  # NaN where the baseline has no row

    uplift = uplift_by_month(clean_promotions(tables))
    rows = rows.merge(uplift, on=ROW_KEY, how="left")
    rows["promo_uplift_pct"] = rows["promo_uplift_pct"].fillna(0.0)
    rows["promo_ids"] = rows["promo_ids"].fillna("")
    rows["promo_adjusted_baseline"] = rows["baseline_forecast"] * (
        1 + rows["promo_uplift_pct"] / 100.0
    )

    sales = sales_numbers(tables, keys, baseline, cycle, horizon)
    rows = rows.merge(sales, on=ROW_KEY, how="left")
    rows["has_sales"] = rows["sales_forecast"].notna()
    rows["sales_forecast"] = rows["sales_forecast"].astype(float).fillna(0.0).clip(lower=0)
    rows["submitted_by"] = rows["submitted_by"].fillna("")
    rows["is_new"] = (rows["demand_class"] == "new") | (
        rows["sku"].map(products["status"]).fillna("active") == "new"
    )

    teams = sorted(set(rows.loc[rows["has_sales"], "submitted_by"]))
    trust = estimate_trust(tables, cycle, settings, teams) if trust_obs is None \
        else trust_table(trust_obs, settings, teams)
    ref = rows["promo_adjusted_baseline"]
    rows["sales_weight"] = sales_weights(pd.DataFrame({  # the columns it reads, not a copy
        "ref": ref, "sales_forecast": rows["sales_forecast"],
        "submitted_by": rows["submitted_by"], "is_new": rows["is_new"],
        "has_sales": rows["has_sales"],
    }), trust, settings)
    rows["consensus_demand"] = np.where(
        rows["has_sales"], ref + rows["sales_weight"] * (rows["sales_forecast"] - ref), ref
    )
    rows, orders_exc = apply_customer_orders(rows, tables, cycle, horizon)
    rows, override_exc = apply_overrides(rows, tables, cycle, horizon)
    exceptions += [orders_exc, override_exc, plausibility_exceptions(rows)]
    exc = pd.concat([e for e in exceptions if not e.empty], ignore_index=True) \
        if any(not e.empty for e in exceptions) else pd.DataFrame(columns=EXCEPTION_COLUMNS)
    # Only the exceptions above need these; the capacity plan copies the rows while it sorts
    # them, so dropping them here keeps ~120 MB per million plan rows out of that copy.
    return rows.drop(columns=DEMAND_ONLY_COLUMNS), trust, exc


def apply_customer_orders(
    rows: pd.DataFrame, tables: dict[str, pd.DataFrame], cycle: str, horizon: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Raise consensus to the booked customer orders where they exceed it (before overrides).

    Adds `booked_qty` (0 where none). Each raised row is reported as an `info` exception
    CUSTOMER_ORDERS_ABOVE_CONSENSUS naming the booked units and the consensus they replaced.
    """
    co = booked_orders(tables, cycle, horizon).groupby(ROW_KEY, as_index=False)["qty"].sum()
    rows = rows.merge(co.rename(columns={"qty": "booked_qty"}), on=ROW_KEY, how="left")
    rows["booked_qty"] = rows["booked_qty"].fillna(0.0)
    raised = rows["booked_qty"] > rows["consensus_demand"] + 1e-9
    r = rows[raised]
    exc = pd.DataFrame({
        "sku": r["sku"], "location": r["location"], "period": r["period"],
        "type": "CUSTOMER_ORDERS_ABOVE_CONSENSUS", "severity": "info",
        "message": [
            f"booked customer orders {b:,.0f} units exceed the consensus {c:,.0f} units by "
            f"{b - c:,.0f}; consensus_demand set to the booked {b:,.0f}"
            for b, c in zip(r["booked_qty"], r["consensus_demand"], strict=True)
        ],
    }, columns=EXCEPTION_COLUMNS).reset_index(drop=True)
    rows["consensus_demand"] = np.where(raised, rows["booked_qty"], rows["consensus_demand"])
    return rows, exc


def apply_overrides(
    rows: pd.DataFrame, tables: dict[str, pd.DataFrame], cycle: str, horizon: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Replace consensus by the S&OP meeting's overrides; report those that match no plan row."""
    ov = get_table(tables, "overrides")
    ov = ov[ROW_KEY].assign(
        override_qty=ov["qty"].fillna(0.0).clip(lower=0), override_reason=ov["reason"],
        approved_by=ov["approved_by"],
    ).drop_duplicates(ROW_KEY, keep="last")
    rows = rows.merge(ov, on=ROW_KEY, how="left", indicator=True)
    rows["has_override"] = rows.pop("_merge") == "both"
    rows["consensus_demand"] = np.where(
        rows["has_override"], rows["override_qty"], rows["consensus_demand"]
    )
    unmatched = ov.merge(rows[ROW_KEY], on=ROW_KEY, how="left", indicator=True)
    unmatched = unmatched[unmatched["_merge"] == "left_only"]
    exc = pd.DataFrame({
        "sku": unmatched["sku"], "location": unmatched["location"],
        "period": unmatched["period"], "type": "OVERRIDE_IGNORED", "severity": "warning",
        "message": [
            f"override {q:,.0f} ({r}, approved by {a}) matches no planned SKU x location x month "
            f"of cycle {cycle} (horizon {horizon} months)"
            for q, r, a in zip(unmatched["override_qty"], unmatched["override_reason"],
                               unmatched["approved_by"], strict=True)
        ],
    })
    return rows, exc
