"""Reconcile a catalogue location group by location group, so memory follows the largest group.

With `execution.partition_size: N` in the run's config, reconcile plans N locations at a
time (a *partition*). The driver then holds one partition's rows, plus small tables that
cross locations, never the catalogue:

1. the whole history's first and last month, read from one column in row-group batches;
2. per partition, the per-series evidence that crosses locations
   (reconciliation/cross_location.py: past submissions' references for the trust weights,
   past promotions' realised uplifts, the capacity LP's cost scales) - a few numbers per past
   submission, not the history - and forecast value added's partial sums per location
   (reconciliation/fva.py), a few rows per location, team, family and lag, and the sales
   bias's (reconciliation/sales_bias.py), per location, team and past cycle;
3. per partition, `build_plan` with that evidence: its consensus_plan rows go to a part file
   of the workspace, its small tables (capacity report, exceptions, trust, family and
   promotion views) come back to the driver;
4. the parts are streamed into the workspace's one `plan/consensus_plan.parquet` (one
   partition at a time), the small tables joined, and FVA and the sales bias computed from
   the partial sums.

The plan of every partition is its locations' part of the catalogue's plan, number for
number (tests/flows/test_partitions.py); within the plan file rows are ordered by partition,
then SKU, location and period. With `--engine dask` steps 2 and 3 run on the cluster's
workers, which read and write the run's workspace themselves (on a remote cluster it must be
a folder every worker sees); with the local engine partitions run one after the other in
this process.
"""

import posixpath
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

from flows.engines import open_engine
from flows.output_tree import Workspace
from flows.progress import tell
from forecasting.engines import DaskEngine
from reconciliation import build_plan
from reconciliation.cross_location import CrossLocation, collect, combine
from reconciliation.fva import SUM_COLUMNS, fva_from_sums, fva_points, fva_sums
from reconciliation.plan import FAMILY_COLUMNS, collect_exceptions
from reconciliation.sales_bias import (
    BIAS_SUM_COLUMNS,
    PLAN_WEIGHT_COLUMNS,
    WEIGHT_SUM_COLUMNS,
    bias_from_sums,
    bias_sums,
    weight_sums,
)
from reconciliation.settings import PlanSettings
from reconciliation.trust import TRUST_COLUMNS

T = TypeVar("T")
PLAN_PARTS = "plan_parts"  # workspace stage holding each partition's consensus_plan rows
# What reconcile reads of the checked inputs (rejects are not an input of the plan).
PLAN_INPUTS = ["sales_history", "sales_forecast", "products", "warehouses", "inventory",
               "open_orders", "promotions", "forecast_history", "overrides", "customer_orders"]
# What the cross-location evidence (its cost scales: the planned SKU-locations and their
# warehouses, so every plan input) and forecast value added read.
EVIDENCE_INPUTS = [t for t in PLAN_INPUTS if t != "overrides"]


def location_groups(locations: Sequence[str], size: int | None) -> list[list[str]]:
    """Sorted locations in consecutive groups of `size` (None or 0: one group of all)."""
    ordered = sorted(set(locations))
    if not size or size >= len(ordered):
        return [ordered]
    return [ordered[i:i + size] for i in range(0, len(ordered), size)]


def planned_locations(ws: Workspace) -> list[str]:
    """Every location of the checked warehouses table (contracts make it the full list)."""
    warehouses = ws.load_frames("check", ["warehouses"])["warehouses"]
    return sorted(set(warehouses["location"].astype(str)))


def history_months(ws: Workspace, cycle: str) -> tuple[str, str] | None:
    """First and last month of sales_history before `cycle`, read in row-group batches."""
    path = posixpath.join(ws.root, "check", "sales_history.parquet")
    first: str | None = None
    last: str | None = None
    with ws.tree.fs.open(path, "rb") as f:
        for batch in pq.ParquetFile(f).iter_batches(columns=["period"]):
            period = batch.column(0)
            period = pc.filter(period, pc.less(period, cycle))
            if len(period) == 0:
                continue
            lo, hi = pc.min_max(period).values()
            first = lo.as_py() if first is None else min(first, lo.as_py())
            last = hi.as_py() if last is None else max(last, hi.as_py())
    return (first, last) if first is not None and last is not None else None


