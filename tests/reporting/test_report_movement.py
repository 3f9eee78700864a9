"""The report's "Why the plan moved" section and the sales bias trend, with real numbers."""

from typing import Any

import pandas as pd

from reporting import render_report


def _section(html: str, sid: str) -> str:
    return html.split(f'id="{sid}"')[1].split("<section")[0]


def test_waterfall_and_stability_render_their_numbers(small_inputs: dict[str, Any]) -> None:
    html = render_report(**small_inputs)
    movement = _section(html, "movement")
    wf = small_inputs["waterfall"]
    total = wf[wf["key"] == "ALL"].set_index("step")["units"]
    assert movement.count("<svg") >= 2  # the waterfall and the stability trend
    for step in ("previous_consensus", "consensus"):
        assert f"{total[step]:,.0f}" in movement
    assert f"+{total['baseline']:,.0f}" in movement  # a family row or the total, signed
    assert "Baseline &amp; actuals" in movement and "Capacity" in movement
    stability = small_inputs["stability"]
    share = stability[(stability["cycle"] == "2026-12") & (stability["key"] == "ALL")]
    assert f"{share['changed_share'].iloc[0] * 100:.1f}%" in movement
    for family in wf.loc[wf["level"] == "family", "key"].unique():
        assert family in movement


def test_bias_trend_per_team_renders_in_trust(small_inputs: dict[str, Any]) -> None:
    trust = _section(render_report(**small_inputs), "trust")
    bias = trust.split('id="sales-bias"')[1]
    assert bias.count("<svg") == 2  # bias and trust weight per team
    assert "team-north" in bias and "team-south" in bias
    assert "+27.0%" in bias and "35.0%" in bias


def test_without_a_previous_plan_the_section_says_why(small_inputs: dict[str, Any]) -> None:
    inputs = {**small_inputs, "waterfall": None, "stability": pd.DataFrame(),
              "sales_bias": pd.DataFrame()}
    html = render_report(**inputs)
    movement = _section(html, "movement")
    assert "No waterfall" in movement and "No stability figure yet" in movement
    assert "No sales bias yet" in _section(html, "trust")


def test_change_feed_and_fence_counts_come_from_the_tables() -> None:
    from reporting.movement import change_counts, fence_summary, movement_section

    changes = pd.DataFrame({
        "sku": ["A", "B", "C", "D"], "location": "L", "period": "2027-01",
        "change": ["increased", "increased", "new", "moved"],
        "previous_cycle": "2026-11", "previous_version": 1,
        "consensus_demand_before": [10.0, 10.0, 0.0, 5.0],
        "consensus_demand_after": [12.0, 11.0, 4.0, 5.0],
        "planned_receipts_before": [10.0, 0.0, 0.0, 5.0],
        "planned_receipts_after": [12.0, 0.0, 4.0, 5.0],
        "order_release_period_before": ["2026-12", None, None, "2026-12"],
        "order_release_period_after": ["2026-12", None, "2026-12", "2027-01"],
    })
    counts = change_counts(changes).set_index("change")
    assert counts.loc["increased"].tolist() == [2, 1]  # B changes demand only, no order
    assert counts.loc["new"].tolist() == [1, 1] and counts.loc["moved"].tolist() == [1, 1]
    plan = pd.DataFrame({"planned_receipts": [30.0, 20.0, 5.0],
                         "firm_receipt": [True, True, False]})
    exceptions = pd.DataFrame({"type": ["FROZEN_FENCE_CHANGE"] * 3 + ["CAPACITY_SHORTFALL"],
                               "severity": ["warning", "warning", "info", "warning"]})
    assert fence_summary(plan, exceptions) == {"firm_rows": 2, "firm_units": 50.0,
                                               "warnings": 2}
    html = movement_section(None, None, None, changes, plan, exceptions)
    assert "4 rows differ" in html and "3 of them change an order" in html
    assert "2 receipts of last cycle's plan kept" in html and "50 units" in html


def test_demo_pack_shows_the_change_feed_and_the_fence_of_its_files(demo_run: Any) -> None:
    """The planner's path: the second cycle's report, read against its own published files."""
    html = (demo_run.version / "report.html").read_text()
    movement = _section(html, "movement")
    changes = pd.read_parquet(demo_run.version / "plan_changes.parquet")
    plan = pd.read_parquet(demo_run.version / "consensus_plan.parquet")
    exceptions = pd.read_parquet(demo_run.version / "exceptions.parquet")
    assert len(changes) > 0 and plan["firm_receipt"].any()
    assert f"{len(changes):,} rows differ" in movement
    firm = int(plan["firm_receipt"].sum())
    warnings = int(((exceptions["type"] == "FROZEN_FENCE_CHANGE")
                    & (exceptions["severity"] != "info")).sum())
    assert f"{firm:,} receipts of last cycle's plan kept" in movement
    assert f"{warnings:,} <code>FROZEN_FENCE_CHANGE</code> warnings" in movement
