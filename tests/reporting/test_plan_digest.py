"""The report's digests of the plan and of plan_changes are the same however the tables are cut
into groups of locations, and the report drawn from them is that drawn from the frames."""

from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reporting import figures as fig
from reporting import render_markdown_summary, render_report
from reporting.plan_digest import (
    ChangeDigest,
    PlanDigest,
    change_digest,
    digest_plan,
    merge_change_digests,
    plan_digest,
    plan_partial,
)

MEASURE_COLUMNS = ["sales_forecast", "baseline_forecast", "consensus_demand",
                   "constrained_demand", "shortfall", "planned_receipts"]


def _random_plan(seed: int, n_locations: int, n_skus: int, n_periods: int) -> pd.DataFrame:
    """A plan with values whose sums depend on the order they are added in, its rows shuffled
    (the locations interleaved), some firm receipts and some months without a sales number."""
    rng = np.random.default_rng(seed)
    locations = [f"L{i:02d}" for i in range(n_locations)]
    keys = pd.MultiIndex.from_product(
        [[f"S{i:03d}" for i in range(n_skus)], locations,
         [f"2027-{m:02d}" for m in range(1, n_periods + 1)]],
        names=["sku", "location", "period"]).to_frame(index=False)
    keys = keys.sample(frac=rng.uniform(0.5, 1.0), random_state=seed)  # not every series
    n = len(keys)
    values = {c: rng.lognormal(3.0, 2.0, n) * rng.choice([0.1, 1.0, 1e6], n)
              for c in MEASURE_COLUMNS}
    values["sales_forecast"] = np.where(rng.random(n) < 0.3, 0.0, values["sales_forecast"])
    plan = keys.assign(**values, firm_receipt=rng.random(n) < 0.2)
    return plan.reset_index(drop=True)


def _cut(plan: pd.DataFrame, cuts: list[int]) -> list[pd.DataFrame]:
    """Consecutive groups of the sorted locations, each part's rows in the plan's order."""
    locations = sorted(plan["location"].unique())
    bounds = [0, *sorted(set(cuts)), len(locations)]
    groups = [locations[a:b] for a, b in pairwise(bounds) if b > a]
    return [plan[plan["location"].isin(g)] for g in groups]


def _digest_of_parts(plan: pd.DataFrame, parts: list[pd.DataFrame], n: int) -> PlanDigest:
    def rows_of(skus: list[str]) -> pd.DataFrame:  # as read back filtered by sku
        return pd.concat(parts)[lambda df: df["sku"].isin(skus)]

    return digest_plan([plan_partial(p, n) for p in parts], n, rows_of)


def _assert_same_digest(a: PlanDigest, b: PlanDigest) -> None:
    assert a.headline == b.headline  # floats compared exactly
    assert a.periods == b.periods and a.focus_n == b.focus_n
    assert (a.firm_rows, a.firm_units, a.has_firm_receipt) == (
        b.firm_rows, b.firm_units, b.has_firm_receipt)
    for name in ("monthly", "focus", "focus_rows"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True,
                                      obj=name)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_locations=st.integers(1, 6), n_skus=st.integers(1, 8),
       n_periods=st.integers(1, 5), n=st.integers(0, 8),
       cuts=st.lists(st.integers(1, 5), max_size=5))
def test_the_digest_of_location_groups_is_the_digest_of_the_whole(
    seed: int, n_locations: int, n_skus: int, n_periods: int, n: int, cuts: list[int]
) -> None:
    plan = _random_plan(seed, n_locations, n_skus, n_periods)
    whole = plan_digest(plan, n)
    parts = _cut(plan, [c for c in cuts if c < plan["location"].nunique()])
    _assert_same_digest(whole, _digest_of_parts(plan, parts, n))
    # The figures are the plan's.
    h = fig.headline_totals(plan)
    assert (whole.headline.n_skus, whole.headline.n_series, whole.headline.n_periods) == (
        h.n_skus, h.n_series, h.n_periods)
    assert whole.headline.consensus == pytest.approx(h.consensus, rel=1e-12)
    assert whole.periods == tuple(sorted(plan["period"].unique()))
    assert whole.firm_rows == int(plan["firm_receipt"].sum())
    pd.testing.assert_frame_equal(whole.focus, fig.focus_series(plan, n), check_exact=True)
    pairs = set(zip(whole.focus["sku"], whole.focus["location"], strict=True))
    assert set(zip(whole.focus_rows["sku"], whole.focus_rows["location"], strict=True)) == pairs
    assert len(whole.focus_rows) == plan.set_index(["sku", "location"]).index.isin(
        list(pairs)).sum()


