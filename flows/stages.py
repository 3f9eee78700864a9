"""The stages of a monthly run, each a Prefect flow of its own taking the run's `RunContext`.

ingest_and_check -> baselines -> reconcile -> publish. Each reads what the one before left in
the run's workspace and returns its typed record (data_contracts/run_records.py), so an
engineer can re-run one stage from the Prefect UI against a workspace.
"""

import contextlib
import time
from pathlib import Path
from typing import cast

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NONE
from prefect.runtime import flow_run

from data_contracts import (
    ContractBreach,
    QuarantinePolicy,
    read_error,
    validate_inputs,
)
from data_contracts.findings import quarantined_rows
from data_contracts.run_records import (
    BaselineResult,
    CheckResult,
    InputRecord,
    PlanResult,
    PublishResult,
)
from flows.baseline_parts import fit_by_partition
from flows.check_parts import CheckPlan, check_by_partition, plan_check
from flows.config import resolve_store_url
from flows.context import RunContext
from flows.data_docs import make_offline
from flows.engines import open_engine
from flows.events import plan_published
from flows.io import TableReadError, read_inputs, write_table
from flows.memory import release_memory
from flows.output_tree import Workspace
from flows.partitions import (
    location_groups,
    planned_locations,
    reconcile_by_partition,
)
from flows.previous_plan import PreviousPlan, read_fence_plan
from flows.progress import engine_with_progress
from flows.publish import claim_version, discard, promote, recover
from flows.publish_parts import publish_by_partition
from flows.quality_run import run_quality_suites
from flows.retries import IO_RETRIES
from flows.store import PlanStore
from flows.version_files import PUBLISH_INPUTS, audit_plan, publish_artifacts, stage_version_files
from forecasting import fit_baselines
from forecasting.cache_key import REQUIRED_FRAMES, baseline_cache_key
from reconciliation import build_plan, planned_keys
from reconciliation.fva import compute_fva
from reconciliation.sales_bias import PLAN_WEIGHT_COLUMNS, compute_sales_bias

# Retried only where a later attempt can succeed (flows/retries.py): a missing folder or a
# breached contract fails once.


@task(**IO_RETRIES, cache_policy=NONE)
def read_input_tables(inputs: str) -> tuple[dict[str, pd.DataFrame], list[InputRecord]]:
    try:
        tables, files = read_inputs(inputs)
    except TableReadError as exc:
        raise read_error(exc.table, exc.path, exc.problem) from exc
    return tables, [InputRecord(**f.to_dict()) for f in files]


REJECT_ROWS_SHOWN = 200  # the artifact's table; the file keeps every row


@task(cache_policy=NONE)
def rejects_artifacts(cycle: str, breach: ContractBreach) -> None:
    """On the failed run's page: what was refused (table, column, rule, count) and the first
    rejected rows with their line numbers, so nobody needs the worker's disk to see them."""
    key = f"sop-{cycle}-rejects".lower()
    findings = "\n".join(
        f"| {f.table} | {f.column or ''} | {f.rule} | {f.count:,} |".replace("\n", " ")
        for f in breach.findings if f.severity == "error")
    create_markdown_artifact(
        f"# Data contract breached, cycle {cycle}: nothing published\n\n"
        "| table | column | rule | rows |\n|---|---|---|---:|\n" + findings
        + f"\n\nAll rejected rows: `{breach.rejects_path}`",
        key=key, description=f"Contract breach, cycle {cycle}"[:500])
    shown = breach.rejects.head(REJECT_ROWS_SHOWN)
    columns = [c for c in ("table", "source_line", "column", "rule", "value") if c in shown]
    create_table_artifact(shown[columns].astype(str).to_dict(orient="records"),
                          key=f"{key}-rows",
                          description=f"First {REJECT_ROWS_SHOWN} rejected rows, cycle {cycle}")


@task(**IO_RETRIES, cache_policy=NONE)
def write_rejects(rejects: pd.DataFrame, path: str) -> str:
    write_table(rejects, path)
    return path


# ---------------------------------------------------------------- stage flows


