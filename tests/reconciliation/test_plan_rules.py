"""check_plan_rules finds every kind of broken plan (and passes a good one)."""

from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from data_contracts.plan_rules import check_plan_rules
from reconciliation import build_plan


@pytest.fixture(scope="module")
def good(world: Callable[..., Any]) -> tuple[Any, Any]:
    w = world(seed=7, n_skus=5, n_locs=2, horizon=6, capacity=1.0, lead_max=1)
    return w, build_plan(w.tables, w.baseline, w.cycle, w.horizon)


def violations(w: Any, plan: pd.DataFrame, report: pd.DataFrame) -> list[str]:
    return check_plan_rules(plan, report, w.tables, w.cycle, w.horizon)


def test_a_built_plan_passes(good: tuple[Any, Any]) -> None:
    w, res = good
    assert violations(w, res.consensus_plan, res.capacity_report) == []


def test_locations_with_nothing_planned_pass_and_their_missing_rows_are_caught(
        good: tuple[Any, Any]) -> None:
    """A partitioned audit checks a group of locations no row is planned in (a warehouse
    closed since an earlier plan): no rows, no inputs, nothing broken; the rules still see
    rows the inputs ask for when the plan has none."""
    w, res = good
    closed = {name: df.iloc[0:0] for name, df in w.tables.items()}
    assert check_plan_rules(res.consensus_plan.iloc[0:0], res.capacity_report.iloc[0:0],
                            closed, w.cycle, w.horizon) == []
    assert violations(w, res.consensus_plan.iloc[0:0], res.capacity_report) != []


@pytest.mark.parametrize(("tamper", "expected"), [
    (lambda p: p.assign(planned_receipts=p["planned_receipts"] - 1e3), "negative"),
    (lambda p: p.assign(constrained_demand=p["consensus_demand"] + 1), "constrained_demand >"),
    (lambda p: p.assign(shortfall=p["shortfall"] + 1), "shortfall !="),
    (lambda p: p.assign(projected_on_hand=p["projected_on_hand"] + 5), "stock balance"),
    (lambda p: p.assign(reason="MAGIC"), "invalid reason"),
    (lambda p: p.iloc[1:], "horizon months"),
    (lambda p: pd.concat([p, p.iloc[:1]]), "duplicate"),
    (lambda p: p.assign(order_release_period="1999-01"), "order_release_period"),
    (lambda p: p.assign(order_release_period=p["order_release_period"].where(
        p["planned_receipts"] > 0, p["period"])), "order_release_period set where"),
    (lambda p: p.assign(order_release_period=None), "order_release_period != period"),
    (lambda p: p.assign(consensus_demand=p["consensus_demand"] * 3 + 1,
                        constrained_demand=p["constrained_demand"] * 3 + 1,
                        shortfall=p["shortfall"] * 3), "consensus_demand"),
    (lambda p: p.assign(sales_forecast=p["sales_forecast"] + 1), "sales_forecast"),
])
def test_tampered_plans_are_caught(
    good: tuple[Any, Any], tamper: Callable[[pd.DataFrame], pd.DataFrame], expected: str
) -> None:
    w, res = good
    found = violations(w, tamper(res.consensus_plan.copy()), res.capacity_report)
    assert any(expected in v for v in found), found


def test_receipt_before_lead_time_is_caught(good: tuple[Any, Any]) -> None:
    w, res = good
    lead = w.tables["products"].set_index("sku")["lead_time_months"]
    p = res.consensus_plan.copy()
    row = p.index[(p["sku"].map(lead) > 0) & (p["period"] == w.cycle)][0]
    p.loc[row, "planned_receipts"] += 10
    p.loc[p["sku"].eq(p.loc[row, "sku"]) & p["location"].eq(p.loc[row, "location"])
          & (p["period"] >= w.cycle), "projected_on_hand"] += 10
    assert any("before cycle + lead time" in v for v in violations(w, p, res.capacity_report))


