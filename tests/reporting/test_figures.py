"""Key figures shared by the HTML pack and the Markdown summary."""

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reporting import figures as fig
from reporting.svg import HeatRow, Line, heatmap, line_chart, nice_ticks, utilisation_color


def _plan(rows: list[tuple[str, str, str, float, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        rows,
        columns=[
            "sku", "location", "period", "sales_forecast", "baseline_forecast",
            "consensus_demand", "constrained_demand",
        ],
    )  # fmt: skip


PLAN = _plan(
    [
        ("A", "DC-NORTH", "2026-12", 120, 100, 110, 110),
        ("A", "DC-NORTH", "2027-01", 120, 100, 110, 100),
        ("B", "DC-SOUTH", "2026-12", 0, 50, 50, 50),
        ("C", "DC-SOUTH", "2026-12", 300, 100, 150, 150),
    ]
)
PRODUCTS = pd.DataFrame(
    {"sku": ["A", "B", "C"], "family": ["F1", "F1", "F2"], "units_per_pallet": [10.0, 10.0, 50.0]}
)


def test_headline_totals_and_gap() -> None:
    h = fig.headline_totals(PLAN)
    assert (h.sales, h.baseline, h.consensus, h.constrained) == (540, 350, 420, 410)
    assert h.shortfall == 10  # derived when the column is absent
    assert h.gap_to_sales == -120
    assert h.gap_to_sales_pct == pytest.approx(-120 / 540)
    assert (h.n_skus, h.n_series, h.n_periods) == (3, 3, 2)


def test_headline_of_empty_plan_is_zero_not_error() -> None:
    h = fig.headline_totals(pd.DataFrame())
    assert h.sales == 0 and math.isnan(h.gap_to_sales_pct)


def test_monthly_totals_sorted_by_period() -> None:
    m = fig.monthly_totals(PLAN)
    assert m["period"].tolist() == ["2026-12", "2027-01"]
    assert m["consensus_demand"].tolist() == [310, 110]


def _family_plan(plan: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """family x location x period sums, the shape reconciliation publishes."""
    family = plan["sku"].map(dict(zip(products["sku"], products["family"], strict=True)))
    return (
        plan.assign(family=family.fillna(""))
        .groupby(["family", "location", "period"], as_index=False)[list(fig.MEASURES)]
        .sum()
    )


def test_family_totals_gap_in_units_and_percent() -> None:
    fam = fig.family_totals(_family_plan(PLAN, PRODUCTS)).set_index("family")
    assert fam.loc["F1", "gap_units"] == 270 - 240
    assert fam.loc["F2", "gap_pct"] == pytest.approx(-0.5)
    assert fam.loc["F1", "shortfall"] == 10  # derived when the column is absent


def test_family_totals_fold_the_tail() -> None:
    products = pd.DataFrame(
        {"sku": [f"S{i}" for i in range(40)], "family": [f"F{i}" for i in range(40)]}
    )
    plan = _plan([(f"S{i}", "L", "2026-12", 1, 1, float(i), 1) for i in range(40)])
    fam = fig.family_totals(_family_plan(plan, products), top_n=10)
    assert len(fam) == 10 and fam["family"].iloc[-1] == fig.OTHER_FAMILIES
    assert fam["consensus_demand"].sum() == sum(range(40))


def test_unknown_family_is_labelled() -> None:
    fam = fig.family_totals(_family_plan(PLAN, PRODUCTS.iloc[:1]))
    assert fig.UNKNOWN_FAMILY in set(fam["family"])


@pytest.mark.parametrize("family_plan", [None, pd.DataFrame()])
def test_family_totals_without_a_family_plan(family_plan: pd.DataFrame | None) -> None:
    assert fig.family_totals(family_plan).empty


def test_exceptions_errors_first_with_a_decision() -> None:
    exc = pd.DataFrame(
        {
            "sku": ["A", "B", "C", "D"],
            "location": "L",
            "period": "2027-01",
            "type": ["NEW_ITEM", "CAPACITY_SHORTFALL", "SALES_BIAS", "SOMETHING_ELSE"],
            "severity": ["info", "warning", "error", "warning"],
            "message": "m",
        }
    )
    top = fig.top_exceptions(exc)
    assert top["severity"].tolist() == ["error", "warning", "warning"]  # info left out
    assert "overtime" in top.loc[top["type"] == "CAPACITY_SHORTFALL", "decision"].iloc[0]
    assert top.loc[top["type"] == "SOMETHING_ELSE", "decision"].iloc[0] == fig.DEFAULT_DECISION
    assert fig.exception_counts(exc) == {"error": 1, "warning": 2, "info": 1}
    types = fig.exception_types(exc)
    assert types["type"].iloc[0] == "SALES_BIAS"


def test_only_info_exceptions_are_still_listed() -> None:
    exc = pd.DataFrame({"type": ["X"], "severity": ["info"], "message": ["m"]})
    assert len(fig.top_exceptions(exc)) == 1


def test_capacity_by_location_status() -> None:
    cap = pd.DataFrame(
        {
            "location": ["N", "N", "S"],
            "period": ["2026-12", "2027-01", "2026-12"],
            "inbound_pallets": [50, 120, 10],
            "inbound_capacity_pallets": [100, 100, 0],  # zero capacity: utilisation undefined
            "status": ["ok", "short", "overtime"],
            "overtime_cost": [0, 5, 7],
        }
    )
    per = fig.capacity_by_location(cap).set_index("location")
    assert per.loc["N", "short"] == 1 and per.loc["N", "short_months"] == ["2027-01"]
    assert per.loc["N", "peak_util"] == pytest.approx(1.2)
    assert fig.location_status(per.loc["N"]) == "short"
    assert fig.location_status(per.loc["S"]) == "overtime"
    assert math.isnan(per.loc["S", "peak_util"])


def _load(rows: list[tuple[str, str, str, float, str, float, float]]) -> pd.DataFrame:
    """promotion_load as published: one row per promotion x month."""
    df = pd.DataFrame(rows, columns=["promo_id", "sku", "location", "uplift_pct", "period",
                                     "extra_units", "extra_pallets"])
    span = df.groupby("promo_id")["period"]
    return df.assign(start_period=span.transform("min"), end_period=span.transform("max"))


LOAD = _load(
    [
        ("P1", "A", "DC-NORTH", 30.0, "2026-12", 30.0, 3.0),
        ("P1", "A", "DC-NORTH", 30.0, "2027-01", 30.0, 3.0),
        ("P2", "C", "DC-SOUTH", 10.0, "2026-12", 10.0, 0.2),
    ]
)


def test_promotion_view_reads_the_published_load() -> None:
    cap = pd.DataFrame({"location": ["DC-NORTH"], "period": ["2027-01"], "status": ["short"]})
    view = fig.promotion_view(LOAD, cap)
    assert view.top["promo_id"].tolist() == ["P1", "P2"]  # most extra units first
    assert view.top["extra_units"].tolist() == pytest.approx([60.0, 10.0])
    assert view.top["extra_pallets"].iloc[0] == pytest.approx(6.0)
    assert view.top["months"].tolist() == [2, 1]
    assert view.top["capacity_flag"].tolist() == ["2027-01 short", ""]
    assert view.n_promotions == 2
    assert (view.extra_units, view.extra_pallets) == pytest.approx((70.0, 6.2))
    by_month = view.by_month.set_index(["location", "period"])["extra_pallets"]
    assert by_month.to_dict() == pytest.approx(
        {("DC-NORTH", "2026-12"): 3.0, ("DC-NORTH", "2027-01"): 3.0, ("DC-SOUTH", "2026-12"): 0.2}
    )


def test_promotion_view_caps_the_table_not_the_totals() -> None:
    view = fig.promotion_view(LOAD, top_n=1)
    assert len(view.top) == 1 and view.n_promotions == 2
    assert view.extra_units == pytest.approx(70.0)


@pytest.mark.parametrize("load", [None, pd.DataFrame()])
def test_promotion_view_without_load(load: pd.DataFrame | None) -> None:
    view = fig.promotion_view(load)
    assert view.top.empty and view.by_month.empty and view.n_promotions == 0


def test_focus_series_by_gap_and_shortfall() -> None:
    focus = fig.focus_series(PLAN, 2)
    assert focus["sku"].tolist() == ["C", "A"]  # |150-300| > |110-120|*2 + shortfall 10
    assert fig.focus_series(PLAN, 0).empty


def test_focus_ties_are_broken_by_sku_then_location() -> None:
    # Four series with the same score, listed in reverse order; one with a higher score.
    plan = pd.DataFrame({
        "sku": ["B", "B", "A", "A", "C"], "location": ["L2", "L1", "L2", "L1", "L9"],
        "period": "2027-01", "sales_forecast": [10.0, 10.0, 10.0, 10.0, 10.0],
        "consensus_demand": [12.0, 12.0, 12.0, 12.0, 20.0],
        "constrained_demand": [12.0, 12.0, 12.0, 12.0, 20.0]})
    focus = fig.focus_series(plan, 4)
    assert list(zip(focus["sku"], focus["location"], strict=True)) == [
        ("C", "L9"), ("A", "L1"), ("A", "L2"), ("B", "L1")]
    assert fig.focus_series(plan.iloc[::-1], 4).equals(focus)


@pytest.mark.parametrize(
    "summary,expected",
    [
        (None, "unknown"),
        ({"passed": True}, "passed"),
        ({"passed": True, "warnings": 0}, "passed"),
        ({"passed": True, "warnings": ["drift"]}, "warnings"),
        ({"passed": False}, "failed"),
        ({"status": "success"}, "passed"),
        ({"status": "weird"}, "unknown"),
    ],
)
def test_contract_outcome(summary: dict | None, expected: str) -> None:
    assert fig.contract_outcome(summary) == expected


def test_line_chart_tolerates_gaps_and_escapes_labels() -> None:
    svg = line_chart(
        ["2026-12", "2027-01", "2027-02"],
        [Line("<b>x</b>", [1.0, None, float("nan")], "#000")],
        title="a & b",
    )
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "a &amp; b" in svg
    assert "NaN" not in svg and "nan" not in svg


def test_heatmap_escapes_and_marks() -> None:
    svg = heatmap(["2027-01"], [HeatRow("<L>", [1.3], ["short"])], title="t")
    assert "&lt;L&gt;" in svg and "!" in svg and "#c92a2a" in svg


@settings(max_examples=60, deadline=None)
@given(
    lo=st.floats(-1e9, 1e9, allow_nan=False),
    span=st.floats(1e-3, 1e9, allow_nan=False),
)
def test_nice_ticks_cover_the_range(lo: float, span: float) -> None:
    hi = lo + span
    ticks = nice_ticks(lo, hi)
    tol = 1e-9 * max(1.0, abs(lo), abs(hi))
    assert ticks[0] <= lo + tol and ticks[-1] >= hi - tol
    assert 2 <= len(ticks) <= 12


@given(u=st.floats(allow_nan=True, allow_infinity=True))
def test_utilisation_color_is_always_a_hex_colour(u: float) -> None:
    assert len(utilisation_color(u)) == 7 and utilisation_color(u).startswith("#")


def test_top_exceptions_show_each_type_before_repeating_one() -> None:
    exc = pd.DataFrame(
        {
            "type": ["A"] * 30 + ["B"] * 2 + ["C"],
            "severity": "warning",
            "sku": [f"S{i}" for i in range(33)],
            "message": "m",
        }
    )
    top = fig.top_exceptions(exc, top_n=5)
    assert top["type"].tolist()[:3] == ["A", "B", "C"]


def test_lead_time_gaps_get_lead_time_advice_not_overtime() -> None:
    lead = fig.decision_for("LEAD_TIME_SHORTFALL")
    assert "Expedite" in lead and "overtime" not in lead
    assert "overtime" in fig.decision_for("CAPACITY_SHORTFALL")
