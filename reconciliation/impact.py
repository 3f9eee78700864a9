"""Impact of a what-if scenario: the scenario's plan against the base plan, per warehouse-month.

Both plans come from `build_plan` on the same baselines and settings, so every difference is the
scenario's doing. Money is at cost: shortfall value = units x unit_cost; holding cost per month =
on hand x unit_cost x holding_cost_rate + pallets on hand x pallet_month_cost (PlanSettings);
overtime cost as in the capacity report. Pure: DataFrames in, DataFrames and text out.
"""

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from data_contracts.periods import add_months, months_between
from data_contracts.scenario import Scenario
from reconciliation.inputs import products_frame
from reconciliation.plan import PlanResult, build_plan
from reconciliation.scenario import event_window, plan_scenario
from reconciliation.settings import PlanSettings

TOL_UNITS = 0.5      # below half a unit nothing is worth saying
TOL_PALLETS = 0.01
TOL_COST = 0.5
# A warehouse-month cutting less than one unit is rounding, not a cut (as the capacity plan's
# default shortfall_tolerance_units): it never makes a scenario infeasible.
TOL_CUT_UNITS = 1.0
KEY = ["location", "period"]
MEASURES = {  # comparison column stem -> (source, column)
    "inbound_pallets": ("capacity", "inbound_pallets"),
    "storage_pallets": ("capacity", "storage_pallets"),
    "outbound_units": ("capacity", "outbound_units"),
    "overtime_pallets": ("capacity", "overtime_pallets"),
    "overtime_units": ("capacity", "overtime_units"),
    "overtime_cost": ("capacity", "overtime_cost"),
    "demand_units": ("plan", "consensus_demand"),
    "served_units": ("plan", "constrained_demand"),
    "shortfall_units": ("plan", "shortfall"),
    "shortfall_value": ("plan", "shortfall_value"),
    "lead_time_shortfall_units": ("plan", "lead_time_shortfall"),
    "receipts_units": ("plan", "planned_receipts"),
    "stock_units": ("plan", "projected_on_hand"),
    "holding_cost": ("plan", "holding_cost"),
}
CAPACITY_COLUMNS = ["inbound_capacity_pallets", "storage_capacity_pallets",
                    "outbound_capacity_units"]
COMPARISON_COLUMNS = [
    *KEY, "after_event",
    *[f"{m}_{side}" for m in MEASURES for side in ("base", "scenario")],
    *[f"extra_{m}" for m in MEASURES],
    *[f"{c}_{side}" for c in CAPACITY_COLUMNS for side in ("base", "scenario")],
    "status_base", "status_scenario", "became_short", "became_overtime",
]


class PlanFrames(Protocol):
    """Anything with the plan's frames: a PlanResult, or the tables read back from files."""

    consensus_plan: pd.DataFrame
    capacity_report: pd.DataFrame


@dataclass
class Comparison:
    """What changes: per warehouse-month, per warehouse, per SKU, the totals and the verdict."""

    by_month: pd.DataFrame
    by_location: pd.DataFrame
    by_sku: pd.DataFrame
    totals: dict[str, Any] = field(default_factory=dict)
    verdict: str = ""


def _plan_measures(plan: pd.DataFrame, products: pd.DataFrame,
                   settings: PlanSettings) -> pd.DataFrame:
    p = plan.copy()
    cost = p["sku"].map(products["unit_cost"]).fillna(0.0)
    upp = p["sku"].map(products["units_per_pallet"]).fillna(1.0)
    p["shortfall_value"] = p["shortfall"] * cost
    # Cut before the first month a new order can arrive: lead time, not capacity, is the cause.
    lead = p["sku"].map(products["lead_time_months"]).fillna(0).astype(int)
    cycle = str(p["period"].min()) if len(p) else ""
    first = [add_months(cycle, int(n)) for n in lead]
    early = p["period"] < pd.Series(first, index=p.index)
    p["lead_time_shortfall"] = p["shortfall"].where(early, 0.0)
    p["holding_cost"] = p["projected_on_hand"] * (
        cost * settings.holding_cost_rate + settings.pallet_month_cost / upp)
    cols = [c for src, c in MEASURES.values() if src == "plan"]
    return p.groupby(KEY, as_index=False)[cols].sum()


