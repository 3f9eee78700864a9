"""The S&OP meeting pack: one self-contained HTML page (inline CSS and SVG, no external URL).

Built from the published tables only. Its size is bounded whatever the number of SKUs:
everything is aggregated (months, families, warehouses), tables are capped at top-N rows
and the number of SKU charts is fixed.
"""

import re
from typing import Any

import pandas as pd

from reporting import figures as fig
from reporting.markdown import render_markdown_summary
from reporting.markup import (
    Col,
    decimal,
    esc,
    html_page,
    html_table,
    month_grid,
    percent,
    readable_number,
    signed_units,
    units,
)
from reporting.movement import bias_section, movement_section
from reporting.plan_digest import ChangeDigest, PlanDigest, change_digest, plan_digest
from reporting.sku_charts import render_sku_charts
from reporting.style import CSS
from reporting.svg import (
    COLOR_BASELINE,
    COLOR_CONSENSUS,
    COLOR_NAIVE,
    COLOR_SALES,
    Bar,
    HeatRow,
    Line,
    bar_chart,
    consensus_lines,
    heatmap,
    line_chart,
    utilisation_color,
)

__all__ = ["SECTIONS", "render_markdown_summary", "render_report"]

# id -> title, in page order. Tests and the browser check rely on these ids.
SECTIONS: dict[str, str] = {
    "headline": "Headline: sales vs baseline vs consensus",
    "capacity": "Capacity per warehouse and month",
    "promotions": "Promotions and their extra load",
    "exceptions": "Exceptions: what the meeting must decide",
    "movement": "Why the plan moved",
    "trust": "Trust in each sales team",
    "contracts": "Data contracts",
    "sku-charts": "SKUs to discuss",
}
TOP_FAMILIES = 25
TOP_EXCEPTIONS = 25
TOP_PROMOTIONS = 15
MAX_LOCATIONS_IN_HEATMAP = 30
MAX_CONTRACT_ROWS = 30
TOP_FVA_KEYS = 25
COLOR_LOSS = "#c92a2a"  # the stylesheet's --err
COLOR_MUTED = "#6c757d"  # the stylesheet's --muted
FVA_STEP_LABELS = {
    "naive": "Naive",
    "baseline": "Baseline",
    "sales": "Sales",
    "consensus": "Consensus",
}
# Why a step can have no score (reconciliation.fva: where each step's past forecasts come from).
FVA_MISSING_WHY = {
    "naive": "no past cycle has a month of sales history before it.",
    "baseline": "no past cycle has enough history before it to rebuild a baseline.",
    "sales": "no past sales submissions (forecast history) for months that now have actuals.",
    "consensus": "it is scored on this pipeline's earlier published plans, and no earlier "
    "plan has months with actuals yet. It appears once the months of a published plan "
    "have actuals.",
}
FVA_STEP_COLORS = {
    "naive": COLOR_NAIVE,
    "baseline": COLOR_BASELINE,
    "sales": COLOR_SALES,
    "consensus": COLOR_CONSENSUS,
}


# Relative links only: no scheme ("https:", "javascript:") and no protocol-relative "//".
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def safe_relative_href(href: str | None) -> str | None:
    """The href if it is a relative path, else None (the report must never call out)."""
    if not href:
        return None
    h = href.strip()
    if not h or _SCHEME.match(h) or h.startswith(("//", "\\\\")) or "\\" in h[:2]:
        return None
    return h


def _signed_pct_html(v: object) -> str:
    s = percent(v, signed=True)
    if s.startswith("-"):
        return f'<span class="neg">{s}</span>'
    return s


def _badge(status: str) -> str:
    return f'<span class="badge {esc(status)}">{esc(status)}</span>'


def _card(key: str, value: str, detail: str = "") -> str:
    d = f'<div class="d">{detail}</div>' if detail else ""
    return f'<div class="card"><div class="k">{esc(key)}</div><div class="v">{value}</div>{d}</div>'


# --- sections --------------------------------------------------------------------------------