@dataclass
class GroupEvidence:
    """What one partition contributes to the catalogue-wide computations."""

    cross: CrossLocation
    fva_sums: pd.DataFrame  # a few rows per location, team, family and lag
    bias_sums: pd.DataFrame  # sales bias: per location, team and past cycle
    weight_sums: pd.DataFrame  # the trust weights past plans gave, per location, cycle, team


@dataclass
class GroupPlan:
    """One partition's plan: its rows are in `part` (a workspace file), the rest is small."""

    part: str
    rows: int
    capacity_report: pd.DataFrame
    exceptions: pd.DataFrame
    trust: pd.DataFrame
    family_plan: pd.DataFrame
    promotion_load: pd.DataFrame
    supply_plan: dict[str, object]
    safety_stock: pd.DataFrame
    weight_sums: pd.DataFrame  # this cycle's trust weights (sales bias), per location and team


def group_evidence(ws: Workspace, locations: list[str], cycle: str, horizon: int,
                   settings: PlanSettings, months: tuple[str, str] | None,
                   past_plan_columns: list[str], past_plan_optional: tuple[str, ...] = ()
                   ) -> GroupEvidence:
    """Read one partition's inputs, return its cross-location evidence and the partial sums
    of forecast value added, sales bias and past trust weights."""
    tables = ws.load_frames("check", EVIDENCE_INPUTS, locations)
    cross = collect(tables, cycle, settings, months, horizon)
    plans = ws.tree.past_plans(cycle, past_plan_columns, past_plan_optional, locations)
    points = fva_points(tables["sales_history"], tables.get("forecast_history"), cycle,
                        products=tables.get("products"), past_plans=plans, settings=settings,
                        months=months)
    return GroupEvidence(cross=cross, fva_sums=fva_sums(points),
                         bias_sums=bias_sums(tables["sales_history"],
                                             tables.get("forecast_history"), cycle, plans,
                                             months),
                         weight_sums=weight_sums(plans))


def plan_group(ws: Workspace, index: int, locations: list[str], cycle: str, horizon: int,
               settings: PlanSettings, cross: CrossLocation,
               previous_plan: pd.DataFrame | None = None) -> GroupPlan:
    """Plan one partition with the catalogue's evidence; its rows go to a part file.
    `previous_plan`: the time fence's plan of last cycle, this partition's rows."""
    tables = ws.load_frames("check", PLAN_INPUTS, locations)
    fitted = ws.load_frames("baseline", ["baseline_forecast", "forecast_error"], locations)
    plan = build_plan(tables, fitted["baseline_forecast"], cycle, horizon, settings,
                      forecast_error=fitted.get("forecast_error"), cross=cross,
                      previous_plan=previous_plan)
    del tables, fitted
    name = f"consensus_plan-{index:05d}"
    ws.save_frames(PLAN_PARTS, {name: plan.consensus_plan})
    return GroupPlan(
        part=name, rows=len(plan.consensus_plan), capacity_report=plan.capacity_report,
        exceptions=plan.exceptions, trust=plan.trust, family_plan=plan.family_plan,
        promotion_load=plan.promotion_load, supply_plan=plan.supply_plan,
        safety_stock=plan.safety_stock,
        weight_sums=weight_sums(plan.consensus_plan[PLAN_WEIGHT_COLUMNS].assign(cycle=cycle)),
    )


