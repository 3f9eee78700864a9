"""Report parts on how the plan moves and how promises were kept: the waterfall since last cycle,
plan stability across cycles (next to forecast value added) and each sales team's bias trend.

Built from the published tables plan_waterfall, plan_stability and sales_bias (reconciliation/
waterfall.py, stability.py, sales_bias.py say what every number means).
"""

import math

import pandas as pd

from reporting import figures as fig
from reporting.markup import Col, esc, html_table, percent, signed_units, units
from reporting.plan_digest import (
    CHANGE_TYPES,
    ChangeDigest,
    PlanDigest,
    change_digest,
    firm_mask,
    plan_digest,
)
from reporting.plan_digest import change_counts as change_counts  # re-exported: read from here
from reporting.svg import Line, WaterfallStep, line_chart, waterfall_chart

STEP_LABELS = {
    "previous_consensus": "Last cycle",
    "baseline": "Baseline & actuals",
    "promotions": "Promotions",
    "sales": "Sales",
    "overrides": "Overrides",
    "customer_orders": "Customer orders",
    "other": "Other",
    "consensus": "Consensus",
    "capacity": "Capacity",
    "constrained_demand": "Constrained",
}
TOP_FAMILIES = 25
TEAM_COLORS = ("#1971c2", "#d9480f", "#2b8a3e", "#5f3dc4", "#e67700", "#0c8599", "#c2255c",
               "#495057")
MAX_TEAMS_CHARTED = len(TEAM_COLORS)


def _pct_tick(t: float) -> str:
    """Axis label of a percentage (values already x 100)."""
    return f"{t:g}%"


def _num(df: pd.DataFrame, col: str) -> pd.Series:
    return pd.to_numeric(df[col], errors="coerce") if col in df else pd.Series(
        math.nan, index=df.index)


def waterfall_steps(waterfall: pd.DataFrame, key: str = "ALL") -> list[WaterfallStep]:
    """The chart's steps of one key (a family, or ALL), in the table's order."""
    rows = waterfall[fig.text(waterfall, "key") == key].sort_values("step_no")
    return [WaterfallStep(STEP_LABELS.get(str(s), str(s)), float(u), str(k) == "total")
            for s, u, k in zip(rows["step"], _num(rows, "units"), rows["kind"], strict=True)]


def waterfall_by_family(waterfall: pd.DataFrame, top_n: int = TOP_FAMILIES) -> pd.DataFrame:
    """One row per family: each step's units, the families that moved most first."""
    fam = waterfall[fig.text(waterfall, "level") == "family"]
    if fam.empty:
        return pd.DataFrame(columns=["key"])
    wide = fam.pivot_table(index="key", columns="step", values="units", aggfunc="first")
    wide["_moved"] = (wide.get("consensus", 0) - wide.get("previous_consensus", 0)).abs()
    wide = wide.sort_values("_moved", ascending=False, kind="stable").head(top_n)
    return wide.drop(columns="_moved").reset_index()


def _waterfall(waterfall: pd.DataFrame | None) -> str:
    head = '<h3 id="plan-waterfall">Waterfall: last cycle\'s consensus to this one</h3>'
    if waterfall is None or waterfall.empty:
        return head + ('<p class="empty">No waterfall: no plan of the previous cycle was '
                       "published to this output folder, or it shares no month with this one."
                       "</p>")
    first = waterfall.iloc[0]
    intro = (
        f'<p class="sub">Months both plans cover: {esc(first["first_period"])} to '
        f'{esc(first["last_period"])}; previous plan: cycle {esc(first["previous_cycle"])}, '
        f'version {esc(first["previous_version"])}. Each step switches one part of the '
        "consensus from last cycle's value to this cycle's, in the order the consensus is "
        "built (baseline incl. new actuals → promotions → sales number and trust weight → "
        "overrides → booked customer orders), so the steps add up exactly; <em>Other</em> is "
        "what the published parts do not explain (e.g. a previous plan published before they "
        "were kept). Capacity = constrained − consensus.</p>"
    )
    steps_total = waterfall_steps(waterfall)
    chart = waterfall_chart(steps_total, title="Why the plan moved, all families")
    # The chart rounds to 1.2M; the meeting quotes the units, so they are listed beside it.
    total_table = html_table(
        pd.DataFrame({"step": [s.label for s in steps_total],
                      "units": [units(s.units) if s.is_total else signed_units(s.units)
                                for s in steps_total]}),
        [Col("step", "Step"), Col("units", "Units, all families", lambda v: str(v), True)],
        max_rows=len(STEP_LABELS))
    view = waterfall_by_family(waterfall)
    steps = [s for s in STEP_LABELS if s in view.columns]
    cols = [Col("key", "Family")] + [
        Col(s, STEP_LABELS[s], units if s in ("previous_consensus", "consensus",
                                               "constrained_demand") else signed_units, True)
        for s in steps]
    n = int(fig.text(waterfall, "key")[fig.text(waterfall, "level") == "family"].nunique())
    return head + intro + f'<div class="grid2"><div>{chart}</div><div>{total_table}</div></div>' \
        + "<h3>Per family</h3>" + html_table(
        view, cols, max_rows=TOP_FAMILIES, total_rows=n)


