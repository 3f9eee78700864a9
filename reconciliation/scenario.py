"""What-if scenarios: a scenario checked against the data, the changed input tables, the plan.

A scenario changes the *inputs* of a published run, never its outputs; the plan is then rebuilt
by the same `build_plan` on the same baselines (never refitted). Actions:

* `promotions` -- add a promotion, change one (same promo_id, sku, location) or cancel one.
  `uplift_pct` is a percentage (25 = +25% over baseline), as in the promotions table. Where sales
  submitted a SKU-level number for a month the promotion touches, that number is lifted by the
  same relative change, (1 + new uplift) / (1 + old uplift): the sales team's number was made
  without the what-if promotion, and otherwise the consensus policy would pull the promotion back.
* `scale_sales` -- multiply the sales numbers of a family and/or a team (submitted_by), optionally
  one location or SKU, over a period range. Family rows (sku empty) of that family scale too.
* `launches` -- a new SKU in an existing family with its master data and a sales number per
  location x month. Its baseline is a zero cold start (`extend_baseline`): the sales number is
  the only evidence, and the consensus policy keeps `new_item_sales_weight` of it (all of it when
  the scenario says `demand: as_submitted`).
* `capacity` -- an extra shift (+x% inbound and outbound capacity, a percentage) and/or temporary
  storage (+N pallets) at a location for a period range; written as dated warehouses rows.

`demand: as_submitted` takes every sales number the scenario touches as decided (an override with
approved_by "what-if"), instead of the consensus policy's share of it: "what if we really sell
that?". Existing overrides of the S&OP meeting are kept.

The scenario file's schema (the pydantic models) is `data_contracts.scenario`; this module plans
with it. Pure: no Prefect, no files. Bad references raise `ContractBreach` (table "scenario").
"""

import re
from typing import Any

import numpy as np
import pandas as pd

from data_contracts.findings import ContractBreach, Finding
from data_contracts.periods import horizon_periods, months_between
from data_contracts.scenario import (
    SCENARIO_TEAM,
    CapacityChange,
    Launch,
    PromotionChange,
    SalesScaling,
    Scenario,
)
from data_contracts.tables import INPUT_COLUMNS
from reconciliation.inputs import get_table, products_frame, text, typed_table
from reconciliation.plan import PlanResult, build_plan
from reconciliation.promotions import clean_promotions, uplift_by_month
from reconciliation.settings import PlanSettings

COLD_START_MODEL = "WhatIfZeroColdStart"


def event_window(scenario: Scenario, tables: dict[str, pd.DataFrame] | None = None
                 ) -> tuple[str, str]:
    """First and last month any action touches (for 'extra stock after the event'); a changed
    promotion without its own months takes them from the promotion in `tables`."""
    months: list[str] = []
    promos = clean_promotions(tables) if tables is not None else None
    for p in scenario.promotions:
        start, end = p.start_period, p.end_period
        if (start is None or end is None) and promos is not None:
            old = promos[(promos["promo_id"] == p.promo_id) & (promos["sku"] == p.sku)
                         & (promos["location"] == p.location)]
            if len(old):
                start = start or str(old["start_period"].iloc[0])
                end = end or str(old["end_period"].iloc[0])
        months += [m for m in (start, end) if m]
    for r in [*scenario.scale_sales, *scenario.capacity]:
        months += [r.from_period, r.last]
    for launch in scenario.launches:
        months += [s.period for s in launch.sales]
    return (min(months), max(months)) if months else ("", "")


def scenario_error(path: str, rule: str, message: str, value: Any = None) -> Finding:
    """A finding on the scenario file; `path` names the field, e.g. promotions[0].sku."""
    return Finding(table="scenario", column=path, rule=rule, count=1,
                   sample=[{"field": path, "value": value}], message=f"scenario {path}: {message}")