def _headline(cycle: str, plan: PlanDigest, family_plan: pd.DataFrame | None) -> str:
    h = plan.headline
    cards = "".join(
        [
            _card("Sales", units(h.sales), f"{h.n_skus:,} SKUs, {h.n_series:,} SKU × locations"),
            _card("Baseline", units(h.baseline), "statistical, promo-free"),
            _card(
                "Consensus",
                units(h.consensus),
                f"{_signed_pct_html(h.gap_to_sales_pct)} vs sales, "
                f"{_signed_pct_html(h.consensus_vs_baseline_pct)} vs baseline",
            ),
            _card(
                "Constrained",
                units(h.constrained),
                f"{percent(h.service_pct)} of consensus servable",
            ),
            _card("Shortfall", units(h.shortfall), "consensus that capacity cannot serve"),
            _card(
                "Gap to sales", signed_units(h.gap_to_sales), _signed_pct_html(h.gap_to_sales_pct)
            ),
        ]
    )
    monthly = plan.monthly
    periods = monthly["period"].tolist()
    chart = line_chart(
        periods,
        [
            Line("Sales", monthly["sales_forecast"].tolist(), COLOR_SALES, "6 4"),
            Line("Baseline", monthly["baseline_forecast"].tolist(), COLOR_BASELINE, "2 3"),
            *consensus_lines(
                monthly["consensus_demand"].tolist(), monthly["constrained_demand"].tolist()
            ),
        ],
        title=f"Monthly demand, all SKUs and warehouses, cycle {cycle}",
        zero_based=False,
    )
    fam = fig.family_totals(family_plan, top_n=TOP_FAMILIES)
    table = html_table(
        fam,
        [
            Col("family", "Family"),
            Col("sales_forecast", "Sales", units, True),
            Col("baseline_forecast", "Baseline", units, True),
            Col("consensus_demand", "Consensus", units, True),
            Col("constrained_demand", "Constrained", units, True),
            Col("gap_units", "Gap to sales", signed_units, True),
            Col("gap_pct", "Gap %", _signed_pct_html, True),
            Col("shortfall", "Shortfall", units, True),
        ],
        max_rows=TOP_FAMILIES,
    )
    return (
        f'<div class="cards">{cards}</div>'
        f'<p class="sub">Horizon {esc(h.n_periods)} months from {esc(cycle)}; '
        "all figures in units (the chart’s axis does not start at zero). Where capacity serves "
        "all of the consensus, the thin constrained line runs inside the wide consensus line.</p>"
        f"{chart}<h3>By family</h3>{table}"
    )


def _capacity(capacity: pd.DataFrame) -> str:
    if capacity.empty:
        return '<p class="empty">No capacity report.</p>'
    per_loc = fig.capacity_by_location(capacity)
    per_loc["status"] = per_loc.apply(fig.location_status, axis=1)

    def months_list(v: object) -> str:
        items = list(v) if isinstance(v, list) else []
        more = f" (+{len(items) - 6} more)" if len(items) > 6 else ""
        return esc(", ".join(items[:6]) + more)

    table = html_table(
        per_loc,
        [
            Col("location", "Warehouse"),
            Col("status", "Status", lambda s: _badge(str(s))),
            Col("overtime", "Overtime months", units, True),
            Col("short", "Short months", units, True),
            Col("peak_util", "Peak utilisation", percent, True),
            Col("overtime_cost", "Overtime cost", units, True),
            Col("overtime_months", "Overtime in", months_list),
            Col("short_months", "Short in", months_list),
            # Not a capacity problem: shown apart so that no one buys overtime for it.
            Col("lead_time_shortfall_units", "Lost to lead time (units)", units, True),
        ],
        max_rows=MAX_LOCATIONS_IN_HEATMAP,
    )
    util = fig.capacity_utilisation(capacity)
    periods = sorted(util["period"].unique())
    locations = per_loc.sort_values(["short", "overtime"], ascending=False)["location"].tolist()
    rows: list[HeatRow] = []
    for loc in locations[:MAX_LOCATIONS_IN_HEATMAP]:
        g = util[util["location"] == loc].set_index("period").reindex(periods)
        status = g["status"].fillna("ok").tolist()
        for i, (name, _, _) in enumerate(fig.UTIL_METRICS):
            values = [None if pd.isna(v) else float(v) for v in g[f"{name}_util"]]
            # Overtime/short are flagged on the resource that exceeds its regular capacity.
            marks = [
                s if s != "ok" and v is not None and v > 1.0 + 1e-9 else ""
                for s, v in zip(status, values, strict=True)
            ]
            if name != "storage" and not any(marks):  # status without a visible culprit
                marks = [s if s != "ok" and name == "inbound" else "" for s in status]
            rows.append(HeatRow(f"{loc} · {name}", values, marks, group_start=i == 0))
    legend = (
        '<div class="legendbar">Utilisation:'
        + "".join(
            f'<span class="sw" style="background:{utilisation_color(u)}"></span>{int(u * 100)}%'
            for u in (0.0, 0.5, 0.8, 1.0, 1.15, 1.25)
        )
        + " · <b>purple corner</b> = overtime used"
        + " · <b>red border and !</b> = short (demand cut)</div>"
    )
    hidden = len(locations) - MAX_LOCATIONS_IN_HEATMAP
    note = f'<p class="note">{hidden} more warehouses not drawn.</p>' if hidden > 0 else ""
    chart = heatmap(periods, rows, title="Capacity utilisation per warehouse and month")
    return f"{table}<h3>Utilisation heatmap (load ÷ regular capacity)</h3>{legend}{chart}{note}"


