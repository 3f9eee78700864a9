"""Publish a version one partition of locations at a time, so memory follows the largest one.

When the run is partitioned (`execution.partition_size`, flows/partitions.py), the publish
stage does what flows/version_files.py, the audit and flows/publish.py do for the whole
catalogue, but the catalogue-sized tables - consensus_plan, baseline_forecast, plan_changes
(and the sales_forecast snapshot) - go through one location group at a time, in three passes:

1. stage: per partition, its plan rows (stamped with the version), its baselines and its
   changes against the previous published plan's rows of the same locations (read filtered
   by location) are appended to the version's files with a ParquetWriter; the small tables
   (capacity report, exceptions, the views), the report and the manifest are written whole,
   the manifest last, as before;
2. audit: per partition, the staged rows of its locations are read back (a reader filtering
   on `location` skips the other row groups) and checked against the output contracts and
   SPEC's plan rules with that partition's input rows; the small tables are checked once,
   whole; the rows audited must add up to the rows written (no row escapes the audit);
3. store: the rows go into the store partition by partition inside the one transaction that
   publishes the version (PlanStore.publish with a table given as parts): nothing is visible
   before the commit, and a failure in any partition rolls back every row. The staging,
   promotion, mark and recovery of flows/publish.py are unchanged.

Why one file with location row groups and not a hive folder (`consensus_plan/location=X/`):
SPEC fixes `cycle=YYYY-MM/version=N/consensus_plan.parquet` as the path readers, procurement
systems and acceptance checks open. A file with one or more row groups per location group
keeps that path, and its row-group statistics still let a reader filtering on `location`
skip the other groups.

Rows are those of the unpartitioned publish, value for value; their order: by partition
(consecutive groups of sorted locations), within a partition as the workspace holds them
(consensus_plan, baseline_forecast, the snapshot) or by sku, location, period (plan_changes).
When reconcile ran with the same partitions the plan's order is the workspace file's.

Nothing in the audit crosses locations once its inputs are a partition's rows: every SPEC
rule is per sku x location or per location x month, `products` (no location) is read whole,
and the output contracts' keys all contain `location`. One thing in plan_changes does cross
locations - the months both plans cover - and is taken from the whole plans' `period` columns.

The waterfall and plan stability are read one location group at a time too, as sums per
location and family (flows/movement_parts.py). The report reads no whole column either: its
figures of the plan and of plan_changes are digests (reporting/plan_digest.py) added up from
each partition's, taken while the partition is staged; the plan rows, baselines and history it
charts are read for its few SKUs only. What the digests keep grows with the catalogue only as
its sets of distinct SKUs and months do. Partitions run one after the other in this process,
whatever the engine: they append to one file and insert in one transaction. Locations only
earlier plans have (a warehouse since closed) are one more partition
(flows/movement_parts.with_closed_locations): plan_changes lists their rows as removed, and the
waterfall and stability count their units as gone, as the whole publish does.
"""

import contextlib
import posixpath
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from data_contracts import check_plan_rules, validate_outputs
from data_contracts.plan_rules import RULE_INPUTS
from data_contracts.run_records import (
    DATA_DOCS_INDEX,
    BaselineResult,
    ChangesSummary,
    CheckResult,
    PlanResult,
    build_manifest,
)
from data_contracts.tables import OUTPUT_COLUMNS, order_columns, stamp_version
from flows.context import RunContext
from flows.memory import release_memory
from flows.movement_parts import (
    EarlierPlans,
    PublishedPlan,
    earlier_plans,
    movement_by_partition,
    with_closed_locations,
)
from flows.output_tree import OutputTree, Workspace
from flows.previous_plan import PLAN_COLUMNS, read_plan_version
from flows.publish import Publication, promote
from flows.store import STORE_TABLES, PlanStore, TableRows
from flows.version_files import (
    EXTRA_PLAN_FILES,
    PlanAuditError,
    package_versions,
    run_exceptions,
    version_tables,
)
from reconciliation.plan_changes import compute_plan_changes
from reporting import render_report
from reporting.plan_digest import (
    CHART_COLUMNS,
    ChangeDigest,
    PlanPartial,
    change_digest,
    digest_plan,
    merge_change_digests,
    plan_partial,
)

