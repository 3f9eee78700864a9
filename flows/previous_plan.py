"""The previous published plan a new version is compared with (SPEC `plan_changes`).

SPEC: the previous version of the same cycle, else the current version of the previous
cycle (the month before; an older cycle is not looked for). "Published" is what the store
says, because a version is visible there completely or not at all; the rows are read from
that version's folder (the same numbers, without a query over the whole plan).
"""

from dataclasses import dataclass

import pandas as pd

from data_contracts.periods import add_months
from flows.output_tree import OutputTree
from flows.store import PlanStore
from reconciliation.fence import PREVIOUS_COLUMNS as FENCE_COLUMNS
from reconciliation.plan_changes import COMPARED, KEY

PLAN_COLUMNS = [*KEY, *COMPARED]


@dataclass(frozen=True)
class PreviousPlan:
    cycle: str
    version: int
    plan: pd.DataFrame  # consensus_plan rows: PLAN_COLUMNS


def previous_plan_version(store: PlanStore, cycle: str, version: int) -> tuple[str, int] | None:
    """(cycle, version) of the plan that version `version` of `cycle` is compared with."""
    same = store.latest_published(cycle, below=version)
    return (cycle, same) if same is not None else previous_cycle_version(store, cycle)


def read_previous_plan(
    tree: OutputTree, cycle: str, version: int, store: PlanStore
) -> PreviousPlan | None:
    """The previous published plan of version `version` of `cycle`, or None when none is."""
    found = previous_plan_version(store, cycle, version)
    if found is None:
        return None
    return PreviousPlan(*found, read_plan_version(tree, store, *found, PLAN_COLUMNS))


# The waterfall (reconciliation/waterfall.py) rebuilds the previous cycle's consensus from its
# parts; SPEC's columns are in every version, the parts only in versions that published them.
WATERFALL_COLUMNS = [*KEY, "sales_forecast", "baseline_forecast", "consensus_demand",
                     "constrained_demand"]
WATERFALL_PARTS = ("family", "promo_uplift_pct", "promo_adjusted_baseline", "sales_weight",
                   "booked_qty", "override_qty")


def previous_cycle_version(store: PlanStore, cycle: str) -> tuple[str, int] | None:
    """(cycle, version) of last cycle's plan: the current published version of the month
    before `cycle`, as the store (what procurement reads) says; None when it has none.

    The one answer for everything that looks back a cycle - the time fence's firm receipts and
    the waterfall - so the meeting never explains the plan against one version while the
    fence kept another's receipts. Always the previous *cycle*, whichever version of `cycle`
    is being made: re-running a cycle firms the receipts procurement was given last month,
    not the ones an earlier version of this cycle planned (those were never firm, and firming
    them would let a re-run freeze its own mistakes)."""
    earlier = add_months(cycle, -1)
    version = store.latest_published(earlier)
    return None if version is None else (earlier, version)


def read_plan_version(tree: OutputTree, store: PlanStore, cycle: str, version: int,
                      columns: list[str], optional: tuple[str, ...] = (),
                      locations: list[str] | None = None) -> pd.DataFrame:
    """A published version's consensus_plan `columns` (and those of `optional` it has; only
    `locations`' rows when given), from its folder; from the store (SPEC columns only) when it
    was published to this store from another output folder."""
    plan = tree.read_version_columns(cycle, version, "consensus_plan", columns, optional,
                                     locations)
    return plan if plan is not None else store.read_plan(cycle, version, columns, locations)


def read_previous_cycle_plan(
    tree: OutputTree, cycle: str, store: PlanStore, columns: list[str] = WATERFALL_COLUMNS,
    optional: tuple[str, ...] = WATERFALL_PARTS,
) -> PreviousPlan | None:
    """Last cycle's plan (previous_cycle_version) with `columns`, and the `optional` ones where
    that version has them (by default what the waterfall rebuilds the consensus from); None
    when there is none. Unlike read_previous_plan, another version of `cycle` itself is never
    the answer: the waterfall explains how this cycle's plan moved from last cycle's."""
    found = previous_cycle_version(store, cycle)
    if found is None:
        return None
    earlier, version = found
    return PreviousPlan(earlier, version,
                        read_plan_version(tree, store, earlier, version, columns, optional))


def read_fence_plan(tree: OutputTree, cycle: str, store: PlanStore) -> PreviousPlan | None:
    """The plan whose receipts the time fence keeps firm: last cycle's (see
    previous_cycle_version), with the columns the fence reads."""
    return read_previous_cycle_plan(tree, cycle, store, FENCE_COLUMNS, ())
