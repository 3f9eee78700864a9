"""Plan stability: the share of last cycle's volume each cycle's plan changed."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciliation.stability import STABILITY_COLUMNS, compare_plans, compute_stability


def _plans(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=["cycle", "plan_version", "sku", "location",
                                             "period", "consensus_demand", "family"])


def test_share_changed_per_cycle_family_and_total() -> None:
    plans = _plans(
        ("2025-01", 1, "A", "L", "2025-01", 50.0, "F1"),  # not in the overlap
        ("2025-01", 1, "A", "L", "2025-02", 100.0, "F1"),
        ("2025-01", 1, "B", "L", "2025-02", 100.0, "F2"),
        ("2025-02", 1, "A", "L", "2025-02", 999.0, "F1"),  # superseded by version 2
        ("2025-02", 2, "A", "L", "2025-02", 90.0, "F1"),
        ("2025-02", 2, "C", "L", "2025-02", 30.0, "F2"),  # B gone (-100), C new (+30)
        ("2025-02", 2, "C", "L", "2025-03", 30.0, "F2"),
    )
    out = compute_stability(plans)
    assert list(out.columns) == STABILITY_COLUMNS
    total = out[out["key"] == "ALL"].iloc[0]
    assert (total["cycle"], total["plan_version"]) == ("2025-02", 2)
    assert (total["previous_cycle"], total["previous_version"]) == ("2025-01", 1)
    assert total["overlap_months"] == 1
    assert total["changed_units"] == pytest.approx(10 + 100 + 30)
    assert total["changed_share"] == pytest.approx(140 / 200)
    f2 = out[out["key"] == "F2"].iloc[0]
    assert f2["changed_share"] == pytest.approx(130 / 100)


def test_first_cycle_and_gaps_have_no_row_and_zero_volume_is_nan() -> None:
    plans = _plans(("2025-01", 1, "A", "L", "2025-03", 0.0, "F"),
                   ("2025-02", 1, "A", "L", "2025-03", 5.0, "F"),
                   ("2025-04", 1, "A", "L", "2025-04", 5.0, "F"))  # 2025-03 missing
    out = compute_stability(plans)
    assert list(out["cycle"].unique()) == ["2025-02"]
    assert np.isnan(out["changed_share"]).all()
    assert compute_stability(None).empty


same = st.lists(st.tuples(st.sampled_from("ABC"), st.sampled_from(["2025-02", "2025-03"]),
                          st.floats(0, 1e6)), max_size=6)


@settings(max_examples=100, deadline=None)
@given(rows=same, scale=st.floats(0, 3))
def test_unchanged_plan_is_zero_and_share_bounded_by_volumes(rows: list, scale: float) -> None:
    df = pd.DataFrame(rows, columns=["sku", "period", "consensus_demand"]).drop_duplicates(
        ["sku", "period"]).assign(location="L", family="F")
    out = compare_plans(df, df)
    assert (out["changed_units"] == 0).all()
    moved = compare_plans(df.assign(consensus_demand=df["consensus_demand"] * scale), df)
    prev, cur, changed = (moved[c].to_numpy(float) for c in
                          ("previous_units", "current_units", "changed_units"))
    # |a - b| <= a + b row by row, and >= |sum a - sum b| (triangle inequality).
    assert (changed <= prev + cur + 1e-6).all()
    assert (changed >= np.abs(cur - prev) - 1e-6 * np.maximum(1, prev)).all()