def stability_trend(stability: pd.DataFrame | None) -> pd.DataFrame:
    """Total rows, one per cycle: cycle, plan_version, previous_cycle, changed_share, units."""
    cols = ["cycle", "plan_version", "previous_cycle", "overlap_months", "previous_units",
            "changed_units", "changed_share"]
    if stability is None or stability.empty:
        return pd.DataFrame(columns=cols)
    total = stability[fig.text(stability, "level") == "total"]
    return total.sort_values("cycle")[cols].reset_index(drop=True)


def _stability(stability: pd.DataFrame | None, fva: pd.DataFrame | None) -> str:
    head = '<h3 id="plan-stability">Plan stability across cycles, next to forecast value added</h3>'
    trend = stability_trend(stability)
    intro = (
        '<p class="sub">Share of volume that changed = Σ |consensus − last cycle\'s consensus| '
        "÷ Σ last cycle's consensus, over the months both plans cover (every SKU × location; "
        "a unit moved to another month counts where it left and where it arrived). Lower is "
        "steadier for procurement; read it with FVA: churn that does not buy accuracy is "
        "noise.</p>"
    )
    fva_total = fig.fva_total(fva)
    consensus = fva_total[fva_total["step"] == "consensus"]
    if consensus.empty:
        fva_note = ('<p class="note">Consensus FVA: not scored yet (no published plan has '
                    "months with actuals).</p>")
    else:
        r = consensus.iloc[0]
        fva_note = (f'<p class="note">Consensus over all past cycles: WAPE {percent(r["wape"])}, '
                    f'FVA vs sales {percent(r["fva"], signed=True)} '
                    "(percentage points; positive = the meeting's changes improved accuracy)."
                    "</p>")
    if trend.empty:
        return head + intro + ('<p class="empty">No stability figure yet: it needs the plan '
                               "of the previous cycle.</p>") + fva_note
    chart = line_chart(
        list(trend["cycle"]),
        [Line("Share of volume changed (%)", list(_num(trend, "changed_share") * 100),
              "#1971c2")],
        title="Share of last cycle's volume changed, per cycle", height=220,
        tick_format=_pct_tick)
    table = html_table(trend, [
        Col("cycle", "Cycle"), Col("previous_cycle", "Compared with"),
        Col("overlap_months", "Months", units, True),
        Col("previous_units", "Last cycle's units", units, True),
        Col("changed_units", "Units changed", units, True),
        Col("changed_share", "Share changed", percent, True),
    ], max_rows=24)
    return head + intro + f'<div class="grid2"><div>{chart}</div><div>{table}{fva_note}</div>' \
        "</div>"


FENCE_EXCEPTION = "FROZEN_FENCE_CHANGE"


def fence_warnings(exceptions: pd.DataFrame) -> int:
    """The fence's warnings (units in their messages are not summed: each says its own)."""
    warn = (fig.text(exceptions, "type") == FENCE_EXCEPTION) & (
        fig.text(exceptions, "severity") != "info")
    return int(warn.sum())


def fence_summary(consensus_plan: pd.DataFrame, exceptions: pd.DataFrame) -> dict[str, float]:
    """Firm receipts the plan kept (rows and units) and the fence's warnings (count)."""
    firm = firm_mask(consensus_plan)
    return {"firm_rows": int(firm.sum()),
            "firm_units": float(_num(consensus_plan, "planned_receipts")[firm].sum()),
            "warnings": fence_warnings(exceptions)}


