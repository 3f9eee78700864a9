"""plan_changes: which rows differ from the previous published plan, and how."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data_contracts.periods import add_months
from data_contracts.tables import PLAN_CHANGES_COLUMNS
from reconciliation.plan_changes import compute_plan_changes, no_plan_changes
from reconciliation.settings import PlanSettings

COLUMNS = ["sku", "location", "period", "consensus_demand", "planned_receipts",
           "order_release_period"]


def _plan(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=COLUMNS)


def _diff(new: pd.DataFrame, old: pd.DataFrame | None, **kw) -> pd.DataFrame:
    return compute_plan_changes(new, old, "2026-11", 2, **kw)


BEFORE = ("A", "L", "2027-01", 100.0, 50.0, "2026-12")


@pytest.mark.parametrize(
    ("after", "change"),
    [
        (("A", "L", "2027-01", 100.0, 80.0, "2026-12"), "increased"),
        (("A", "L", "2027-01", 100.0, 20.0, "2026-12"), "decreased"),
        (("A", "L", "2027-01", 100.0, 0.0, None), "cancelled"),
        (("A", "L", "2027-01", 100.0, 50.0, "2026-11"), "moved"),
        (("A", "L", "2027-01", 100.0, 70.0, "2026-11"), "moved"),  # timing beats quantity
        (("A", "L", "2027-01", 120.0, 50.0, "2026-12"), "increased"),  # receipts equal: demand
        (("A", "L", "2027-01", 90.0, 50.0, "2026-12"), "decreased"),
        (("A", "L", "2027-01", 90.0, 60.0, "2026-12"), "increased"),  # receipts first
    ],
)
def test_each_kind_of_change(after: tuple, change: str) -> None:
    got = _diff(_plan(after), _plan(BEFORE))
    assert got["change"].tolist() == [change]
    row = got.iloc[0]
    assert (row["previous_cycle"], row["previous_version"]) == ("2026-11", 2)
    assert row["planned_receipts_before"] == 50.0 and row["planned_receipts_after"] == after[4]
    assert row["consensus_demand_before"] == 100.0 and row["consensus_demand_after"] == after[3]


def test_receipts_from_nothing_are_new() -> None:
    got = _diff(_plan(("A", "L", "2027-01", 100.0, 40.0, "2026-12")),
                _plan(("A", "L", "2027-01", 100.0, 0.0, None)))
    assert got["change"].tolist() == ["new"]
    assert pd.isna(got.loc[0, "order_release_period_before"])
    assert got.loc[0, "order_release_period_after"] == "2026-12"


def test_a_key_only_in_one_plan_is_new_or_cancelled_with_empty_other_side() -> None:
    old = _plan(BEFORE, ("B", "L", "2027-01", 10.0, 0.0, None))
    new = _plan(("B", "L", "2027-01", 10.0, 0.0, None), ("C", "L", "2027-01", 5.0, 24.0, "2027-01"),
                ("D", "L", "2027-01", 7.0, 0.0, None))
    got = _diff(new, old).set_index("sku")
    assert got.loc["A", "change"] == "cancelled"
    assert np.isnan(got.loc["A", "planned_receipts_after"])
    assert got.loc["C", "change"] == "new"
    assert np.isnan(got.loc["C", "consensus_demand_before"])
    # Demand without an order where the key was absent: more demand, nothing to order.
    assert got.loc["D", "change"] == "increased"
    assert "B" not in got.index  # unchanged


def test_float_noise_within_tolerance_is_no_change() -> None:
    old = _plan(BEFORE, ("A", "L", "2027-02", 0.0, 0.0, None))
    new = _plan(("A", "L", "2027-01", 100.0 + 1e-9, 50.0 - 1e-10, "2026-12"),
                ("A", "L", "2027-02", 1e-9, 0.0, None))
    assert _diff(new, old).empty
    loose = PlanSettings(tolerance=0.5)
    moved_a_bit = _plan(("A", "L", "2027-01", 130.0, 50.0, "2026-12"))
    assert _diff(moved_a_bit, _plan(BEFORE), settings=loose).empty  # 30 < 0.5 x 130
    assert _diff(moved_a_bit, _plan(BEFORE))["change"].tolist() == ["increased"]


def test_no_previous_plan_gives_the_empty_table_with_its_dtypes() -> None:
    got = compute_plan_changes(_plan(BEFORE), None)
    assert got.empty and list(got.columns) == PLAN_CHANGES_COLUMNS
    assert got.dtypes.equals(no_plan_changes().dtypes)
    assert str(got["previous_version"].dtype) == "int64"
    assert str(got["planned_receipts_after"].dtype) == "float64"


def test_a_previous_plan_needs_its_name() -> None:
    with pytest.raises(ValueError, match="cycle and version"):
        compute_plan_changes(_plan(BEFORE), _plan(BEFORE))


def test_months_only_one_plan_covers_are_left_out() -> None:
    """The previous cycle's first month is history now; the new last month was not planned."""
    old = _plan(("A", "L", "2026-12", 10.0, 10.0, "2026-12"), BEFORE)
    new = _plan(("A", "L", "2027-01", 100.0, 50.0, "2026-12"),
                ("A", "L", "2027-02", 10.0, 99.0, "2027-01"))
    assert _diff(new, old).empty