def _promotions(
    promotion_load: pd.DataFrame | None, plan: PlanDigest, capacity: pd.DataFrame
) -> str:
    view = fig.promotion_view(promotion_load, capacity, top_n=TOP_PROMOTIONS)
    if view.top.empty:
        return '<p class="empty">No promotions planned in the horizon.</p>'
    intro = (
        f'<p class="sub">{view.n_promotions:,} promotions touch the horizon, adding about '
        f"{units(view.extra_units)} units ({units(view.extra_pallets)} pallets) "
        "over the promo-free baseline. "
        "Extra load = baseline × uplift %.</p>"
    )
    table = html_table(
        view.top,
        [
            Col("promo_id", "Promotion"),
            Col("sku", "SKU"),
            Col("location", "Warehouse"),
            Col("start_period", "From"),
            Col("end_period", "To"),
            Col("uplift_pct", "Uplift %", lambda v: decimal(v, 0), True),
            Col("extra_units", "Extra units", units, True),
            Col("extra_pallets", "Extra pallets", lambda v: decimal(v, 1), True),
            Col("capacity_flag", "Lands in a tight month"),
        ],
        max_rows=TOP_PROMOTIONS,
        total_rows=view.n_promotions,
    )
    pivot = view.by_month.pivot_table(
        index="location", columns="period", values="extra_pallets", aggfunc="sum"
    )
    # Every month of the horizon, so the blocks line up a year each ("–" = no promotion).
    horizon = list(plan.periods)
    pivot = pivot.reindex(horizon or sorted(pivot.columns), axis=1)
    pivot = pivot.head(MAX_LOCATIONS_IN_HEATMAP)
    by_month = "<h3>Extra pallets per warehouse and month</h3>" + month_grid(
        "Warehouse", pivot, lambda v: decimal(v, 0)
    )
    return intro + table + by_month


def _exceptions(exceptions: pd.DataFrame) -> str:
    counts = fig.exception_counts(exceptions)
    badges = " ".join(f"{_badge(s)} {n:,}" for s, n in counts.items())
    types = fig.exception_types(exceptions)
    type_table = html_table(
        types,
        [
            Col("type", "Type"),
            Col("error", "Errors", units, True),
            Col("warning", "Warnings", units, True),
            Col("info", "Info", units, True),
            Col("total", "Total", units, True),
        ],
        max_rows=20,
        total_rows=int(fig.text(exceptions, "type").nunique()),
    )
    top = fig.top_exceptions(exceptions, TOP_EXCEPTIONS)
    serious = counts.get("error", 0) + counts.get("warning", 0)
    top_table = html_table(
        top,
        [
            Col("severity", "Severity", lambda s: _badge(str(s))),
            Col("type", "Type"),
            Col("sku", "SKU"),
            Col("location", "Warehouse"),
            Col("period", "Month", lambda v: f'<span class="nw">{esc(v)}</span>'),
            Col("message", "What happened"),
            Col("decision", "Decision needed"),
        ],
        max_rows=TOP_EXCEPTIONS,
        total_rows=serious or len(exceptions),
        row_class=lambda r: str(r["severity"]),
    )
    return (
        f"<p>{badges}</p><h3>By type</h3>{type_table}"
        f"<h3>Top exceptions (errors first)</h3>{top_table}"
    )