@flow(name="sop-ingest-and-check")
def ingest_and_check(ctx: RunContext) -> CheckResult:
    """Read the input tables, check every contract, keep the checked tables in the workspace.

    Raises ContractBreach (exit 3) with the offending rows written next to the workspace.
    Drift checks compare with the inputs of the output folder's last published cycle.

    Args:
        ctx: The run: cycle, horizon, inputs, output folder, run id, store, settings, engine.
    """
    logger = get_run_logger()
    ws = ctx.workspace
    start = time.perf_counter()
    policy = QuarantinePolicy(max_share=ctx.config.contracts.quarantine)
    # great-expectations writes its Data Docs to a local folder of the workspace.
    docs = Path(ws.root) / "data_docs"
    try:
        plan = plan_check(ctx.inputs, ctx.cycle, ctx.config.execution.partition_size)
    except TableReadError as exc:
        raise read_error(exc.table, exc.path, exc.problem) from exc
    if plan is not None:  # more than one location group: flows/check_parts.py
        return _check_by_partition(ctx, plan, policy, docs, start)
    tables, files = read_input_tables(ctx.inputs)
    previous = ctx.tree.previous_inputs(ctx.cycle)
    try:
        checked = validate_inputs(tables, ctx.cycle, policy, previous, horizon=ctx.horizon)
        quality = run_quality_suites(
            checked.tables, ctx.cycle, docs, previous=previous,
            settings=ctx.config.contracts.quality,
            # Local trees keep every run's results: Data Docs show the past cycles too.
            history_dir=ctx.tree.quality_history_dir() if ctx.tree.is_local else None,
        )
    except ContractBreach as breach:
        _report_breach(ctx, breach, docs)
        raise
    make_offline(docs)  # before publish copies them into the version
    ws.save_frames("check", {**checked.tables, "rejects": checked.rejects})
    result = CheckResult(
        inputs=files,
        findings=[*checked.findings, *quality.findings],
        quarantined_rows=quarantined_rows(checked.rejects),
        data_docs=str(quality.data_docs_index) if quality.data_docs_index else None,
        seconds=round(time.perf_counter() - start, 3),
        flow_run_id=_flow_run_id(),
    )
    ws.save_result("check", result)
    logger.info(
        "contracts passed: %d tables, %d findings, %d quarantined rows",
        len(tables), len(result.findings), len(checked.rejects),
    )
    return result


def _report_breach(ctx: RunContext, breach: ContractBreach, docs: Path) -> None:
    breach.rejects_path = write_rejects(breach.rejects, ctx.workspace.path("check", "rejects.csv"))
    rejects_artifacts(ctx.cycle, breach)
    with contextlib.suppress(Exception):  # the Data Docs the breach names; never hide it
        make_offline(docs)


def _check_by_partition(ctx: RunContext, plan: CheckPlan, policy: QuarantinePolicy, docs: Path,
                        start: float) -> CheckResult:
    """ingest_and_check one location group at a time: the same verdict and checked tables."""
    try:
        done = check_by_partition(
            ctx.workspace, ctx.tree, plan, ctx.cycle, ctx.horizon, policy, docs,
            ctx.config.contracts.quality,
            history_dir=ctx.tree.quality_history_dir() if ctx.tree.is_local else None,
            engine=ctx.engine, dask_address=ctx.dask_address, workers=ctx.workers)
    except TableReadError as exc:
        raise read_error(exc.table, exc.path, exc.problem) from exc
    except ContractBreach as breach:
        _report_breach(ctx, breach, docs)
        raise
    make_offline(docs)
    rejects = done.checked.rejects
    result = CheckResult(
        inputs=[InputRecord(**f.to_dict()) for f in done.files],
        findings=[*done.checked.findings, *done.quality.findings],
        quarantined_rows=quarantined_rows(rejects),
        data_docs=str(done.quality.data_docs_index) if done.quality.data_docs_index else None,
        seconds=round(time.perf_counter() - start, 3),
        flow_run_id=_flow_run_id(),
    )
    ctx.workspace.save_result("check", result)
    get_run_logger().info(
        "contracts passed by %d location groups: %d tables, %d findings, %d quarantined rows",
        len(plan.groups), len(done.files), len(result.findings), len(rejects))
    return result


