"""The key figures of the S&OP pack, computed once and shared by the HTML report and the summary.

Every function takes the published tables (SPEC columns) and tolerates missing optional
columns and empty frames: a meeting pack must still render when a stage produced little.
"""

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from data_contracts.tables import SEVERITIES, SEVERITY_ORDER
from reconciliation.promotions import LOAD_COLUMNS, PROMOTION_KEYS, promotion_totals

MEASURES: tuple[str, ...] = (
    "sales_forecast",
    "baseline_forecast",
    "consensus_demand",
    "constrained_demand",
)
OTHER_FAMILIES = "(other families)"
UNKNOWN_FAMILY = "(no family)"


def numeric(df: pd.DataFrame, col: str) -> pd.Series:
    """A column as floats (0 where missing or unparsable), so sums never fail."""
    if col not in df.columns:
        return pd.Series(0.0, index=df.index)
    return pd.to_numeric(df[col], errors="coerce").fillna(0.0).astype(float)


def text(df: pd.DataFrame, col: str, default: str = "") -> pd.Series:
    """A column as strings (default where missing)."""
    if col not in df.columns:
        return pd.Series(default, index=df.index, dtype=object)
    return df[col].astype(object).where(df[col].notna(), default).astype(str)


def measures(plan: pd.DataFrame) -> pd.DataFrame:
    """MEASURES and shortfall as floats, one row per plan row (shortfall derived without it)."""
    out = pd.DataFrame({m: numeric(plan, m) for m in MEASURES}, index=plan.index)
    if "shortfall" in plan.columns:
        out["shortfall"] = numeric(plan, "shortfall")
    else:
        out["shortfall"] = (out["consensus_demand"] - out["constrained_demand"]).clip(lower=0)
    return out


def pct(part: float, whole: float) -> float:
    """part / whole, NaN when whole is 0 (a % of nothing is undefined, not 0)."""
    return part / whole if whole else math.nan


@dataclass(frozen=True)
class Headline:
    """Horizon totals of the plan, in units."""

    sales: float
    baseline: float
    consensus: float
    constrained: float
    shortfall: float
    n_skus: int
    n_series: int
    n_periods: int

    @property
    def gap_to_sales(self) -> float:
        """Consensus minus sales: negative when the meeting trimmed an optimistic number."""
        return self.consensus - self.sales

    @property
    def gap_to_sales_pct(self) -> float:
        return pct(self.gap_to_sales, self.sales)

    @property
    def consensus_vs_baseline_pct(self) -> float:
        return pct(self.consensus - self.baseline, self.baseline)

    @property
    def service_pct(self) -> float:
        """Share of consensus demand that capacity can serve."""
        return pct(self.constrained, self.consensus)


def headline_totals(plan: pd.DataFrame) -> Headline:
    m = measures(plan)
    skus = text(plan, "sku")
    locs = text(plan, "location")
    return Headline(
        sales=float(m["sales_forecast"].sum()),
        baseline=float(m["baseline_forecast"].sum()),
        consensus=float(m["consensus_demand"].sum()),
        constrained=float(m["constrained_demand"].sum()),
        shortfall=float(m["shortfall"].sum()),
        n_skus=int(skus.nunique()),
        n_series=int((skus + "\x1f" + locs).nunique()),
        n_periods=int(text(plan, "period").nunique()),
    )


def monthly_totals(plan: pd.DataFrame) -> pd.DataFrame:
    """period -> sales, baseline, consensus, constrained, shortfall (sorted by period)."""
    m = measures(plan)
    m["period"] = text(plan, "period")
    cols = [*MEASURES, "shortfall"]
    if m.empty:
        return pd.DataFrame(columns=["period", *cols])
    return m.groupby("period", sort=True)[cols].sum().reset_index()


