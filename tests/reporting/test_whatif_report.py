"""The what-if page: its verdict's colour follows the verdict, and its tables stay narrow;
the Markdown artifact carries the same verdict and totals."""

import re
from html import escape
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from reconciliation.impact import Comparison, compare_plans
from reporting.whatif import markdown_summary, render_whatif_report

PERIODS = [f"2027-{m:02d}" for m in range(1, 13)] + [f"2028-{m:02d}" for m in range(1, 7)]
LOCATIONS = ["DC-NORTH-WEST-OVERFLOW", "DC-SOUTH", "DC-EAST"]


def _frames(demand: float, served: float, overtime_pallets: float) -> SimpleNamespace:
    """One SKU at each warehouse; the first warehouse's October gets the scenario's numbers."""
    plan, cap = [], []
    for loc in LOCATIONS:
        for p in PERIODS:
            hot = loc == LOCATIONS[0] and p == "2027-10"
            d, s = (demand, served) if hot else (10_000.0, 10_000.0)
            plan.append({"sku": "SKU-1", "location": loc, "period": p, "consensus_demand": d,
                         "constrained_demand": s, "shortfall": d - s, "planned_receipts": s,
                         "projected_on_hand": 1_000.0})
            ot = overtime_pallets if hot else 0.0
            cap.append({"location": loc, "period": p, "inbound_pallets": 100.0 + ot,
                        "storage_pallets": 300.0, "outbound_units": s,
                        "overtime_pallets": ot, "overtime_units": 0.0, "overtime_cost": 10 * ot,
                        "inbound_capacity_pallets": 100.0, "storage_capacity_pallets": 1_000.0,
                        "outbound_capacity_units": 1_000_000.0,
                        "status": "short" if d - s >= 1 else "overtime" if ot else "ok"})
    return SimpleNamespace(consensus_plan=pd.DataFrame(plan), capacity_report=pd.DataFrame(cap))


PRODUCTS = pd.DataFrame({"sku": ["SKU-1"], "family": ["SNACKS"], "units_per_pallet": [100.0],
                         "lead_time_months": [0], "unit_cost": [2.0], "status": ["active"],
                         "safety_stock_units": [0.0], "min_order_qty": [0.0]})


def compare(demand: float, served: float, overtime_pallets: float) -> Comparison:
    base = _frames(10_000.0, 10_000.0, 0.0)
    return compare_plans(base, _frames(demand, served, overtime_pallets), PRODUCTS,
                         event=("2027-10", "2027-10"))


def render(c: Comparison) -> str:
    return render_whatif_report(
        name="autumn", cycle="2026-12", version=1, verdict=c.verdict, totals=c.totals,
        by_month=c.by_month, by_location=c.by_location, by_sku=c.by_sku,
        scenario_text="name: autumn\n", notes=[],
    )


def whatif_html(kind: str) -> str:
    """A rendered what-if page: 'short' (cut despite overtime), 'overtime' or 'ok'."""
    args = {"short": (13_572.0, 10_000.0, 5.0), "overtime": (13_000.0, 13_000.0, 5.0),
            "ok": (10_400.0, 10_400.0, 0.0), "rounding": (10_400.0, 10_399.4, 5.0)}[kind]
    return render(compare(*args))


def _verdict(html: str) -> tuple[str, str]:
    m = re.search(r'<p class="verdict (\w+)">(.*?)</p>', html)
    assert m, "no verdict on the page"
    return m.group(1), m.group(2)


@pytest.mark.parametrize(
    ("kind", "level", "start"),
    [
        ("short", "short", "Not feasible in full: 3,572 units cannot be served"),
        ("overtime", "overtime", "Feasible with overtime at DC-NORTH-WEST-OVERFLOW in 2027-10"),
        ("rounding", "overtime", "Feasible with overtime"),  # 0.6 of a unit is no cut
        ("ok", "ok", "Feasible within regular capacity"),
    ],
)
def test_verdict_colour_and_words_agree(kind: str, level: str, start: str) -> None:
    cls, text = _verdict(whatif_html(kind))
    assert cls == level
    assert text.startswith(start), text
    if level == "short":
        assert "Feasible" not in text and "does not close the gap" in text


def test_cannot_serve_is_in_the_warehouse_table_without_a_feasible_word() -> None:
    html = whatif_html("short")
    assert "Cannot serve (units)" in html and "+3,572" in html
    assert "feasible with" not in html.lower()


def _header_counts(html: str) -> list[int]:
    return [t.count("<th") for t in re.findall(r"<thead>(.*?)</thead>", html)]


def test_tables_are_narrow_enough_for_a_laptop() -> None:
    """At most 13 columns a table (the browser test measures the page at 1280 px)."""
    counts = _header_counts(whatif_html("short"))
    assert counts and max(counts) <= 13, counts


def test_month_status_reads_base_to_scenario() -> None:
    html = whatif_html("short")
    assert "ok → short" in html



@pytest.mark.parametrize("path", ["out/scenarios/cycle=2026-12/autumn",
                                  Path("out/scenarios/cycle=2026-12/autumn")])
def test_markdown_summary_states_verdict_totals_and_where_it_is_stored(path: str | Path) -> None:
    c = compare(13_572.0, 10_000.0, 5.0)
    md = markdown_summary("autumn", "2026-12", 3, c, path)
    lines = md.splitlines()
    assert lines[0] == "# What-if `autumn` on plan 2026-12 version 3"
    assert f"**{c.verdict}**" in lines
    assert "| demand asked (units) | +3,572 |" in lines
    assert "| cannot be served (units) | +3,572 |" in lines
    assert "| months becoming short | 1 |" in lines
    assert lines[-1] == ("Stored in `out/scenarios/cycle=2026-12/autumn` (report: "
                         "`out/scenarios/cycle=2026-12/autumn/report.html`). "
                         "The published plan is unchanged.")


EVIL = '<script>alert("pwned")</script>'


def test_names_from_the_data_are_escaped() -> None:
    """A SKU and a warehouse named like markup show as text: in the tables, the charts' titles
    and the verdict (which names the warehouse)."""
    hot, sku = LOCATIONS[0], "SKU-1"

    def evil(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.replace({"location": {hot: f"{EVIL}-W"}, "sku": {sku: f"{EVIL}-S"}})

    base, scen = _frames(10_000.0, 10_000.0, 0.0), _frames(13_000.0, 13_000.0, 5.0)
    for frames in (base, scen):
        frames.consensus_plan = evil(frames.consensus_plan)
        frames.capacity_report = evil(frames.capacity_report)
    c = compare_plans(base, scen, evil(PRODUCTS), event=("2027-10", "2027-10"))
    assert f"{EVIL}-W" in c.verdict  # the page gets the name raw and must escape it
    html = render(c)
    assert "<script" not in html.lower()
    for name in (f"{EVIL}-W", f"{EVIL}-S"):
        assert name not in html
        assert escape(name) in html