@flow(name="sop-baselines")
def baselines_stage(ctx: RunContext) -> BaselineResult:
    """Fit statistical baselines for every planned SKU x location (cached on input hashes).

    The baselines are the same whichever engine fits them, and however many processes.

    Args:
        ctx: The run: cycle, horizon, inputs, output folder, run id, store, settings, engine.
    """
    logger = get_run_logger()
    ws = ctx.workspace
    start = time.perf_counter()
    if ctx.config.execution.partition_size:
        groups = location_groups(planned_locations(ws), ctx.config.execution.partition_size)
        if len(groups) > 1 and ctx.config.forecasting.hierarchy == "mint_shrink":
            # Its total and family aggregates sum every location: no partition has them.
            logger.info("hierarchy mint_shrink: baselines fitted for all %d locations at once, "
                        "not by partition", sum(map(len, groups)))
        elif len(groups) > 1:
            parted = fit_by_partition(ctx, groups)
            logger.info("baselines %s in %d partitions (cache %s)",
                        "reused" if parted.reused else "fitted", len(groups), parted.cache_key)
            result = BaselineResult(
                cache_key=parted.cache_key, reused=parted.reused, engine=ctx.engine,
                jobs=None if parted.reused else ctx.workers, series=parted.series,
                models=parted.models, seconds=round(time.perf_counter() - start, 3),
                flow_run_id=_flow_run_id())
            ws.save_result("baseline", result)
            return result
    check = ws.load_result("check", CheckResult)
    tables = ws.load_frames("check")
    keys = planned_keys(tables, ctx.cycle, ctx.horizon)
    key = baseline_cache_key(check.input_hashes(), keys, ctx.cycle, ctx.horizon,
                             ctx.config.forecasting, check.quarantined_rows)
    frames = ctx.tree.read_cache("baselines", key)
    workers = None
    # An entry without forecast_error (hand-copied from an older release) is refit rather
    # than planned without computed safety stocks.
    if frames is not None and frames.keys() >= REQUIRED_FRAMES:
        logger.info("baselines reused from cache %s", key)
    else:
        workers = ctx.workers
        with open_engine(ctx.engine, ctx.dask_address, workers) as fitter:
            fitted = fit_baselines(
                tables["sales_history"],
                horizon=ctx.horizon,
                settings=ctx.config.forecasting,
                cycle=ctx.cycle,
                promotions=tables.get("promotions"),
                keys=keys,
                products=tables.get("products"),
                engine=engine_with_progress(fitter),
            )
        frames = {"baseline_forecast": fitted.forecast, "cleaning": fitted.cleaning,
                  "selection": fitted.selection, "forecast_error": fitted.forecast_error}
        ctx.tree.write_cache("baselines", key, frames)
    ws.save_frames("baseline", frames)
    forecast = frames["baseline_forecast"]
    result = BaselineResult(
        cache_key=key,
        reused=workers is None,
        engine=ctx.engine,
        jobs=workers,
        series=int(forecast[["sku", "location"]].drop_duplicates().shape[0]),
        models={str(m): int(n) for m, n in
                forecast.drop_duplicates(["sku", "location"])["model"].value_counts().items()},
        seconds=round(time.perf_counter() - start, 3),
        flow_run_id=_flow_run_id(),
    )
    ws.save_result("baseline", result)
    return result


PAST_PLAN_COLUMNS = ["cycle", "plan_version", "sku", "location", "period", "sales_forecast",
                     "baseline_forecast", "consensus_demand"]
# Read where a past version has them (versions published before they existed lack them).
PAST_PLAN_OPTIONAL = ("submitted_by", "sales_weight")


