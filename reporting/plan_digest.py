"""What the report reads of the plan and of plan_changes, as small aggregates.

The report needs a handful of figures of the catalogue-sized tables: horizon and monthly
totals, the months of the horizon, the SKU x locations worth a chart (and their plan rows),
the firm receipts of the time fence, and the change feed's counts. A digest holds only those,
so a publish that goes one partition of locations at a time never holds a whole column.

A digest is built from partials, one per part of the plan, where parts are consecutive groups
of locations (no location in two parts) whose rows keep the whole table's relative order.
The result is bit for bit the same however the plan is cut: every sum is first taken per
location inside a part (a location's rows come in the same order whatever the cut), and the
per-location sums are then added up in location order. A whole frame is digested the same way,
as one part, so a whole and a partitioned publish write the same report.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from reporting import figures as fig

# The sums of the headline, taken per location then over locations.
SUMS: tuple[str, ...] = (*fig.MEASURES, "shortfall")
FIRM = ("firm_rows", "firm_units")
# What the SKU charts draw of the plan (the plan rows of the focus SKU x locations).
CHART_COLUMNS: tuple[str, ...] = ("sku", "location", "period", "sales_forecast",
                                  "baseline_forecast", "consensus_demand", "constrained_demand")
CHANGE_TYPES = ("new", "increased", "decreased", "cancelled", "moved")


def firm_mask(plan: pd.DataFrame) -> pd.Series:
    """The rows whose receipts the time fence kept (the plan's `firm_receipt`, False without)."""
    if "firm_receipt" not in plan:
        return pd.Series(False, index=plan.index)
    return plan["firm_receipt"].fillna(False).astype(bool)


@dataclass(frozen=True, eq=False)
class PlanPartial:
    """The report's figures of one part of the plan, still per location."""

    by_location: pd.DataFrame  # location, SUMS, firm_rows, firm_units
    by_month: pd.DataFrame  # location, period, SUMS
    skus: frozenset[str]
    periods: frozenset[str]
    n_series: int  # distinct sku x location (a location is in one part only)
    focus: pd.DataFrame  # fig.focus_series of the part: its top n
    has_firm_receipt: bool


def plan_partial(plan: pd.DataFrame, focus_n: int) -> PlanPartial:
    """The partial of one part of the plan (a whole frame is one part)."""
    m = fig.measures(plan)
    firm = firm_mask(plan)
    m["firm_rows"] = firm.astype(int)
    # NaN outside the firm rows: the sums skip them.
    m["firm_units"] = fig.numeric(plan, "planned_receipts").where(firm)
    m["location"] = fig.text(plan, "location")
    m["period"] = fig.text(plan, "period")
    skus = fig.text(plan, "sku")
    # groupby's sums run through each group's rows in order: one location's sums do not
    # depend on which other locations share its part.
    by_location = m.groupby("location", sort=True)[[*SUMS, *FIRM]].sum().reset_index()
    by_month = m.groupby(["location", "period"], sort=True)[list(SUMS)].sum().reset_index()
    return PlanPartial(
        by_location=by_location,
        by_month=by_month,
        skus=frozenset(skus),
        periods=frozenset(m["period"]),
        n_series=int((skus + "\x1f" + m["location"]).nunique()),
        focus=fig.focus_series(plan, focus_n),
        has_firm_receipt="firm_receipt" in plan,
    )


@dataclass(frozen=True, eq=False)
class PlanDigest:
    """What the report shows of the whole plan."""

    headline: fig.Headline
    monthly: pd.DataFrame  # fig.monthly_totals' columns: period, SUMS (sorted by period)
    periods: tuple[str, ...]  # the horizon's months, sorted
    focus: pd.DataFrame  # fig.focus_series' columns, at most focus_n rows
    focus_n: int
    focus_rows: pd.DataFrame  # CHART_COLUMNS of the focus SKU x locations' plan rows
    firm_rows: int
    firm_units: float
    has_firm_receipt: bool


def _stacked(frames: list[pd.DataFrame], keys: list[str]) -> pd.DataFrame | None:
    """The partials' rows in location order (None without any)."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return None
    return pd.concat(frames, ignore_index=True).sort_values(keys, kind="stable")


def digest_plan(partials: Sequence[PlanPartial], focus_n: int,
                rows_of: Callable[[list[str]], pd.DataFrame]) -> PlanDigest:
    """The plan's digest from its parts' partials (built with the same `focus_n`).
    `rows_of(skus)` returns plan rows including every row of those SKUs (more rows are
    dropped): only the chosen SKU x locations' rows are kept."""
    by_location = _stacked([p.by_location for p in partials], ["location"])
    if by_location is not None and by_location["location"].duplicated().any():
        raise ValueError("a location is in more than one part of the plan")
    totals = ({c: float(by_location[c].sum()) for c in (*SUMS, "firm_units")}
              if by_location is not None else dict.fromkeys((*SUMS, "firm_units"), 0.0))
    by_month = _stacked([p.by_month for p in partials], ["location", "period"])
    monthly = (by_month.groupby("period", sort=True)[list(SUMS)].sum().reset_index()
               if by_month is not None else pd.DataFrame(columns=["period", *SUMS]))
    periods = tuple(sorted(set[str]().union(*(p.periods for p in partials))))
    headline = fig.Headline(
        sales=totals["sales_forecast"], baseline=totals["baseline_forecast"],
        consensus=totals["consensus_demand"], constrained=totals["constrained_demand"],
        shortfall=totals["shortfall"],
        n_skus=len(set[str]().union(*(p.skus for p in partials))),
        n_series=sum(p.n_series for p in partials),
        n_periods=len(periods),
    )
    # The top n of the union of each part's top n (one order for all) is the top n of all.
    tops = [p.focus for p in partials if len(p.focus)]
    focus = (fig.focus_order(pd.concat(tops, ignore_index=True)).head(focus_n)
             .reset_index(drop=True) if tops and focus_n > 0
             else pd.DataFrame(columns=list(fig.FOCUS_COLUMNS)))
    return PlanDigest(
        headline=headline, monthly=monthly, periods=periods, focus=focus, focus_n=focus_n,
        focus_rows=_focus_rows(focus, rows_of), has_firm_receipt=any(
            p.has_firm_receipt for p in partials),
        firm_rows=int(by_location["firm_rows"].sum()) if by_location is not None else 0,
        firm_units=totals["firm_units"],
    )


def _focus_rows(focus: pd.DataFrame,
                rows_of: Callable[[list[str]], pd.DataFrame]) -> pd.DataFrame:
    """The focus SKU x locations' plan rows (key columns as text), in one order whatever the
    source's: by sku, location, period."""
    cols = list(CHART_COLUMNS)
    if focus.empty:
        return pd.DataFrame(columns=cols)
    rows = rows_of(sorted(set(focus["sku"].astype(str))))
    keys = {c: fig.text(rows, c) for c in ("sku", "location", "period")}
    pairs = set(zip(focus["sku"].astype(str), focus["location"].astype(str), strict=True))
    keep = pd.Series([pair in pairs for pair in zip(keys["sku"], keys["location"],
                                                    strict=True)], index=rows.index, dtype=bool)
    out = rows.loc[keep, [c for c in cols if c in rows]].assign(
        **{c: keys[c][keep] for c in keys})
    return out.sort_values(["sku", "location", "period"], kind="stable").reset_index(drop=True)


def plan_digest(plan: pd.DataFrame, focus_n: int) -> PlanDigest:
    """The digest of a whole plan frame: one part."""

    def rows_of(skus: list[str]) -> pd.DataFrame:
        return plan[fig.text(plan, "sku").isin(skus)]

    return digest_plan([plan_partial(plan, focus_n)], focus_n, rows_of)


# --- plan_changes ----------------------------------------------------------------------------


def change_counts(plan_changes: pd.DataFrame) -> pd.DataFrame:
    """Rows of plan_changes per change type, and those that change an order (receipts or
    release month), in CHANGE_TYPES order."""
    kind = fig.text(plan_changes, "change")
    order = ((fig.numeric(plan_changes, "planned_receipts_before")
              != fig.numeric(plan_changes, "planned_receipts_after"))
             | (fig.text(plan_changes, "order_release_period_before")
                != fig.text(plan_changes, "order_release_period_after")))
    return pd.DataFrame({
        "change": list(CHANGE_TYPES),
        "rows": [int((kind == c).sum()) for c in CHANGE_TYPES],
        "order_lines": [int(((kind == c) & order).sum()) for c in CHANGE_TYPES],
    })


@dataclass(frozen=True, eq=False)
class ChangeDigest:
    """What the report shows of plan_changes: its rows, the plan it compares with (that of
    its first row: every row names the same) and the counts per change type."""

    rows: int
    previous_cycle: object
    previous_version: object
    counts: pd.DataFrame  # change_counts' columns

    @property
    def empty(self) -> bool:
        return self.rows == 0


def change_digest(plan_changes: pd.DataFrame) -> ChangeDigest:
    """The digest of plan_changes, or of one part of it."""
    previous: tuple[object, object] = (None, None)
    if len(plan_changes):
        first = plan_changes.iloc[0]
        previous = (first.get("previous_cycle"), first.get("previous_version"))
    return ChangeDigest(rows=len(plan_changes), previous_cycle=previous[0],
                        previous_version=previous[1], counts=change_counts(plan_changes))


def merge_change_digests(parts: Sequence[ChangeDigest]) -> ChangeDigest:
    """The digest of plan_changes from its parts' digests, in the file's order."""
    first = next((p for p in parts if p.rows), None)
    counts = change_counts(pd.DataFrame())
    for col in ("rows", "order_lines"):
        counts[col] = [sum(int(p.counts[col].iloc[i]) for p in parts)
                       for i in range(len(CHANGE_TYPES))]
    return ChangeDigest(rows=sum(p.rows for p in parts),
                        previous_cycle=first.previous_cycle if first else None,
                        previous_version=first.previous_version if first else None,
                        counts=counts)
