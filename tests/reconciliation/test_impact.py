"""compare_plans: what a scenario changes per warehouse-month, its cost, and the verdict line."""

import numpy as np
import pandas as pd
import pytest

from data_contracts.scenario import Scenario
from reconciliation import build_plan
from reconciliation.impact import (
    COMPARISON_COLUMNS,
    analyse_scenario,
    compare_plans,
    verdict_level,
    verdict_line,
)

CYCLE, HORIZON = "2025-01", 6


def analyse(world, **actions: object):
    tables, baseline = world
    return analyse_scenario(tables, baseline, Scenario.model_validate(actions), CYCLE, HORIZON)


def test_no_change_compares_equal(whatif_world) -> None:
    tables, baseline = whatif_world()
    plan = build_plan(tables, baseline, CYCLE, HORIZON)
    c = compare_plans(plan, plan, tables["products"])
    extra = [col for col in c.by_month.columns if col.startswith("extra_")]
    assert (c.by_month[extra].abs() < 1e-9).all().all()
    assert c.verdict.startswith("No change")


def test_a_promotion_that_fits_changes_nothing_but_stock(whatif_world) -> None:
    w = analyse(whatif_world(), promotions=[
        {"promo_id": "P", "sku": "A", "location": "W1", "start_period": "2025-03",
         "end_period": "2025-04", "uplift_pct": 30}])
    c = w.comparison
    t = c.totals
    assert t["extra_demand_units"] == pytest.approx(60) == pytest.approx(t["extra_served_units"])
    for key in ("extra_shortfall_units", "extra_overtime_cost", "extra_overtime_pallets",
                "extra_overtime_units"):
        assert abs(t[key]) < 1e-6, key
    assert t["months_became_short"] == []
    assert (c.by_month["status_base"] == c.by_month["status_scenario"]).all()
    w2 = c.by_month[c.by_month["location"] == "W2"]
    assert (w2.filter(like="extra_").abs() < 1e-6).all().all()  # the other warehouse: untouched
    w1 = c.by_month[c.by_month["location"] == "W1"].set_index("period")
    assert w1.loc["2025-03", "extra_inbound_pallets"] == pytest.approx(3.0)
    assert c.verdict.startswith("Feasible within regular capacity")
    assert "+60 units served of +60 units asked" in c.verdict


def test_a_promotion_that_overloads_a_warehouse_shows_overtime_and_its_cost(whatif_world) -> None:
    w = analyse(whatif_world(), promotions=[
        {"promo_id": "P", "sku": "A", "location": "W2", "start_period": "2025-04",
         "end_period": "2025-04", "uplift_pct": 30}])
    c = w.comparison
    w2 = c.by_month[c.by_month["location"] == "W2"].set_index("period")
    # 3 more pallets at a warehouse already at its regular 20: overtime (cost 10 per pallet).
    assert w2["extra_overtime_pallets"].sum() == pytest.approx(3.0, abs=1e-6)
    assert c.totals["extra_overtime_cost"] == pytest.approx(30.0, abs=1e-4)
    assert w2["inbound_pallets_scenario"].max() <= 24 + 1e-6  # never above capacity + overtime
    assert c.totals["extra_shortfall_units"] == pytest.approx(0, abs=1e-6)
    assert w2.loc["2025-04", "status_scenario"] == "overtime"
    assert c.verdict.startswith("Feasible with overtime at W2 in 2025-04 (est. cost 30)")
    loc = c.by_location.set_index("location")
    assert loc.loc["W2", "extra_overtime_cost"] == pytest.approx(30.0, abs=1e-4)
    assert loc.loc["W2", "overtime_months"] == "2025-04"


def test_doubling_a_family_reproduces_the_double_inbound_failure(whatif_world) -> None:
    """F1 sales x2 taken as submitted: inbound of F1 doubles where capacity allows (W1); at W2
    it hits capacity + overtime every month and the rest is cut -- quantified."""
    w = analyse(whatif_world(), demand="as_submitted", scale_sales=[
        {"family": "F1", "factor": 2, "from_period": "2025-01", "to_period": "2025-06"}])
    c = w.comparison
    m = c.by_month.set_index(["location", "period"])
    w1 = m.loc["W1"]
    assert np.allclose(w1["extra_inbound_pallets"], w1["inbound_pallets_base"])
    assert np.allclose(w1["inbound_pallets_scenario"], 2 * w1["inbound_pallets_base"])
    w2 = m.loc["W2"]
    # Asked: 15 more pallets a month at W2; the warehouse takes 24 (20 + 20% overtime).
    assert np.allclose(w2["extra_demand_units"], 150)
    assert np.allclose(w2["inbound_pallets_scenario"], 24)
    assert np.allclose(w2["extra_overtime_pallets"], 4)
    assert c.totals["extra_overtime_cost"] == pytest.approx(6 * 4 * 10, abs=1e-4)
    assert (w2["status_scenario"] == "short").all() and w2["became_short"].all()
    short = c.totals["extra_shortfall_units"]
    assert short > 0
    assert c.totals["extra_served_units"] == pytest.approx(c.totals["extra_demand_units"] - short)
    value = (w.scenario.consensus_plan.assign(
        v=lambda d: d["shortfall"] * d["sku"].map({"A": 2.0, "B": 5.0, "C": 3.0}))["v"].sum()
        - w.base.consensus_plan.assign(
        v=lambda d: d["shortfall"] * d["sku"].map({"A": 2.0, "B": 5.0, "C": 3.0}))["v"].sum())
    assert c.totals["extra_shortfall_value"] == pytest.approx(value)
    assert len(c.totals["months_became_short"]) == HORIZON
    # Overtime bought and demand still cut: not feasible, whatever the overtime.
    assert c.verdict.startswith(f"Not feasible in full: {short:,.0f} units cannot be served")
    assert "overtime at W2 in 2025-01..2025-06 (est. cost 240) does not close the gap" in c.verdict
    assert "feasible with" not in c.verdict.lower()
    assert verdict_level(c.by_month) == "short"
    # The consensus policy keeps only part of an upward sales push: less load than as submitted.
    policy = analyse(whatif_world(), scale_sales=[
        {"family": "F1", "factor": 2, "from_period": "2025-01", "to_period": "2025-06"}])
    assert 0 < policy.comparison.totals["extra_demand_units"] < c.totals["extra_demand_units"]


