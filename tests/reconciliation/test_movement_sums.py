"""The waterfall and plan stability from per-location sums: the same table to the bit whether
the plans arrive whole or one group of locations at a time (a partitioned publish)."""

import itertools

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciliation import stability, waterfall

LOCATIONS = ["L1", "L2", "L3", "L4"]


@st.composite
def plans(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame, list[list[str]]]:
    """Last cycle's and this cycle's plans over random keys (some only in one plan, a location
    only in last cycle's), and a split of the sorted locations into consecutive groups."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    def plan(cycle: str, version: int, months: list[str], locations: list[str]) -> pd.DataFrame:
        keys = [(f"S{s}", loc, m) for s in range(4) for loc in locations for m in months
                if rng.random() < 0.8]
        n = len(keys)
        base = rng.gamma(2.0, 50.0, n) * rng.choice([1e-3, 1.0, 1e3], n)  # round-off at play
        return pd.DataFrame({
            "cycle": cycle, "plan_version": version,
            "sku": [k[0] for k in keys], "location": [k[1] for k in keys],
            "period": [k[2] for k in keys],
            "family": rng.choice(["F1", "F2", ""], n),
            "baseline_forecast": base, "promo_uplift_pct": rng.choice([0.0, 20.0], n),
            "sales_forecast": base * rng.uniform(0.5, 2.0, n),
            "sales_weight": rng.uniform(0, 1, n), "booked_qty": rng.uniform(0, 10, n),
            "override_qty": np.where(rng.random(n) < 0.1, 7.0, np.nan),
            "consensus_demand": base * rng.uniform(0.8, 1.2, n),
            "constrained_demand": base * rng.uniform(0.5, 1.0, n),
        })

    before = plan("2026-11", 2, ["2026-11", "2026-12", "2027-01"], LOCATIONS)
    now = plan("2026-12", 1, ["2026-12", "2027-01", "2027-02"], LOCATIONS[:3])
    cuts = draw(st.sets(st.integers(1, len(LOCATIONS) - 1)))
    edges = [0, *sorted(cuts), len(LOCATIONS)]
    groups = [LOCATIONS[a:b] for a, b in itertools.pairwise(edges)]
    return before, now, groups


def _rows(df: pd.DataFrame, locations: list[str]) -> pd.DataFrame:
    return df[df["location"].isin(locations)]


@settings(max_examples=60, deadline=None)
@given(plans())
def test_the_waterfall_by_location_group_is_the_whole_one(
        case: tuple[pd.DataFrame, pd.DataFrame, list[list[str]]]) -> None:
    before, now, groups = case
    whole = waterfall.compute_waterfall(now, before, "2026-11", 2)
    months = waterfall.overlap(now["period"], before["period"])
    sums = pd.concat([waterfall.location_sums(_rows(now, g), _rows(before, g), months)
                      for g in reversed(groups)], ignore_index=True)  # any order of parts
    parted = waterfall.waterfall_from_sums(sums, "2026-11", 2)
    pd.testing.assert_frame_equal(parted, whole, check_exact=True)
    assert not whole.empty


@settings(max_examples=60, deadline=None)
@given(plans())
def test_stability_by_location_group_is_the_whole_one(
        case: tuple[pd.DataFrame, pd.DataFrame, list[list[str]]]) -> None:
    before, now, groups = case
    both = pd.concat([before, now], ignore_index=True)
    whole = stability.compute_stability(both)
    overlap = stability.overlaps(stability.cycle_periods(both))
    sums = pd.concat([stability.location_sums(_rows(both, g), overlap)
                      for g in reversed(groups)], ignore_index=True)
    parted = stability.stability_from_sums(sums, overlap, {"2026-11": 2, "2026-12": 1})
    pd.testing.assert_frame_equal(parted, whole, check_exact=True)
    # The location only last cycle's plan has is counted as volume gone.
    gone = before[(before["location"] == "L4") & before["period"].isin(now["period"])]
    total = whole[whole["level"] == "total"].iloc[0]
    assert total["previous_units"] >= gone["consensus_demand"].sum() > 0