# The tables written, audited and stored one partition at a time.
BY_PARTITION = ("consensus_plan", "baseline_forecast", "plan_changes")
SNAPSHOT = "sales_forecast"  # the inputs snapshot (inputs/sales_forecast.parquet)
# reconcile's small tables in the workspace (everything but consensus_plan): what
# version_tables publishes, and the extra views.
PLAN_TABLES = ["capacity_report", "exceptions", "safety_stock", "sales_bias", *EXTRA_PLAN_FILES]
HISTORY_COLUMNS = ["sku", "location", "period", "qty"]
MAX_SKU_CHARTS = 6  # render_report's default: the charts' SKUs are chosen the same way


@dataclass(frozen=True)
class PartitionedPublication:
    publication: Publication
    plan_rows: int
    change_rows: int


def publish_by_partition(ctx: RunContext, version: int, groups: list[list[str]],
                         plan_store: PlanStore,
                         at_step: Callable[[str], None] | None = None) -> PartitionedPublication:
    """Stage, audit and publish version `version` of the run one location group at a time
    (see the module docstring). On failure the staging folder is removed and the error
    raised: the caller marks the claim failed (flows/publish.discard), as for a whole
    publish. `at_step`: flows/publish.promote's fault-injection hook."""
    tree, ws, cycle = ctx.tree, ctx.workspace, ctx.cycle
    # The earlier plans' months and locations, read once for all that compares with them.
    earlier = earlier_plans(ctx, plan_store, version)
    # A location only earlier plans have still has rows to publish: plan_changes' removals.
    groups = with_closed_locations(earlier, groups)
    staging = tree.new_staging_dir(cycle, version)
    try:
        written, inputs_sha = stage_by_partition(ctx, ws, version, groups, plan_store, staging,
                                                 earlier)
        release_memory()
        audit_by_partition(tree, ws, staging, groups, cycle, ctx.horizon,
                           ws.load_result("plan", PlanResult).shortfall_tolerance_units)
        frames = store_rows(tree, staging, tree.version_dir(cycle, version), groups)
        publication = promote(tree, staging, cycle, version, frames, plan_store, inputs_sha,
                              at_step)
    except BaseException:
        with contextlib.suppress(OSError):  # gone already once promoted (renamed into place)
            tree.remove(staging)
        raise
    return PartitionedPublication(publication, written["consensus_plan"],
                                  written["plan_changes"])


class _PreviousRows:
    """The previous published plan's rows, one partition's locations at a time: from its
    version folder, else (published from another output folder) from the store. Its months
    are the PublishedPlan's, read once for the whole publish (movement_parts.earlier_plans)."""

    def __init__(self, tree: OutputTree, store: PlanStore, plan: PublishedPlan) -> None:
        self.tree, self.store = tree, store
        self.cycle, self.version, self.periods = plan.cycle, plan.version, plan.periods

    def rows(self, locations: list[str]) -> pd.DataFrame:
        return read_plan_version(self.tree, self.store, self.cycle, self.version, PLAN_COLUMNS,
                                 locations=locations)


