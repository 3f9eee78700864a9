"""The FVA stair-step in the trust section: present with a table, a note when empty, escaped."""

import re
from html.parser import HTMLParser
from typing import Any

import numpy as np
import pandas as pd
import pytest

from reporting.figures import fva_by_key, fva_total
from reporting.html import TOP_FVA_KEYS, render_report

EVIL_TEAM = '<img src=x onerror="alert(1)">'
STEPS = ["naive", "baseline", "sales", "consensus"]


def fva_frame(n_families: int = 3, consensus: bool = True) -> pd.DataFrame:
    """A hand-made FVA table (reconciliation.fva columns): sales worse than baseline."""
    steps = STEPS if consensus else STEPS[:3]
    wape = {"naive": 0.30, "baseline": 0.22, "sales": 0.27, "consensus": 0.20}
    bias = {"naive": -0.02, "baseline": -0.01, "sales": 0.14, "consensus": 0.03}
    keys = [("total", "ALL", 900), ("team", "team-north", 500), ("team", EVIL_TEAM, 400)]
    keys += [("family", f"FAM-{i:02d}", 100 + i) for i in range(n_families)]
    rows = []
    for level, key, n in keys:
        prev = np.nan
        for s in steps:
            rows.append(
                {
                    "level": level,
                    "key": key,
                    "step": s,
                    "wape": wape[s],
                    "bias": bias[s],
                    "n_obs": n,
                    "fva": prev - wape[s],
                }
            )
            prev = wape[s]
    return pd.DataFrame(rows)


def trust_section(html: str) -> str:
    return html.split('<section id="trust">')[1].split("</section>")[0]


class Balance(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.bad: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in {"meta", "br"}:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        else:
            self.bad.append(tag)


def test_stair_step_is_shown_in_the_trust_section(small_inputs: dict[str, Any]) -> None:
    html = render_report(**small_inputs, fva=fva_frame())
    section = trust_section(html)
    assert 'id="fva"' in section and "FVA stair-step" in section
    part = section.split('id="fva"')[1]
    svg = re.search(r"<svg.*?</svg>", part, re.S)
    assert svg is not None
    assert svg.group(0).count("<rect") == 4  # one bar per step
    for label in ("Naive", "Baseline", "Sales", "Consensus", "22.0%", "27.0%"):
        assert label in svg.group(0)
    assert "FVA -5.0 pp" in svg.group(0) and "FVA +8.0 pp" in svg.group(0)
    assert '<span class="neg">-5.0 pp</span>' in part  # sales lost 5 points vs baseline
    assert "By sales team" in part and "By family" in part and "team-north" in part
    assert "WAPE consensus" in part and "FVA sales" in part
    doc = Balance()
    doc.feed(html)
    assert doc.bad == [] and doc.stack == []


def test_user_text_is_escaped(small_inputs: dict[str, Any]) -> None:
    html = render_report(**small_inputs, fva=fva_frame())
    assert EVIL_TEAM not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert "http://" not in html and "https://" not in html


def test_absent_without_fva_and_a_note_when_empty(small_inputs: dict[str, Any]) -> None:
    assert 'id="fva"' not in render_report(**small_inputs)
    html = render_report(**small_inputs, fva=fva_frame().iloc[0:0])
    section = trust_section(html)
    assert 'id="fva"' in section and "no past cycles" in section
    # The FVA part draws nothing; the sales bias trend after it has its own charts.
    assert "<svg" not in section.split('id="fva"')[1].split('id="sales-bias"')[0]


def test_a_step_without_data_is_shown_missing_and_says_why(small_inputs: dict[str, Any]) -> None:
    """No earlier published plan: the consensus slot stays empty, with a note saying why."""
    part = trust_section(render_report(**small_inputs, fva=fva_frame(consensus=False)))
    part = part.split('id="fva"')[1]
    chart = re.search(r"<svg.*?</svg>", part, re.S).group(0)  # type: ignore[union-attr]
    assert chart.count("<rect") == 3  # three bars, no bar for consensus
    assert ">Consensus</text>" in chart and "not scored yet" in chart
    assert "Consensus is not scored yet" in part and "earlier published plans" in part
    assert "WAPE consensus" not in part  # tables show the steps present only


def test_many_families_are_capped(small_inputs: dict[str, Any]) -> None:
    part = trust_section(render_report(**small_inputs, fva=fva_frame(n_families=40)))
    assert f"Showing the top {TOP_FVA_KEYS} of 40 rows" in part
    assert "FAM-39" in part and "FAM-00" not in part  # most observations first


def test_tolerates_missing_columns(small_inputs: dict[str, Any]) -> None:
    thin = fva_frame()[["level", "key", "step", "wape"]]
    part = trust_section(render_report(**small_inputs, fva=thin))
    assert "FVA stair-step" in part and "30.0%" in part


@pytest.mark.parametrize("level", ["team", "family"])
def test_fva_by_key_is_wide_and_ordered(level: str) -> None:
    view = fva_by_key(fva_frame(n_families=5), level)
    assert view["n_obs"].is_monotonic_decreasing
    assert {f"wape_{s}" for s in STEPS} <= set(view.columns)
    assert view["fva_sales"].tolist() == pytest.approx([-0.05] * len(view))
    assert list(fva_total(fva_frame())["step"]) == STEPS
