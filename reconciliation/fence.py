"""Frozen time fence: the previous cycle's planned receipts inside the fence become firm.

With `PlanSettings.frozen_months = N`, the fence is the months cycle .. cycle + N - 1. A receipt
the previous cycle's current plan put at a month p of the fence is *firm* when SPEC still lets
it be a planned receipt: p >= cycle + lead_time_months (an earlier one was due for release
before this cycle, so it is procurement's open order by now and belongs in `open_orders`),
whole units, and at least today's min_order_qty (a firm receipt below a raised MOQ would break
SPEC's lot rule: it is released from the fence and re-planned, with a warning).

A firm receipt is a floor, never a ceiling: the capacity LP and lot sizing keep at least its
units in its month (never reduced, never moved) and may add units on top where demand rose.
Why not fix it exactly: SPEC says demand is never cut where capacity is ample, and only an
extra order can serve a rise inside the lead time of a firm month. A capacity limit still
wins over a firm receipt (SPEC's capacity rules hold for every plan): the LP drops firm units
only when no plan within capacity can keep them, at a penalty above every other goal.

`FROZEN_FENCE_CHANGE` (warning) is raised per SKU x location with firm receipts where this
cycle's demand would need them changed (see `fence_exceptions`).
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from data_contracts.periods import add_months, month_numbers
from reconciliation.promotions import EXCEPTION_COLUMNS
from reconciliation.settings import PlanSettings

EXCEPTION_TYPE = "FROZEN_FENCE_CHANGE"
# What the fence reads of the previous cycle's current consensus_plan.
PREVIOUS_COLUMNS = ["sku", "location", "period", "planned_receipts", "consensus_demand",
                    "projected_on_hand"]
KEY = ["sku", "location"]
ROW_KEY = ["sku", "location", "period"]


@dataclass
class Fence:
    """The firm receipts of a plan and what the fence's exceptions compare them with."""

    months: list[str]        # the fence months inside the horizon ([] when off)
    firm: pd.Series          # firm units, indexed by (sku, location, period); only > 0
    previous: pd.DataFrame   # the previous plan's rows of the fence months (PREVIOUS_COLUMNS)
    exceptions: pd.DataFrame  # receipts released from the fence, a missing previous plan

    @property
    def active(self) -> bool:
        return not self.firm.empty


def no_fence() -> Fence:
    return Fence([], _empty_firm(), pd.DataFrame(columns=PREVIOUS_COLUMNS),
                 pd.DataFrame(columns=EXCEPTION_COLUMNS))


def _empty_firm() -> pd.Series:
    index = pd.MultiIndex.from_arrays([[], [], []], names=ROW_KEY)
    return pd.Series([], index=index, dtype=float, name="firm")


