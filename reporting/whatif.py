"""The what-if report: one self-contained HTML page on a scenario's impact (inline CSS and SVG).

Built from `reconciliation.impact.Comparison` frames only, with the meeting pack's markup, style
and SVG helpers; no external URL, bounded size (tables capped, charts per affected warehouse).
"""

from os import PathLike
from pathlib import PurePath
from typing import Any

import pandas as pd

from reconciliation.impact import Comparison, verdict_level
from reporting.figures import UTIL_METRICS
from reporting.markup import Col, esc, html_page, html_table, signed_units, units
from reporting.style import CSS
from reporting.svg import COLOR_BASELINE, COLOR_SALES, HeatRow, Line, heatmap, line_chart

WHATIF_SECTIONS: dict[str, str] = {
    "verdict": "Verdict",
    "warehouses": "Impact per warehouse",
    "charts": "Load against capacity, base vs scenario",
    "months": "Warehouse-months that change",
    "skus": "SKUs that change",
    "scenario": "The scenario",
}
MAX_MONTH_ROWS = 60
MAX_SKU_ROWS = 30
MAX_CHART_LOCATIONS = 6
COLOR_CAPACITY = "#868e96"
CHART_LABELS = {  # UTIL_METRICS name -> chart title
    "inbound": "Inbound pallets",
    "storage": "Pallets in storage at month end",
    "outbound": "Outbound units",
}
EXTRA_CSS = """
.verdict { font-size: 17px; font-weight: 600; padding: 10px 14px; border-left: 6px solid
  var(--ok); background: var(--band); margin: 10px 0; }
.verdict.overtime { border-left-color: var(--warn); } .verdict.short { border-left-color:
  var(--err); }
pre.scenario { background: var(--band); border: 1px solid var(--line); padding: 8px 12px;
  font-size: 12px; overflow-x: auto; white-space: pre-wrap; }
"""


def _card(key: str, value: str, detail: str = "") -> str:
    d = f'<div class="d">{detail}</div>' if detail else ""
    return f'<div class="card"><div class="k">{esc(key)}</div><div class="v">{value}</div>{d}</div>'


def _signed(v: object) -> str:
    """+1,234 / -5; below half a unit is 0 (no "-0" from solver noise)."""
    try:
        if abs(float(v)) < 0.5:  # type: ignore[arg-type]
            return "0"
    except (TypeError, ValueError):
        pass
    return signed_units(v)


def _signed_html(v: object) -> str:
    s = _signed(v)
    return f'<span class="neg">{s}</span>' if s.startswith("+") and s != "+0" else s


def _verdict(verdict: str, level: str, totals: dict[str, Any], notes: list[str]) -> str:
    short_months = totals.get("months_became_short", [])
    cards = "".join([
        _card("Extra demand asked", _signed(totals.get("extra_demand_units")), "units"),
        _card("Extra sales served", _signed(totals.get("extra_served_units")), "units"),
        _card("Cannot be served", _signed(totals.get("extra_shortfall_units")),
              f"value {units(totals.get('extra_shortfall_value'))} at cost"),
        _card("Overtime cost", _signed(totals.get("extra_overtime_cost")),
              f"{_signed(totals.get('extra_overtime_pallets'))} pallets, "
              f"{_signed(totals.get('extra_overtime_units'))} units"),
        _card("Inbound", _signed(totals.get("extra_inbound_pallets")), "pallets"),
        _card("Extra storage at peak", _signed(totals.get("extra_storage_peak_pallets")),
              f"pallets; {esc(totals.get('storage_peak_location', ''))} "
              f"{esc(totals.get('storage_peak_period', ''))}: "
              f"{units(totals.get('storage_peak_pallets_scenario'))} of "
              f"{units(totals.get('storage_capacity_at_peak'))}"
              if totals.get("extra_storage_peak_pallets", 0) > 0.01 else "pallets"),
        _card("Stock after the event", _signed(totals.get("extra_stock_after_event_units")),
              f"units after {esc(totals.get('event_end') or '–')}, holding cost "
              f"{_signed(totals.get('extra_holding_cost_after_event'))}"),
        _card("Months becoming short", units(len(short_months)),
              esc(", ".join(short_months[:4]) + (" …" if len(short_months) > 4 else ""))),
    ])
    note_html = "".join(f'<p class="note">{esc(n)}</p>' for n in notes)
    return (f'<p class="verdict {level}">{esc(verdict)}</p>'
            f'<div class="cards">{cards}</div>{note_html}')


