"""Frozen time fence: last cycle's receipts inside the fence are firm, changes are exceptions."""

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_contracts.periods import add_months, months_between
from data_contracts.plan_rules import check_plan_rules
from reconciliation import build_plan
from reconciliation.fence import PREVIOUS_COLUMNS
from reconciliation.settings import PlanSettings

KEY = ["sku", "location", "period"]
FENCE = PlanSettings(frozen_months=3)


def scaled(baseline: pd.DataFrame, factor: float) -> pd.DataFrame:
    cols = ["forecast", "lo_80", "hi_80", "lo_95", "hi_95"]
    return baseline.assign(**{c: baseline[c] * factor for c in cols})


def previous_plan(w: Any, demand_factor: float) -> pd.DataFrame:
    """Last cycle's plan of the same months, made when demand was `demand_factor` x today's."""
    return build_plan(w.tables, scaled(w.baseline, demand_factor), w.cycle,
                      w.horizon).consensus_plan


def fence_rows(res: Any) -> pd.DataFrame:
    e = res.exceptions
    return e[e["type"] == "FROZEN_FENCE_CHANGE"]


def with_previous(plan: pd.DataFrame, prev: pd.DataFrame) -> pd.DataFrame:
    return plan.merge(prev[[*KEY, "planned_receipts"]], on=KEY, how="left",
                      suffixes=("", "_prev")).fillna({"planned_receipts_prev": 0.0})


def assert_rules(res: Any, w: Any) -> None:
    violations = check_plan_rules(res.consensus_plan, res.capacity_report, w.tables, w.cycle,
                                  w.horizon, allow_forced=True)
    assert violations == []


@pytest.fixture(scope="module")
def w(world: Callable[..., Any]) -> Any:
    return world(seed=3, n_skus=5, n_locs=2, horizon=6, capacity=10.0, lead_max=1, moq=True)


def test_off_by_default_the_plan_is_unchanged(w: Any) -> None:
    prev = previous_plan(w, 1.6)
    today = build_plan(w.tables, w.baseline, w.cycle, w.horizon)
    off = build_plan(w.tables, w.baseline, w.cycle, w.horizon, previous_plan=prev)
    pd.testing.assert_frame_equal(today.consensus_plan, off.consensus_plan)
    pd.testing.assert_frame_equal(today.exceptions, off.exceptions)
    assert not today.consensus_plan["firm_receipt"].any()


def test_firm_receipts_are_kept_where_demand_fell(w: Any) -> None:
    prev = previous_plan(w, 1.6)
    res = build_plan(w.tables, w.baseline, w.cycle, w.horizon, FENCE, previous_plan=prev)
    assert_rules(res, w)
    p = with_previous(res.consensus_plan, prev)
    firm = p[p["firm_receipt"]]
    assert len(firm) >= 5
    # Demand fell: nothing is added, the firm receipts arrive as last cycle planned them.
    np.testing.assert_array_equal(firm["planned_receipts"], firm["planned_receipts_prev"])
    fence_end = add_months(w.cycle, FENCE.frozen_months - 1)
    lead = firm["sku"].map(w.tables["products"].set_index("sku")["lead_time_months"])
    months = firm["period"].map(lambda x: months_between(w.cycle, x))
    assert (months >= lead).all() and (firm["period"] <= fence_end).all()
    # Without the fence the plan would have cut these receipts to today's demand.
    free = with_previous(build_plan(w.tables, w.baseline, w.cycle, w.horizon).consensus_plan,
                         prev).set_index(KEY)
    assert (free.loc[firm.set_index(KEY).index, "planned_receipts"]
            < firm.set_index(KEY)["planned_receipts"] - 0.5).any()