def firm_receipts(
    previous: pd.DataFrame | None, keys: pd.DataFrame, products: pd.DataFrame, cycle: str,
    horizon: int, settings: PlanSettings,
) -> Fence:
    """The firm receipts of `cycle` from `previous` (the previous cycle's current plan).

    `keys` are the planned sku x location pairs, `products` products_frame. Returns no firm
    receipt when the fence is off; an info exception when it is on and there is no previous
    plan (the first cycle of an output folder): nothing is firm then.
    """
    n = min(settings.frozen_months, horizon)
    if n <= 0:
        return no_fence()
    months = [add_months(cycle, i) for i in range(n)]
    # None: no published plan. An empty frame: a plan without rows here (a partition of
    # locations it did not plan): nothing is firm, and that is no news.
    if previous is None or (previous.empty and len(previous.columns) == 0):
        note = pd.DataFrame([["", "", "", EXCEPTION_TYPE, "info",
                              f"frozen fence of {n} month(s) is on but the previous cycle "
                              f"{add_months(cycle, -1)} has no published plan: nothing is firm "
                              "this cycle"]], columns=EXCEPTION_COLUMNS)
        return Fence(months, _empty_firm(), pd.DataFrame(columns=PREVIOUS_COLUMNS), note)
    prev = previous[PREVIOUS_COLUMNS].copy()
    for c in ROW_KEY:
        prev[c] = prev[c].astype(str)
    for c in PREVIOUS_COLUMNS[3:]:
        prev[c] = pd.to_numeric(prev[c], errors="coerce").astype(float).fillna(0.0)
    prev = prev[prev["period"].isin(months)]
    planned = pd.MultiIndex.from_frame(keys[KEY])
    prev = prev[pd.MultiIndex.from_frame(prev[KEY]).isin(planned)].reset_index(drop=True)
    cand = prev[prev["planned_receipts"] > settings.tolerance]
    lead = cand["sku"].map(products["lead_time_months"]).fillna(0).to_numpy(int)
    moq = np.ceil(cand["sku"].map(products["min_order_qty"]).fillna(0.0).clip(lower=0)
                  .to_numpy(float) - 1e-9)
    month = month_numbers(cand["period"]) - month_numbers(pd.Series([cycle]))[0]
    qty = cand["planned_receipts"].to_numpy(float)
    whole = np.abs(qty - np.round(qty)) <= 1e-6
    # Due for release before this cycle: procurement's open order now, not a planned receipt.
    in_lead = month < lead
    below_moq = ~in_lead & (~whole | (np.round(qty) < moq))
    keep = ~in_lead & ~below_moq
    firm = pd.Series(np.round(qty[keep]), index=pd.MultiIndex.from_frame(cand.loc[keep, ROW_KEY]),
                     name="firm")
    out = cand[below_moq]
    released = pd.DataFrame({
        "sku": out["sku"], "location": out["location"], "period": out["period"],
        "type": EXCEPTION_TYPE, "severity": "warning",
        "message": [f"last cycle's receipt of {q:,.2f} units is not kept as firm: it is below "
                    f"today's min_order_qty of {m:,.0f} units (or not whole units), so it is "
                    "re-planned -- change the order with procurement"
                    for q, m in zip(qty[below_moq], moq[below_moq], strict=True)],
    }, columns=EXCEPTION_COLUMNS)
    return Fence(months, firm.sort_index(), prev, released.reset_index(drop=True))


def firm_matrix(fence: Fence, keys: pd.DataFrame, periods: list[str]) -> np.ndarray:
    """Firm units as a dense (keys x periods) array in the order of `keys` and `periods`."""
    out = np.zeros((len(keys), len(periods)))
    if not fence.active:
        return out
    f = fence.firm.reset_index()
    row = pd.MultiIndex.from_frame(keys[KEY]).get_indexer(pd.MultiIndex.from_frame(f[KEY]))
    col = pd.Index(periods).get_indexer(f["period"])
    ok = (row >= 0) & (col >= 0)
    out[row[ok], col[ok]] = f["firm"].to_numpy(float)[ok]
    return out