def test_a_location_in_two_parts_is_refused() -> None:
    plan = _random_plan(1, 2, 3, 2)
    with pytest.raises(ValueError, match="more than one part"):
        digest_plan([plan_partial(plan, 2), plan_partial(plan, 2)], 2, lambda skus: plan)


def test_an_empty_plan_has_a_digest_of_nothing() -> None:
    plan = _random_plan(1, 2, 3, 2).iloc[0:0]
    d = plan_digest(plan, 6)
    assert d.headline.sales == 0 and d.headline.n_skus == 0 and d.periods == ()
    assert d.monthly.empty and d.focus.empty and d.focus_rows.empty
    none = digest_plan([], 6, lambda skus: plan)  # no part at all
    assert none.headline == d.headline and none.monthly.empty and not none.has_firm_receipt


def _changes() -> pd.DataFrame:
    return pd.DataFrame({
        "sku": ["A", "B", "C", "D", "E"], "location": ["L1", "L1", "L2", "L3", "L3"],
        "period": "2027-01", "change": ["increased", "increased", "new", "moved", "cancelled"],
        "previous_cycle": "2026-11", "previous_version": 2,
        "planned_receipts_before": [10.0, 0.0, 0.0, 5.0, 3.0],
        "planned_receipts_after": [12.0, 0.0, 4.0, 5.0, 0.0],
        "order_release_period_before": ["2026-12", None, None, "2026-12", "2026-12"],
        "order_release_period_after": ["2026-12", None, "2026-12", "2027-01", None],
    })


def _assert_same_changes(a: ChangeDigest, b: ChangeDigest) -> None:
    assert (a.rows, a.previous_cycle, a.previous_version) == (
        b.rows, b.previous_cycle, b.previous_version)
    pd.testing.assert_frame_equal(a.counts, b.counts, check_exact=True)


def test_the_change_digest_of_location_groups_is_that_of_the_whole() -> None:
    changes = _changes()
    whole = change_digest(changes)
    assert whole.rows == 5 and (whole.previous_cycle, whole.previous_version) == ("2026-11", 2)
    parts = [changes[changes["location"].isin(g)] for g in (["L1"], ["L2"], ["L3"], ["L4"])]
    _assert_same_changes(whole, merge_change_digests([change_digest(p) for p in parts]))
    nothing = merge_change_digests([change_digest(changes.iloc[0:0])])
    assert nothing.empty and nothing.previous_cycle is None
    assert nothing.counts["rows"].tolist() == [0] * 5


def _with_fence_and_changes(small_inputs: dict[str, Any]) -> dict[str, Any]:
    plan = small_inputs["consensus_plan"]
    firm = np.random.default_rng(3).random(len(plan)) < 0.1
    return {**small_inputs, "consensus_plan": plan.assign(firm_receipt=firm),
            "plan_changes": _changes()}


@pytest.mark.parametrize("max_charts", [0, 4, 6])
def test_the_report_of_the_digests_is_the_report_of_the_frames(
    small_inputs: dict[str, Any], max_charts: int
) -> None:
    inputs = {**_with_fence_and_changes(small_inputs), "max_sku_charts": max_charts}
    plan, changes = inputs["consensus_plan"], inputs["plan_changes"]
    expected = render_report(**inputs)
    assert "receipts of last cycle's plan kept" in expected and "5 rows differ" in expected
    if max_charts:
        assert expected.count('class="skuchart"') == max_charts
    # Built as the partitioned publish does: per group of locations, a digest built for
    # more charts than drawn.
    parts = _cut(plan, [1, 2])
    assert len(parts) == 3
    digest = _digest_of_parts(plan, parts, 6)
    change_parts = [change_digest(changes[changes["location"] == loc])
                    for loc in sorted(changes["location"].unique())]
    assert render_report(**{**inputs, "consensus_plan": digest,
                            "plan_changes": merge_change_digests(change_parts)}) == expected
    assert render_report(**{**inputs, "consensus_plan": plan_digest(plan, max_charts),
                            "plan_changes": change_digest(changes)}) == expected


def test_a_digest_with_fewer_focus_series_than_charts_is_refused(
    small_inputs: dict[str, Any]
) -> None:
    digest = plan_digest(small_inputs["consensus_plan"], 2)
    with pytest.raises(ValueError, match="top 2"):
        render_report(**{**small_inputs, "consensus_plan": digest, "max_sku_charts": 6})


def test_the_markdown_summary_takes_the_digest_too(small_inputs: dict[str, Any]) -> None:
    digest = plan_digest(small_inputs["consensus_plan"], 6)
    md = render_markdown_summary(**{**small_inputs, "consensus_plan": digest})
    assert f"{digest.headline.n_series:,} SKU × locations" in md
