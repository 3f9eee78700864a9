"""Charts for the few SKU x locations the meeting should discuss: history, baseline with
80/95% intervals, sales' number and the consensus on one time axis."""

import pandas as pd

from data_contracts.periods import add_months, months_between
from reporting import figures as fig
from reporting.markup import esc, signed_units, units
from reporting.plan_digest import PlanDigest
from reporting.svg import (
    COLOR_BASELINE,
    COLOR_HISTORY,
    COLOR_SALES,
    Band,
    Line,
    consensus_lines,
    line_chart,
)

HISTORY_MONTHS = 36  # enough to see a seasonal pattern twice over
Values = list[float | None]


def _rows_of(df: pd.DataFrame, skus: set[str]) -> pd.DataFrame:
    """Only the focus SKUs' rows, with key columns as text (filter first: frames can be large)."""
    if df.empty:
        return df
    sub = df[fig.text(df, "sku").isin(skus)]
    return sub.assign(
        sku=fig.text(sub, "sku"), location=fig.text(sub, "location"), period=fig.text(sub, "period")
    )


def _column(df: pd.DataFrame, col: str, periods: list[str]) -> Values:
    """Values of df[col] by period, None where absent."""
    if df.empty or col not in df.columns:
        return [None] * len(periods)
    s = pd.to_numeric(df[col], errors="coerce")
    by_period = dict(zip(df["period"], s, strict=True))
    return [None if pd.isna(by_period.get(p)) else float(by_period[p]) for p in periods]


def _one_chart(
    cycle: str,
    sku: str,
    loc: str,
    plan: pd.DataFrame,
    baseline: pd.DataFrame,
    history: pd.DataFrame,
    subtitle: str,
) -> str:
    horizon = sorted(plan["period"].unique())
    start = add_months(horizon[0], -HISTORY_MONTHS)
    hs = (
        history[(history["period"] >= start) & (history["period"] < horizon[0])]
        if len(history)
        else history
    )
    first = str(hs["period"].min()) if len(hs) else horizon[0]
    past = [add_months(first, i) for i in range(max(0, months_between(first, horizon[0])))]
    # Absent history months are zero demand (SPEC), from the series' first month shown.
    actual = dict(zip(hs["period"], fig.numeric(hs, "qty"), strict=True)) if len(hs) else {}
    hist_line: Values = [float(actual.get(p, 0.0)) for p in past]
    pad_h: Values = [None] * len(horizon)
    pad_p: Values = [None] * len(past)

    sales = [v if v and v > 0 else None for v in _column(plan, "sales_forecast", horizon)]
    consensus = _column(plan, "consensus_demand", horizon)
    constrained = _column(plan, "constrained_demand", horizon)
    lines = [
        Line("History", hist_line + pad_h, COLOR_HISTORY, None, 1.5),
        Line(
            "Baseline", pad_p + _column(plan, "baseline_forecast", horizon), COLOR_BASELINE, "2 3"
        ),
    ]
    if any(v is not None for v in sales):
        lines.append(Line("Sales", pad_p + sales, COLOR_SALES, "6 4"))
    cut = any(
        c is not None and d is not None and c < d - 1e-6
        for c, d in zip(constrained, consensus, strict=True)
    )
    lines += consensus_lines(pad_p + consensus, pad_p + constrained if cut else None)
    bands = [
        Band(
            f"{level}% interval",
            pad_p + _column(baseline, f"lo_{level}", horizon),
            pad_p + _column(baseline, f"hi_{level}", horizon),
            COLOR_BASELINE,
            opacity,
        )
        for level, opacity in ((95, 0.10), (80, 0.18))
    ]
    title = f"{sku} @ {loc}"
    chart = line_chart(
        past + horizon,
        lines,
        bands,
        title=title,
        width=640,
        height=270,
        marker_x=cycle,
        marker_label="cycle",
    )
    return (
        f'<div class="skuchart"><h3>{esc(title)}</h3><p class="note">{esc(subtitle)}</p>'
        f"{chart}</div>"
    )


def render_sku_charts(
    cycle: str,
    plan: PlanDigest,
    baseline: pd.DataFrame,
    history: pd.DataFrame,
    max_charts: int,
) -> str:
    """HTML for at most `max_charts` charts, the SKU x locations with the largest gap/shortfall
    (the digest's focus series, drawn from its rows of them)."""
    if max_charts > plan.focus_n:
        raise ValueError(f"{max_charts} charts asked of a plan digest of the top {plan.focus_n}")
    focus = plan.focus.head(max_charts)
    if focus.empty:
        return '<p class="empty">No SKU with a gap to sales or a shortfall.</p>'
    skus = set(focus["sku"])
    plan_f, base_f, hist_f = plan.focus_rows, _rows_of(baseline, skus), _rows_of(history, skus)
    charts = []
    for row in focus.itertuples(index=False):  # at most max_charts iterations
        sku, loc = str(row.sku), str(row.location)

        def pick(df: pd.DataFrame, sku: str = sku, loc: str = loc) -> pd.DataFrame:
            return df[(df["sku"] == sku) & (df["location"] == loc)] if len(df) else df

        p, b = pick(plan_f), pick(base_f)
        if p.empty:
            continue
        detail = ""
        if len(b):
            model = fig.text(b, "model").iloc[0]
            demand_class = fig.text(b, "demand_class").iloc[0]
            detail = " · " + ", ".join(
                x for x in (f"model {model}" if model else "", demand_class) if x
            )
        subtitle = (
            f"gap to sales {signed_units(row.gap_units)} units, "
            f"shortfall {units(row.shortfall)} units{detail.rstrip(' ·')}"
        )
        charts.append(_one_chart(cycle, sku, loc, p, b, pick(hist_f), subtitle))
    return (
        f'<p class="sub">The {len(charts)} SKU × warehouses with the largest gap between sales '
        "and consensus plus shortfall.</p>"
        f'<div class="grid2">{"".join(charts)}</div>'
    )