def _side(frames: PlanFrames, products: pd.DataFrame, settings: PlanSettings,
          suffix: str) -> pd.DataFrame:
    cap = frames.capacity_report
    cap_cols = [c for s, c in MEASURES.values() if s == "capacity"]
    side = cap[[*KEY, *cap_cols, *CAPACITY_COLUMNS, "status"]].merge(
        _plan_measures(frames.consensus_plan, products, settings), on=KEY, how="outer")
    rename = {c: f"{m}_{suffix}" for m, (_, c) in MEASURES.items()}
    rename.update({c: f"{c}_{suffix}" for c in [*CAPACITY_COLUMNS, "status"]})
    return side.rename(columns=rename)


def compare_plans(
    base: PlanFrames, scenario: PlanFrames, products: pd.DataFrame,
    settings: PlanSettings | None = None, event: tuple[str, str] | None = None,
) -> Comparison:
    """The scenario's plan against the base plan.

    `products` is the scenario's products table (it holds launched SKUs too); `event` is the
    first and last month the scenario touches: stock and holding cost "after the event" are
    summed over the months after its end. Returns a `Comparison`; `by_month` is one row per
    warehouse x month with <measure>_base, <measure>_scenario and extra_<measure> columns.
    """
    settings = settings or PlanSettings.model_validate({})
    prod = products_frame({"products": products})
    m = _side(base, prod, settings, "base").merge(
        _side(scenario, prod, settings, "scenario"), on=KEY, how="outer")
    for name in MEASURES:
        for side in ("base", "scenario"):
            m[f"{name}_{side}"] = pd.to_numeric(m[f"{name}_{side}"]).fillna(0.0)
        m[f"extra_{name}"] = m[f"{name}_scenario"] - m[f"{name}_base"]
    for side in ("base", "scenario"):
        m[f"status_{side}"] = m[f"status_{side}"].fillna("ok").astype(str)
    m["became_short"] = (m["status_scenario"] == "short") & (m["status_base"] != "short")
    m["became_overtime"] = (m["status_scenario"] == "overtime") & (m["status_base"] == "ok")
    end = event[1] if event else ""
    m["after_event"] = (m["period"] > end) if end else False
    by_month = m[COMPARISON_COLUMNS].sort_values(KEY).reset_index(drop=True)
    by_location = _by_location(by_month, end)
    by_sku = _by_sku(base.consensus_plan, scenario.consensus_plan, prod)
    totals = _totals(by_month, event)
    return Comparison(by_month, by_location, by_sku, totals, verdict_line(by_month, totals))


def months_text(periods: list[str], max_runs: int = 3) -> str:
    """'2027-11', '2027-10..2027-12, 2028-03': consecutive months as runs."""
    runs: list[list[str]] = []
    for p in sorted(set(periods)):
        if runs and months_between(runs[-1][-1], p) == 1:
            runs[-1].append(p)
        else:
            runs.append([p])
    parts = [r[0] if len(r) == 1 else f"{r[0]}..{r[-1]}" if len(r) > 2 else f"{r[0]}, {r[1]}"
             for r in runs]
    more = len(parts) - max_runs
    return ", ".join(parts[:max_runs]) + (f" (+{more} more)" if more > 0 else "")


def _stock_at_end(by_month: pd.DataFrame, end: str) -> float:
    """Extra units on hand at the end of the event's last month: what the event leaves behind."""
    return float(by_month.loc[by_month["period"] == end, "extra_stock_units"].sum()) if end \
        else 0.0


