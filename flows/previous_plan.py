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
    if same is not None:
        return cycle, same
    earlier = add_months(cycle, -1)
    current = store.latest_published(earlier)
    return None if current is None else (earlier, current)


def read_previous_plan(
    tree: OutputTree, cycle: str, version: int, store: PlanStore
) -> PreviousPlan | None:
    """The previous published plan of version `version` of `cycle`, or None when none is."""
    found = previous_plan_version(store, cycle, version)
    if found is None:
        return None
    prev_cycle, prev_version = found
    plan = tree.read_version_table(prev_cycle, prev_version, "consensus_plan", PLAN_COLUMNS)
    if plan is None:  # published to this store from another output folder
        plan = store.read_plan(prev_cycle, prev_version, PLAN_COLUMNS)
    return PreviousPlan(prev_cycle, prev_version, plan)


def read_fence_plan(tree: OutputTree, cycle: str) -> PreviousPlan | None:
    """The plan whose receipts the time fence keeps firm: the current version of the month
    before `cycle` (None when it has none), as folder readers see it (`CURRENT`).

    Always the previous *cycle*, whichever version of `cycle` is being made: re-running a
    cycle firms the receipts procurement was given last month, not the ones an earlier
    version of this cycle planned (those were never firm, and firming them would let a
    re-run freeze its own mistakes).
    """
    earlier = add_months(cycle, -1)
    version = tree.current(earlier)
    if version is None:
        return None
    plan = tree.read_version_table(earlier, version, "consensus_plan", FENCE_COLUMNS)
    return None if plan is None else PreviousPlan(earlier, version, plan)
# The waterfall (reconciliation/waterfall.py) rebuilds the previous cycle's consensus from its
# parts; SPEC's columns are in every version, the parts only in versions that published them.
WATERFALL_COLUMNS = [*KEY, "sales_forecast", "baseline_forecast", "consensus_demand",
                     "constrained_demand"]
WATERFALL_PARTS = ("family", "promo_uplift_pct", "promo_adjusted_baseline", "sales_weight",
                   "booked_qty", "override_qty")


def read_previous_cycle_plan(
    tree: OutputTree, cycle: str, store: PlanStore
) -> PreviousPlan | None:
    """The current published version of the cycle before `cycle` (the month before), with the
    parts its consensus was built from where that version has them; None when there is none.

    Unlike read_previous_plan, another version of `cycle` itself is never the answer: the
    waterfall explains how this cycle's plan moved from last cycle's.
    """
    earlier = add_months(cycle, -1)
    version = store.latest_published(earlier)
    if version is None:
        return None
    plan = tree.read_version_columns(earlier, version, "consensus_plan", WATERFALL_COLUMNS,
                                     WATERFALL_PARTS)
    if plan is None:  # published to this store from another output folder: SPEC columns only
        plan = store.read_plan(earlier, version, WATERFALL_COLUMNS)
    return PreviousPlan(earlier, version, plan)
