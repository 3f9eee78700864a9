"""Computed safety stock: the formula, its fallbacks, given values winning, the LP holding it."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from data_contracts.outputs import SafetyStock
from data_contracts.tables import SAFETY_STOCK_COLUMNS
from reconciliation import PlanSettings, build_plan
from reconciliation.safety_stock import WIDE_Z, compute_safety_stock
from tests.reconciliation.test_capacity import CYCLE, one_location

CV_H = 4


def error_frame(rows: dict[tuple[str, str], tuple[list[float], list[float], int]]
                ) -> pd.DataFrame:
    """(sku, location) -> (sigma_cv per k, sigma_pooled per k, cv windows)."""
    return pd.DataFrame([
        (sku, loc, k + 1, own[k], pooled[k], w)
        for (sku, loc), (own, pooled, w) in rows.items() for k in range(CV_H)
    ], columns=["sku", "location", "months", "sigma_cv", "sigma_pooled", "cv_windows"])


def world(lead: int = 1, given_ss: float = np.nan, status: str = "active"
          ) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, int]:
    tables, baseline, h = one_location({"A": [10.0] * 8}, lead=lead, on_hand=0.0,
                                       safety_stock=given_ss)
    tables["products"]["status"] = status
    return tables, baseline, h


def keys() -> pd.DataFrame:
    return pd.DataFrame({"sku": ["A"], "location": ["W"]})


def test_shrunk_cv_sigma_times_z_over_lead_time_plus_one() -> None:
    tables, baseline, _ = world(lead=1)
    fe = error_frame({("A", "W"): ([1, 4, 6, 8], [2, 8, 9, 10], 3)})
    ss = compute_safety_stock(tables, keys(), fe, baseline, CYCLE,
                              PlanSettings(service_level=0.9, safety_stock_prior_windows=1.0))
    row = ss.iloc[0]
    sigma = np.sqrt((3 * 4.0**2 + 1 * 8.0**2) / 4)  # k = lead + 1 = 2
    assert list(ss.columns) == SAFETY_STOCK_COLUMNS
    assert (row.source, row.error_method, row.months_protected) == ("computed", "cv", 2)
    assert row.error_sigma == pytest.approx(sigma)
    assert row.z == pytest.approx(norm.ppf(0.9))
    assert row.safety_stock_units == np.ceil(norm.ppf(0.9) * sigma)
    SafetyStock.validate(ss)


def test_beyond_the_cv_horizon_sigma_grows_with_the_root_of_months() -> None:
    tables, baseline, _ = world(lead=8)  # 9 months protected, CV measured 4
    fe = error_frame({("A", "W"): ([1, 2, 3, 4], [1, 2, 3, 4], 3)})
    ss = compute_safety_stock(tables, keys(), fe, baseline, CYCLE,
                              PlanSettings(safety_stock_prior_windows=0.0))
    assert ss["error_sigma"].iloc[0] == pytest.approx(4 * np.sqrt(9 / 4))


def test_fallbacks_pooled_then_interval() -> None:
    tables, baseline, _ = world(lead=1)
    pooled_only = error_frame({("A", "W"): ([np.nan] * 4, [3, 5, 7, 9], 0)})
    ss = compute_safety_stock(tables, keys(), pooled_only, baseline, CYCLE, PlanSettings())
    assert (ss["error_method"].iloc[0], ss["error_sigma"].iloc[0]) == ("pooled", 5)
    # Neither: the baseline's 95 % upper half-width as 1.96 sigma per month, months independent.
    baseline = baseline.assign(hi_95=baseline["forecast"] + 2 * WIDE_Z)
    nothing = error_frame({("A", "W"): ([np.nan] * 4, [np.nan] * 4, 0)})
    ss = compute_safety_stock(tables, keys(), nothing, baseline, CYCLE, PlanSettings())
    assert ss["error_method"].iloc[0] == "interval"
    assert ss["error_sigma"].iloc[0] == pytest.approx(2 * np.sqrt(2))


def test_given_values_win_and_phase_out_gets_none() -> None:
    fe = error_frame({("A", "W"): ([5] * 4, [5] * 4, 3)})
    tables, baseline, _ = world(given_ss=7.0)
    ss = compute_safety_stock(tables, keys(), fe, baseline, CYCLE, PlanSettings())
    assert (ss["source"].iloc[0], ss["safety_stock_units"].iloc[0]) == ("given", 7.0)
    assert ss["error_sigma"].isna().all()
    tables, baseline, _ = world(status="phase_out")
    ss = compute_safety_stock(tables, keys(), fe, baseline, CYCLE, PlanSettings())
    assert (ss["source"].iloc[0], ss["safety_stock_units"].iloc[0]) == ("none", 0.0)
    SafetyStock.validate(ss)


def test_family_service_level_overrides_the_default() -> None:
    tables, baseline, _ = world()
    fe = error_frame({("A", "W"): ([5] * 4, [5] * 4, 3)})
    ss = compute_safety_stock(tables, keys(), fe, baseline, CYCLE,
                              PlanSettings(service_level_by_family={"F": 0.99}))
    assert ss["service_level"].iloc[0] == 0.99
    with pytest.raises(ValueError, match="service levels"):
        PlanSettings(service_level_by_family={"F": 1.2})


def test_the_lp_holds_the_computed_stock_as_a_given_one() -> None:
    fe = error_frame({("A", "W"): ([4, 6, 8, 10], [4, 6, 8, 10], 3)})
    tables, baseline, h = world(lead=1)
    res = build_plan(tables, baseline, CYCLE, h, forecast_error=fe)
    target = res.safety_stock["safety_stock_units"].iloc[0]
    assert res.safety_stock["source"].iloc[0] == "computed" and target > 0
    held = res.consensus_plan["projected_on_hand"].to_numpy()
    # From the first month a receipt can land, the buffer is kept to the last month.
    np.testing.assert_allclose(held[1:], target, atol=1.0)
    given_tables, _, _ = world(lead=1, given_ss=target)
    as_given = build_plan(given_tables, baseline, CYCLE, h).consensus_plan
    np.testing.assert_allclose(as_given["projected_on_hand"], held)
    # Without the baseline's error nothing is computed: no buffer.
    plain = build_plan(tables, baseline, CYCLE, h)
    assert plain.safety_stock["source"].iloc[0] == "none"
    assert plain.consensus_plan["projected_on_hand"].max() == 0


@settings(max_examples=25, deadline=None)
@given(own=st.lists(st.floats(0, 1e4), min_size=CV_H, max_size=CV_H),
       pooled=st.lists(st.floats(0, 1e4), min_size=CV_H, max_size=CV_H),
       windows=st.integers(1, 5), lead=st.integers(0, 10),
       levels=st.tuples(st.floats(0.51, 0.99), st.floats(0.51, 0.99)),
       prior=st.floats(0, 20))
def test_safety_stock_is_nonnegative_and_grows_with_service_level(
        own: list[float], pooled: list[float], windows: int, lead: int,
        levels: tuple[float, float], prior: float) -> None:
    tables, baseline, _ = world(lead=lead)
    fe = error_frame({("A", "W"): (sorted(own), sorted(pooled), windows)})
    low, high = sorted(levels)
    units = [compute_safety_stock(tables, keys(), fe, baseline, CYCLE, PlanSettings(
        service_level=lv, safety_stock_prior_windows=prior))["safety_stock_units"].iloc[0]
        for lv in (low, high)]
    assert 0 <= units[0] <= units[1]
    # Between the two estimates it draws on, whatever their weights.
    k = min(lead + 1, CV_H) - 1
    grow = np.sqrt(max(lead + 1, CV_H) / CV_H)
    sigma = compute_safety_stock(tables, keys(), fe, baseline, CYCLE, PlanSettings(
        safety_stock_prior_windows=prior))["error_sigma"].iloc[0]
    bounds = sorted([sorted(own)[k] * grow, sorted(pooled)[k] * grow])
    assert bounds[0] - 1e-9 <= sigma <= bounds[1] + 1e-9
