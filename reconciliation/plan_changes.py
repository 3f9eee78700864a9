"""What a new plan changes against the previous published plan, row by row (SPEC `plan_changes`).

Compared: `consensus_demand`, `planned_receipts` and `order_release_period` on the key
sku × location × period, over the months both plans cover (a month only one plan covers
says nothing about a change). A key missing from one plan in such a month counts as
"nothing demanded, nothing ordered" there; its before/after columns stay empty so a reader
sees that the row was not in that plan.

One change per row, by a fixed precedence (first match wins; why: each row is an order line
procurement acts on, so what it must do about the order comes before how much):
  1. new        receipts now, none before (or the key was not in the previous plan)
  2. cancelled  receipts before, none now (or the key is gone)
  3. moved      receipts in both, but the order must be released in another month
                (the lead time changed); the quantities are in the row
  4. increased  receipts up; with receipts equal, consensus demand up
  5. decreased  receipts down; with receipts equal, consensus demand down
A receipt the plan shifts from one month to another shows as `cancelled` (or `decreased`)
in the month it left and `new` (or `increased`) in the month it went to: pairing months of
one series would be a guess, the two rows are facts. `order_release_period` is compared only
where both plans order something (the plan leaves it empty otherwise).

Quantities are equal within `PlanSettings.tolerance` (relative above 1 unit, absolute below),
so float noise is not a change; rows equal in every compared column are not listed.
"""

import numpy as np
import pandas as pd

from data_contracts.tables import CHANGE_KINDS, PLAN_CHANGES_COLUMNS
from reconciliation.settings import PlanSettings

KEY = ["sku", "location", "period"]
COMPARED = ["consensus_demand", "planned_receipts", "order_release_period"]
PRECEDENCE: tuple[str, ...] = ("new", "cancelled", "moved", "increased", "decreased")
assert set(PRECEDENCE) == set(CHANGE_KINDS)

_TEXT = ["sku", "location", "period", "change", "previous_cycle",
         "order_release_period_before", "order_release_period_after"]


def no_plan_changes() -> pd.DataFrame:
    """The empty `plan_changes` table, with the columns and dtypes of a filled one."""
    dtypes = {c: "object" if c in _TEXT else "int64" if c == "previous_version" else "float64"
              for c in PLAN_CHANGES_COLUMNS}
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in dtypes.items()})


def _same(a: pd.Series, b: pd.Series, tol: float) -> pd.Series:
    scale = np.maximum(1.0, np.maximum(a.abs(), b.abs()))
    return (a - b).abs() <= tol * scale


def _months(values: pd.Series) -> pd.Series:
    """Release months as text, empty as "" so that two empty cells compare equal."""
    return values.where(values.notna() & (values.astype(str).str.strip() != ""), "").astype(str)


def compute_plan_changes(
    plan: pd.DataFrame,
    previous: pd.DataFrame | None,
    previous_cycle: str | None = None,
    previous_version: int | None = None,
    settings: PlanSettings | None = None,
    periods: set[str] | None = None,
) -> pd.DataFrame:
    """Rows of `plan` that differ from `previous` (both consensus_plan frames), classified.

    `previous` is None when there is no previous published plan: the result is then empty.
    Otherwise `previous_cycle` and `previous_version` name it and are copied onto every row.
    `periods`: the months both whole plans cover, when `plan` and `previous` are only some
    locations' rows of them (the one thing here that crosses locations: a location new in
    this plan has no previous rows, yet its months count); None = computed from the two.
    Returns SPEC's `plan_changes` columns, sorted by sku, location, period.
    """
    if previous is None:
        return no_plan_changes()
    if previous_cycle is None or previous_version is None:
        raise ValueError("a previous plan needs its cycle and version")
    tol = (settings or PlanSettings()).tolerance
    both = set(plan["period"]) & set(previous["period"]) if periods is None else periods
    after = plan.loc[plan["period"].isin(both), KEY + COMPARED]
    before = previous.loc[previous["period"].isin(both), KEY + COMPARED]
    rows = before.merge(after, on=KEY, how="outer", suffixes=("_before", "_after"),
                        validate="one_to_one")
    if rows.empty:
        return no_plan_changes()

    def qty(column: str) -> pd.Series:
        return rows[column].astype("float64").fillna(0.0)

    rb, ra = qty("planned_receipts_before"), qty("planned_receipts_after")
    db, da = qty("consensus_demand_before"), qty("consensus_demand_after")
    ordered_before, ordered_now = rb > tol, ra > tol
    released_elsewhere = (_months(rows["order_release_period_before"])
                          != _months(rows["order_release_period_after"]))
    same_receipts, same_demand = _same(ra, rb, tol), _same(da, db, tol)
    conditions = [
        ~ordered_before & ordered_now,
        ordered_before & ~ordered_now,
        ordered_before & ordered_now & released_elsewhere,
        (~same_receipts & (ra > rb)) | (same_receipts & ~same_demand & (da > db)),
        (~same_receipts & (ra < rb)) | (same_receipts & ~same_demand & (da < db)),
    ]
    change = np.select([c.to_numpy(dtype=bool) for c in conditions], list(PRECEDENCE),
                       default="")
    rows = rows.assign(change=change, previous_cycle=previous_cycle,
                       previous_version=int(previous_version))
    rows = rows[rows["change"] != ""]
    out = rows.sort_values(KEY, kind="stable").reset_index(drop=True)[PLAN_CHANGES_COLUMNS]
    empty = no_plan_changes()
    return out.astype({c: empty[c].dtype for c in PLAN_CHANGES_COLUMNS})
