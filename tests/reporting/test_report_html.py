"""The meeting pack: well-formed, complete, self-contained, escaped, and bounded in size."""

import re
import time
from html import escape
from html.parser import HTMLParser
from typing import Any

import pandas as pd
import pytest

from reporting.html import SECTIONS, render_markdown_summary, render_report, safe_relative_href

EVIL_SKU = '<script>alert("pwned")</script>'
VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source"}
SVG_LEAVES = {"line", "rect", "path", "polygon", "polyline", "circle", "text", "title"}


class Collector(HTMLParser):
    """Records tags, ids, URL-bearing attributes and tag balance."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.urls: list[tuple[str, str, str]] = []  # tag, attribute, value
        self.tags: dict[str, int] = {}
        self.stack: list[str] = []
        self.mismatches: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        for name, value in attrs:
            if name == "id" and value:
                self.ids.append(value)
            if name in {"src", "href", "xlink:href", "action", "srcset", "poster", "data"}:
                self.urls.append((tag, name, value or ""))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        for name, value in attrs:
            if name in {"src", "href", "xlink:href"}:
                self.urls.append((tag, name, value or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        else:
            self.mismatches.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Collector:
    c = Collector()
    c.feed(html)
    c.close()
    return c


@pytest.fixture(scope="module")
def small_html(small_inputs: dict[str, Any]) -> str:
    return render_report(**small_inputs)


def test_parses_and_tags_balance(small_html: str) -> None:
    doc = parse(small_html)
    assert small_html.startswith("<!DOCTYPE html>")
    assert doc.mismatches == []
    assert doc.stack == []
    assert doc.tags.get("svg", 0) >= 3


def test_every_section_is_present_in_order(small_html: str) -> None:
    doc = parse(small_html)
    section_ids = [i for i in doc.ids if i in SECTIONS]
    assert section_ids == list(SECTIONS)
    for title in SECTIONS.values():
        assert title.replace("&", "&amp;") in small_html


def test_headline_has_chart_and_family_table(small_html: str) -> None:
    headline = small_html.split('id="headline"')[1].split("<section")[0]
    assert "<svg" in headline and "Gap to sales" in headline
    for family in ("BEVERAGES", "SNACKS", "DAIRY"):
        assert family in headline


def test_no_external_urls_anywhere(small_html: str) -> None:
    doc = parse(small_html)
    for tag, attr, value in doc.urls:
        v = value.strip().lower()
        assert not v.startswith(("http:", "https:", "//", "javascript:", "data:")), (tag, attr, v)
    assert "http://" not in small_html and "https://" not in small_html
    assert "//cdn" not in small_html
    assert "@import" not in small_html and "url(" not in small_html
    assert doc.tags.get("script", 0) == 0 and doc.tags.get("link", 0) == 0
    assert doc.tags.get("img", 0) == 0 and doc.tags.get("iframe", 0) == 0


def test_data_docs_link_only_when_relative(small_inputs: dict[str, Any]) -> None:
    html = render_report(**small_inputs)
    hrefs = [v for _, a, v in parse(html).urls if a == "href" and not v.startswith("#")]
    assert hrefs == ["data_docs/index.html"]
    for bad in ("https://example.com/docs", "//cdn.example.com/x", "javascript:alert(1)"):
        html = render_report(**{**small_inputs, "data_docs_href": bad})
        hrefs = [v for _, a, v in parse(html).urls if a == "href" and not v.startswith("#")]
        assert hrefs == []


@pytest.mark.parametrize(
    "href,expected",
    [
        ("data_docs/index.html", "data_docs/index.html"),
        ("../gx/index.html", "../gx/index.html"),
        ("https://x.org", None),
        ("HTTP://x.org", None),
        ("//cdn.x.org/a", None),
        ("javascript:alert(1)", None),
        ("  ", None),
        (None, None),
    ],
)
def test_safe_relative_href(href: str | None, expected: str | None) -> None:
    assert safe_relative_href(href) == expected


def test_user_text_is_escaped(small_html: str) -> None:
    assert EVIL_SKU not in small_html
    assert "<script" not in small_html.lower()
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in small_html
    assert "<b>CAPACITY_SHORTFALL</b>" not in small_html  # exception messages are text too
    # ...and it is readable text once parsed.
    assert EVIL_SKU in "".join(parse(small_html).text)


def test_exceptions_errors_first_and_capped(small_html: str) -> None:
    section = small_html.split('id="exceptions"')[1].split('id="trust"')[0]
    rows = re.findall(r'<tr class="(error|warning|info)">', section)
    assert 0 < len(rows) <= 25
    assert rows == sorted(rows, key=["error", "warning", "info"].index)
    assert "Decision needed" in section


def test_capacity_heatmap_marks_short_and_overtime(small_html: str) -> None:
    section = small_html.split('id="capacity"')[1].split('id="promotions"')[0]
    assert "DC-EAST · inbound" in section
    assert "(short)" in section and "(overtime)" in section
    assert 'class="badge short"' in section


def test_fixed_number_of_sku_charts(small_inputs: dict[str, Any]) -> None:
    html = render_report(**{**small_inputs, "max_sku_charts": 4})
    assert html.count('class="skuchart"') == 4
    assert "95% interval" in html and "80% interval" in html


def test_promotions_section_shows_extra_load(small_html: str) -> None:
    section = small_html.split('id="promotions"')[1].split('id="exceptions"')[0]
    assert "Extra pallets per warehouse and month" in section
    assert "PR-" in section


def _month_tables(section: str) -> list[str]:
    return re.findall(r'<table class="months">.*?</table>', section, re.S)


def test_extra_pallets_by_month_come_in_blocks_of_a_year(report_inputs: Any) -> None:
    """36 months of promotions: three tables of at most 12 months, every month shown once."""
    html = render_report(**report_inputs(200, horizon=36))
    section = html.split('id="promotions"')[1].split('id="exceptions"')[0]
    tables = _month_tables(section)
    months = [m for t in tables for m in re.findall(r'<th class="num">(\d{4}-\d{2})</th>', t)]
    assert len(tables) >= 3
    assert all(len(re.findall(r"<th[ >]", t)) <= 13 for t in tables)
    assert months == sorted(set(months)) and len(months) > 24
    assert '<div class="wide"><table class="months">' not in section  # nothing to scroll


LONG_DECIMALS = re.compile(r"\d\.\d{4,}")


def test_no_number_reads_with_more_than_three_decimals(small_inputs: dict[str, Any]) -> None:
    """Floats of unknown meaning (contract summary, extra trust columns) are rounded for people."""
    summary = {**small_inputs["contract_summary"], "quarantined_share": 0.9866125760649087,
               "tables": {"sales_history": 1234, "drift": 0.123456789}}
    trust = small_inputs["trust"].assign(shrinkage=0.333333333, prior=0.35)
    html = render_report(**{**small_inputs, "contract_summary": summary, "trust": trust})
    text = " ".join(parse(html).text)
    assert LONG_DECIMALS.findall(text) == []
    assert "0.987" in text and "0.123" in text


def test_consensus_and_constrained_lines_both_show_where_they_coincide(small_html: str) -> None:
    """The constrained line is drawn thin over a wide consensus line, and the legend says so."""
    chart = small_html.split('id="headline"')[1].split("</svg>")[0]
    widths = {
        name: float(w)
        for w, name in re.findall(r'<path [^>]*stroke-width="([\d.]+)"[^>]*><title>([^<]+)', chart)
    }
    consensus, constrained = "Consensus (wide line)", "Constrained (thin line on top)"
    assert widths[consensus] >= widths[constrained] + 3
    assert chart.index(f"<title>{consensus}") < chart.index(f"<title>{constrained}")  # beneath
    assert "thin constrained line runs inside the wide consensus line" in small_html


def test_trust_handles_missing_columns(small_inputs: dict[str, Any]) -> None:
    trust = small_inputs["trust"][["submitted_by", "bias"]]
    html = render_report(**{**small_inputs, "trust": trust})
    section = html.split('id="trust"')[1].split('id="contracts"')[0]
    assert "team-south" in section and "+31.0%" in section


def test_renders_with_optional_inputs_missing(small_inputs: dict[str, Any]) -> None:
    kw = {
        **small_inputs,
        "promotion_load": None,
        "family_plan": None,
        "trust": None,
        "contract_summary": None,
        "data_docs_href": None,
        "exceptions": small_inputs["exceptions"].iloc[0:0],
    }
    html = render_report(**kw)
    assert parse(html).mismatches == []
    assert "No promotions planned" in html and "No trust evidence" in html


def test_renders_empty_tables() -> None:
    empty = pd.DataFrame()
    html = render_report(
        cycle="2026-12",
        version=1,
        consensus_plan=empty,
        baseline_forecast=empty,
        capacity_report=empty,
        exceptions=empty,
        history=empty,
        family_plan=empty,
        promotion_load=empty,
    )
    doc = parse(html)
    assert doc.mismatches == [] and [i for i in doc.ids if i in SECTIONS] == list(SECTIONS)


def test_size_and_speed_at_200_skus(report_inputs: Any) -> None:
    kw = report_inputs(200)
    start = time.perf_counter()
    html = render_report(**kw)
    assert time.perf_counter() - start < 5
    assert 20_000 < len(html.encode()) < 1_000_000


@pytest.mark.slow
def test_size_and_speed_at_10k_skus(report_inputs: Any) -> None:
    kw = report_inputs(10_000)
    start = time.perf_counter()
    html = render_report(**kw)
    elapsed = time.perf_counter() - start
    size = len(html.encode())
    assert size < 5_000_000
    assert elapsed < 20
    assert html.count('class="skuchart"') == 6
    section = html.split('id="exceptions"')[1].split("<section")[0]
    assert section.count("<tr") <= 25 + 1 + 21  # top exceptions + header + type table
    assert "Showing the top 25" in section


def test_markdown_summary_uses_the_same_figures(small_inputs: dict[str, Any]) -> None:
    md = render_markdown_summary(**small_inputs)  # same kwargs as render_report
    plan = small_inputs["consensus_plan"]
    assert f"| Sales | {plan['sales_forecast'].sum():,.0f} |" in md
    assert f"| Consensus | {plan['consensus_demand'].sum():,.0f} |" in md
    for loc, status in (("DC-EAST", "short"), ("DC-SOUTH", "overtime"), ("DC-NORTH", "ok")):
        assert f"| {loc} | {status} |" in md
    counts = small_inputs["exceptions"]["severity"].value_counts()
    assert f"error: {counts['error']:,}" in md
    assert "Data contracts: warnings." in md


def test_markdown_summary_escapes_table_pipes(small_inputs: dict[str, Any]) -> None:
    cap = small_inputs["capacity_report"].copy()
    cap["location"] = cap["location"].str.replace("DC-EAST", "DC|EAST")
    md = render_markdown_summary(**{**small_inputs, "capacity_report": cap})
    assert "| DC\\|EAST | short |" in md


def test_warehouse_family_and_team_names_are_escaped(small_inputs: dict[str, Any]) -> None:
    """Not only SKUs: every name that comes from the data is text on the page."""
    evil = {"location": {"DC-EAST": f"{EVIL_SKU}-W"}, "family": {"SNACKS": f"{EVIL_SKU}-F"},
            "submitted_by": {"team-south": f"{EVIL_SKU}-T"}}
    inputs = {k: v.replace(evil) if isinstance(v, pd.DataFrame) else v
              for k, v in small_inputs.items()}
    html = render_report(**inputs)
    assert "<script" not in html.lower()
    for name in (f"{EVIL_SKU}-W", f"{EVIL_SKU}-F", f"{EVIL_SKU}-T"):
        assert escape(name) in html, name