def test_extra_capacity_serves_what_the_base_plan_cut(whatif_world) -> None:
    tables, baseline = whatif_world()
    push = {"family": "F1", "factor": 2, "from_period": "2025-02", "to_period": "2025-03"}
    pushed = Scenario.model_validate({"demand": "as_submitted", "scale_sales": [push]})
    shift = Scenario.model_validate({"demand": "as_submitted", "scale_sales": [push],
                                     "capacity": [{"location": "W2", "from_period": "2025-02",
                                                   "to_period": "2025-03",
                                                   "extra_shift_pct": 100}]})
    a = analyse_scenario(tables, baseline, pushed, CYCLE, HORIZON).comparison
    b = analyse_scenario(tables, baseline, shift, CYCLE, HORIZON).comparison
    assert a.totals["extra_shortfall_units"] > 0
    assert b.totals["extra_shortfall_units"] == pytest.approx(0, abs=1e-6)
    assert b.totals["extra_overtime_cost"] == pytest.approx(0, abs=1e-6)


def test_stock_after_the_event_and_its_holding_cost(whatif_world) -> None:
    """A launch with safety stock leaves stock behind after its last sales month."""
    w = analyse(whatif_world(), launches=[{
        "sku": "N", "family": "F1", "units_per_pallet": 10, "lead_time_months": 0,
        "unit_cost": 4, "safety_stock_units": 30,
        "sales": [{"location": "W1", "period": "2025-02", "qty": 100}]}])
    c = w.comparison
    assert c.totals["event_end"] == "2025-02"
    assert c.totals["extra_stock_after_event_units"] == pytest.approx(30, abs=1e-6)
    # 30 units x (4 x 2% + 1 per pallet-month / 10 per pallet) for 4 months after the event.
    assert c.totals["extra_holding_cost_after_event"] == pytest.approx(4 * 30 * (0.08 + 0.1))
    assert "+30 units left in stock at the end of 2025-02" in c.verdict
    sku = c.by_sku.set_index(["sku", "location"])
    assert bool(sku.loc[("N", "W1"), "new_in_scenario"])


def _months(**extra: list[float]) -> pd.DataFrame:
    """A two-month comparison at one warehouse: zeros except the extra_* columns given."""
    m = pd.DataFrame(0.0, index=range(2), columns=COMPARISON_COLUMNS)
    m["location"], m["period"] = "W1", ["2025-01", "2025-02"]
    m["status_base"] = m["status_scenario"] = "ok"
    m["storage_capacity_pallets_scenario"] = 100.0
    for col, values in extra.items():
        m[f"extra_{col}"] = values
    return m


def _totals(m: pd.DataFrame) -> dict[str, object]:
    return {"extra_demand_units": float(m["extra_demand_units"].sum()),
            "extra_served_units": float(m["extra_served_units"].sum()),
            "extra_stock_after_event_units": 0.0, "event_end": ""}


@pytest.mark.parametrize(
    ("extra", "level", "start"),
    [
        ({"demand_units": [10, 0], "served_units": [10, 0]}, "ok",
         "Feasible within regular capacity"),
        ({"demand_units": [10, 0], "served_units": [10, 0], "overtime_pallets": [2, 0],
          "overtime_cost": [20, 0]}, "overtime", "Feasible with overtime at W1 in 2025-01"),
        # Gaps below one unit are rounding: still feasible.
        ({"demand_units": [10, 0], "served_units": [9.4, 0], "shortfall_units": [0.6, 0],
          "overtime_pallets": [2, 0], "overtime_cost": [20, 0]}, "overtime",
         "Feasible with overtime at W1 in 2025-01"),
        ({"demand_units": [10, 0], "served_units": [9.7, 0], "shortfall_units": [0.3, 0]}, "ok",
         "Feasible within regular capacity"),
        # A cut of a unit or more is never feasible, with or without overtime.
        ({"demand_units": [0, 500], "served_units": [0, 470], "shortfall_units": [0, 30],
          "shortfall_value": [0, 60]}, "short",
         "Not feasible in full: 30 units cannot be served (value 60 at cost) at W1 in 2025-02"),
        ({"demand_units": [10, 4000], "served_units": [10, 428], "shortfall_units": [0, 3572],
          "shortfall_value": [0, 7144], "overtime_pallets": [3, 5], "overtime_cost": [30, 50]},
         "short", "Not feasible in full: 3,572 units cannot be served (value 7,144 at cost) at W1"
         " in 2025-02; overtime at W1 in 2025-01, 2025-02 (est. cost 80) does not close the gap"),
    ],
)
def test_verdict_is_feasible_only_where_nothing_is_cut(
    extra: dict[str, list[float]], level: str, start: str
) -> None:
    m = _months(**extra)
    verdict = verdict_line(m, _totals(m))
    assert verdict.startswith(start), verdict
    assert verdict_level(m) == level
    cut = "cannot be served" in verdict
    assert cut == (level == "short")
    assert ("feasible with" in verdict.lower() or "feasible within" in verdict.lower()) != cut