def test_firm_units_beyond_need_are_a_warning_with_units(w: Any) -> None:
    prev = previous_plan(w, 1.6)
    res = build_plan(w.tables, w.baseline, w.cycle, w.horizon, FENCE, previous_plan=prev)
    exc = fence_rows(res)
    assert len(exc) and set(exc["severity"]) == {"warning"}
    months = [add_months(w.cycle, i) for i in range(3)]
    p = res.consensus_plan.set_index(KEY)
    old = prev.set_index(KEY)
    for e in exc.itertuples():
        assert "beyond need" in e.message
        rows = [(e.sku, e.location, m) for m in months]
        kept = float(p.loc[rows, "planned_receipts"][p.loc[rows, "firm_receipt"]].sum())
        drop = float(old.loc[rows, "consensus_demand"].sum() - p.loc[rows, "consensus_demand"]
                     .sum())
        rise = float(p.loc[rows[-1], "projected_on_hand"] - old.loc[rows[-1],
                                                                    "projected_on_hand"])
        units = min(kept, drop, rise)
        assert e.message.startswith(f"{units:,.0f} firm units beyond need")


def test_demand_above_the_firm_receipts_is_served_by_an_extra_order(w: Any) -> None:
    prev = previous_plan(w, 0.5)
    res = build_plan(w.tables, w.baseline, w.cycle, w.horizon, FENCE, previous_plan=prev)
    assert_rules(res, w)
    p = with_previous(res.consensus_plan, prev)
    firm = p[p["firm_receipt"]]
    assert (firm["planned_receipts"] >= firm["planned_receipts_prev"]).all()
    by_key = firm.groupby(["sku", "location"])
    added = by_key["planned_receipts"].sum() - by_key["planned_receipts_prev"].sum()
    # Raised from 10 % of the firm units (frozen_change_min_pct), and at least one unit.
    noise = np.maximum(1.0, 0.1 * by_key["planned_receipts_prev"].sum())
    exc = fence_rows(res).set_index(["sku", "location"])
    assert len(exc) and set(exc.index) == set(added[added >= noise].index)
    for key, units in added[added >= noise].items():
        assert exc.loc[[key], "message"].str.startswith(
            f"{units:,.0f} units planned on top of the firm receipts").any()
    # SPEC: where capacity is ample nothing is cut, fence or not.
    assert (res.consensus_plan["shortfall"] <= 1e-6).sum() >= len(res.consensus_plan) - (
        res.consensus_plan["reason"] == "LEAD_TIME_SHORTFALL").sum()


def test_no_previous_plan_firms_nothing_and_says_so(w: Any) -> None:
    today = build_plan(w.tables, w.baseline, w.cycle, w.horizon)
    res = build_plan(w.tables, w.baseline, w.cycle, w.horizon, FENCE, previous_plan=None)
    pd.testing.assert_frame_equal(today.consensus_plan, res.consensus_plan)
    note = fence_rows(res)
    assert list(note["severity"]) == ["info"] and "no published plan" in note["message"].iloc[0]


def test_receipts_due_before_the_lead_time_or_below_a_raised_moq_are_not_firm(w: Any) -> None:
    prev = previous_plan(w, 1.0)
    months = [add_months(w.cycle, i) for i in range(3)]
    # Last cycle ordered 5 units of every SKU in every fence month.
    prev.loc[prev["period"].isin(months), "planned_receipts"] = 5.0
    tables = dict(w.tables)
    products = tables["products"].copy()
    products["min_order_qty"] = [0.0, 0.0, 10.0, 0.0, 0.0]  # S2's MOQ rose above 5
    tables["products"] = products
    res = build_plan(tables, w.baseline, w.cycle, w.horizon, FENCE, previous_plan=prev)
    assert_rules(res, w.__class__(**{**vars(w), "tables": tables}))
    p = res.consensus_plan
    lead = p["sku"].map(products.set_index("sku")["lead_time_months"])
    month = p["period"].map(lambda x: months_between(w.cycle, x))
    expect = p["period"].isin(months) & (month >= lead) & (p["sku"] != "S2")
    expect &= p.set_index(["sku", "location"]).index.isin(
        prev.set_index(["sku", "location"]).index)
    assert (p["firm_receipt"] == expect).all()
    assert (p.loc[expect, "planned_receipts"] >= 5).all()
    released = fence_rows(res)
    released = released[released["message"].str.contains("min_order_qty")]
    s2 = p[(p["sku"] == "S2") & p["period"].isin(months) & (month >= lead)]
    assert len(released) == len(s2) and set(released["sku"]) == {"S2"}
    assert released["message"].str.startswith("last cycle's receipt of 5.00 units").all()