def stage_by_partition(ctx: RunContext, ws: Workspace, version: int, groups: list[list[str]],
                       plan_store: PlanStore, staging: str, earlier: EarlierPlans
                       ) -> tuple[dict[str, int], str]:
    """Write every file of the version into `staging`, the large tables partition by
    partition; return the rows written per large table and the inputs' sha256. `earlier`:
    the plans the version is compared with."""
    cycle, tree = ctx.cycle, ctx.tree
    check = ws.load_result("check", CheckResult)
    plan_file = posixpath.join(ws.root, "plan", "consensus_plan.parquet")
    previous = (_PreviousRows(tree, plan_store, earlier.previous_version)
                if earlier.previous_version else None)
    # The plan's months, read once: the staged plan has the same rows (see _all_rows_written).
    periods = tree.distinct_values(plan_file, "period")
    # The one quantity of plan_changes that crosses locations (see the module docstring).
    overlap = periods & previous.periods if previous else None
    by_change: Counter[str] = Counter()
    # The report's figures of each partition (see the module docstring).
    plan_parts: list[PlanPartial] = []
    change_parts: list[ChangeDigest] = []
    files = {name: posixpath.join(staging, f"{name}.parquet") for name in BY_PARTITION}
    files[SNAPSHOT] = posixpath.join(staging, "inputs", f"{SNAPSHOT}.parquet")
    with contextlib.ExitStack() as stack:
        out = {name: stack.enter_context(tree.open_appender(path))
               for name, path in files.items()}
        for locations in groups:
            plan = ws.load_frames("plan", ["consensus_plan"], locations)["consensus_plan"]
            plan = order_columns(stamp_version(plan, cycle, version), "consensus_plan")
            changes = compute_plan_changes(
                plan, previous.rows(locations) if previous else None,
                previous.cycle if previous else None, previous.version if previous else None,
                ctx.config.reconciliation, periods=overlap)
            by_change.update(changes["change"].astype(str))
            plan_parts.append(plan_partial(plan, MAX_SKU_CHARTS))
            change_parts.append(change_digest(changes))
            out["consensus_plan"].write(plan)
            out["plan_changes"].write(order_columns(changes, "plan_changes"))
            del plan, changes
            base = ws.load_frames("baseline", ["baseline_forecast"], locations)
            out["baseline_forecast"].write(order_columns(base["baseline_forecast"],
                                                         "baseline_forecast"))
            snapshot = ws.load_frames("check", [SNAPSHOT], locations)[SNAPSHOT]
            out[SNAPSHOT].write(snapshot.reset_index(drop=True))
            del base, snapshot
    written = {name: appender.rows for name, appender in out.items()}
    _all_rows_written(tree, {
        "consensus_plan": (plan_file, written["consensus_plan"]),
        "baseline_forecast": (posixpath.join(ws.root, "baseline", "baseline_forecast.parquet"),
                              written["baseline_forecast"]),
        SNAPSHOT: (posixpath.join(ws.root, "check", f"{SNAPSHOT}.parquet"), written[SNAPSHOT]),
    })
    changes_summary = ChangesSummary(
        previous_cycle=previous.cycle if previous else None,
        previous_version=previous.version if previous else None,
        # In value_counts' order (most frequent first), as the whole publish lists them.
        by_change=dict(sorted(by_change.items(), key=lambda kv: -kv[1])),
    )
    _stage_the_rest(ctx, ws, version, groups, plan_store, staging, check, written,
                    changes_summary, plan_parts, merge_change_digests(change_parts), periods,
                    earlier)
    return written, check.inputs_sha256()


def _all_rows_written(tree: OutputTree, pairs: dict[str, tuple[str, int]]) -> None:
    """Every row of the workspace's table went into some partition (a location outside the
    warehouses table would otherwise be left out of the version)."""
    for name, (source, rows) in pairs.items():
        found = tree.parquet_rows(source)
        if found != rows:
            raise PlanAuditError(
                f"{name}: {found} rows in the workspace but {rows} in the "
                "partitions (a location outside the warehouses table?); nothing was published")


def _stage_the_rest(ctx: RunContext, ws: Workspace, version: int, groups: list[list[str]],
                    plan_store: PlanStore, staging: str, check: CheckResult,
                    written: dict[str, int], changes_summary: ChangesSummary,
                    plan_parts: list[PlanPartial], changes: ChangeDigest, periods: set[str],
                    earlier: EarlierPlans) -> None:
    """The small tables, the report and the manifest (last) into `staging`. A function of its
    own so the column extracts it reads are freed on return. `plan_parts` and `changes`: the
    report's figures of the staged plan and plan_changes, from their partitions; `periods`:
    the months the plan covers; `earlier`: the plans the version is compared with."""
    cycle, tree = ctx.cycle, ctx.tree
    rejects = ws.load_frames("check", ["rejects"]).get("rejects", pd.DataFrame())
    plan = ws.load_frames("plan", PLAN_TABLES)
    selection = ws.load_frames("baseline", ["selection"]).get("selection", pd.DataFrame())
    exceptions = run_exceptions(check, plan["exceptions"], selection)
    del selection
    staged_plan = posixpath.join(staging, "consensus_plan.parquet")
    waterfall, stability = movement_by_partition(ctx, staged_plan, periods, version, groups,
                                                 plan_store, earlier)
    frames, extras = version_tables(plan, exceptions, rejects, waterfall, stability)
    plan_result = ws.load_result("plan", PlanResult)
    manifest = build_manifest(
        cycle=cycle, version=version, horizon=ctx.horizon, run_id=ctx.run_id,
        workspace=ws.root, check=check, baseline=ws.load_result("baseline", BaselineResult),
        plan=plan_result, store_url=plan_store.safe_url, package_versions=package_versions(),
        rows={**{k: len(v) for k, v in frames.items()}, **{k: written[k] for k in BY_PARTITION}},
        changes=changes_summary, quarantined=bool(len(rejects)),
    )
    # The charts draw the plan rows, baselines and history of the focus SKUs only: only
    # theirs are read.
    report_plan = digest_plan(plan_parts, MAX_SKU_CHARTS, lambda skus: _sku_rows(
        tree, staged_plan, skus, list(CHART_COLUMNS)))
    skus = sorted(set(report_plan.focus["sku"].astype(str)))
    report = render_report(
        cycle=cycle, version=version, consensus_plan=report_plan,
        baseline_forecast=_sku_rows(tree, posixpath.join(staging, "baseline_forecast.parquet"),
                                    skus),
        capacity_report=frames["capacity_report"], exceptions=frames["exceptions"],
        history=_sku_rows(tree, posixpath.join(ws.root, "check", "sales_history.parquet"),
                          skus, HISTORY_COLUMNS),
        family_plan=plan.get("family_plan"), promotion_load=plan.get("promotion_load"),
        trust=plan.get("trust"), fva=plan.get("fva"),
        waterfall=waterfall, stability=stability, sales_bias=frames["sales_bias"],
        plan_changes=changes,
        contract_summary=manifest.contracts.model_dump(mode="json"),
        data_docs_href=DATA_DOCS_INDEX if check.data_docs else None,
        max_sku_charts=MAX_SKU_CHARTS,
    )
    docs = Path(check.data_docs).parent if check.data_docs else None
    tree.stage_version(cycle, version, {**frames, **extras}, report, manifest,
                       folders={"data_docs": docs} if docs else None, staging=staging)


