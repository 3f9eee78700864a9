"""The plan waterfall: last cycle's consensus -> this cycle's, an exact sequential attribution."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciliation.plan import build_plan
from reconciliation.waterfall import STEP_NAMES, WATERFALL_COLUMNS, compute_waterfall

COLUMNS = ["sku", "location", "period", "family", "baseline_forecast", "promo_uplift_pct",
           "sales_forecast", "sales_weight", "booked_qty", "override_qty", "consensus_demand",
           "constrained_demand"]


def _row(sku: str, period: str, b: float, u: float = 0.0, s: float = 0.0, w: float = 0.0,
         o: float = 0.0, v: float = np.nan, constrained: float | None = None,
         family: str = "F") -> dict:
    ref = b * (1 + u / 100)
    c = v if not np.isnan(v) else max(ref + w * (s - ref), o)
    return dict(zip(COLUMNS, [sku, "L", period, family, b, u, s, w, o, v, c,
                              c if constrained is None else constrained], strict=True))


def _plan(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=COLUMNS)


def _steps(wf: pd.DataFrame, key: str = "ALL") -> dict[str, float]:
    rows = wf[wf["key"] == key]
    return dict(zip(rows["step"], rows["units"], strict=True))


def test_each_part_lands_in_its_step() -> None:
    before = _plan(_row("A", "2025-02", 100), _row("A", "2025-03", 100, s=200, w=0.5),
                   _row("A", "2025-01", 999))  # a month the new plan does not cover
    after = _plan(
        _row("A", "2025-02", 110, u=50, o=300, constrained=250),  # 165 -> booked 300
        _row("A", "2025-03", 100, s=100, w=0.5, v=80),  # sales step -50, override -20
        _row("A", "2025-04", 777),  # a month the old plan does not cover
    )
    wf = compute_waterfall(after, before, "2025-01", 3)
    steps = _steps(wf)
    assert steps == pytest.approx({
        "previous_consensus": 250, "baseline": 10, "promotions": 55, "sales": -50,
        "overrides": -20, "customer_orders": 135, "other": 0, "consensus": 380,
        "capacity": -50, "constrained_demand": 330})
    assert list(wf.columns) == WATERFALL_COLUMNS
    assert set(wf["previous_cycle"]) == {"2025-01"} and set(wf["previous_version"]) == {3}
    assert (wf["first_period"].iloc[0], wf["last_period"].iloc[0]) == ("2025-02", "2025-03")


def test_per_family_and_total_and_keys_in_one_plan_only() -> None:
    before = _plan(_row("A", "2025-02", 100, family="F1"), _row("B", "2025-02", 40, family="F2"))
    after = _plan(_row("A", "2025-02", 120, family="F1"), _row("C", "2025-02", 30, family="F2"))
    wf = compute_waterfall(after, before, "2025-01", 1)
    assert _steps(wf, "F1")["baseline"] == pytest.approx(20)
    # B gone (-40), C new (+30): both are baseline moves of the family.
    assert _steps(wf, "F2")["baseline"] == pytest.approx(-10)
    assert _steps(wf)["baseline"] == pytest.approx(10)
    assert list(wf["key"].drop_duplicates()) == ["ALL", "F1", "F2"]


def test_older_previous_plan_without_parts_goes_to_other() -> None:
    """A plan published before booked_qty/override_qty: its override shows in `other`."""
    before = _plan(_row("A", "2025-02", 100, v=150)).drop(columns=["booked_qty", "override_qty"])
    after = _plan(_row("A", "2025-02", 100, v=150))
    steps = _steps(compute_waterfall(after, before, "2025-01", 1))
    assert steps["overrides"] == pytest.approx(50) and steps["other"] == pytest.approx(-50)
    assert steps["consensus"] - steps["previous_consensus"] == pytest.approx(0)


def test_no_previous_plan_or_no_overlap_is_empty() -> None:
    plan = _plan(_row("A", "2025-02", 100))
    assert compute_waterfall(plan, None).empty
    assert compute_waterfall(plan, _plan(_row("A", "2024-12", 1)), "2024-12", 1).empty
    assert list(compute_waterfall(plan, None).columns) == WATERFALL_COLUMNS


quantity = st.floats(0, 1e6, allow_nan=False)
row = st.builds(
    lambda sku, period, b, u, s, w, o, v, cut, fam: _row(
        sku, period, b, u, s, w, o, v if v >= 0 else np.nan, None if cut is None else cut,
        fam),
    st.sampled_from(["A", "B", "C"]), st.sampled_from(["2025-01", "2025-02", "2025-03"]),
    quantity, st.floats(0, 300), quantity, st.floats(0, 1), quantity,
    st.floats(-1e6, 1e6), st.none() | quantity, st.sampled_from(["F1", "F2"]),
)
plans = st.lists(row, max_size=9).map(
    lambda rows: _plan(*rows).drop_duplicates(["sku", "location", "period"]))


@settings(max_examples=150, deadline=None)
@given(before=plans, after=plans, noise=st.floats(-1e3, 1e3))
def test_steps_sum_exactly_from_start_to_end(before: pd.DataFrame, after: pd.DataFrame,
                                             noise: float) -> None:
    # The published consensus may differ from its parts (a later rule): `other` closes it.
    after = after.assign(consensus_demand=after["consensus_demand"] + noise)
    wf = compute_waterfall(after, before, "2024-12", 1)
    if wf.empty:
        return
    for _, g in wf.groupby("key"):
        units = dict(zip(g["step"], g["units"], strict=True))
        assert list(g["step"]) == list(STEP_NAMES)
        to_consensus = units["previous_consensus"] + sum(
            units[s] for s in STEP_NAMES[1:STEP_NAMES.index("consensus")])
        scale = max(1.0, abs(units["previous_consensus"]), abs(units["consensus"]))
        assert abs(to_consensus - units["consensus"]) <= 1e-9 * scale
        assert units["consensus"] + units["capacity"] == pytest.approx(
            units["constrained_demand"], rel=1e-12, abs=1e-6)
    totals = wf[wf["key"] == "ALL"].set_index("step")["units"]
    families = wf[wf["level"] == "family"].groupby("step")["units"].sum()
    assert np.allclose(totals[families.index], families, rtol=1e-9, atol=1e-6)


def test_two_planned_cycles_need_no_other_step(world) -> None:
    """Real plans: the published parts rebuild each consensus, so `other` is zero."""
    w1, w2 = world(seed=3, cycle="2025-01"), world(seed=4, cycle="2025-02")
    p1 = build_plan(w1.tables, w1.baseline, w1.cycle, w1.horizon).consensus_plan
    p2 = build_plan(w2.tables, w2.baseline, w2.cycle, w2.horizon).consensus_plan
    wf = compute_waterfall(p2, p1, "2025-01", 1)
    steps = _steps(wf)
    assert steps["other"] == pytest.approx(0, abs=1e-6)
    both = set(p1["period"]) & set(p2["period"])
    assert steps["consensus"] == pytest.approx(
        p2.loc[p2["period"].isin(both), "consensus_demand"].sum())
    assert steps["previous_consensus"] == pytest.approx(
        p1.loc[p1["period"].isin(both), "consensus_demand"].sum())
    assert abs(steps["overrides"]) + abs(steps["sales"]) > 0
