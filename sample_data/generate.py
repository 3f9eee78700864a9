"""Seeded generator of a realistic S&OP world: every SPEC input table plus the true future demand.

Pure: one `numpy.random.Generator` seeded from `seed`, no I/O. Writing the tables to a
folder is the shell's job (flows/).
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from data_contracts.periods import add_months, is_month
from data_contracts.tables import INPUT_COLUMNS
from sample_data.catalog import Catalog, build_catalog
from sample_data.demand import DemandPaths, TimeAxis, build_time_axis, simulate_demand
from sample_data.sales_submissions import Submissions, build_submissions
from sample_data.supply import build_inventory, build_open_orders, build_products, build_warehouses

# (reason, multiplier on demand, approver): decisions an S&OP meeting typically takes.
OVERRIDE_CASES = (
    ("Listing at a new key account confirmed from this month", 1.35, "M. Keller (Head of Sales)"),
    ("Retailer delisting announced: volume drops", 0.55, "A. Rossi (S&OP lead)"),
    ("Tender won for an institutional customer", 1.5, "M. Keller (Head of Sales)"),
)


@dataclass
class World:
    """All SPEC input tables by name, the actual demand over the horizon, and facts for tests."""

    tables: dict[str, pd.DataFrame]
    truth: pd.DataFrame  # sku, location, period, qty: what will really sell in the horizon
    facts: dict[str, object] = field(default_factory=dict)  # squeeze location/months, team biases


def generate_world(
    n_skus: int = 200,
    n_locations: int = 3,
    history_months: int = 48,
    cycle: str = "2026-12",
    horizon: int = 18,
    seed: int = 7,
) -> World:
    """Simulate `n_skus` SKUs over `n_locations` warehouses: history before `cycle`, truth after.

    Same arguments -> identical frames. Vectorised over series x months, so 100k series
    take seconds, not minutes.
    """
    if not is_month(cycle):
        raise ValueError(f"cycle must be YYYY-MM, got {cycle!r}")
    if history_months < 1 or horizon < 1:
        raise ValueError("history_months and horizon must be positive")
    rng = np.random.default_rng(seed)
    cat = build_catalog(rng, n_skus, n_locations)
    axis = build_time_axis(cycle, history_months, horizon)
    demand = simulate_demand(rng, cat, axis)
    subs = build_submissions(rng, cat, axis, demand)
    products = build_products(rng, cat, demand, axis)
    warehouses, squeeze = build_warehouses(
        rng, cat, demand, axis, subs.sales_qty, products["units_per_pallet"].to_numpy()
    )
    overrides, override_factor = _overrides(rng, cat, axis, demand, subs)
    tables = {
        "sales_history": _sales_history(cat, axis, demand),
        "sales_forecast": subs.sales_forecast,
        "products": products,
        "warehouses": warehouses,
        "inventory": build_inventory(rng, cat, demand, axis),
        "open_orders": build_open_orders(
            rng, cat, demand, axis, products["lead_time_months"].to_numpy()
        ),
        "promotions": _promotions_table(cat, axis, demand),
        "forecast_history": subs.forecast_history,
        "overrides": overrides,
    }
    # Drawn last so every other table stays as it was for a given seed.
    tables["customer_orders"] = _customer_orders(rng, cat, axis, demand)
    tables = {name: df[INPUT_COLUMNS[name]].reset_index(drop=True) for name, df in tables.items()}
    facts: dict[str, object] = {
        "squeeze_location": squeeze.location,
        "squeeze_periods": squeeze.periods,
        "team_bias": dict(zip(cat.teams, (float(b) for b in cat.team_bias), strict=True)),
        "n_series": cat.n_series,
    }
    return World(tables=tables, truth=_truth(cat, axis, demand, override_factor), facts=facts)


def _series_keys(cat: Catalog, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return cat.skus[cat.series_sku[s]], np.array(cat.locations, dtype=object)[cat.series_loc[s]]


def _sales_history(cat: Catalog, axis: TimeAxis, demand: DemandPaths) -> pd.DataFrame:
    """Months with sales only: like a transactional extract, zero months are simply absent."""
    hist = demand.actual[:, : axis.n_history]
    s, t = np.nonzero(hist > 0)
    sku, loc = _series_keys(cat, s)
    return pd.DataFrame({"sku": sku, "location": loc, "period": axis.periods[t], "qty": hist[s, t]})


def _customer_orders(
    rng: np.random.Generator, cat: Catalog, axis: TimeAxis, demand: DemandPaths
) -> pd.DataFrame:
    """Orders already booked for the first two months: part of the realised demand of a
    third of the series (customers book ahead, never more than they will take)."""
    h = axis.n_history
    months = min(2, axis.horizon)
    realised = demand.actual[:, h : h + months]
    booked = np.floor(realised * rng.uniform(0.5, 0.9, size=realised.shape))
    booked *= (rng.random(cat.n_series) < 1 / 3)[:, None]
    s, m = np.nonzero(booked > 0)
    sku, loc = _series_keys(cat, s)
    return pd.DataFrame(
        {"sku": sku, "location": loc, "period": axis.periods[h + m], "qty": booked[s, m]}
    )


def _promotions_table(cat: Catalog, axis: TimeAxis, demand: DemandPaths) -> pd.DataFrame:
    promos = demand.promotions
    sku, loc = _series_keys(cat, promos.series)
    width = max(5, len(str(promos.series.size)))
    return pd.DataFrame(
        {
            "promo_id": [f"PR-{i:0{width}d}" for i in range(1, promos.series.size + 1)],
            "sku": sku,
            "location": loc,
            "start_period": axis.periods[promos.start],
            "end_period": axis.periods[promos.end],
            "uplift_pct": promos.uplift_pct.astype(float),
        }
    )


def _overrides(
    rng: np.random.Generator, cat: Catalog, axis: TimeAxis, demand: DemandPaths, subs: Submissions
) -> tuple[pd.DataFrame, np.ndarray]:
    """A few meeting decisions on SKU-level forecasts, and their (true) effect on demand."""
    h = axis.n_history
    factor = np.ones((cat.n_series, axis.horizon))
    status = cat.sku_status[cat.series_sku]
    inter = cat.sku_intermittent[cat.series_sku]
    eligible = np.nonzero(subs.submits & ~subs.family_rows & (status == "active") & ~inter)[0]
    n = min(len(OVERRIDE_CASES), eligible.size)
    chosen = rng.choice(eligible, size=n, replace=False) if n else np.array([], dtype=np.int64)
    rows = []
    for i, s in enumerate(np.sort(chosen)):  # at most three overrides
        reason, mult, approver = OVERRIDE_CASES[i]
        month = min(1 + i, axis.horizon - 1)
        factor[s, month] = mult
        sku, loc = _series_keys(cat, np.array([s]))
        rows.append(
            {
                "sku": sku[0],
                "location": loc[0],
                "period": axis.periods[h + month],
                "qty": float(np.round(demand.expected[s, h + month] * mult)),
                "reason": reason,
                "approved_by": approver,
            }
        )
    return pd.DataFrame(rows, columns=INPUT_COLUMNS["overrides"]), factor


def _truth(
    cat: Catalog, axis: TimeAxis, demand: DemandPaths, override_factor: np.ndarray
) -> pd.DataFrame:
    """Every series x horizon month, zeros included: the realised continuation of the history."""
    h = axis.n_history
    actual = np.round(demand.actual[:, h:] * override_factor)
    s, m = np.indices(actual.shape)
    s, m = s.ravel(), m.ravel()
    sku, loc = _series_keys(cat, s)
    return pd.DataFrame(
        {"sku": sku, "location": loc, "period": axis.periods[h + m], "qty": actual.ravel()}
    )


def tables_a_month_earlier(
    tables: dict[str, pd.DataFrame], cycle: str, horizon: int
) -> dict[str, pd.DataFrame]:
    """The input tables of cycle - 1 as they looked then, derived from cycle's `tables`.

    What the planners knew a month earlier: history ends a month sooner; that month's sales
    number is the submission it got in its own cycle (forecast_history, lag 0), later months
    keep today's submission (none was recorded for them) up to that cycle's horizon; stock at
    the start of that month is today's plus what sold in it; no submission or meeting decision
    of that month or later exists yet (forecast_history, overrides). Products, warehouses,
    promotions, open orders and booked customer orders are as they are now. So the demo can
    publish two consecutive cycles into one output folder and show what changed.
    """
    earlier = add_months(cycle, -1)
    last = add_months(earlier, horizon - 1)
    out = {name: df.copy() for name, df in tables.items()}
    history = tables["sales_history"]
    out["sales_history"] = history[history["period"] < earlier].reset_index(drop=True)
    sold = history[history["period"] == earlier].groupby(["sku", "location"])["qty"].sum()
    inventory = tables["inventory"].copy()
    extra = pd.Series(list(zip(inventory["sku"], inventory["location"], strict=True))).map(
        sold).fillna(0.0).to_numpy()
    inventory["on_hand"] = inventory["on_hand"] + extra
    missing = sold[~sold.index.isin(list(zip(inventory["sku"], inventory["location"],
                                             strict=True)))]
    out["inventory"] = pd.concat([inventory, pd.DataFrame({
        "sku": missing.index.get_level_values(0), "location": missing.index.get_level_values(1),
        "on_hand": missing.to_numpy()})], ignore_index=True)[INPUT_COLUMNS["inventory"]]
    past = tables.get("forecast_history", pd.DataFrame(columns=INPUT_COLUMNS["forecast_history"]))
    own = past[(past["cycle"] == earlier) & (past["period"] == earlier)]
    forecast = tables["sales_forecast"]
    out["sales_forecast"] = pd.concat(
        [own[["sku", "location", "period", "qty", "submitted_by"]].assign(family=np.nan)[
            INPUT_COLUMNS["sales_forecast"]],
         forecast[forecast["period"] <= last]], ignore_index=True)
    if "forecast_history" in out:
        out["forecast_history"] = past[past["cycle"] < earlier].reset_index(drop=True)
    if "overrides" in out:
        out["overrides"] = tables["overrides"].iloc[0:0].copy()
    return out
