"""Promotion uplift, plausibility against past promotions, and the extra load."""

import numpy as np
import pandas as pd

from reconciliation import PlanSettings
from reconciliation.inputs import products_frame
from reconciliation.promotions import (
    check_promo_uplifts,
    clean_promotions,
    promotion_load,
    promotion_totals,
    realised_uplifts,
    uplift_by_month,
)

PRODUCTS = {"products": pd.DataFrame({"sku": ["A", "B"], "family": ["F", "F"],
                                      "units_per_pallet": [10.0, 5.0], "lead_time_months": 0,
                                      "unit_cost": 1.0})}


def promos(rows: list[list]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["promo_id", "sku", "location", "start_period",
                                     "end_period", "uplift_pct"])
    return clean_promotions({"promotions": df})


def test_overlapping_promotions_take_the_largest_uplift() -> None:
    p = promos([["P1", "A", "L", "2025-02", "2025-03", 25.0],
                ["P2", "A", "L", "2025-03", "2025-04", 40.0]])
    u = uplift_by_month(p).set_index("period")["promo_uplift_pct"]
    assert u.to_dict() == {"2025-02": 25.0, "2025-03": 40.0, "2025-04": 40.0}


def history_with_promo(lift: float) -> pd.DataFrame:
    months = [f"2024-{m:02d}" for m in range(1, 13)]
    qty = [100.0] * 12
    qty[8] = 100.0 * (1 + lift)    # 2024-09 was the promo month
    return pd.DataFrame({"sku": "A", "location": "L", "period": months, "qty": qty})


def test_realised_uplift_is_measured_against_the_months_before() -> None:
    p = promos([["P0", "A", "L", "2024-09", "2024-09", 30.0]])
    r = realised_uplifts(p, history_with_promo(0.3), "2025-01", PlanSettings())
    assert np.isclose(r["realised_pct"].iloc[0], 30.0)


def test_implausible_uplift_raises_a_warning_naming_the_evidence() -> None:
    p = promos([["P0", "A", "L", "2024-09", "2024-09", 30.0],
                ["P1", "A", "L", "2025-03", "2025-03", 120.0],
                ["P2", "B", "L", "2025-03", "2025-03", 35.0]])
    exc = check_promo_uplifts(p, history_with_promo(0.3), products_frame(PRODUCTS), "2025-01",
                              PlanSettings())
    bad = exc[exc["type"] == "PROMO_UPLIFT_IMPLAUSIBLE"]
    assert list(bad["sku"]) == ["A"]
    assert "120%" in bad["message"].iloc[0] and "30%" in bad["message"].iloc[0]
    assert "B" not in set(bad["sku"])           # 35% is in line with the family's 30%


def test_promotion_load_in_pallets() -> None:
    p = promos([["P1", "B", "L", "2025-01", "2025-02", 50.0]])
    rows = pd.DataFrame({"sku": "B", "location": "L", "period": ["2025-01", "2025-02"],
                         "baseline_forecast": [100.0, 200.0]})
    load, exc = promotion_load(p, rows, products_frame(PRODUCTS))
    assert load["period"].tolist() == ["2025-01", "2025-02"]  # one row per month
    assert np.allclose(load["extra_units"], [50.0, 100.0])
    assert np.allclose(load["extra_pallets"], [10.0, 20.0])
    total = promotion_totals(load).iloc[0]
    assert np.isclose(total["extra_units"], 150.0) and np.isclose(total["extra_pallets"], 30.0)
    assert total["months"] == 2 and total["peak_month"] == "2025-02"
    assert exc["severity"].eq("info").all() and "30.0 pallets" in exc["message"].iloc[0]


def test_promotion_load_only_in_planned_months() -> None:
    """Months outside the plan (past, or an unplanned SKU x location) carry no load."""
    p = promos([["P1", "B", "L", "2024-12", "2025-01", 50.0],
                ["P2", "A", "X", "2025-01", "2025-01", 50.0]])
    rows = pd.DataFrame({"sku": "B", "location": "L", "period": ["2025-01", "2025-02"],
                         "baseline_forecast": [100.0, 200.0]})
    load, exc = promotion_load(p, rows, products_frame(PRODUCTS))
    assert load[["promo_id", "period"]].values.tolist() == [["P1", "2025-01"]]
    assert len(exc) == 1


def test_promotion_totals_are_the_sums_of_their_months() -> None:
    p = promos([["P1", "A", "L", "2025-01", "2025-03", 20.0],
                ["P2", "B", "L", "2025-02", "2025-03", 60.0],
                ["P2", "B", "M", "2025-02", "2025-02", 10.0]])  # same id, other warehouse
    rows = pd.DataFrame(
        [(s, loc, f"2025-0{m}", 10.0 * m) for s in "AB" for loc in "LM" for m in (1, 2, 3)],
        columns=["sku", "location", "period", "baseline_forecast"])
    load, _ = promotion_load(p, rows, products_frame(PRODUCTS))
    totals = promotion_totals(load.sample(frac=1.0, random_state=0))  # order does not matter
    assert len(totals) == 3
    by = load.groupby(["promo_id", "location"])[["extra_units", "extra_pallets"]].sum()
    got = totals.set_index(["promo_id", "location"])[["extra_units", "extra_pallets"]]
    pd.testing.assert_frame_equal(got.sort_index(), by.sort_index())
    assert promotion_totals(load.iloc[0:0]).empty