def family_totals(family_plan: pd.DataFrame | None, top_n: int = 25) -> pd.DataFrame:
    """family -> measures + gap to sales (units, %), largest families first, the tail folded.

    Takes the published family_plan (family x location x period sums of the plan, from
    reconciliation), so the pack shows the numbers of the file; gap and folding are layout.
    """
    cols = [*MEASURES, "shortfall"]
    if family_plan is None or family_plan.empty:
        return pd.DataFrame(columns=["family", *cols, "gap_units", "gap_pct"])
    m = measures(family_plan)
    m["family"] = text(family_plan, "family").replace("", UNKNOWN_FAMILY)
    fam = m.groupby("family")[cols].sum().sort_values("consensus_demand", ascending=False)
    if len(fam) > top_n:  # thousands of families would make an unreadable table
        head, tail = fam.iloc[: top_n - 1], fam.iloc[top_n - 1 :]
        fam = pd.concat([head, tail.sum().to_frame(OTHER_FAMILIES).T])
    fam["gap_units"] = fam["consensus_demand"] - fam["sales_forecast"]
    fam["gap_pct"] = [
        pct(g, s) for g, s in zip(fam["gap_units"], fam["sales_forecast"], strict=True)
    ]
    return fam.rename_axis("family").reset_index()


UTIL_METRICS: tuple[tuple[str, str, str], ...] = (
    ("inbound", "inbound_pallets", "inbound_capacity_pallets"),
    ("storage", "storage_pallets", "storage_capacity_pallets"),
    ("outbound", "outbound_units", "outbound_capacity_units"),
)


def capacity_utilisation(capacity: pd.DataFrame) -> pd.DataFrame:
    """location, period, <metric>_util (load / capacity, NaN without capacity), status, costs."""
    out = pd.DataFrame(
        {"location": text(capacity, "location"), "period": text(capacity, "period")},
        index=capacity.index,
    )
    for name, load, cap in UTIL_METRICS:
        c = numeric(capacity, cap)
        out[f"{name}_util"] = (numeric(capacity, load) / c.where(c > 0)).astype(float)
    out["status"] = text(capacity, "status", "ok").str.lower()
    out["overtime_cost"] = numeric(capacity, "overtime_cost")
    out["overtime_pallets"] = numeric(capacity, "overtime_pallets")
    out["lead_time_shortfall_units"] = numeric(capacity, "lead_time_shortfall_units")
    return out.sort_values(["location", "period"]).reset_index(drop=True)


def capacity_by_location(capacity: pd.DataFrame) -> pd.DataFrame:
    """Per warehouse: months ok/overtime/short, peak utilisation, overtime cost, which months."""
    util = capacity_utilisation(capacity)
    cols = [
        "location",
        "months",
        "ok",
        "overtime",
        "short",
        "peak_util",
        "overtime_cost",
        "overtime_months",
        "short_months",
        "lead_time_shortfall_units",
    ]
    if util.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for loc, g in util.groupby("location", sort=True):  # one row per warehouse: a handful
        peak = g[[f"{n}_util" for n, _, _ in UTIL_METRICS]].max().max()
        rows.append(
            {
                "location": loc,
                "months": len(g),
                "ok": int((g["status"] == "ok").sum()),
                "overtime": int((g["status"] == "overtime").sum()),
                "short": int((g["status"] == "short").sum()),
                "peak_util": float(peak) if pd.notna(peak) else math.nan,
                "overtime_cost": float(g["overtime_cost"].sum()),
                "overtime_months": g.loc[g["status"] == "overtime", "period"].tolist(),
                "short_months": g.loc[g["status"] == "short", "period"].tolist(),
                "lead_time_shortfall_units": float(g["lead_time_shortfall_units"].sum()),
            }
        )
    return pd.DataFrame(rows, columns=cols)


def location_status(row: pd.Series) -> str:
    """The worst status of a warehouse over the horizon."""
    if row["short"]:
        return "short"
    return "overtime" if row["overtime"] else "ok"


def exception_counts(exceptions: pd.DataFrame) -> dict[str, int]:
    """severity -> count, always with error/warning/info (in that order)."""
    sev = text(exceptions, "severity", "info").str.lower()
    counts = {s: int((sev == s).sum()) for s in SEVERITY_ORDER}
    other = int((~sev.isin(SEVERITIES)).sum())
    if other:
        counts["other"] = other
    return counts