def check_scenario(
    scenario: Scenario, tables: dict[str, pd.DataFrame], cycle: str | None = None,
    horizon: int | None = None,
) -> list[Finding]:
    """Findings for references the data does not know (sku, location, family, team, promotion)
    and for actions entirely outside the plan horizon. Empty when the scenario fits the data."""
    products = products_frame(tables)
    skus, families = set(products.index), set(products["family"])
    locations = set(get_table(tables, "warehouses")["location"])
    teams = set(get_table(tables, "sales_forecast")["submitted_by"]) - {""}
    promos = clean_promotions(tables)
    periods = horizon_periods(cycle, horizon) if cycle and horizon else None
    out: list[Finding] = []

    def known(path: str, value: str | None, pool: set[str], what: str) -> None:
        if value is not None and value not in pool:
            hint = ", ".join(sorted(pool)[:8]) + (" ..." if len(pool) > 8 else "")
            out.append(scenario_error(path, f"unknown {what}",
                                      f"{what} {value!r} does not exist (known: {hint})", value))

    def within(path: str, first: str, last: str) -> None:
        if periods and (last < periods[0] or first > periods[-1]):
            out.append(scenario_error(
                path, "outside horizon",
                f"{first}..{last} lies outside the plan horizon {periods[0]}..{periods[-1]}",
                f"{first}..{last}"))

    for i, p in enumerate(scenario.promotions):
        at = f"promotions[{i}]"
        known(f"{at}.sku", p.sku, skus | {launch.sku for launch in scenario.launches}, "sku")
        known(f"{at}.family", p.family, families, "family")
        known(f"{at}.location", p.location, locations, "location")
        if p.family and p.family in families and p.location in locations \
                and not family_skus_at(tables, p.family, p.location):
            out.append(scenario_error(f"{at}.family", "nothing to promote",
                                      f"no SKU of family {p.family!r} is sold or stocked at "
                                      f"{p.location}", p.family))
        targets = [p.sku] if p.sku else family_skus_at(tables, p.family or "", p.location)
        exists = ((promos["promo_id"] == p.promo_id) & promos["sku"].isin(targets)
                  & (promos["location"] == p.location)).any()
        if p.cancel and not exists:
            out.append(scenario_error(f"{at}.promo_id", "unknown promotion",
                                      f"no promotion {p.promo_id} of {p.sku or p.family} at "
                                      f"{p.location} to cancel", p.promo_id))
        elif not p.cancel and not exists:
            for fld in ("start_period", "end_period", "uplift_pct"):
                if getattr(p, fld) is None:
                    out.append(scenario_error(f"{at}.{fld}", "missing",
                                              f"a new promotion needs {fld}", None))
        if p.start_period and p.end_period:
            within(f"{at}.start_period", p.start_period, p.end_period)
    for i, s in enumerate(scenario.scale_sales):
        at = f"scale_sales[{i}]"
        known(f"{at}.family", s.family, families, "family")
        known(f"{at}.submitted_by", s.submitted_by, teams, "submitted_by team")
        known(f"{at}.location", s.location, locations, "location")
        known(f"{at}.sku", s.sku, skus, "sku")
        within(f"{at}.from_period", s.from_period, s.last)
    seen: set[str] = set()
    for i, launch in enumerate(scenario.launches):
        at = f"launches[{i}]"
        if launch.sku in skus or launch.sku in seen:
            out.append(scenario_error(f"{at}.sku", "sku exists",
                                      f"sku {launch.sku!r} already exists: a launch needs a new "
                                      "sku (use scale_sales to change an existing one)",
                                      launch.sku))
        seen.add(launch.sku)
        known(f"{at}.family", launch.family, families, "family")
        for j, row in enumerate(launch.sales):
            known(f"{at}.sales[{j}].location", row.location, locations, "location")
            within(f"{at}.sales[{j}].period", row.period, row.period)
    for i, c in enumerate(scenario.capacity):
        at = f"capacity[{i}]"
        known(f"{at}.location", c.location, locations, "location")
        within(f"{at}.from_period", c.from_period, c.last)
    return out


def apply_scenario(
    tables: dict[str, pd.DataFrame], scenario: Scenario, cycle: str | None = None,
    horizon: int | None = None,
) -> dict[str, pd.DataFrame]:
    """New input tables with the scenario applied; `tables` are not modified.

    The tables keep their shape (index, columns, missing values): each action reads them through
    the typed view of `get_table` and writes its changes into a copy.

    Raises ContractBreach when the scenario names something the data does not know (and, given
    cycle and horizon, when an action lies entirely outside the horizon).
    """
    findings = check_scenario(scenario, tables, cycle, horizon)
    if findings:
        raise ContractBreach(findings, kind="Scenario")
    out = {name: df.copy() for name, df in tables.items()}
    if scenario.launches:
        out = _add_launches(out, scenario.launches)
    if scenario.scale_sales:
        out["sales_forecast"] = _scale_sales(out, scenario.scale_sales)
    if scenario.promotions:
        out = _change_promotions(out, scenario.promotions)
    if scenario.capacity:
        out["warehouses"] = _change_capacity(out, scenario.capacity)
    return out