def run_groups(engine: str, dask_address: str | None, workers: int | None,
               calls: list[Callable[[], T]], stage: str | None = None,
               label: str = "partition") -> list[T]:
    """Run each call: one after the other here (local engine) or on a Dask cluster's workers,
    results in call order. With `stage`, each finished call is told to the progress listeners
    (flows/progress.py: the command line's bar, the Prefect UI's progress artifact)."""
    total = len(calls)

    def done(n: int) -> None:
        if stage is not None:
            tell(stage, f"{label} {n}/{total}", n, total)

    if engine != "dask" or total == 1:
        out = []
        for call in calls:
            out.append(call())
            done(len(out))
        return out
    from distributed import as_completed  # only here: dask is slow to import, rarely used

    with open_engine("dask", dask_address, workers) as cluster:
        assert isinstance(cluster, DaskEngine)
        client: Any = cluster.client
        futures = [client.submit(call, pure=False) for call in calls]
        for n, _ in enumerate(as_completed(futures), start=1):
            done(n)
        return list(client.gather(futures))


@dataclass
class PartitionedPlan:
    """reconcile's outputs when planned by partition (the plan rows are already written)."""

    rows: int
    frames: dict[str, pd.DataFrame]  # every plan/ frame but consensus_plan, incl. fva
    #                                   and sales_bias
    supply_plan: dict[str, object]


def reconcile_by_partition(ws: Workspace, groups: list[list[str]], cycle: str, horizon: int,
                           settings: PlanSettings, past_plan_columns: list[str],
                           engine: str = "local", dask_address: str | None = None,
                           workers: int | None = None,
                           previous_plan: pd.DataFrame | None = None,
                           past_plan_optional: tuple[str, ...] = ()) -> PartitionedPlan:
    """Plan `groups` of locations one partition at a time (see the module docstring).
    `previous_plan`: last cycle's plan for the time fence (each partition gets its rows)."""
    months = history_months(ws, cycle)
    evidence = run_groups(engine, dask_address, workers, [
        _bind(group_evidence, ws, g, cycle, horizon, settings, months, past_plan_columns,
              past_plan_optional)
        for g in groups], "reconcile", "evidence of partition")
    cross = combine([e.cross for e in evidence])
    sums = pd.concat([e.fva_sums for e in evidence], ignore_index=True) \
        if evidence else pd.DataFrame(columns=SUM_COLUMNS)
    biases = _concat([e.bias_sums for e in evidence], BIAS_SUM_COLUMNS)
    past_weights = [e.weight_sums for e in evidence]
    del evidence
    plans = run_groups(engine, dask_address, workers, [
        _bind(plan_group, ws, i, g, cycle, horizon, settings, cross,
              None if previous_plan is None
              else previous_plan[previous_plan["location"].isin(g)].reset_index(drop=True))
        for i, g in enumerate(groups)], "reconcile", "plan of partition")
    rows = ws.tree.append_frames(ws.path("plan", "consensus_plan.parquet"),
                                 _parts(ws, [p.part for p in plans]))
    for p in plans:
        ws.tree.remove(ws.path(PLAN_PARTS, f"{p.part}.parquet"))
    frames = {
        "capacity_report": _concat([p.capacity_report for p in plans])
        .sort_values(["location", "period"], kind="stable").reset_index(drop=True),
        "exceptions": _once_per_run(collect_exceptions([p.exceptions for p in plans])),
        "trust": join_trust([p.trust for p in plans]),
        "family_plan": _concat([p.family_plan for p in plans], FAMILY_COLUMNS)
        .sort_values(["family", "location", "period"], kind="stable").reset_index(drop=True),
        "promotion_load": _sorted_load([p.promotion_load for p in plans]),
        # Per planned SKU x location, in planned_keys' order (sku, location).
        "safety_stock": _concat([p.safety_stock for p in plans])
        .sort_values(["sku", "location"], kind="stable").reset_index(drop=True),
        "fva": fva_from_sums(sums),
        "sales_bias": bias_from_sums(biases, _concat(
            [*past_weights, *(p.weight_sums for p in plans)], WEIGHT_SUM_COLUMNS)),
    }
    return PartitionedPlan(rows=rows, frames=frames,
                           supply_plan=join_supply([p.supply_plan for p in plans]))