def exception_types(exceptions: pd.DataFrame, top_n: int = 20) -> pd.DataFrame:
    """type x severity counts, most severe and most frequent first."""
    df = pd.DataFrame(
        {
            "type": text(exceptions, "type", "(none)"),
            "severity": text(exceptions, "severity", "info"),
        }
    )
    severities = list(SEVERITY_ORDER)  # error, warning, info
    if df.empty:
        return pd.DataFrame(columns=["type", *severities, "total"])
    table = pd.crosstab(df["type"], df["severity"].str.lower())
    for s in severities:
        if s not in table.columns:
            table[s] = 0
    table = table[severities]
    table["total"] = table.sum(axis=1)
    # Errors, then warnings, then how many in all (info alone never ranks a type first).
    table = table.sort_values([*severities[:-1], "total"], ascending=False).head(top_n)
    return table.rename_axis("type").reset_index().rename_axis(None, axis=1)


# What the meeting has to decide, by keywords in the exception type (types are owned by
# reconciliation/ and data_contracts/, so match loosely rather than on an exact list).
DECISIONS: tuple[tuple[tuple[str, ...], str], ...] = (
    # Before the capacity words: a lead-time gap is "short" too, but overtime cannot fix it.
    (
        ("lead_time",),
        "Expedite an order, take stock from another warehouse, or accept the gap",
    ),
    (
        ("short", "capacity", "overflow", "inbound", "storage", "outbound"),
        "Accept the cut, buy overtime, pre-build or move volume to another warehouse",
    ),
    (
        ("stockout", "stock_out", "below_safety", "safety"),
        "Expedite supply or agree which customers are served first",
    ),
    (
        ("bias", "optimis", "trust", "gap", "sales"),
        "Confirm the sales number with evidence or accept the consensus",
    ),
    (("override",), "Re-confirm the override or withdraw it"),
    (
        ("baseline_missing", "no_baseline", "no_history"),
        "Agree a volume for the item without usable history, or confirm the sales number",
    ),
    (("new", "launch", "cold"), "Agree the launch volume and who owns it"),
    (("promo",), "Confirm the promotion volume and that supply can follow"),
    (("phase", "obsolete", "excess", "overstock"), "Decide run-out, markdown or transfer"),
    (
        ("contract", "reject", "quarantin", "missing", "invalid", "data"),
        "Fix the source data or accept the quarantine for this cycle",
    ),
    (("moq", "min_order", "lead"), "Accept the order constraint or negotiate with the supplier"),
)
DEFAULT_DECISION = "Review, decide and name an owner"


def decision_for(exception_type: str) -> str:
    key = exception_type.lower()
    for words, decision in DECISIONS:
        if any(w in key for w in words):
            return decision
    return DEFAULT_DECISION


def top_exceptions(exceptions: pd.DataFrame, top_n: int = 25) -> pd.DataFrame:
    """Errors first, then warnings (info only if nothing else), with the decision needed."""
    cols = ["severity", "type", "sku", "location", "period", "message", "decision"]
    df = pd.DataFrame({c: text(exceptions, c) for c in cols[:-1]})
    if df.empty:
        return pd.DataFrame(columns=cols)
    df["severity"] = df["severity"].str.lower()
    rank = df["severity"].map(SEVERITY_ORDER).fillna(len(SEVERITY_ORDER))
    serious = rank <= SEVERITY_ORDER["warning"]
    if serious.any():
        df, rank = df[serious], rank[serious]
    # Round-robin over types within a severity: the first rows show one of each kind of
    # problem instead of 25 copies of the most frequent one.
    df = df.assign(_rank=rank).sort_values(["_rank", "type", "period", "sku", "location"])
    df["_nth"] = df.groupby(["_rank", "type"]).cumcount()
    df = df.sort_values(["_rank", "_nth", "type"], kind="stable")
    df = df.head(top_n).drop(columns=["_rank", "_nth"])
    df["decision"] = df["type"].map(decision_for)
    return df.reset_index(drop=True)


PROMOTION_COLUMNS: tuple[str, ...] = (
    "promo_id", "sku", "location", "start_period", "end_period", "uplift_pct", "months",
    "extra_units", "extra_pallets", "capacity_flag",
)
PROMOTION_MONTH_COLUMNS: tuple[str, ...] = ("location", "period", "extra_units", "extra_pallets")