def _frame(table: str, rows: list[dict[str, Any]], like: pd.DataFrame | None) -> pd.DataFrame:
    """Rows as a frame with the columns of `like` (or SPEC's), plus any column the rows add."""
    cols = list(like.columns) if like is not None else list(INPUT_COLUMNS[table])
    df = pd.DataFrame(rows)
    cols += [c for c in df.columns if c not in cols]
    for c in cols:
        if c not in df.columns:
            df[c] = np.nan
    return df[cols]


def _append(base: pd.DataFrame | None, add: pd.DataFrame) -> pd.DataFrame:
    """Rows appended after `base`, numbered on from its index (scenario rows have no source
    line; the numbers only keep the index unique)."""
    if base is None or base.empty:
        return add.reset_index(drop=True)
    numeric = pd.to_numeric(pd.Series(base.index), errors="coerce")
    start = int(numeric.max()) + 1 if numeric.notna().any() else len(base)
    add = add.set_axis(range(start, start + len(add)))
    add.index.name = base.index.name
    return pd.concat([base, add])


def _add_launches(out: dict[str, pd.DataFrame], launches: list[Launch]) -> dict[str, pd.DataFrame]:
    products = [{
        "sku": launch.sku, "family": launch.family, "units_per_pallet": launch.units_per_pallet,
        "lead_time_months": launch.lead_time_months, "unit_cost": launch.unit_cost,
        "status": "new", "safety_stock_units": launch.safety_stock_units,
        "min_order_qty": launch.min_order_qty,
    } for launch in launches]
    sales = [{
        "sku": launch.sku, "family": launch.family, "location": s.location, "period": s.period,
        "qty": s.qty, "submitted_by": launch.submitted_by,
    } for launch in launches for s in launch.sales]
    out["products"] = _append(out.get("products"),
                              _frame("products", products, out.get("products")))
    out["sales_forecast"] = _append(
        out.get("sales_forecast"), _frame("sales_forecast", sales, out.get("sales_forecast")))
    return out


def scaled_rows(sf: pd.DataFrame, products: pd.DataFrame, s: SalesScaling) -> pd.Series:
    """Boolean mask of the rows `s` scales in sales_forecast (as `get_table` gives it)."""
    sku, family = sf["sku"], sf["family"]
    row_family = sku.map(products["family"]).fillna(family).where(sku != "", family)
    period = sf["period"]
    mask = (period >= s.from_period) & (period <= s.last)
    if s.family:
        mask &= row_family == s.family
    if s.submitted_by:
        mask &= sf["submitted_by"] == s.submitted_by
    if s.location:
        mask &= sf["location"] == s.location
    if s.sku:
        mask &= sku == s.sku
    return mask


def _scale_sales(out: dict[str, pd.DataFrame], scalings: list[SalesScaling]) -> pd.DataFrame:
    sf = out["sales_forecast"].copy()
    typed = get_table(out, "sales_forecast")  # the same rows in the same order
    products = products_frame(out)
    qty = typed["qty"].fillna(0.0).to_numpy(copy=True)
    for s in scalings:
        qty[scaled_rows(typed, products, s).to_numpy()] *= s.factor
    sf["qty"] = qty
    return sf


def _change_promotions(
    out: dict[str, pd.DataFrame], changes: list[PromotionChange]
) -> dict[str, pd.DataFrame]:
    before = uplift_by_month(clean_promotions(out))
    typed = get_table(out, "promotions")  # the same rows in the same order
    promos = out["promotions"].copy() if "promotions" in out else typed
    key = (typed["promo_id"].to_numpy(), typed["sku"].to_numpy(), typed["location"].to_numpy())
    new_rows: list[dict[str, Any]] = []
    drop = pd.Series(False, index=promos.index)
    expanded: list[PromotionChange] = []
    for f in changes:
        skus = [f.sku] if f.sku else family_skus_at(out, f.family or "", f.location)
        expanded += [f.model_copy(update={"sku": sku, "family": None}) for sku in skus]
    for c in expanded:
        match = (key[0] == c.promo_id) & (key[1] == c.sku) & (key[2] == c.location)
        if c.cancel:
            drop |= match
            continue
        if match.any():
            idx = promos.index[match]
            for fld in ("start_period", "end_period", "uplift_pct"):
                if getattr(c, fld) is not None:
                    promos.loc[idx, fld] = getattr(c, fld)
        else:
            new_rows.append({"promo_id": c.promo_id, "sku": c.sku, "location": c.location,
                             "start_period": c.start_period, "end_period": c.end_period,
                             "uplift_pct": c.uplift_pct})
    promos = promos[~drop]
    if new_rows:
        promos = _append(promos, _frame("promotions", new_rows, promos))
    out["promotions"] = promos
    after = uplift_by_month(clean_promotions(out))
    out["sales_forecast"] = _lift_sales(out["sales_forecast"], before, after)
    return out