def _bind(fn: Callable[..., T], *args: Any) -> Callable[[], T]:
    # A plain closure pickles by value with cloudpickle (Dask) and runs as is locally.
    return lambda: fn(*args)


def _parts(ws: Workspace, names: list[str]) -> Iterator[pd.DataFrame]:
    for name in names:
        yield ws.tree.read_frame(ws.path(PLAN_PARTS, f"{name}.parquet")).reset_index(drop=True)


def _concat(frames: list[pd.DataFrame], columns: list[str] | None = None) -> pd.DataFrame:
    parts = [f for f in frames if not f.empty]
    if not parts:
        return frames[0] if frames else pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)


def _once_per_run(exceptions: pd.DataFrame) -> pd.DataFrame:
    """A run-level note (no sku, no location; e.g. the fence's "no previous plan") comes once
    per partition: keep its first copy, as the whole catalogue's plan has it once."""
    repeated = exceptions.duplicated() & (exceptions["sku"] == "") & (
        exceptions["location"] == "")
    return exceptions[~repeated].reset_index(drop=True)


def _sorted_load(frames: list[pd.DataFrame]) -> pd.DataFrame:
    load = _concat(frames)
    if load.empty:
        return load
    return load.sort_values(["promo_id", "sku", "location", "period"], kind="stable"
                            ).reset_index(drop=True)


def join_trust(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Each partition's trust table holds the catalogue's rows of the teams it saw (fitted on
    every location's evidence): their union, in estimate_trust's order (team, up, down)."""
    trust = _concat(frames, TRUST_COLUMNS)
    if trust.empty:
        return trust
    trust = trust.drop_duplicates(["submitted_by", "direction"])
    order = trust["direction"].map({"up": 0, "down": 1})
    return trust.assign(_o=order).sort_values(["submitted_by", "_o"], kind="stable").drop(
        columns="_o").reset_index(drop=True)


def join_supply(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The supply summaries of the partitions as one (sums, lists joined, worst flags)."""
    if len(parts) == 1:
        return parts[0]
    out: dict[str, Any] = dict(parts[0])

    def sums(key: str) -> dict[str, float]:
        total: dict[str, float] = {}
        for p in parts:
            for k, v in dict(p.get(key, {})).items():
                total[k] = round(total.get(k, 0.0) + float(v), 4)
        return total

    out["budget_exhausted_locations"] = [loc for p in parts
                                         for loc in p.get("budget_exhausted_locations", [])]
    out["budget_exhausted"] = bool(out["budget_exhausted_locations"])
    out["solver_failed_locations"] = [loc for p in parts
                                      for loc in p.get("solver_failed_locations", [])]
    out["open_cuts"] = int(sum(int(p.get("open_cuts", 0)) for p in parts))
    out["polish_rounds"] = max(int(p.get("polish_rounds", 0)) for p in parts)
    out["seconds"] = sums("seconds")
    lp, plan = sums("cost_lp"), sums("cost_plan")
    out["cost_lp"], out["cost_plan"] = lp, plan
    lp_total, plan_total = lp.get("total", 0.0), plan.get("total", 0.0)
    out["cost_vs_lp"] = round(plan_total / lp_total - 1.0, 6) if lp_total > 0 else 0.0
    out["extra_cut_units"] = round(plan.get("unserved_units", 0.0)
                                   - lp.get("unserved_units", 0.0), 4)
    fences = [dict(p["time_fence"]) for p in parts if "time_fence" in p]
    if fences:  # the same fence everywhere: add up what each partition kept
        out["time_fence"] = {**fences[0],
                             "firm_receipts": sum(int(f["firm_receipts"]) for f in fences),
                             "firm_units": round(sum(float(f["firm_units"]) for f in fences), 4)}
    return out