def _sku_rows(tree: OutputTree, path: str, skus: list[str],
              columns: list[str] | None = None) -> pd.DataFrame:
    """The rows of `skus` in a Parquet file, filtered while reading (none without skus: the
    report then draws no chart and reads none)."""
    if not skus:
        return pd.DataFrame(columns=columns)
    with tree.fs.open(path, "rb") as f:
        return pd.read_parquet(f, columns=columns, filters=[("sku", "in", skus)]
                               ).reset_index(drop=True)


def audit_by_partition(tree: OutputTree, ws: Workspace, staging: str, groups: list[list[str]],
                       cycle: str, horizon: int, shortfall_units: float) -> None:
    """The last gate, partition by partition: each partition's staged rows against the
    output contracts and SPEC's rules with its own input rows; the small tables once."""
    small = [n for n in [*OUTPUT_COLUMNS, "safety_stock"] if n not in BY_PARTITION]
    staged = tree.frames_in(staging, small)
    validate_outputs(staged)
    capacity = staged["capacity_report"]
    before: Counter[str] = Counter()  # rows of earlier partitions: the files' row numbers
    violations: list[str] = []
    for locations in groups:
        part = tree.frames_in(staging, list(BY_PARTITION), locations)
        validate_outputs(part, {name: before[name] + 1 for name in part})
        before.update({name: len(df) for name, df in part.items()})
        tables = ws.load_frames("check", list(RULE_INPUTS), locations)
        found = check_plan_rules(
            part["consensus_plan"],
            capacity[capacity["location"].astype(str).isin(locations)].reset_index(drop=True),
            tables, cycle, horizon, allow_forced=True, shortfall_units=shortfall_units)
        violations += [f"{v} (locations {', '.join(locations)})" for v in found]
        del part, tables
    if violations:
        shown = "\n".join(f"- {v}" for v in violations[:20])
        raise PlanAuditError(
            f"the plan breaks {len(violations)} SPEC rule(s); nothing was published:\n{shown}")


def store_rows(tree: OutputTree, staging: str, final: str,
               groups: list[list[str]]) -> dict[str, TableRows]:
    """The store's tables: the small ones read from `staging`, the large ones as parts read
    from the version folder `final` (where promote renames the staging folder to) one
    partition at a time, while the store's transaction inserts them."""
    small = [n for n in STORE_TABLES if n not in BY_PARTITION]

    def parts(name: str) -> Callable[[], Iterator[pd.DataFrame]]:
        path = posixpath.join(final, f"{name}.parquet")
        return lambda: (tree.read_frame(path, locations=g) for g in groups)

    return {**tree.frames_in(staging, small), **{name: parts(name) for name in BY_PARTITION}}