def _trust(trust: pd.DataFrame | None) -> str:
    view = fig.trust_view(trust)
    if view.empty:
        return '<p class="empty">No trust evidence (no forecast history).</p>'
    def share(v: object) -> str:
        return percent(v, digits=0)

    # Headers a planner reads without the trust model's vocabulary; shares as percentages.
    known = {
        "submitted_by": Col("submitted_by", "Sales team"),
        "direction": Col("direction", "Adjustments"),
        "weight": Col("weight", "Share of the team's number taken", share, True),
        "weight_small": Col("weight_small", "Share for small adjustments", share, True),
        "n_obs": Col("n_obs", "Past months scored", units, True),
        "bias": Col("bias", "Bias", _signed_pct_html, True),
        "wape": Col("wape", "Team's error (WAPE)", percent, True),
        "reference_wape": Col("reference_wape", "Baseline's error (WAPE)", percent, True),
        "fitted_wape": Col("fitted_wape", "Blend's error (WAPE)", percent, True),
        "w_fit": Col("w_fit", "Share the track record supports", share, True),
        "prior": Col("prior", "Share before evidence", share, True),
        "mean_adjustment_pct": Col("mean_adjustment_pct", "Mean adjustment",
                                   lambda v: _signed_pct_html(
                                       v / 100 if isinstance(v, int | float) else v), True),
    }
    cols = [known.get(c, Col(c, c.replace("_", " ").capitalize(), lambda v: decimal(v, 2)))
            for c in view.columns]
    return (
        '<p class="sub">Bias = submitted ÷ actual − 1 on past submissions (positive = optimistic). '
        "The share is how much of the team's adjustment (its number minus the baseline) the "
        "consensus keeps: the track record's share, pulled toward the share before evidence "
        "while few months are scored. Adjustments up and down are judged apart.</p>"
        + html_table(view, cols, max_rows=50)
    )


def _fva_points(v: object) -> str:
    """A WAPE difference in percentage points, red when the step lost accuracy."""
    s = decimal(v * 100 if isinstance(v, int | float) else v, 1)
    if s == "–":
        return s
    s = ("+" if not s.startswith("-") else "") + s + " pp"
    return f'<span class="neg">{s}</span>' if s.startswith("-") else s