def _by_location(by_month: pd.DataFrame, end: str) -> pd.DataFrame:
    rows = []
    for loc, g in by_month.groupby("location", sort=True):
        # The month the scenario adds most storage (pre-build), else the scenario's own peak.
        grew = g["extra_storage_pallets"]
        peak = (g.loc[grew.idxmax()] if len(g) and grew.max() > TOL_PALLETS
                else g.loc[g["storage_pallets_scenario"].idxmax()] if len(g) else None)
        after = g[g["after_event"]]
        ot = g[(g["extra_overtime_pallets"] > TOL_PALLETS) | (g["extra_overtime_units"]
                                                             > TOL_UNITS)]
        short = g[g["extra_shortfall_units"] > TOL_UNITS]
        rows.append({
            "location": loc,
            "extra_demand_units": g["extra_demand_units"].sum(),
            "extra_served_units": g["extra_served_units"].sum(),
            "extra_inbound_pallets": g["extra_inbound_pallets"].sum(),
            "peak_inbound_pallets_scenario": g["inbound_pallets_scenario"].max(),
            "extra_storage_peak_pallets": max(float(grew.max()), 0.0) if len(g) else 0.0,
            "storage_peak_period": "" if peak is None else peak["period"],
            "storage_peak_pallets_base": np.nan if peak is None else peak["storage_pallets_base"],
            "storage_peak_pallets_scenario": np.nan if peak is None
            else peak["storage_pallets_scenario"],
            "storage_capacity_at_peak": np.nan if peak is None
            else peak["storage_capacity_pallets_scenario"],
            "extra_outbound_units": g["extra_outbound_units"].sum(),
            "extra_overtime_pallets": g["extra_overtime_pallets"].sum(),
            "extra_overtime_units": g["extra_overtime_units"].sum(),
            "extra_overtime_cost": g["extra_overtime_cost"].sum(),
            "extra_shortfall_units": g["extra_shortfall_units"].sum(),
            "extra_shortfall_value": g["extra_shortfall_value"].sum(),
            "extra_stock_after_event_units": _stock_at_end(g, end),
            "extra_holding_cost_after_event": after["extra_holding_cost"].sum(),
            "extra_holding_cost": g["extra_holding_cost"].sum(),
            "overtime_months": ", ".join(ot["period"]),
            "shortfall_months": ", ".join(short["period"]),
            "months_became_short": ", ".join(g.loc[g["became_short"], "period"]),
        })
    return pd.DataFrame(rows)