def _changes_and_fence(plan_changes: pd.DataFrame | ChangeDigest | None,
                       consensus_plan: pd.DataFrame | PlanDigest | None,
                       exceptions: pd.DataFrame | None) -> str:
    head = '<h3 id="plan-changes">Change feed and time fence</h3>'
    if plan_changes is None or consensus_plan is None:
        return ""
    changes = (plan_changes if isinstance(plan_changes, ChangeDigest)
               else change_digest(plan_changes))
    plan = consensus_plan if isinstance(consensus_plan, PlanDigest) else plan_digest(
        consensus_plan, 0)
    if changes.empty:
        feed = ('<p class="empty">No change feed: no earlier published plan to compare with, '
                "or nothing differs.</p>")
    else:
        counts = changes.counts
        feed = (f'<p class="sub">Against plan {esc(changes.previous_cycle)} version '
                f'{esc(changes.previous_version)}: {changes.rows:,} rows differ '
                f"(<code>plan_changes.parquet</code>), {int(counts['order_lines'].sum()):,} of "
                "them change an order (receipts or release month).</p>" + html_table(
                    counts, [Col("change", "Change"), Col("rows", "Rows", units, True),
                             Col("order_lines", "Order lines", units, True)],
                    max_rows=len(CHANGE_TYPES)))
    warnings = fence_warnings(exceptions if exceptions is not None
                              else pd.DataFrame(columns=["type", "severity"]))
    if not plan.has_firm_receipt or not (plan.firm_rows or warnings):
        fence_html = ('<p class="note">Time fence: off, or nothing of last cycle\'s plan fell '
                      "inside it (<code>reconciliation: {frozen_months: N}</code>).</p>")
    else:
        fence_html = (f'<p class="note">Time fence: {plan.firm_rows:,} receipts of last '
                      f"cycle's plan kept as they were ({units(plan.firm_units)} units, "
                      f"<code>firm_receipt</code>); {warnings:,} "
                      f"<code>{FENCE_EXCEPTION}</code> warnings where this cycle's demand "
                      "would need them changed (see Exceptions).</p>")
    return head + feed + fence_html


def movement_section(waterfall: pd.DataFrame | None, stability: pd.DataFrame | None,
                     fva: pd.DataFrame | None,
                     plan_changes: pd.DataFrame | ChangeDigest | None = None,
                     consensus_plan: pd.DataFrame | PlanDigest | None = None,
                     exceptions: pd.DataFrame | None = None) -> str:
    """The "why the plan moved" section: the change feed and the time fence, the waterfall,
    then stability next to FVA. The plan and plan_changes as frames or as their digests
    (reporting/plan_digest.py)."""
    return (_changes_and_fence(plan_changes, consensus_plan, exceptions)
            + _waterfall(waterfall) + _stability(stability, fva))


def bias_trend(bias: pd.DataFrame, measure: str) -> pd.DataFrame:
    """Cycles x teams of `measure` (sales_bias or sales_weight), cycles in order."""
    if bias.empty:
        return pd.DataFrame()
    return bias.assign(_v=_num(bias, measure)).pivot_table(
        index="submission_cycle", columns="submitted_by", values="_v", aggfunc="first",
        dropna=False).sort_index()


def bias_section(bias: pd.DataFrame | None) -> str:
    """Each sales team's bias per past cycle and the trust weight it got, as trends."""
    if bias is None:
        return ""
    head = '<h3 id="sales-bias">Sales bias per team over cycles, and the trust weight it got</h3>'
    if bias.empty or _num(bias, "sales_bias").notna().sum() == 0:
        return head + ('<p class="empty">No sales bias yet: no past submissions for months '
                       "that now have actuals.</p>")
    intro = (
        '<p class="sub">Bias = Σ (sales number − actual) ÷ Σ actual over a team\'s submissions '
        "of that cycle for months now known (positive = optimistic). Weight = the mean trust "
        "weight of the team's rows in that cycle's published plan (this cycle's too). Trust "
        "works when a persistently biased team's weight falls and an accurate team's "
        "rises.</p>"
    )
    by_bias, by_weight = bias_trend(bias, "sales_bias"), bias_trend(bias, "sales_weight")
    teams = list(by_bias.columns)[:MAX_TEAMS_CHARTED]
    cycles = list(by_bias.index)

    def lines(wide: pd.DataFrame, scale: float) -> list[Line]:
        return [Line(str(t), list(wide[t] * scale), TEAM_COLORS[i % len(TEAM_COLORS)])
                for i, t in enumerate(teams) if t in wide]

    charts = (
        line_chart(cycles, lines(by_bias, 100), title="Sales bias per team (%)", height=240,
                   zero_based=False, tick_format=_pct_tick)
        + line_chart(cycles, lines(by_weight, 100), title="Trust weight per team (%)",
                     height=240, tick_format=_pct_tick)
    )
    table = html_table(bias.sort_values(["submitted_by", "submission_cycle"]), [
        Col("submitted_by", "Sales team"), Col("submission_cycle", "Cycle"),
        Col("n_obs", "Observations", units, True),
        Col("sales_bias", "Sales bias", lambda v: percent(v, signed=True), True),
        Col("consensus_bias", "Consensus bias", lambda v: percent(v, signed=True), True),
        Col("sales_weight", "Trust weight", percent, True),
    ], max_rows=60)
    return head + intro + f'<div class="grid2"><div>{charts}</div><div>{table}</div></div>'