def fence_exceptions(rows: pd.DataFrame, fence: Fence, settings: PlanSettings) -> pd.DataFrame:
    """FROZEN_FENCE_CHANGE warnings, one per SKU x location and kind, with the units.

    `rows` are plan rows with planned_receipts, consensus_demand, projected_on_hand and
    firm_units (the firm units the plan kept). Over the fence months F, per SKU x location
    with firm receipts:
    * added: units the plan receives on top of its firm receipts (demand rose where only a
      larger receipt could serve it): an extra order procurement must place;
    * beyond need: the smallest of the firm units, the fall of consensus demand over F
      against the previous plan, and the rise of stock on hand at the fence's last month
      against the previous plan -- firm units bought for demand that is gone and left in
      stock (a fall the plan absorbed by ordering less elsewhere is no change of the firm
      receipts and raises nothing);
    * dropped: firm units a capacity limit forced out (the capacity plan keeps them unless
      no plan within SPEC's limits can).
    Added and beyond-need units below `frozen_change_min_pct` % of the firm units, and any
    amount below `shortfall_tolerance_units`, raise nothing.
    """
    if not fence.active:
        return pd.DataFrame(columns=EXCEPTION_COLUMNS)
    firm = fence.firm.rename("firm_planned")
    r = rows[rows["period"].isin(fence.months)][
        [*ROW_KEY, "planned_receipts", "consensus_demand", "projected_on_hand", "firm_units"]]
    r = r.join(firm, on=ROW_KEY)
    r["firm_planned"] = r["firm_planned"].fillna(0.0)
    has = r[r["firm_planned"] > 0]
    if has.empty:
        return pd.DataFrame(columns=EXCEPTION_COLUMNS)
    r = r[pd.MultiIndex.from_frame(r[KEY]).isin(pd.MultiIndex.from_frame(has[KEY]))]
    prev = fence.previous.set_index(ROW_KEY)
    r = r.join(prev[["consensus_demand", "projected_on_hand"]], on=ROW_KEY, rsuffix="_prev")
    last = fence.months[-1]
    r = r.assign(
        added=np.where(r["firm_planned"] > 0,
                       np.maximum(r["planned_receipts"] - r["firm_planned"], 0.0), 0.0),
        dropped=np.maximum(r["firm_planned"] - r["firm_units"], 0.0),
        end_now=np.where(r["period"] == last, r["projected_on_hand"], 0.0),
        end_prev=np.where(r["period"] == last, r["projected_on_hand_prev"].fillna(0.0), 0.0),
        demand_prev=r["consensus_demand_prev"].fillna(0.0),
    )
    per = r.groupby(KEY, sort=True).agg(
        firm=("firm_planned", "sum"), kept=("firm_units", "sum"), added=("added", "sum"),
        dropped=("dropped", "sum"), demand_now=("consensus_demand", "sum"),
        demand_prev=("demand_prev", "sum"), end_now=("end_now", "sum"),
        end_prev=("end_prev", "sum"),
    ).reset_index()
    firm_cells = has.groupby(KEY)["period"].agg(lambda s: ", ".join(sorted(s)))
    per["months"] = per.set_index(KEY).index.map(firm_cells)
    per["first"] = per["months"].str[:7]
    added_first = r[r["added"] > settings.tolerance].groupby(KEY)["period"].min()
    per["added_first"] = per.set_index(KEY).index.map(added_first)
    per["beyond"] = np.minimum.reduce([
        per["kept"].to_numpy(float),
        np.maximum(per["demand_prev"] - per["demand_now"], 0.0).to_numpy(float),
        np.maximum(per["end_now"] - per["end_prev"], 0.0).to_numpy(float),
    ])
    span = f"{fence.months[0]}..{last}"
    tol = settings.shortfall_tolerance_units
    out = []
    for p in per.itertuples(index=False):
        # Added and beyond-need units count from a share of the firm units (planning noise
        # below); a firm unit the warehouse cannot take is always news.
        change_tol = max(tol, settings.frozen_change_min_pct / 100.0 * p.firm)
        demand = (f"demand inside the fence ({span}) is {p.demand_now:,.0f} units, "
                  f"{p.demand_prev:,.0f} when last cycle planned the firm receipts "
                  f"({p.firm:,.0f} units in {p.months})")
        if p.added >= change_tol:
            out.append([p.sku, p.location, p.added_first or p.first, EXCEPTION_TYPE, "warning",
                        f"{p.added:,.0f} units planned on top of the firm receipts: {demand} "
                        "-- an extra order to place, or reduce the demand"])
        if p.beyond >= change_tol:
            out.append([p.sku, p.location, p.first, EXCEPTION_TYPE, "warning",
                        f"{p.beyond:,.0f} firm units beyond need: {demand}; stock at the end "
                        f"of {last} is {p.end_now - p.end_prev:,.0f} units above last cycle's "
                        "plan -- defer or cancel with the supplier, or carry the stock"])
        if p.dropped >= tol:
            out.append([p.sku, p.location, p.first, EXCEPTION_TYPE, "warning",
                        f"{p.dropped:,.0f} firm units do not fit the warehouse's capacity and "
                        f"are not planned: {demand} -- move the order or find capacity"])
    return pd.DataFrame(out, columns=EXCEPTION_COLUMNS)
