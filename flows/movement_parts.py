"""The waterfall and plan stability of a version read one location group at a time.

flows/version_files.plan_movement computes both from the whole plan and the whole earlier
plans; a partitioned publish (flows/publish_parts.py) must not hold those, so here each
location group's rows of this plan and of the earlier plans are read (filtered while reading)
and reduced to sums per location and family (reconciliation.waterfall.location_sums,
reconciliation.stability.location_sums), which are then added over locations. Both tables
reduce in location order, whole or by group, so the result is the whole computation's to the
bit. What crosses locations - the months two plans share - is taken from the files' `period`
columns first, without reading the plans.

The groups must hold every location an earlier plan has: with_closed_locations adds one group
of those no partition holds (a warehouse since closed), whose units the whole computation
counts as moved away - and whose rows plan_changes lists as removed. The earlier plans' months
and locations are read once per publish (earlier_plans) and shared by with_closed_locations,
plan_changes and movement_by_partition.
"""

import posixpath
from dataclasses import dataclass

import pandas as pd

from flows.context import RunContext
from flows.previous_plan import (
    WATERFALL_COLUMNS,
    WATERFALL_PARTS,
    previous_cycle_version,
    previous_plan_version,
    read_plan_version,
)
from flows.store import PlanStore
from flows.version_files import STABILITY_COLUMNS
from reconciliation import stability, waterfall

# What the waterfall and stability read of this plan.
MOVEMENT_COLUMNS = list(dict.fromkeys([*STABILITY_COLUMNS, *WATERFALL_COLUMNS, "family"]))


@dataclass(frozen=True)
class PublishedPlan:
    """One published version's plan: its file, its months and locations."""

    cycle: str
    version: int
    path: str | None  # None: only in the store (published from another output folder)
    periods: set[str]
    locations: set[str]


def _plan(ctx: RunContext, store: PlanStore, cycle: str, version: int) -> PublishedPlan:
    """Version `version` of `cycle`'s months and locations: from the plan file in its version
    folder, else from the store."""
    tree = ctx.tree
    path = posixpath.join(tree.version_dir(cycle, version), "consensus_plan.parquet")
    if tree.exists(path):
        return PublishedPlan(cycle, version, path, tree.distinct_values(path, "period"),
                             tree.distinct_values(path, "location"))
    return PublishedPlan(cycle, version, None,
                         store.distinct_plan_values(cycle, version, "period"),
                         store.distinct_plan_values(cycle, version, "location"))


@dataclass(frozen=True)
class EarlierPlans:
    """The published plans a version is compared with, each one's months and locations read
    once per publish (by earlier_plans) for with_closed_locations, plan_changes
    (flows/publish_parts.stage_by_partition) and the waterfall and stability
    (movement_by_partition), instead of once by each of them. One PublishedPlan stands for a
    (cycle, version) however many roles it has (last cycle's plan is usually all three)."""

    # Every earlier cycle's current version in this output folder: what stability compares.
    past: tuple[PublishedPlan, ...]
    # Last cycle's plan (previous_cycle_version): what the waterfall starts from.
    previous_cycle: PublishedPlan | None
    # plan_changes' previous plan (previous_plan_version).
    previous_version: PublishedPlan | None

    def plans(self) -> list[PublishedPlan]:
        """Every plan, each (cycle, version) once."""
        plans = [*self.past, self.previous_version, self.previous_cycle]
        return list({(p.cycle, p.version): p for p in plans if p is not None}.values())


def earlier_plans(ctx: RunContext, store: PlanStore, version: int) -> EarlierPlans:
    """The plans version `version` of the run's cycle is compared with: the current version of
    every earlier cycle in this output folder (as OutputTree.past_plans reads them), last
    cycle's and the previous published one; a (cycle, version) in several roles is read once."""
    read: dict[tuple[str, int], PublishedPlan] = {}

    def plan(found: tuple[str, int]) -> PublishedPlan:
        if found not in read:
            read[found] = _plan(ctx, store, *found)
        return read[found]

    last_cycle = previous_cycle_version(store, ctx.cycle)
    previous = previous_plan_version(store, ctx.cycle, version)
    return EarlierPlans(past=tuple(plan(f) for f in ctx.tree.past_versions(ctx.cycle)),
                        previous_cycle=plan(last_cycle) if last_cycle else None,
                        previous_version=plan(previous) if previous else None)


def with_closed_locations(earlier: EarlierPlans, groups: list[list[str]]) -> list[list[str]]:
    """`groups` and, when the plans the version is compared with (`earlier`: plan_changes'
    previous plan, last cycle's, every earlier cycle's current one) have locations no group
    holds, one more group of those."""
    known = {loc for g in groups for loc in g}
    closed = sorted(set().union(*(p.locations for p in earlier.plans())) - known)
    return [*groups, closed] if closed else groups


def movement_by_partition(ctx: RunContext, plan_path: str, periods: set[str], version: int,
                          groups: list[list[str]], plan_store: PlanStore,
                          earlier: EarlierPlans) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(waterfall, stability) of version `version` of the run's cycle, whose plan is the file
    `plan_path` (staged) covering the months `periods`, as plan_movement computes them, one
    location group at a time (`groups`: with_closed_locations's; `earlier`: the plans
    compared with). `periods` is given, not read from the file: the staged plan has the
    workspace plan's rows, whose months stage_by_partition has read already."""
    tree, cycle = ctx.tree, ctx.cycle
    previous = earlier.previous_cycle if periods else None
    months = waterfall.overlap(periods, previous.periods) if previous else []
    past = earlier.past
    overlap = stability.overlaps({**{p.cycle: p.periods for p in past}, cycle: periods})
    versions = {**{p.cycle: p.version for p in past}, cycle: version}
    wf_sums, st_sums = [], []
    for locations in groups:
        rows = tree.read_columns(plan_path, MOVEMENT_COLUMNS, WATERFALL_PARTS, locations)
        if previous and months:
            before = read_plan_version(tree, plan_store, previous.cycle, previous.version,
                                       WATERFALL_COLUMNS, WATERFALL_PARTS, locations)
            wf_sums.append(waterfall.location_sums(rows, before, months))
            del before
        if any(overlap.values()):
            history = [tree.read_columns(p.path, STABILITY_COLUMNS, ("family",), locations)
                       for p in past if p.path]
            both = pd.concat([*history, rows[[*STABILITY_COLUMNS, "family"]]],
                             ignore_index=True)
            st_sums.append(stability.location_sums(both, overlap))
            del history, both
        del rows
    # Groups without rows in the overlap add nothing (and an empty frame's text columns
    # would make concat's sums objects).
    wf_sums = [s for s in wf_sums if not s.empty]
    st_sums = [s for s in st_sums if not s.empty]
    table = (waterfall.waterfall_from_sums(pd.concat(wf_sums, ignore_index=True),
                                           previous.cycle, previous.version)
             if previous and wf_sums else waterfall.empty_waterfall())
    return table, (stability.stability_from_sums(pd.concat(st_sums, ignore_index=True),
                                                 overlap, versions)
                   if st_sums else stability.empty_stability())
