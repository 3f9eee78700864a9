"""Lot sizing: whole-unit receipts, 0 or >= MOQ, within the capacity the LP planned for."""

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_contracts.plan_rules import check_plan_rules
from reconciliation import PlanSettings, build_plan
from reconciliation.lot_sizing import fit_lots, lot_limits
from tests.reconciliation.test_capacity import CYCLE, one_location


def with_moq(tables: dict[str, pd.DataFrame], moq: dict[str, float]) -> dict[str, pd.DataFrame]:
    products = tables["products"].copy()
    products["min_order_qty"] = products["sku"].map(moq)
    return {**tables, "products": products}


def receipts_keep_lots(plan: pd.DataFrame, moq: dict[str, float]) -> None:
    r = plan["planned_receipts"]
    assert np.array_equal(r, np.round(r)), "receipts are whole units"
    floor = plan["sku"].map(moq).fillna(0.0)
    assert ((r == 0) | (r >= floor)).all(), "receipts are 0 or at least MOQ"


def test_fractional_demand_gets_whole_unit_receipts_and_nothing_is_cut() -> None:
    tables, baseline, h = one_location({"A": [10.3, 7.7, 0.4, 12.25, 3.1], "B": [0.6] * 5})
    res = build_plan(tables, baseline, CYCLE, h)
    plan = res.consensus_plan
    assert check_plan_rules(plan, res.capacity_report, tables, CYCLE, h) == []
    receipts_keep_lots(plan, {})
    assert plan["shortfall"].max() < 1e-6
    # Whole units carry less than a unit of stock over, never a pre-build.
    assert plan["projected_on_hand"].max() < 1.0
    assert "CAPACITY_PREBUILD" not in set(plan["reason"])


def test_moq_merges_months_into_lots_and_cuts_nothing_where_capacity_is_ample() -> None:
    moq = {"A": 25.0, "B": 7.5}
    tables, baseline, h = one_location({"A": [10, 10, 10, 10, 10, 10], "B": [1, 2, 3, 4, 5, 6]})
    tables = with_moq(tables, moq)
    res = build_plan(tables, baseline, CYCLE, h)
    plan = res.consensus_plan
    assert check_plan_rules(plan, res.capacity_report, tables, CYCLE, h) == []
    receipts_keep_lots(plan, {"A": 25.0, "B": 8.0})     # 7.5 means 8 whole units
    assert plan["shortfall"].max() < 1e-6
    a = plan[plan["sku"] == "A"]
    assert a["planned_receipts"].tolist() == [25, 0, 25, 0, 10, 0] or \
        (a["planned_receipts"] > 0).sum() < 6
    assert a["planned_receipts"].sum() >= 60
    # A lot raised to MOQ is not a capacity pre-build, and no exception buries the real ones.
    assert "CAPACITY_PREBUILD" not in set(plan["reason"])
    assert not res.exceptions["type"].isin(["BELOW_MIN_ORDER_QTY", "MIN_ORDER_QTY_CUT"]).any()
    assert res.supply_plan["extra_cut_units"] <= 1e-6
    assert res.supply_plan["budget_exhausted"] is False


def test_rounding_up_at_a_full_inbound_month_is_held_back() -> None:
    # The LP fills inbound exactly with 5.5 + 5.5 units; rounding both up would need 12.
    tables, baseline, h = one_location({"A": [5.5, 5.5, 5.5], "B": [5.5, 5.5, 5.5]},
                                       inbound=1.1, overtime=0.0)
    tables["products"]["units_per_pallet"] = 1.0
    tables["warehouses"]["inbound_pallets"] = 11.0
    res = build_plan(tables, baseline, CYCLE, h)
    plan, rep = res.consensus_plan, res.capacity_report
    assert check_plan_rules(plan, rep, tables, CYCLE, h) == []
    receipts_keep_lots(plan, {})
    assert (rep["inbound_pallets"] <= 11.0 + 1e-9).all()
    # Only the half unit the first month cannot take in whole units is cut.
    assert 0 < plan["shortfall"].sum() <= 0.5 + 1e-9