def _fva(fva: pd.DataFrame | None) -> str:
    """The FVA stair-step: naive -> baseline -> sales -> consensus on past cycles."""
    if fva is None:
        return ""
    head = '<h3 id="fva">FVA stair-step: what each step adds to accuracy</h3>'
    total = fig.fva_total(fva)
    if total.empty:
        return head + (
            '<p class="empty">No forecast value added yet: no past cycles with known actuals '
            "(forecast history or earlier plans).</p>"
        )
    intro = (
        '<p class="sub">Past cycles whose months now have actuals. WAPE = Σ|forecast − actual| '
        "÷ Σ actual; bias = Σ forecast ÷ Σ actual − 1 (positive = optimistic); FVA = WAPE of the "
        "previous step − WAPE of this step, in percentage points (positive = the step improved "
        "the forecast). Naive = the same month a year earlier (else the last month known); "
        "baseline = the promo-free statistical forecast; within each row every step is "
        "measured on the same points.</p>"
    )
    present = {str(r.step): r for r in total.itertuples(index=False)}
    bars = []
    for step in fig.FVA_STEPS:  # every step has its slot, so a missing one shows as missing
        label, color = FVA_STEP_LABELS[step], FVA_STEP_COLORS[step]
        r = present.get(step)
        if r is None:
            bars.append(Bar(label, None, color, note="not scored yet", note_color=COLOR_MUTED))
            continue
        bars.append(
            Bar(
                label,
                float(r.wape) if pd.notna(r.wape) else None,
                color,
                value_label=percent(r.wape),
                note="" if pd.isna(r.fva) else f"FVA {float(r.fva) * 100:+.1f} pp",
                note_color=COLOR_LOSS if pd.notna(r.fva) and float(r.fva) < 0 else None,
            )
        )
    missing = "".join(
        f'<p class="note">{esc(FVA_STEP_LABELS[s])} is not scored yet: {esc(FVA_MISSING_WHY[s])}'
        "</p>"
        for s in fig.FVA_STEPS
        if s not in present
    )
    chart = bar_chart(
        bars, title="WAPE per step, all past cycles", tick_format=lambda t: f"{t * 100:.0f}%"
    )
    total_table = html_table(
        total.assign(step=total["step"].map(lambda x: FVA_STEP_LABELS.get(x, x))),
        [
            Col("step", "Step"),
            Col("wape", "WAPE", percent, True),
            Col("bias", "Bias", _signed_pct_html, True),
            Col("fva", "FVA vs previous step", _fva_points, True),
            Col("n_obs", "Observations", units, True),
        ],
        max_rows=len(FVA_STEP_LABELS),
    )
    parts = [
        head,
        intro,
        f'<div class="grid2"><div>{chart}{missing}</div><div>{total_table}</div></div>',
    ]
    for level, title, key_header in (
        ("team", "By sales team", "Sales team"),
        ("family", "By family", "Family"),
        ("team_lag", "By sales team and months ahead", "Team · lag"),
    ):
        view = fig.fva_by_key(fva, level, TOP_FVA_KEYS)
        if view.empty:
            continue
        cols = [Col("key", key_header), Col("n_obs", "Observations", units, True)]
        steps = [s for s in fig.FVA_STEPS if f"wape_{s}" in view.columns]
        cols += [
            Col(f"wape_{s}", f"WAPE {FVA_STEP_LABELS[s].lower()}", percent, True) for s in steps
        ]
        cols += [
            Col(f"bias_{s}", f"Bias {FVA_STEP_LABELS[s].lower()}", _signed_pct_html, True)
            for s in steps
            if s in ("sales", "consensus")
        ]
        cols += [
            Col(f"fva_{s}", f"FVA {FVA_STEP_LABELS[s].lower()}", _fva_points, True)
            for s in steps
            if s != "naive"
        ]
        n_keys = int(fig.text(fva, "key")[fig.text(fva, "level") == level].nunique())
        parts.append(f"<h3>{esc(title)}</h3>")
        parts.append(html_table(view, cols, max_rows=TOP_FVA_KEYS, total_rows=n_keys))
    return "".join(parts)


def _kv_value(v: Any) -> str:
    if isinstance(v, bool):
        return _badge("passed" if v else "failed")
    if isinstance(v, int | float):
        return readable_number(v)
    return esc(v)


def _contracts(summary: dict[str, Any] | None, data_docs_href: str | None) -> str:
    outcome = fig.contract_outcome(summary)
    href = safe_relative_href(data_docs_href)
    parts = [f"<p>Outcome: {_badge(outcome)}</p>"]
    if href:
        parts.append(f'<p><a href="{esc(href)}">Open the Data Docs (validation details)</a></p>')
    elif data_docs_href:
        # Not linked: an absolute URL would make the pack call out; show where to look instead.
        parts.append(f'<p class="note">Data Docs: {esc(data_docs_href)}</p>')
    if not summary:
        parts.append('<p class="empty">No contract summary was provided.</p>')
        return "".join(parts)
    scalars = {k: v for k, v in summary.items() if not isinstance(v, dict | list | tuple)}
    if scalars:
        parts.append(
            '<dl class="kv">'
            + "".join(f"<dt>{esc(k)}</dt><dd>{_kv_value(v)}</dd>" for k, v in scalars.items())
            + "</dl>"
        )
    for key, value in summary.items():
        if isinstance(value, dict) and value:
            rows = pd.DataFrame({"item": [str(k) for k in value], "value": list(value.values())})
            parts.append(f"<h3>{esc(key)}</h3>")
            parts.append(
                html_table(
                    rows,
                    [Col("item", "Item"), Col("value", "Value", _kv_value)],
                    max_rows=MAX_CONTRACT_ROWS,
                )
            )
        elif isinstance(value, list | tuple) and value:
            parts.append(f"<h3>{esc(key)}</h3>")
            if all(isinstance(v, dict) for v in value):
                df = pd.DataFrame(list(value))
                cols = [Col(str(c), str(c), _kv_value) for c in list(df.columns)[:8]]
                parts.append(html_table(df, cols, max_rows=MAX_CONTRACT_ROWS))
            else:
                items = "".join(f"<li>{esc(v)}</li>" for v in list(value)[:MAX_CONTRACT_ROWS])
                parts.append(f"<ul>{items}</ul>")
    return "".join(parts)