@dataclass(frozen=True)
class PromotionView:
    """The published promotion_load as the meeting reads it."""

    top: pd.DataFrame  # PROMOTION_COLUMNS, most extra units first, at most top_n rows
    by_month: pd.DataFrame  # PROMOTION_MONTH_COLUMNS: extra load per warehouse and month
    n_promotions: int  # promotions with load in the horizon (all, not only the top)
    extra_units: float
    extra_pallets: float


def promotion_view(
    promotion_load: pd.DataFrame | None,
    capacity: pd.DataFrame | None = None,
    top_n: int = 20,
) -> PromotionView:
    """Top promotions and extra load per warehouse x month from the published promotion_load.

    `promotion_load` is reconciliation's table (one row per promotion x month in the horizon,
    extra units and pallets = promo-free baseline x uplift_pct / 100). A promotion's totals
    come from reconciliation.promotions.promotion_totals, as in its PROMO_LOAD exception;
    what is added here is layout: the ranking and the months that fall into a warehouse's
    overtime/short month (`capacity`, the capacity_report).
    """
    if promotion_load is None or promotion_load.empty:
        return PromotionView(pd.DataFrame(columns=list(PROMOTION_COLUMNS)),
                             pd.DataFrame(columns=list(PROMOTION_MONTH_COLUMNS)), 0, 0.0, 0.0)
    numbers = ("uplift_pct", "extra_units", "extra_pallets")
    load = pd.DataFrame(
        {c: numeric(promotion_load, c) if c in numbers else text(promotion_load, c)
         for c in LOAD_COLUMNS}
    )
    totals = promotion_totals(load)
    top = totals.sort_values("extra_units", ascending=False, kind="stable").head(top_n)
    tight: dict[tuple[str, str], str] = {}
    if capacity is not None and not capacity.empty:
        util = capacity_utilisation(capacity)
        util = util[util["status"] != "ok"]
        tight = dict(
            zip(zip(util["location"], util["period"], strict=True), util["status"], strict=True)
        )
    months = load.groupby(PROMOTION_KEYS)["period"].agg(sorted)
    top = top.assign(capacity_flag=[
        ", ".join(f"{p} {tight[(loc, p)]}" for p in months[key] if (loc, p) in tight)
        for key, loc in zip(
            top[PROMOTION_KEYS].itertuples(index=False, name=None), top["location"], strict=True
        )
    ])
    by_month = (
        load.groupby(["location", "period"], sort=True)[["extra_units", "extra_pallets"]]
        .sum()
        .reset_index()
    )
    return PromotionView(
        top=top[list(PROMOTION_COLUMNS)].reset_index(drop=True),
        by_month=by_month,
        n_promotions=len(totals),
        extra_units=float(load["extra_units"].sum()),
        extra_pallets=float(load["extra_pallets"].sum()),
    )


FOCUS_COLUMNS: tuple[str, ...] = ("sku", "location", "gap_units", "shortfall", "score")


def focus_order(focus: pd.DataFrame) -> pd.DataFrame:
    """Largest score first, ties by sku, then location: the top n does not depend on the
    rows' order, so the top n of parts of the plan (reporting/plan_digest.py) gives that of
    the whole."""
    return focus.sort_values(["score", "sku", "location"], ascending=[False, True, True],
                             kind="stable")


def focus_series(plan: pd.DataFrame, n: int) -> pd.DataFrame:
    """The n SKU x locations most worth a chart: largest sales gap plus shortfall."""
    cols = list(FOCUS_COLUMNS)
    if plan.empty or n <= 0:
        return pd.DataFrame(columns=cols)
    m = measures(plan)
    sales = m["sales_forecast"]
    # Only months where sales gave a number: elsewhere "gap" would just be the baseline.
    gap = (m["consensus_demand"] - sales).where(sales > 0, 0.0)
    df = pd.DataFrame(
        {
            "sku": text(plan, "sku"),
            "location": text(plan, "location"),
            "gap_units": gap,
            "abs_gap": gap.abs(),
            "shortfall": m["shortfall"],
        }
    )
    g = df.groupby(["sku", "location"], sort=False)[["gap_units", "abs_gap", "shortfall"]].sum()
    g["score"] = g["abs_gap"] + g["shortfall"]
    g = focus_order(g[g["score"] > 0].reset_index()).head(n)
    return g[cols].reset_index(drop=True)