@flow(name="sop-reconcile")
def reconcile_stage(ctx: RunContext) -> PlanResult:
    """Consensus between sales and baseline, overrides, then the capacity plan; forecast value
    added from the output folder's earlier cycles.

    Args:
        ctx: The run: cycle, horizon, inputs, output folder, run id, store, settings, engine.
    """
    ws = ctx.workspace
    start = time.perf_counter()
    settings = ctx.config.reconciliation
    # The time fence keeps last cycle's receipts: only read when it is on.
    fenced = _fence_plan(ctx) if settings.frozen_months > 0 else None
    groups = location_groups(planned_locations(ws), ctx.config.execution.partition_size)
    if len(groups) > 1:
        return _reconcile_partitioned(ctx, groups, start, fenced)
    tables = ws.load_frames("check")
    tables.pop("rejects", None)
    fitted = ws.load_frames("baseline", ["baseline_forecast", "forecast_error"])
    baseline = fitted["baseline_forecast"]
    plan = build_plan(tables, baseline, ctx.cycle, ctx.horizon, settings,
                      forecast_error=fitted.get("forecast_error"),
                      previous_plan=fenced.plan if fenced else None)
    del fitted
    if fenced is not None:
        plan.supply_plan["time_fence"] = {
            **cast(dict[str, object], plan.supply_plan["time_fence"]),
            "previous_cycle": fenced.cycle, "previous_version": fenced.version}
    ws.save_frames("plan", {
        "consensus_plan": plan.consensus_plan,
        "capacity_report": plan.capacity_report,
        "exceptions": plan.exceptions,
        "trust": plan.trust,
        "family_plan": plan.family_plan,
        "promotion_load": plan.promotion_load,
        "safety_stock": plan.safety_stock,
    })
    rows, supply = len(plan.consensus_plan), plan.supply_plan
    severities = {str(s): int(n) for s, n in plan.exceptions["severity"].value_counts().items()}
    trust = plan.trust.to_dict(orient="records")
    # The plan is on disk: free it before forecast value added builds its own frames, so
    # the stage's peak is the larger of the two, not their sum (about 1 GB at 100k).
    del plan, baseline
    release_memory()
    past_plans = ctx.tree.past_plans(ctx.cycle, PAST_PLAN_COLUMNS, PAST_PLAN_OPTIONAL)
    fva = compute_fva(
        tables["sales_history"], tables.get("forecast_history"), ctx.cycle,
        products=tables.get("products"), past_plans=past_plans, settings=settings,
    )
    bias = compute_sales_bias(
        tables["sales_history"], tables.get("forecast_history"), ctx.cycle,
        past_plans=past_plans,
        plan=ws.tree.read_frame(ws.path("plan", "consensus_plan.parquet"), PLAN_WEIGHT_COLUMNS),
    )
    del past_plans
    ws.save_frames("plan", {"fva": fva, "sales_bias": bias})
    result = PlanResult(
        rows=rows, exceptions=severities, trust=trust, supply_plan=supply,
        # The audit at publish checks the `short` labels against the same threshold.
        shortfall_tolerance_units=settings.shortfall_tolerance_units,
        seconds=round(time.perf_counter() - start, 3),
        flow_run_id=_flow_run_id(),
    )
    ws.save_result("plan", result)
    return result