def family_skus_at(tables: dict[str, pd.DataFrame], family: str, location: str) -> list[str]:
    """The family's non-phase_out SKUs with history, a SKU-level sales number or stock at
    `location` (the SKUs a family-wide promotion there applies to), sorted."""
    products = products_frame(tables)
    members = set(products.index[(products["family"] == family)
                                 & (products["status"] != "phase_out")])
    found: set[str] = set()
    for name in ("sales_history", "sales_forecast", "inventory", "open_orders"):
        df = get_table(tables, name)
        found |= set(df.loc[df["location"] == location, "sku"]) & members
    return sorted(found)


def _lift_sales(sf: pd.DataFrame, before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """SKU-level sales numbers x (1 + new uplift) / (1 + old uplift) where the uplift changed."""
    keys = ["sku", "location", "period"]
    change = after[[*keys, "promo_uplift_pct"]].merge(
        before[[*keys, "promo_uplift_pct"]], on=keys, how="outer", suffixes=("_new", "_old"))
    change = change.fillna({"promo_uplift_pct_new": 0.0, "promo_uplift_pct_old": 0.0})
    change["lift"] = (1 + change["promo_uplift_pct_new"] / 100) / (
        1 + change["promo_uplift_pct_old"] / 100)
    change = change[(change["lift"] - 1).abs() > 1e-12]
    if change.empty:
        return sf
    typed = typed_table("sales_forecast", sf)  # the same rows in the same order
    lift = typed[keys].merge(change[[*keys, "lift"]], on=keys, how="left")["lift"].fillna(1.0)
    out = sf.copy()
    out["qty"] = typed["qty"].fillna(0.0).to_numpy() * lift.to_numpy()
    return out


def _change_capacity(out: dict[str, pd.DataFrame], changes: list[CapacityChange]) -> pd.DataFrame:
    """Dated warehouses rows for each changed location x month, from the capacity that applied."""
    w = out["warehouses"].copy()
    for c in changes:
        months = c.months()
        typed = typed_table("warehouses", w).set_axis(w.index)  # w's rows, on w's index
        loc, per = typed["location"], typed["period"]
        new = typed.loc[[_effective_row(loc, per, c.location, m) for m in months]]
        new = new.reset_index(drop=True).assign(period=months)
        new["inbound_pallets"] *= 1 + c.extra_shift_pct / 100
        new["outbound_units"] *= 1 + c.extra_shift_pct / 100
        new["storage_pallets"] += c.extra_storage_pallets
        keep = ~((loc == c.location) & per.isin(months))
        w = _append(w[keep], new[list(w.columns)])
    return w


def _effective_row(loc: pd.Series, per: pd.Series, location: str, month: str) -> Any:
    """Index of the warehouses row that applies: dated, else every-month, else the nearest dated
    row. `loc` and `per` are the typed location and period columns."""
    at = loc == location
    for rows in (per.index[at & (per == month)], per.index[at & (per == "")]):
        if len(rows):
            return rows[-1]
    others = per[at & (per != "")]
    gap = [abs(months_between(p, month)) for p in others]
    return others.index[int(np.argmin(gap))]


def extend_baseline(
    baseline: pd.DataFrame, tables: dict[str, pd.DataFrame], cycle: str, horizon: int
) -> pd.DataFrame:
    """The base run's baselines plus a zero cold start (demand_class `new`) for every planned
    SKU x location that has none (launches): nothing is refitted."""
    from reconciliation.scope import planned_keys

    keys = planned_keys(tables, cycle, horizon)[["sku", "location"]]
    have = baseline[["sku", "location"]].astype(str).drop_duplicates()
    missing = keys.merge(have, on=["sku", "location"], how="left", indicator=True)
    missing = missing[missing["_merge"] == "left_only"][["sku", "location"]]
    if missing.empty:
        return baseline
    periods = horizon_periods(cycle, horizon)
    add = missing.loc[missing.index.repeat(len(periods))].reset_index(drop=True)
    add["period"] = np.tile(periods, len(missing))
    add["model"] = COLD_START_MODEL
    for c in ("forecast", "lo_80", "hi_80", "lo_95", "hi_95"):
        add[c] = 0.0
    add["demand_class"] = "new"
    cols = list(baseline.columns)
    for c in cols:
        if c not in add.columns:
            add[c] = np.nan
    return pd.concat([baseline, add[cols]], ignore_index=True)


def touched_rows(plan: pd.DataFrame, scenario: Scenario,
                 promotions_after: pd.DataFrame | None = None) -> pd.Series:
    """Plan rows whose sales number the scenario changed and that carry a sales number."""
    # A plan, possibly read back from the store, not an input table: its text columns are
    # made text here.
    has_sales = text(plan["submitted_by"]) != "" if "submitted_by" in plan else pd.Series(
        True, index=plan.index)
    fam = text(plan["family"]) if "family" in plan else pd.Series("", index=plan.index)
    team = text(plan["submitted_by"]) if "submitted_by" in plan else fam.map(lambda _: "")
    mask = pd.Series(False, index=plan.index)
    for s in scenario.scale_sales:
        m = (plan["period"] >= s.from_period) & (plan["period"] <= s.last)
        if s.family:
            m &= fam == s.family
        if s.submitted_by:
            m &= team == s.submitted_by
        if s.location:
            m &= plan["location"] == s.location
        if s.sku:
            m &= plan["sku"] == s.sku
        mask |= m
    for launch in scenario.launches:
        mask |= plan["sku"] == launch.sku
    if scenario.promotions and promotions_after is not None:
        ids = {p.promo_id for p in scenario.promotions}
        months = uplift_by_month(promotions_after[promotions_after["promo_id"].isin(ids)])
        hit = plan[["sku", "location", "period"]].merge(
            months[["sku", "location", "period"]].assign(_hit=True),
            on=["sku", "location", "period"], how="left")["_hit"]
        mask |= hit.fillna(False).astype(bool).to_numpy()
    return mask & has_sales


def plan_scenario(
    tables: dict[str, pd.DataFrame], baseline: pd.DataFrame, scenario: Scenario, cycle: str,
    horizon: int, settings: PlanSettings | None = None,
    previous_plan: pd.DataFrame | None = None,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, PlanResult]:
    """Apply the scenario, extend the baselines for launches and build the scenario's plan.

    `previous_plan` is what the time fence keeps (see `build_plan`): a scenario cannot move
    last cycle's firm receipts either. Returns the changed tables, the baselines used and the
    PlanResult. With `demand:
    as_submitted` the plan is built twice: the first pass splits family numbers into SKU rows,
    the second takes the touched rows' sales numbers as overrides.
    """
    changed = apply_scenario(tables, scenario, cycle, horizon)
    base = extend_baseline(baseline, changed, cycle, horizon)
    result = build_plan(changed, base, cycle, horizon, settings, previous_plan)
    if scenario.demand == "as_submitted":
        plan = result.consensus_plan
        touched = touched_rows(plan, scenario, clean_promotions(changed))
        existing = get_table(changed, "overrides")
        decided = set(zip(existing["sku"], existing["location"], existing["period"], strict=True))
        rows = plan[touched][["sku", "location", "period", "sales_forecast"]]
        rows = rows[[k not in decided for k in
                     zip(rows["sku"], rows["location"], rows["period"], strict=True)]]
        if not rows.empty:
            ov = pd.DataFrame({
                "sku": rows["sku"], "location": rows["location"], "period": rows["period"],
                "qty": rows["sales_forecast"].astype(float),
                "reason": f"what-if {scenario.name or 'scenario'}: sales number as submitted",
                "approved_by": SCENARIO_TEAM,
            })
            changed["overrides"] = _append(changed.get("overrides"),
                                           _frame("overrides", ov.to_dict("records"),
                                                  changed.get("overrides")))
            result = build_plan(changed, base, cycle, horizon, settings, previous_plan)
    return changed, base, result


def scenario_name(scenario: Scenario, fallback: str) -> str:
    """The folder name: the scenario's name, else `fallback` made safe."""
    if scenario.name:
        return scenario.name
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", fallback).strip("-.") or "scenario"
    return safe[:64]