def _month(v: object) -> str:
    return f'<span class="nw">{esc(v)}</span>'


def _warehouses(by_location: pd.DataFrame) -> str:
    """Two tables of one row per warehouse, so that each fits a laptop screen (1280 px)."""
    service = html_table(by_location, [
        Col("location", "Warehouse"),
        Col("extra_demand_units", "Demand (units)", _signed, True),
        Col("extra_served_units", "Served (units)", _signed, True),
        Col("extra_shortfall_units", "Cannot serve (units)", _signed_html, True),
        Col("extra_shortfall_value", "Cannot serve (value at cost)", _signed_html, True),
        Col("extra_overtime_cost", "Overtime cost", _signed, True),
        Col("overtime_months", "Overtime in"),
        Col("months_became_short", "Becomes short in"),
    ], max_rows=50)
    load = html_table(by_location, [
        Col("location", "Warehouse"),
        Col("extra_inbound_pallets", "Inbound pallets", _signed, True),
        Col("extra_storage_peak_pallets", "Extra storage at peak", _signed, True),
        Col("storage_peak_period", "Peak month", _month),
        Col("storage_peak_pallets_scenario", "Storage then (pallets)", units, True),
        Col("storage_capacity_at_peak", "Storage capacity", units, True),
        Col("extra_stock_after_event_units", "Stock after event (units)", _signed, True),
        Col("extra_holding_cost_after_event", "Holding cost after", _signed, True),
    ], max_rows=50)
    return f"<h3>Demand served, cut and overtime</h3>{service}<h3>Load and stock</h3>{load}"


def _changed(by_month: pd.DataFrame) -> pd.DataFrame:
    extra = [c for c in by_month.columns if c.startswith("extra_")]
    moved = by_month[extra].abs().max(axis=1) > 1e-6
    return by_month[moved | (by_month["status_base"] != by_month["status_scenario"])]


def _charts(by_month: pd.DataFrame) -> str:
    changed = _changed(by_month)
    locations = (changed.groupby("location")["extra_inbound_pallets"].apply(lambda s: s.abs().sum())
                 .sort_values(ascending=False).index.tolist())
    if not locations:
        return '<p class="empty">No warehouse load changes.</p>'
    out: list[str] = []
    periods = sorted(by_month["period"].unique())
    for loc in locations[:MAX_CHART_LOCATIONS]:
        g = by_month[by_month["location"] == loc].set_index("period").reindex(periods)
        for name, measure, cap in UTIL_METRICS:
            label = CHART_LABELS[name]
            base, scen = g[f"{measure}_base"], g[f"{measure}_scenario"]
            if (scen - base).abs().max() < 1e-6 and (
                    g[f"{cap}_scenario"] - g[f"{cap}_base"]).abs().max() < 1e-6:
                continue
            out.append(f"<h3>{esc(loc)} · {esc(label)}</h3>" + line_chart(
                periods,
                [Line("base plan", base.tolist(), COLOR_BASELINE, "6 3"),
                 Line("scenario", scen.tolist(), COLOR_SALES),
                 Line("regular capacity (scenario)", g[f"{cap}_scenario"].tolist(),
                      COLOR_CAPACITY, "2 3", 1.5)],
                title=f"{loc}: {label}, base plan vs scenario", height=240,
            ))
    util: list[HeatRow] = []
    for loc in locations[:MAX_CHART_LOCATIONS]:
        g = by_month[by_month["location"] == loc].set_index("period").reindex(periods)
        status = g["status_scenario"].fillna("ok").tolist()
        for i, (name, measure, cap) in enumerate(UTIL_METRICS):
            ratio = (g[f"{measure}_scenario"] / g[f"{cap}_scenario"]).tolist()
            values = [None if pd.isna(v) else float(v) for v in ratio]
            marks = [s if s != "ok" and v is not None and v > 1 + 1e-9 else ""
                     for s, v in zip(status, values, strict=True)]
            util.append(HeatRow(f"{loc} · {name}", values, marks, group_start=i == 0))
    out.append("<h3>Scenario utilisation (load ÷ regular capacity)</h3>"
               + heatmap(periods, util, title="Scenario utilisation per warehouse and month"))
    return "".join(out)