# --- page ------------------------------------------------------------------------------------


def render_report(
    *,
    cycle: str,
    version: int,
    consensus_plan: pd.DataFrame | PlanDigest,
    baseline_forecast: pd.DataFrame,
    capacity_report: pd.DataFrame,
    exceptions: pd.DataFrame,
    history: pd.DataFrame,
    family_plan: pd.DataFrame | None = None,
    promotion_load: pd.DataFrame | None = None,
    trust: pd.DataFrame | None = None,
    contract_summary: dict[str, Any] | None = None,
    data_docs_href: str | None = None,
    max_sku_charts: int = 6,
    fva: pd.DataFrame | None = None,
    waterfall: pd.DataFrame | None = None,
    stability: pd.DataFrame | None = None,
    sales_bias: pd.DataFrame | None = None,
    plan_changes: pd.DataFrame | ChangeDigest | None = None,
) -> str:
    """The S&OP meeting pack as one self-contained HTML document (a str).

    Takes the published tables (SPEC columns; `history` is `sales_history`), returns HTML
    with inline CSS and SVG and no external URL. The family table reads `family_plan` and the
    promotions section `promotion_load`, the tables reconciliation publishes next to the plan
    (None: the part says there is nothing), so the pack and the files never disagree.
    `data_docs_href` is linked only when it is a relative path. `fva`
    (reconciliation.fva.compute_fva) adds the FVA stair-step to the
    trust section; an empty frame shows a "no past cycles" note, None leaves the part out.
    `waterfall` and `stability` (reconciliation.waterfall / stability) fill "Why the plan
    moved" (None or empty: a note says why there is nothing); `sales_bias`
    (reconciliation.sales_bias) adds each team's bias trend to the trust section.
    `plan_changes` (SPEC) opens that section with the change feed's counts and the time
    fence's firm receipts (the plan's `firm_receipt`) and warnings; None leaves it out.

    `consensus_plan` and `plan_changes` may also come as their digests
    (reporting/plan_digest.py), which is what the report reads of them: a frame is digested
    here, as one part, so the pack is the same either way. A plan digest must have been built
    for at least `max_sku_charts` focus series.
    """
    plan = (consensus_plan if isinstance(consensus_plan, PlanDigest)
            else plan_digest(consensus_plan, max_sku_charts))
    changes = (plan_changes if plan_changes is None or isinstance(plan_changes, ChangeDigest)
               else change_digest(plan_changes))
    bodies = {
        "headline": _headline(cycle, plan, family_plan),
        "capacity": _capacity(capacity_report),
        "promotions": _promotions(promotion_load, plan, capacity_report),
        "exceptions": _exceptions(exceptions),
        "movement": movement_section(waterfall, stability, fva, changes, plan, exceptions),
        "trust": _trust(trust) + _fva(fva) + bias_section(sales_bias),
        "contracts": _contracts(contract_summary, data_docs_href),
        "sku-charts": render_sku_charts(
            cycle, plan, baseline_forecast, history, max_sku_charts
        ),
    }
    return html_page(
        title=f"S&OP meeting pack — cycle {cycle}, plan version {version}",
        subtitle="Consensus demand plan for the S&OP meeting: sales versus the statistical "
        "baseline, capacity, promotions, exceptions.",
        sections=SECTIONS, bodies=bodies, css=CSS,
        footer=f"Generated from plan version {version} of cycle {cycle}.",
    )
