"""Consensus policy, trust weights, overrides, plausibility and reasons."""

import numpy as np
import pandas as pd
import pytest

from data_contracts.tables import REASON_CODES
from reconciliation import PlanSettings, build_plan
from reconciliation.consensus import percentile_label
from reconciliation.trust import estimate_trust

CYCLE = "2025-01"


def small_tables(
    sales: list[float] | None, baseline_qty: float = 100.0, team: str | None = "north",
    **extra: pd.DataFrame,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    periods = ["2025-01", "2025-02", "2025-03"]
    tables = {
        "sales_history": pd.DataFrame({"sku": "A", "location": "W",
                                       "period": [f"2024-{m:02d}" for m in range(1, 13)],
                                       "qty": baseline_qty}),
        "sales_forecast": pd.DataFrame(
            {"sku": "A", "family": np.nan, "location": "W", "period": periods, "qty": sales,
             "submitted_by": team} if sales is not None else
            {c: [] for c in ["sku", "family", "location", "period", "qty", "submitted_by"]}),
        "products": pd.DataFrame({"sku": ["A"], "family": ["F"], "units_per_pallet": [10.0],
                                  "lead_time_months": [0], "unit_cost": [2.0]}),
        "warehouses": pd.DataFrame({"location": ["W"], "period": [np.nan],
                                    "storage_pallets": [1e6], "inbound_pallets": [1e6],
                                    "outbound_units": [1e9], "overtime_pct": [0.1]}),
        "inventory": pd.DataFrame({"sku": ["A"], "location": ["W"], "on_hand": [0.0]}),
        **extra,
    }
    b = baseline_qty
    baseline = pd.DataFrame({"sku": "A", "location": "W", "period": periods, "model": "t",
                             "forecast": b, "lo_80": 0.8 * b, "hi_80": 1.2 * b,
                             "lo_95": 0.7 * b, "hi_95": 1.3 * b, "demand_class": "smooth"})
    return tables, baseline


def test_no_sales_number_means_baseline() -> None:
    tables, baseline = small_tables(None)
    plan = build_plan(tables, baseline, CYCLE, 3).consensus_plan
    assert np.allclose(plan["consensus_demand"], 100)
    assert (plan["sales_forecast"] == 0).all() and set(plan["reason"]) == {"BASELINE"}


def test_consensus_between_baseline_and_sales_with_fildes_prior() -> None:
    tables, baseline = small_tables([150.0, 60.0, 103.0])
    plan = build_plan(tables, baseline, CYCLE, 3).consensus_plan.set_index("period")
    s = PlanSettings()
    up, down, small = plan.loc["2025-01"], plan.loc["2025-02"], plan.loc["2025-03"]
    assert np.isclose(up["consensus_demand"], 100 + s.prior_weight_up * 50)
    assert np.isclose(down["consensus_demand"], 100 - s.prior_weight_down * 40)
    assert np.isclose(small["sales_weight"],
                      s.prior_weight_up * s.small_adjustment_prior_factor)
    assert set(plan["reason"]) == {"SALES_SHRUNK"}


def test_full_weight_accepts_sales() -> None:
    tables, baseline = small_tables([150.0, 60.0, 103.0])
    settings = PlanSettings(prior_weight_up=1, prior_weight_down=1,
                            small_adjustment_prior_factor=1)
    plan = build_plan(tables, baseline, CYCLE, 3, settings).consensus_plan
    assert np.allclose(plan["consensus_demand"], plan["sales_forecast"])
    assert set(plan["reason"]) == {"SALES_ACCEPTED"}


def test_override_replaces_consensus_and_unknown_override_is_reported() -> None:
    ov = pd.DataFrame({"sku": ["A", "ZZ"], "location": ["W", "W"],
                       "period": ["2025-02", "2025-02"], "qty": [7.0, 1.0],
                       "reason": ["deal", "x"], "approved_by": ["CEO", "CEO"]})
    tables, baseline = small_tables([150.0, 60.0, 103.0], overrides=ov)
    res = build_plan(tables, baseline, CYCLE, 3)
    row = res.consensus_plan.set_index("period").loc["2025-02"]
    assert row["consensus_demand"] == 7.0 and row["reason"] == "OVERRIDE"
    assert (res.exceptions["type"] == "OVERRIDE_IGNORED").sum() == 1


def test_promo_uplift_is_a_percentage() -> None:
    promo = pd.DataFrame({"promo_id": ["P"], "sku": ["A"], "location": ["W"],
                          "start_period": ["2025-02"], "end_period": ["2025-02"],
                          "uplift_pct": [25.0]})
    tables, baseline = small_tables(None, promotions=promo)
    plan = build_plan(tables, baseline, CYCLE, 3).consensus_plan.set_index("period")
    assert plan.loc["2025-02", "consensus_demand"] == 125.0
    assert plan.loc["2025-02", "reason"] == "PROMO_UPLIFT"
    assert plan.loc["2025-01", "consensus_demand"] == 100.0


def test_sales_outside_the_interval_get_a_percentile() -> None:
    tables, baseline = small_tables([140.0, 100.0, 20.0])
    exc = build_plan(tables, baseline, CYCLE, 3).exceptions
    out = exc[exc["type"] == "SALES_OUTSIDE_BASELINE_INTERVAL"].set_index("period")
    assert set(out.index) == {"2025-01", "2025-03"}
    # sigma = 60 / (2 * 1.96) = 15.3; 140 is z = 2.61 -> 99.55%
    assert "P99.6" in out.loc["2025-01", "message"]
    assert "<P0.1" in out.loc["2025-03", "message"]


@pytest.mark.parametrize(("p", "label"), [(50.0, "P50"), (99.4, "P99.4"), (0.5, "P0.5"),
                                          (99.99, ">P99.9")])
def test_percentile_label(p: float, label: str) -> None:
    assert percentile_label(p) == label


def test_trust_falls_back_to_the_prior_without_history() -> None:
    tables, _ = small_tables([150.0, 60.0, 103.0])
    trust = estimate_trust(tables, CYCLE, PlanSettings(), teams=["north"]).set_index(
        "direction")
    assert trust.loc["up", "n_obs"] == 0
    assert trust.loc["up", "weight"] == PlanSettings().prior_weight_up
    assert trust.loc["down", "weight"] == PlanSettings().prior_weight_down


def test_trust_shrinks_an_optimistic_team() -> None:
    months = [f"2024-{m:02d}" for m in range(1, 13)]
    fh = pd.DataFrame({"cycle": months[3:], "sku": "A", "location": "W", "period": months[3:],
                       "qty": 150.0, "submitted_by": "north"})
    tables, _ = small_tables([150.0, 150.0, 150.0], forecast_history=fh)
    trust = estimate_trust(tables, CYCLE, PlanSettings(), teams=["north"]).set_index(
        "direction")
    up = trust.loc["up"]
    assert up["n_obs"] == 9 and np.isclose(up["bias"], 0.5)
    assert up["w_fit"] == 0.0 and up["weight"] < PlanSettings().prior_weight_up


def _orders(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["sku", "location", "period", "qty"])


def test_booked_customer_orders_put_a_floor_under_consensus() -> None:
    orders = _orders([("A", "W", "2025-01", 400.0), ("A", "W", "2025-02", 10.0)])
    tables, baseline = small_tables([150.0, 60.0, 103.0], customer_orders=orders)
    res = build_plan(tables, baseline, CYCLE, 3)
    plan = res.consensus_plan.set_index("period")
    assert plan.loc["2025-01", "consensus_demand"] == 400.0  # booked beats sales and baseline
    below = build_plan(*small_tables([150.0, 60.0, 103.0]), CYCLE, 3).consensus_plan
    assert np.isclose(plan.loc["2025-02", "consensus_demand"],
                      below.set_index("period").loc["2025-02", "consensus_demand"])
    exc = res.exceptions[res.exceptions["type"] == "CUSTOMER_ORDERS_ABOVE_CONSENSUS"]
    assert list(exc["period"]) == ["2025-01"] and "400" in exc["message"].iloc[0]
    assert set(plan["reason"]) <= set(REASON_CODES)


def test_override_still_beats_booked_customer_orders() -> None:
    orders = _orders([("A", "W", "2025-02", 400.0)])
    ov = pd.DataFrame({"sku": ["A"], "location": ["W"], "period": ["2025-02"], "qty": [7.0],
                       "reason": ["deal"], "approved_by": ["CEO"]})
    tables, baseline = small_tables(None, customer_orders=orders, overrides=ov)
    row = build_plan(tables, baseline, CYCLE, 3).consensus_plan.set_index("period").loc["2025-02"]
    assert row["consensus_demand"] == 7.0 and row["reason"] == "OVERRIDE"


def test_customer_order_keys_are_planned() -> None:
    orders = _orders([("B", "W", "2025-03", 5.0)])
    tables, baseline = small_tables(None, customer_orders=orders)
    tables["products"] = pd.concat([tables["products"], pd.DataFrame(
        {"sku": ["B"], "family": ["F"], "units_per_pallet": [10.0], "lead_time_months": [0],
         "unit_cost": [1.0], "status": ["phase_out"]})], ignore_index=True)
    plan = build_plan(tables, baseline, CYCLE, 3).consensus_plan
    b = plan[plan["sku"] == "B"].set_index("period")
    assert len(b) == 3 and b.loc["2025-03", "consensus_demand"] == 5.0