def test_rows_are_sorted_by_key_and_typed() -> None:
    old = _plan(*[(sku, loc, period, 1.0, 1.0, period) for sku, loc, period in
                  [("B", "L", "2027-01"), ("A", "M", "2027-02"), ("A", "L", "2027-02"),
                   ("A", "L", "2027-01")]])
    new = old.assign(planned_receipts=2.0)
    got = _diff(new, old)
    assert got[["sku", "location", "period"]].values.tolist() == [
        ["A", "L", "2027-01"], ["A", "L", "2027-02"], ["A", "M", "2027-02"], ["B", "L", "2027-01"]]
    assert got.dtypes.equals(no_plan_changes().dtypes)


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(pd.errors.MergeError):
        _diff(_plan(BEFORE, BEFORE), _plan(BEFORE))


# ---------------------------------------------------------------- properties

QTY = st.one_of(st.just(0.0), st.floats(1e-3, 1e6, allow_nan=False),
                st.integers(0, 500).map(float))


@st.composite
def plans(draw: st.DrawFn) -> pd.DataFrame:
    """A consensus_plan-like frame: receipts are ordered `lead` months ahead, else no release."""
    rows = []
    for sku in draw(st.lists(st.sampled_from("ABCD"), min_size=1, max_size=4, unique=True)):
        lead = draw(st.integers(0, 2))
        for m in range(draw(st.integers(1, 4))):
            period = add_months("2027-01", m)
            receipts = draw(QTY)
            release = add_months(period, -lead) if receipts > 0 else None
            rows.append((sku, "L", period, draw(QTY), receipts, release))
    return _plan(*rows)


def _values(df: pd.DataFrame, side: str) -> pd.DataFrame:
    cols = {f"{c}_{side}": c for c in COLUMNS[3:]}
    return df[["sku", "location", "period", *cols]].rename(columns=cols)


@settings(max_examples=80, deadline=None)
@given(plan=plans())
def test_a_plan_against_itself_changes_nothing(plan: pd.DataFrame) -> None:
    assert _diff(plan, plan.sample(frac=1, random_state=0)).empty


@settings(max_examples=120, deadline=None)
@given(old=plans(), new=plans())
def test_every_listed_row_really_differs_and_every_difference_is_listed(
    old: pd.DataFrame, new: pd.DataFrame
) -> None:
    got = _diff(new, old)
    key = ["sku", "location", "period"]
    assert not got.duplicated(key).any()
    assert got[key].values.tolist() == sorted(got[key].values.tolist())
    both = set(old["period"]) & set(new["period"])
    assert set(got["period"]) <= both
    # The before/after values are those of the two plans.
    for side, plan in (("before", old), ("after", new)):
        listed = _values(got, side).merge(plan, on=key, how="left", suffixes=("", "_plan"))
        for c in COLUMNS[3:]:
            a, b = listed[c], listed[f"{c}_plan"]
            assert ((a == b) | (a.isna() & b.isna())).all(), (side, c)
    # Independently: a row differs when a quantity differs by more than the tolerance or
    # the release month differs (missing key = nothing demanded, nothing ordered).
    tol = PlanSettings().tolerance
    full = (old[old["period"].isin(both)]
            .merge(new[new["period"].isin(both)], on=key, how="outer", suffixes=("_b", "_a")))
    differs = pd.Series(False, index=full.index)
    for c in ("consensus_demand", "planned_receipts"):
        a, b = full[f"{c}_a"].fillna(0.0), full[f"{c}_b"].fillna(0.0)
        differs |= (a - b).abs() > tol * np.maximum(1.0, np.maximum(a.abs(), b.abs()))
    release = full[["order_release_period_a", "order_release_period_b"]].fillna("")
    differs |= release["order_release_period_a"] != release["order_release_period_b"]
    expected = full.loc[differs, key].sort_values(key).values.tolist()
    assert got[key].values.tolist() == expected
    # The kinds agree with the receipts.
    rb = got["planned_receipts_before"].fillna(0.0)
    ra = got["planned_receipts_after"].fillna(0.0)
    assert (ra[got["change"] == "new"] > 0).all() and (rb[got["change"] == "new"] == 0).all()
    assert (ra[got["change"] == "cancelled"] == 0).all()
    assert (rb[got["change"] == "cancelled"] > 0).all()
    moved = got["change"] == "moved"
    assert (got.loc[moved, "order_release_period_before"]
            != got.loc[moved, "order_release_period_after"]).all()


def test_by_location_with_the_whole_plans_months_equals_the_whole_comparison() -> None:
    # Location M is new in this plan: alone, its partition has no previous rows and would
    # share no month with them; with the whole plans' months its rows are `new`, as in the
    # whole comparison.
    old = _plan(("A", "L", "2027-01", 10.0, 5.0, "2026-12"), ("A", "L", "2027-02", 10.0, 0.0, None))
    new = _plan(("A", "L", "2027-01", 10.0, 6.0, "2026-12"), ("A", "L", "2027-02", 10.0, 0.0, None),
                ("A", "M", "2027-01", 10.0, 4.0, "2026-12"), ("A", "M", "2027-03", 9.0, 3.0, None))
    whole = _diff(new, old)
    assert set(whole["location"]) == {"L", "M"}
    months = set(new["period"]) & set(old["period"])
    parts = [_diff(new[new["location"] == loc], old[old["location"] == loc], periods=months)
             for loc in ("L", "M")]
    assert _diff(new[new["location"] == "M"], old[old["location"] == "M"]).empty
    by_location = pd.concat(parts, ignore_index=True).sort_values(["sku", "location", "period"])
    pd.testing.assert_frame_equal(by_location.reset_index(drop=True), whole)
