"""Each sales team's bias per past cycle, with the trust weight its numbers got."""

import numpy as np
import pandas as pd
import pytest

from reconciliation.plan import build_plan
from reconciliation.sales_bias import BIAS_COLUMNS, compute_sales_bias


def _history() -> pd.DataFrame:
    periods = [f"2024-{m:02d}" for m in range(1, 13)]
    return pd.DataFrame({"sku": "A", "location": "L", "period": periods, "qty": 100.0})


def _submissions(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=["cycle", "sku", "location", "period", "qty",
                                             "submitted_by"])


def test_bias_per_team_and_cycle_with_weights_from_the_plans() -> None:
    fh = _submissions(
        ("2024-10", "A", "L", "2024-10", 150.0, "north"),
        ("2024-10", "A", "L", "2024-11", 130.0, "north"),
        ("2024-11", "A", "L", "2024-11", 110.0, "north"),
        ("2024-11", "A", "L", "2024-12", 80.0, "south"),
        ("2024-12", "A", "L", "2025-01", 500.0, "north"),  # no actual yet
    )
    past = pd.DataFrame({
        "cycle": "2024-10", "plan_version": 1, "sku": "A", "location": "L",
        "period": ["2024-10", "2024-11"], "sales_forecast": [150.0, 130.0],
        "baseline_forecast": 100.0, "consensus_demand": [120.0, 110.0],
        "submitted_by": "north", "sales_weight": [0.4, 0.2]})
    plan = pd.DataFrame({"sku": "A", "location": "L", "period": ["2025-01", "2025-02"],
                         "submitted_by": ["north", ""], "sales_weight": [0.1, 0.0]})
    out = compute_sales_bias(_history(), fh, "2025-01", past, plan)
    assert list(out.columns) == BIAS_COLUMNS
    got = out.set_index(["submitted_by", "submission_cycle"])
    north = got.loc[("north", "2024-10")]
    assert north["n_obs"] == 2 and north["sales_bias"] == pytest.approx(80 / 200)
    assert north["consensus_bias"] == pytest.approx(30 / 200)
    assert north["sales_weight"] == pytest.approx(0.3)
    assert got.loc[("north", "2024-11"), "sales_bias"] == pytest.approx(0.1)
    assert np.isnan(got.loc[("north", "2024-11"), "sales_weight"])  # no plan of that cycle
    assert got.loc[("south", "2024-11"), "sales_bias"] == pytest.approx(-0.2)
    now = got.loc[("north", "2025-01")]  # this cycle: the weight, no actuals yet
    assert now["sales_weight"] == pytest.approx(0.1) and np.isnan(now["sales_bias"])
    assert ("", "2025-01") not in got.index


def test_nothing_to_measure_is_empty() -> None:
    out = compute_sales_bias(_history(), None, "2025-01")
    assert out.empty and list(out.columns) == BIAS_COLUMNS


def test_generated_world_every_team_has_a_trend(world) -> None:
    w = world(seed=5, cycle="2025-01")
    plan = build_plan(w.tables, w.baseline, w.cycle, w.horizon).consensus_plan
    out = compute_sales_bias(w.tables["sales_history"], w.tables["forecast_history"], w.cycle,
                             plan=plan)
    past = out[out["submission_cycle"] < w.cycle]
    assert past["submission_cycle"].nunique() >= 2 and past["sales_bias"].notna().all()
    assert out.loc[out["submission_cycle"] == w.cycle, "sales_weight"].between(0, 1).all()


def test_location_sums_make_the_whole_table_when_a_location_starts_later() -> None:
    """B's history starts a year after A's: B's submission from before its first sale is
    judged against a zero actual (SPEC: absent months are zero demand) when B is summed alone
    with the catalogue's first month, as in the whole table; without it the point is lost."""
    from data_contracts.periods import add_months
    from reconciliation.sales_bias import bias_from_sums, bias_sums, weight_sums

    rows = []
    for loc, start in (("A", "2023-01"), ("B", "2024-01")):
        p = start
        while p < "2025-01":
            rows.append(("s1", loc, p, 100.0))
            p = add_months(p, 1)
    hist = pd.DataFrame(rows, columns=["sku", "location", "period", "qty"])
    fh = pd.DataFrame([("2023-06", "s1", "A", "2023-07", 90.0, "t1"),
                       ("2023-06", "s1", "B", "2023-07", 50.0, "t1"),
                       ("2024-06", "s1", "B", "2024-07", 120.0, "t1")],
                      columns=["cycle", "sku", "location", "period", "qty", "submitted_by"])
    whole = compute_sales_bias(hist, fh, "2025-01")
    assert whole.loc[whole["submission_cycle"] == "2023-06", "n_obs"].tolist() == [2]

    def by_location(months: tuple[str, str] | None) -> pd.DataFrame:
        parts = [bias_sums(hist[hist["location"] == loc], fh[fh["location"] == loc], "2025-01",
                           months=months) for loc in ("A", "B")]
        return bias_from_sums(pd.concat(parts, ignore_index=True), weight_sums(None))

    pd.testing.assert_frame_equal(by_location(("2023-01", "2024-12")), whole, check_exact=True)
    with pytest.raises(AssertionError):  # each location's own first month: B's point is lost
        pd.testing.assert_frame_equal(by_location(None), whole, check_exact=True)
