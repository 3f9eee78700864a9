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