def test_firm_receipts_above_capacity_give_way_to_the_limit(world: Callable[..., Any]) -> None:
    w = world(seed=7, n_skus=4, n_locs=1, horizon=5, capacity=1.0, lead_max=0,
              open_orders=False)
    prev = build_plan(w.tables, w.baseline, w.cycle, w.horizon).consensus_plan
    big = prev["period"] == add_months(w.cycle, 1)
    prev.loc[big, "planned_receipts"] = 1_000_000.0  # far above inbound and storage
    res = build_plan(w.tables, w.baseline, w.cycle, w.horizon, FENCE, previous_plan=prev)
    assert_rules(res, w)
    exc = fence_rows(res)
    assert exc["message"].str.contains("do not fit the warehouse's capacity").any()
    assert not (res.exceptions["severity"] == "error").any()


PROPERTY_WORLDS = st.fixed_dictionaries({
    "seed": st.integers(0, 10_000),
    "n_skus": st.integers(1, 5),
    "n_locs": st.integers(1, 2),
    "horizon": st.integers(1, 7),
    "capacity": st.sampled_from([0.3, 0.8, 1.5, 10.0]),
    "lead_max": st.integers(0, 3),
    "open_orders": st.booleans(),
    "safety_stock": st.booleans(),
    "moq": st.booleans(),
})


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=PROPERTY_WORLDS, frozen=st.integers(1, 4), prev_seed=st.integers(0, 10_000),
       factor=st.sampled_from([0.3, 1.0, 2.5]))
def test_with_firm_receipts_every_plan_rule_holds(
    world: Callable[..., Any], params: dict, frozen: int, prev_seed: int, factor: float,
) -> None:
    w = world(**params)
    prev = previous_plan(w, factor)
    # Last cycle's receipts: whole units of any size, fractional ones, or none, in any month.
    rng = np.random.default_rng(prev_seed)
    prev["planned_receipts"] = rng.choice(
        [0.0, 1.0, 7.0, 40.0, 333.0, 5000.0, 2.5], len(prev)) * (rng.random(len(prev)) < 0.6)
    s = PlanSettings(frozen_months=frozen)
    res = build_plan(w.tables, w.baseline, w.cycle, w.horizon, s, previous_plan=prev)
    violations = check_plan_rules(res.consensus_plan, res.capacity_report, w.tables, w.cycle,
                                  w.horizon, allow_forced=True)
    assert violations == []
    p = with_previous(res.consensus_plan, prev[PREVIOUS_COLUMNS])
    firm = p[p["firm_receipt"]]
    lead = firm["sku"].map(w.tables["products"].set_index("sku")["lead_time_months"])
    month = firm["period"].map(lambda x: months_between(w.cycle, x))
    assert ((month >= lead) & (month < frozen)).all()
    # A firm receipt is never reduced below last cycle's; where capacity forced it, it says so.
    exc = fence_rows(res)
    named = pd.MultiIndex.from_frame(exc[["sku", "location"]])
    cut = firm[firm["planned_receipts"] < firm["planned_receipts_prev"] - 1e-9]
    assert pd.MultiIndex.from_frame(cut[["sku", "location"]]).isin(named).all()
    moved = p[~p["firm_receipt"] & (p["planned_receipts_prev"] > 0) & p["period"].isin(
        [add_months(w.cycle, i) for i in range(frozen)])]
    moved = moved[~pd.MultiIndex.from_frame(moved[["sku", "location"]]).isin(named)]
    lead_all = moved["sku"].map(w.tables["products"].set_index("sku")["lead_time_months"])
    month_all = moved["period"].map(lambda x: months_between(w.cycle, x))
    moq = moved["sku"].map(w.tables["products"].set_index("sku")["min_order_qty"]).fillna(0)
    # A receipt of the fence left free is one SPEC or today's MOQ forbids keeping.
    q = moved["planned_receipts_prev"]
    assert ((month_all < lead_all) | (q % 1 != 0) | (q < np.ceil(moq - 1e-9))).all()
