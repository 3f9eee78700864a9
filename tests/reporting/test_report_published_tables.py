"""The pack shows the published family_plan and promotion_load, never its own recount."""

import re
from typing import Any

import pandas as pd

from reporting.html import render_report
from reporting.markup import decimal, units

FAMILY_COLUMNS = ["Sales", "Baseline", "Consensus", "Constrained"]
MEASURES = ["sales_forecast", "baseline_forecast", "consensus_demand", "constrained_demand"]


def _section(html: str, section: str) -> str:
    return html.split(f'id="{section}"')[1].split("<section")[0]


def _row(section: str, first_cell: str) -> list[str]:
    """The number cells of the rows whose first cell is `first_cell`, as shown, in order."""
    rows = re.findall(rf"<tr><td>{re.escape(first_cell)}</td>(.*?)</tr>", section, re.S)
    assert rows, first_cell
    return [c for row in rows
            for c in re.findall(r'<td class="num">(?:<span[^>]*>)?(.*?)(?:</span>)?</td>', row)]


def _family_row(inputs: dict[str, Any], family: str) -> list[str]:
    return _row(_section(render_report(**inputs), "headline"), family)[: len(FAMILY_COLUMNS)]


def test_family_table_shows_the_published_family_plan_sums(small_inputs: dict[str, Any]) -> None:
    family_plan = small_inputs["family_plan"]
    sums = family_plan[family_plan["family"] == "SNACKS"][MEASURES].sum()
    assert _family_row(small_inputs, "SNACKS") == [units(sums[m]) for m in MEASURES]


def test_a_changed_family_plan_changes_the_pack(small_inputs: dict[str, Any]) -> None:
    """Same consensus plan, tampered family_plan: the pack follows the file."""
    tampered = small_inputs["family_plan"].copy()
    first = tampered.index[tampered["family"] == "SNACKS"][0]
    tampered.loc[first, "consensus_demand"] += 1_000_000
    before = _family_row(small_inputs, "SNACKS")
    after = _family_row({**small_inputs, "family_plan": tampered}, "SNACKS")
    consensus = tampered.loc[tampered["family"] == "SNACKS", "consensus_demand"].sum()
    assert after[2] == units(consensus) != before[2]
    assert after[:2] + after[3:] == before[:2] + before[3:]


def test_promotion_rows_show_the_published_promotion_load(small_inputs: dict[str, Any]) -> None:
    tampered = small_inputs["promotion_load"].copy()
    promo = tampered["promo_id"].iloc[0]
    mine = tampered["promo_id"] == promo
    tampered.loc[mine, "extra_units"] = [123_456.0] + [0.0] * (int(mine.sum()) - 1)
    tampered.loc[mine, "extra_pallets"] = [2_572.0] + [0.0] * (int(mine.sum()) - 1)
    section = _section(render_report(**{**small_inputs, "promotion_load": tampered}), "promotions")
    # The largest promotion now, so the first row; its units and pallets are the file's.
    first_row = re.search(r"<tbody><tr><td>(.*?)</td>", section)
    assert first_row is not None and first_row.group(1) == promo
    cells = _row(section, promo)
    assert cells[1:3] == [units(123_456.0), decimal(2_572.0, 1)]
    total = tampered["extra_units"].sum()
    assert f"adding about {units(total)} units" in section


def test_promotion_grid_sums_the_published_months(small_inputs: dict[str, Any]) -> None:
    load = pd.concat([small_inputs["promotion_load"].iloc[:1]] * 2, ignore_index=True)
    load["extra_pallets"] = [40.0, 2.0]  # two rows of one warehouse x month: the grid adds them
    section = _section(render_report(**{**small_inputs, "promotion_load": load}), "promotions")
    grid = section.split("Extra pallets per warehouse and month")[1]
    shown = [c for c in _row(grid, str(load["location"].iloc[0])) if c != "–"]
    assert shown == ["42"]  # one month with load, the sum of its two rows