def _months(by_month: pd.DataFrame) -> str:
    changed = _changed(by_month)
    order = changed.assign(_k=changed["extra_shortfall_units"].abs() * 1e6
                           + changed["extra_overtime_cost"].abs() * 1e3
                           + changed["extra_inbound_pallets"].abs())
    order = order.sort_values("_k", ascending=False)
    order["status"] = [b if b == sc else f"{b} → {sc}"
                       for b, sc in zip(order["status_base"], order["status_scenario"],
                                        strict=True)]
    return html_table(order, [
        Col("location", "Warehouse"), Col("period", "Month", _month),
        Col("status", "Status (base → scenario)", _month),
        Col("extra_inbound_pallets", "Inbound pallets", _signed, True),
        Col("extra_storage_pallets", "Storage pallets", _signed, True),
        Col("extra_outbound_units", "Outbound units", _signed, True),
        Col("extra_overtime_pallets", "Overtime pallets", _signed, True),
        Col("extra_overtime_units", "Overtime units", _signed, True),
        Col("extra_overtime_cost", "Overtime cost", _signed, True),
        Col("extra_shortfall_units", "Cannot serve (units)", _signed_html, True),
        Col("extra_shortfall_value", "Cannot serve (value)", _signed_html, True),
        Col("extra_stock_units", "Stock (units)", _signed, True),
        Col("extra_holding_cost", "Holding cost", _signed, True),
    ], max_rows=MAX_MONTH_ROWS)


def _skus(by_sku: pd.DataFrame) -> str:
    return html_table(by_sku, [
        Col("sku", "SKU"), Col("location", "Warehouse"), Col("family", "Family"),
        Col("new_in_scenario", "New", lambda v: "launch" if bool(v) else ""),
        Col("extra_demand_units", "Demand", _signed, True),
        Col("extra_served_units", "Served", _signed, True),
        Col("extra_shortfall_units", "Cannot serve", _signed_html, True),
        Col("extra_receipts_units", "Receipts", _signed, True),
    ], max_rows=MAX_SKU_ROWS)


def render_whatif_report(
    *, name: str, cycle: str, version: int, verdict: str, totals: dict[str, Any],
    by_month: pd.DataFrame, by_location: pd.DataFrame, by_sku: pd.DataFrame,
    scenario_text: str, notes: list[str] | None = None,
) -> str:
    """The what-if page as a self-contained HTML document (a str)."""
    bodies = {
        # The colour follows the verdict's own rule: red wherever anything is cut.
        "verdict": _verdict(verdict, verdict_level(by_month), totals, notes or []),
        "warehouses": _warehouses(by_location),
        "charts": _charts(by_month),
        "months": _months(by_month),
        "skus": _skus(by_sku),
        "scenario": f'<pre class="scenario">{esc(scenario_text)}</pre>',
    }
    return html_page(
        title=f"What-if “{name}” on cycle {cycle}, plan version {version}",
        subtitle="Impact of the scenario against the published plan, re-planned on the same "
        "inputs and baselines. The published plan is not changed.",
        sections=WHATIF_SECTIONS, bodies=bodies, css=CSS + EXTRA_CSS,
        footer=f"What-if {name} on plan version {version} of cycle {cycle}.",
    )


def markdown_summary(name: str, cycle: str, version: int, comparison: Comparison,
                     path: str | PathLike[str]) -> str:
    """The what-if's Prefect artifact: the verdict and the totals of `comparison` as Markdown,
    and where the scenario is stored (`path`, the scenario's folder)."""
    t = comparison.totals
    folder = PurePath(path)
    lines = [
        f"# What-if `{name}` on plan {cycle} version {version}",
        "",
        f"**{comparison.verdict}**",
        "",
        "| measure | change |",
        "|---|---:|",
        f"| demand asked (units) | {t['extra_demand_units']:+,.0f} |",
        f"| sales served (units) | {t['extra_served_units']:+,.0f} |",
        f"| cannot be served (units) | {t['extra_shortfall_units']:+,.0f} |",
        f"| cannot be served (value at cost) | {t['extra_shortfall_value']:+,.0f} |",
        f"| overtime cost | {t['extra_overtime_cost']:+,.0f} |",
        f"| inbound pallets | {t['extra_inbound_pallets']:+,.0f} |",
        f"| stock after the event (units) | {t['extra_stock_after_event_units']:+,.0f} |",
        f"| months becoming short | {len(t['months_became_short'])} |",
        "",
        f"Stored in `{folder}` (report: `{folder / 'report.html'}`). "
        "The published plan is unchanged.",
    ]
    return "\n".join(lines)