TRUST_COLUMNS: tuple[str, ...] = ("submitted_by", "direction", "weight", "n_obs", "bias", "wape")


def trust_view(trust: pd.DataFrame | None) -> pd.DataFrame:
    """The trust table with the columns present, most-weighted teams first."""
    if trust is None or trust.empty:
        return pd.DataFrame(columns=["submitted_by"])
    cols = [c for c in TRUST_COLUMNS if c in trust.columns]
    extra = [c for c in trust.columns if c not in TRUST_COLUMNS][:4]  # keep the table narrow
    view = trust[cols + extra].copy()
    order = [c for c in ("submitted_by", "direction") if c in view.columns]
    return view.sort_values(order).reset_index(drop=True) if order else view.reset_index(drop=True)


def contract_outcome(summary: dict[str, Any] | None) -> str:
    """'passed' / 'failed' / 'warnings' / 'unknown' from a loosely structured summary."""
    if not summary:
        return "unknown"
    for key in ("passed", "success", "ok"):
        if key in summary and isinstance(summary[key], bool):
            if not summary[key]:
                return "failed"
            warnings = summary.get("warnings")
            has_warnings = bool(warnings) and not (
                isinstance(warnings, int | float) and warnings == 0
            )
            return "warnings" if has_warnings else "passed"
    status = str(summary.get("status", summary.get("outcome", ""))).lower()
    if status in {"passed", "success", "ok", "failed", "warnings"}:
        return {"success": "passed", "ok": "passed"}.get(status, status)
    return "unknown"


FVA_STEPS: tuple[str, ...] = ("naive", "baseline", "sales", "consensus")


def _fva_clean(fva: pd.DataFrame | None) -> pd.DataFrame:
    cols = ["level", "key", "step", "wape", "bias", "n_obs", "fva"]
    if fva is None or fva.empty:
        return pd.DataFrame(columns=cols)
    out = pd.DataFrame(
        {
            "level": text(fva, "level"),
            "key": text(fva, "key"),
            "step": text(fva, "step"),
            **{
                c: pd.to_numeric(fva[c], errors="coerce") if c in fva.columns else math.nan
                for c in ("wape", "bias", "n_obs", "fva")
            },
        }
    )
    return out[out["step"].isin(FVA_STEPS)]


def fva_total(fva: pd.DataFrame | None) -> pd.DataFrame:
    """The total stair-step: step, wape, bias, fva, n_obs in step order (empty without one)."""
    f = _fva_clean(fva)
    f = f[f["level"] == "total"].drop_duplicates("step", keep="first")
    order = f["step"].map({s: i for i, s in enumerate(FVA_STEPS)})
    f = f.assign(_o=order).sort_values("_o")
    return f[["step", "wape", "bias", "fva", "n_obs"]].reset_index(drop=True)


def fva_by_key(fva: pd.DataFrame | None, level: str, top_n: int = 25) -> pd.DataFrame:
    """One row per key of `level`: n_obs, wape_<step>, bias_<step>, fva_<step> for the steps
    present, the keys with most observations first, the rest left out (top_n)."""
    f = _fva_clean(fva)
    f = f[f["level"] == level]
    if f.empty:
        return pd.DataFrame(columns=["key", "n_obs"])
    steps = [s for s in FVA_STEPS if s in set(f["step"])]
    wide = f.pivot_table(
        index="key", columns="step", values=["wape", "bias", "fva"], aggfunc="first", dropna=False
    )
    out = pd.DataFrame(index=wide.index)
    out["n_obs"] = f.groupby("key")["n_obs"].max()
    for measure in ("wape", "bias", "fva"):
        for s in steps:
            out[f"{measure}_{s}"] = wide[(measure, s)] if (measure, s) in wide.columns else math.nan
    out = out.sort_values(["n_obs"], ascending=False, kind="stable").head(top_n)
    return out.rename_axis("key").reset_index()