def _by_sku(base: pd.DataFrame, scen: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """SKU x location totals that change (launches included), largest change in demand first."""
    cols = ["consensus_demand", "constrained_demand", "shortfall", "planned_receipts"]
    k = ["sku", "location"]
    b = base.groupby(k)[cols].sum()
    s = scen.groupby(k)[cols].sum()
    idx = b.index.union(s.index)
    d = s.reindex(idx, fill_value=0.0) - b.reindex(idx, fill_value=0.0)
    d.columns = ["extra_demand_units", "extra_served_units", "extra_shortfall_units",
                 "extra_receipts_units"]
    d = d.reset_index()
    d.insert(2, "family", d["sku"].map(products["family"]).fillna(""))
    d["extra_shortfall_value"] = d["extra_shortfall_units"] * d["sku"].map(
        products["unit_cost"]).fillna(0.0)
    d["new_in_scenario"] = ~d.set_index(k).index.isin(b.index)
    changed = d[["extra_demand_units", "extra_served_units", "extra_shortfall_units",
                 "extra_receipts_units"]].abs().max(axis=1) > 1e-6
    d = d[changed]
    return d.reindex(d["extra_demand_units"].abs().sort_values(ascending=False).index) \
        .reset_index(drop=True)


def _totals(by_month: pd.DataFrame, event: tuple[str, str] | None) -> dict[str, Any]:
    after = by_month[by_month["after_event"]]
    totals: dict[str, Any] = {
        "event_start": event[0] if event else "",
        "event_end": event[1] if event else "",
        "extra_demand_units": float(by_month["extra_demand_units"].sum()),
        "extra_served_units": float(by_month["extra_served_units"].sum()),
        "extra_inbound_pallets": float(by_month["extra_inbound_pallets"].sum()),
        "extra_outbound_units": float(by_month["extra_outbound_units"].sum()),
        "extra_overtime_pallets": float(by_month["extra_overtime_pallets"].sum()),
        "extra_overtime_units": float(by_month["extra_overtime_units"].sum()),
        "extra_overtime_cost": float(by_month["extra_overtime_cost"].sum()),
        "extra_shortfall_units": float(by_month["extra_shortfall_units"].sum()),
        "extra_shortfall_value": float(by_month["extra_shortfall_value"].sum()),
        "extra_stock_after_event_units": _stock_at_end(by_month, event[1] if event else ""),
        "extra_holding_cost_after_event": float(after["extra_holding_cost"].sum()),
        "extra_holding_cost": float(by_month["extra_holding_cost"].sum()),
        "months_became_short": [f"{r.location} {r.period}" for r in
                                by_month[by_month["became_short"]].itertuples()],
        "extra_storage_peak_pallets": max(float(by_month["extra_storage_pallets"].max()), 0.0)
        if len(by_month) else 0.0,
    }
    if len(by_month):
        top = by_month.loc[by_month["extra_storage_pallets"].idxmax()]
        totals.update({"storage_peak_location": str(top["location"]),
                       "storage_peak_period": str(top["period"]),
                       "storage_peak_pallets_scenario": float(top["storage_pallets_scenario"]),
                       "storage_capacity_at_peak": float(top["storage_capacity_pallets_scenario"])})
    # Solver noise below these is not a change worth printing as "-0".
    return {k: (0.0 if isinstance(v, float) and abs(v) < 1e-6 else v) for k, v in totals.items()}


def _where(rows: pd.DataFrame, max_locations: int = 3) -> str:
    """'DC-SOUTH in 2027-11 and DC-EAST in 2027-10..2027-12' from location x period rows."""
    parts = [f"{loc} in {months_text(list(g['period']))}"
             for loc, g in rows.groupby("location", sort=True)]
    more = len(parts) - max_locations
    text = " and ".join(parts[:max_locations])
    return text + (f" (+{more} more warehouses)" if more > 0 else "")


def _overtime_months(by_month: pd.DataFrame) -> pd.DataFrame:
    return by_month[(by_month["extra_overtime_pallets"] > TOL_PALLETS)
                    | (by_month["extra_overtime_units"] > TOL_UNITS)
                    | (by_month["extra_overtime_cost"] > TOL_COST)]


def _cut_months(by_month: pd.DataFrame) -> pd.DataFrame:
    return by_month[by_month["extra_shortfall_units"] >= TOL_CUT_UNITS]


def verdict_level(by_month: pd.DataFrame) -> str:
    """'short' where the scenario cuts demand (whatever overtime it buys), else 'overtime' where
    it buys overtime, else 'ok'. A scenario is feasible only when nothing is cut."""
    if not _cut_months(by_month).empty:
        return "short"
    return "overtime" if not _overtime_months(by_month).empty else "ok"


def verdict_line(by_month: pd.DataFrame, totals: dict[str, Any]) -> str:
    """One sentence a sales manager understands: feasible or not, where, when, at what cost.

    "Feasible" only where the scenario cuts nothing (a warehouse-month cutting less than one
    unit is rounding); otherwise the sentence starts with what cannot be served, and overtime
    follows as what was bought and did not close the gap.
    """
    ot = _overtime_months(by_month)
    short = _cut_months(by_month)
    short_units = float(short["extra_shortfall_units"].sum())
    parts: list[str] = []
    changed = by_month[[f"extra_{m}" for m in MEASURES]].abs().to_numpy().max(initial=0.0)
    if changed < 1e-6:
        return "No change: the plan is the same with and without this scenario."
    ot_cost = float(ot["extra_overtime_cost"].sum())
    if not short.empty:
        value = float(short["extra_shortfall_value"].sum())
        lead = float(short["extra_lead_time_shortfall_units"].clip(lower=0).sum())
        why = (f", {lead:,.0f} of them because new orders cannot arrive in time (lead time)"
               if lead > TOL_UNITS else "")
        parts.append(f"not feasible in full: {short_units:,.0f} units cannot be served "
                     f"(value {value:,.0f} at cost) at {_where(short)}{why}")
        if not ot.empty:
            parts.append(f"overtime at {_where(ot)} (est. cost {ot_cost:,.0f}) does not close "
                         "the gap")
    elif not ot.empty:
        parts.append(f"feasible with overtime at {_where(ot)} (est. cost {ot_cost:,.0f})")
    else:
        parts.append("feasible within regular capacity")
    freed = -float(by_month["extra_shortfall_units"].clip(upper=0).sum())
    if freed > TOL_UNITS and freed - short_units > TOL_UNITS:
        parts.append(f"{freed:,.0f} units the base plan had to cut are now served")
    asked, served = totals["extra_demand_units"], totals["extra_served_units"]
    if abs(asked) > TOL_UNITS or abs(served) > TOL_UNITS:
        parts.append(f"sales {served:+,.0f} units served of {asked:+,.0f} units asked")
    # Storage growth worth a sentence: over 1 pallet and 2% of the warehouse's storage.
    grew = by_month.loc[by_month.groupby("location")["extra_storage_pallets"].idxmax()]
    grew = grew[(grew["extra_storage_pallets"] > 1.0) & (
        grew["extra_storage_pallets"] > 0.02 * grew["storage_capacity_pallets_scenario"])]
    for row in grew.head(2).itertuples():
        parts.append(f"storage at {row.location} up to {row.extra_storage_pallets:+,.0f} pallets "
                     f"({row.storage_pallets_scenario:,.0f} of "
                     f"{row.storage_capacity_pallets_scenario:,.0f} in {row.period})")
    stock = totals["extra_stock_after_event_units"]
    if abs(stock) > TOL_UNITS and totals.get("event_end"):
        parts.append(f"{stock:+,.0f} units left in stock at the end of {totals['event_end']} "
                     f"(holding cost {totals['extra_holding_cost_after_event']:+,.0f} after)")
    sentence = "; ".join(parts)
    return sentence[:1].upper() + sentence[1:] + "."


@dataclass
class WhatIf:
    """A scenario analysed: both plans, the scenario's tables and baselines, the comparison."""

    base: PlanResult
    scenario: PlanResult
    tables: dict[str, pd.DataFrame]
    baseline: pd.DataFrame
    comparison: Comparison


def analyse_scenario(
    tables: dict[str, pd.DataFrame], baseline: pd.DataFrame, scenario: Scenario, cycle: str,
    horizon: int, settings: PlanSettings | None = None,
    previous_plan: pd.DataFrame | None = None,
) -> WhatIf:
    """Re-plan the base and the scenario on the same baselines and settings, and compare.

    The base is re-planned rather than read back so that both sides come from the same code and
    settings: every difference is the scenario's. `previous_plan` is the time fence's (see
    `build_plan`), the same for both sides.
    """
    settings = settings or PlanSettings.model_validate({})
    base = build_plan(tables, baseline, cycle, horizon, settings, previous_plan)
    changed, scen_baseline, scen = plan_scenario(tables, baseline, scenario, cycle, horizon,
                                                 settings, previous_plan)
    comparison = compare_plans(base, scen, changed["products"], settings,
                               event_window(scenario, tables))
    return WhatIf(base, scen, changed, scen_baseline, comparison)


def plan_drift(published: pd.DataFrame, replanned: pd.DataFrame) -> float:
    """Largest relative difference of the total consensus / constrained demand between the
    published plan and the same inputs re-planned now (0 = the same plan)."""
    worst = 0.0
    for col in ("consensus_demand", "constrained_demand"):
        a = float(pd.to_numeric(published[col]).sum())
        b = float(pd.to_numeric(replanned[col]).sum())
        worst = max(worst, abs(a - b) / max(abs(a), 1.0))
    return worst