def test_moq_lot_that_would_overflow_storage_is_not_ordered_and_the_cut_is_explained() -> None:
    # Storage 5 pallets = 50 units; a lot of 65 leaves 55 on hand after a 10-unit month
    # (too much) but only 35 after the 30-unit month, so only that month can take a lot.
    tables, baseline, h = one_location({"A": [10, 10, 30, 10, 10]}, storage=5)
    tables = with_moq(tables, {"A": 65.0})
    res = build_plan(tables, baseline, CYCLE, h)
    plan, rep = res.consensus_plan, res.capacity_report
    assert check_plan_rules(plan, rep, tables, CYCLE, h) == []
    receipts_keep_lots(plan, {"A": 65.0})
    assert (rep["storage_pallets"] <= 5.0 + 1e-9).all()
    assert plan["planned_receipts"].tolist() == [0, 0, 65, 0, 0]
    assert plan["constrained_demand"].tolist() == [0, 0, 30, 10, 10]
    exc = res.exceptions
    assert (exc["type"] == "MIN_ORDER_QTY_CUT").sum() == 1
    assert "65" in exc.loc[exc["type"] == "MIN_ORDER_QTY_CUT", "message"].iloc[0]
    assert res.supply_plan["extra_cut_units"] == 20.0


def test_no_lot_before_the_lead_time() -> None:
    tables, baseline, h = one_location({"A": [10, 10, 10, 10, 10]}, lead=2, on_hand=15)
    tables = with_moq(tables, {"A": 30.0})
    res = build_plan(tables, baseline, CYCLE, h)
    plan = res.consensus_plan
    assert check_plan_rules(plan, res.capacity_report, tables, CYCLE, h) == []
    assert plan["planned_receipts"].iloc[:2].tolist() == [0, 0]
    receipts_keep_lots(plan, {"A": 30.0})
    assert np.isclose(plan["shortfall"].sum(), 5.0)   # 20 needed before the lead time, 15 held


def test_fit_lots_shrinks_the_cheapest_lot_only_as_far_as_needed() -> None:
    # Two SKUs, one month, inbound 11 pallets: the LP's 5.5 + 5.5 rounded up is 12.
    served = np.array([[5.5], [5.5]])
    zeros = np.zeros((2, 1))
    upp = np.ones(2)
    limits = lot_limits(np.array([11.0]), np.array([1e9]), np.array([1e9]), np.zeros(1), upp,
                        zeros, served, served, zeros)
    r, s, inv = fit_lots(served, zeros, np.zeros(2), zeros, upp, np.zeros(2, int), np.zeros(2),
                         np.array([1.0, 2.0]), limits)
    assert r[:, 0].tolist() == [5.0, 6.0]              # the cheaper SKU gives up the unit
    assert np.allclose(s[:, 0], [5.0, 5.5])
    assert np.allclose(inv[:, 0], [0.0, 0.5])          # a whole unit in, half of it left


WORLDS = st.fixed_dictionaries({
    "seed": st.integers(0, 10_000),
    "n_skus": st.integers(1, 6),
    "n_locs": st.integers(1, 2),
    "horizon": st.integers(1, 8),
    "capacity": st.sampled_from([0.3, 0.8, 1.5, 10.0]),
    "lead_max": st.integers(0, 3),
    "open_orders": st.booleans(),
    "safety_stock": st.booleans(),
    "storage": st.sampled_from([None, 0.5, 1.5]),
    "moq": st.just(True),
})


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=WORLDS, budget=st.sampled_from([0.0, 60.0]))
def test_lot_sized_plan_keeps_every_rule(
    world: Callable[..., Any], params: dict, budget: float
) -> None:
    """Every SPEC rule incl. whole-unit lots >= MOQ; with no time for polishing only a cut a
    polish round would serve may remain, and then the summary says the budget ran out."""
    w = world(**params)
    res = build_plan(w.tables, w.baseline, w.cycle, w.horizon,
                     PlanSettings(moq_time_budget_s=budget))
    violations = check_plan_rules(res.consensus_plan, res.capacity_report, w.tables, w.cycle,
                                  w.horizon)
    forced = [v for v in violations if "forced_by_inputs=True" in v]
    needless = [v for v in violations if v.startswith("demand cut although")]
    assert set(violations) <= set(forced) | set(needless), violations
    if forced:
        assert (res.exceptions["type"] == "CAPACITY_INFEASIBLE").any()
    if budget > 0:
        assert needless == []
    elif needless:
        assert res.supply_plan["budget_exhausted"] is True
        assert res.supply_plan["open_cuts"] > 0
    moq = w.tables["products"].set_index("sku")["min_order_qty"].fillna(0.0)
    receipts_keep_lots(res.consensus_plan, np.ceil(moq - 1e-9).to_dict())