def test_capacity_overrun_and_needless_cut_are_caught(good: tuple[Any, Any]) -> None:
    w, res = good
    tables = {**w.tables, "warehouses": w.tables["warehouses"].assign(
        inbound_pallets=0.001, storage_pallets=0.001, outbound_units=0.001)}
    found = check_plan_rules(res.consensus_plan, res.capacity_report, tables, w.cycle, w.horizon)
    assert any("inbound pallets" in v for v in found)
    assert any("outbound units" in v for v in found)
    assert any("storage_pallets" in v for v in found)
    # Cutting demand although the warehouse had room is a violation.
    p = res.consensus_plan.copy()
    i = p.index[p["planned_receipts"] > 1][0]
    p.loc[i, ["constrained_demand", "planned_receipts"]] -= 1
    p.loc[i, "shortfall"] += 1
    rep = res.capacity_report.copy()
    found = check_plan_rules(p, rep, w.tables, w.cycle, w.horizon)
    assert any("cut although" in v for v in found), found


def test_override_must_be_taken_as_decided(good: tuple[Any, Any]) -> None:
    w, res = good
    ov = w.tables["overrides"].iloc[0]
    p = res.consensus_plan.copy()
    hit = (p["sku"] == ov["sku"]) & (p["location"] == ov["location"]) & (
        p["period"] == ov["period"])
    p.loc[hit, ["consensus_demand", "constrained_demand"]] += 1
    assert any("override" in v for v in violations(w, p, res.capacity_report))


def test_order_release_is_empty_without_receipts_and_never_before_cycle(
    good: tuple[Any, Any]
) -> None:
    w, res = good
    p = res.consensus_plan
    ordered = p["planned_receipts"] > 0
    assert ordered.any() and (~ordered).any()
    assert p.loc[~ordered, "order_release_period"].isna().all()
    assert (p.loc[ordered, "order_release_period"] >= w.cycle).all()


def test_consensus_below_booked_customer_orders_is_caught(good: tuple[Any, Any]) -> None:
    w, res = good
    p = res.consensus_plan
    row = p[~p["reason"].eq("OVERRIDE")].iloc[0]
    booked = float(row["consensus_demand"]) + 50.0
    tables = {**w.tables, "customer_orders": pd.DataFrame(
        {"sku": [row["sku"]], "location": [row["location"]], "period": [row["period"]],
         "qty": [booked]})}
    found = check_plan_rules(p, res.capacity_report, tables, w.cycle, w.horizon)
    assert any("booked customer orders" in v for v in found), found
    rebuilt = build_plan(tables, w.baseline, w.cycle, w.horizon)
    assert check_plan_rules(rebuilt.consensus_plan, rebuilt.capacity_report, tables, w.cycle,
                            w.horizon) == []


def test_lead_time_and_capacity_labels_are_checked(world: Callable[..., Any]) -> None:
    w = world(seed=3, n_skus=12, n_locs=4, capacity=0.6)
    res = build_plan(w.tables, w.baseline, w.cycle, w.horizon)
    p, rep = res.consensus_plan, res.capacity_report
    assert violations(w, p, rep) == []
    lead_row = p.index[p["reason"] == "LEAD_TIME_SHORTFALL"][0]
    cap_row = p.index[p["reason"] == "CAPACITY_SHORTFALL"][0]
    found = violations(w, p.assign(reason=p["reason"].where(p.index != lead_row,
                                                            "CAPACITY_SHORTFALL")), rep)
    assert any("not labelled LEAD_TIME_SHORTFALL" in v for v in found), found
    found = violations(w, p.assign(reason=p["reason"].where(p.index != cap_row,
                                                            "LEAD_TIME_SHORTFALL")), rep)
    assert any("LEAD_TIME_SHORTFALL on a row not cut" in v for v in found), found
    roomy = rep["status"].ne("short") & rep["overtime_pallets"].eq(0)
    found = violations(w, p, rep.assign(status=rep["status"].where(~roomy, "short")))
    assert any("no capacity limit is full" in v for v in found), found
    found = violations(w, p, rep.assign(status="ok"))
    assert any("does not say 'short'" in v for v in found), found
    assert any("CAPACITY_SHORTFALL on a row" in v for v in found), found
    found = violations(w, p, rep.assign(
        lead_time_shortfall_units=rep["lead_time_shortfall_units"] + 1))
    assert any("lead_time_shortfall_units disagrees" in v for v in found), found