@flow(name="sop-publish")
def publish_stage(ctx: RunContext) -> PublishResult:
    """Stamp the version, compare with the previous published plan, render the report, stage,
    audit, then publish atomically.

    Memory: the stage holds the plan, its inputs and its staged copy one after the other,
    not all at once (at 100k SKU-locations each is about a gigabyte): the files are written
    and the in-memory frames dropped before the audit reads the staged files back, and the
    store receives those audited frames. A partitioned run (`execution.partition_size`)
    stages, audits and stores the catalogue-sized tables one location group at a time
    instead (flows/publish_parts.py): the same files and rows, in the same one transaction.

    Args:
        ctx: The run: cycle, horizon, inputs, output folder, run id, store, settings, engine.
    """
    logger = get_run_logger()
    ws, tree, cycle = ctx.workspace, ctx.tree, ctx.cycle
    start = time.perf_counter()
    # A partitioned run publishes one location group at a time (flows/publish_parts.py).
    groups = location_groups(planned_locations(ws), ctx.config.execution.partition_size)
    tables = ws.load_frames("check", list(PUBLISH_INPUTS)) if len(groups) == 1 else {}
    plan_store = PlanStore(resolve_store_url(ctx.store_url()))
    if recovered := recover(tree, plan_store):
        logger.warning("recovered after killed publications: %s", recovered.describe())
    version = claim_version(tree, cycle, plan_store, ctx.run_id, _stage_run_ids(ws))
    staging = None
    try:
        if len(groups) > 1:
            parted = publish_by_partition(ctx, version, groups, plan_store)
            publication, plan_rows, change_rows = (parted.publication, parted.plan_rows,
                                                   parted.change_rows)
        else:
            staging, inputs_sha = stage_version_files(ctx, ws, version, tables, plan_store)
            release_memory()
            staged = tree.read_staged(staging)
            audit_plan(staged, tables, cycle, ctx.horizon,
                       ws.load_result("plan", PlanResult).shortfall_tolerance_units)
            del tables
            release_memory()
            publication = promote(tree, staging, cycle, version, staged, plan_store, inputs_sha)
            plan_rows, change_rows = len(staged["consensus_plan"]), len(
                staged.get("plan_changes", ()))
            del staged
        staging = None
    except BaseException as exc:
        discard(tree, staging, plan_store, cycle, version, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        plan_store.dispose()
    logger.info("published %s version %d at %s", cycle, version, publication.path)
    plan_published(cycle, version, plan_rows, publication.path, publication.store_url,
                   change_rows)
    if flow_run.get_parent_flow_run_id() is None:
        # Run on its own (re-run from the UI): the artifacts belong to this run.
        publish_artifacts(tree, cycle, version)
    return PublishResult(cycle=cycle, plan_version=version, path=publication.path,
                         store=publication.store_url,
                         seconds=round(time.perf_counter() - start, 3))


def _reconcile_partitioned(ctx: RunContext, groups: list[list[str]], start: float,
                           fenced: PreviousPlan | None) -> PlanResult:
    """reconcile_stage one partition of locations at a time (flows/partitions.py)."""
    settings = ctx.config.reconciliation
    parted = reconcile_by_partition(
        ctx.workspace, groups, ctx.cycle, ctx.horizon, settings, PAST_PLAN_COLUMNS,
        ctx.engine, ctx.dask_address, ctx.workers,
        previous_plan=fenced.plan if fenced else None, past_plan_optional=PAST_PLAN_OPTIONAL)
    if fenced is not None:
        parted.supply_plan["time_fence"] = {
            **cast(dict[str, object], parted.supply_plan["time_fence"]),
            "previous_cycle": fenced.cycle, "previous_version": fenced.version}
    ctx.workspace.save_frames("plan", parted.frames)
    exceptions = parted.frames["exceptions"]
    result = PlanResult(
        rows=parted.rows,
        exceptions={str(s): int(n) for s, n in exceptions["severity"].value_counts().items()},
        trust=parted.frames["trust"].to_dict(orient="records"), supply_plan=parted.supply_plan,
        shortfall_tolerance_units=settings.shortfall_tolerance_units,
        seconds=round(time.perf_counter() - start, 3), flow_run_id=_flow_run_id(),
        partitions=len(groups),
    )
    ctx.workspace.save_result("plan", result)
    return result


def _fence_plan(ctx: RunContext) -> PreviousPlan | None:
    """Last cycle's plan for the time fence, as the store the run publishes to knows it."""
    store = PlanStore(resolve_store_url(ctx.store_url()), read_only=True)
    try:
        return read_fence_plan(ctx.tree, ctx.cycle, store)
    finally:
        store.dispose()


def _flow_run_id() -> str | None:
    run_id = flow_run.get_id()
    return str(run_id) if run_id else None


def _stage_run_ids(ws: Workspace) -> dict[str, str]:
    """Each stage's flow run, from the records the stages left (this one: publish)."""
    records: dict[str, tuple[str, type[CheckResult | BaselineResult | PlanResult]]] = {
        "ingest_and_check": ("check", CheckResult), "baselines": ("baseline", BaselineResult),
        "reconcile": ("plan", PlanResult)}
    ids = {name: ws.load_result(stage, model).flow_run_id
           for name, (stage, model) in records.items() if ws.has_result(stage)}
    return {k: v for k, v in {**ids, "publish": _flow_run_id()}.items() if v}
