"""The monthly S&OP flow: one sub-flow per stage, each reading and writing the run's workspace.

ingest_and_check -> baselines -> reconcile -> publish. Every stage takes the run's typed
`RunContext` (flows/context.py) and returns its typed record (data_contracts/run_records.py);
each is also a flow of its own, so an engineer can re-run one stage from the Prefect UI
against a workspace. Paths under the output folder belong to flows/output_tree.py.
"""

import contextlib
import time
from datetime import date
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NONE
from prefect.runtime import flow_run
from pydantic import BaseModel

from data_contracts import (
    ContractBreach,
    QuarantinePolicy,
    check_plan_rules,
    read_error,
    run_quality_suites,
    validate_inputs,
    validate_outputs,
)
from data_contracts.findings import findings_to_exceptions
from data_contracts.plan_rules import RULE_INPUTS
from data_contracts.run_records import (
    DATA_DOCS_INDEX,
    BaselineResult,
    ChangesSummary,
    CheckResult,
    InputRecord,
    PlanResult,
    PublishResult,
    build_manifest,
)
from data_contracts.tables import OUTPUT_COLUMNS, order_columns, stamp_version
from flows.config import RunConfig, SopSettings, resolve_store_url
from flows.context import RunContext
from flows.data_docs import make_offline
from flows.engines import open_engine
from flows.events import plan_failed, plan_published
from flows.io import TableReadError, read_inputs, write_table
from flows.memory import keep_large_blocks_in_mmap, release_memory
from flows.output_tree import OutputTree, Workspace
from flows.params import Cycle, Horizon, RunParams, documented_by, local_run_date
from flows.previous_plan import read_previous_plan
from flows.publish import claim_version, discard, promote
from flows.retries import IO_RETRIES
from flows.store import PlanStore
from forecasting import fit_baselines
from forecasting.baseline import guardrail_exceptions
from forecasting.cache_key import baseline_cache_key
from forecasting.engines import EngineName
from reconciliation import build_plan, planned_keys
from reconciliation.fva import compute_fva
from reconciliation.plan_changes import compute_plan_changes
from reporting import render_markdown_summary, render_report
from reporting.markdown import top_exceptions

TOP_EXCEPTIONS = 25


class PlanAuditError(Exception):
    """The plan about to be published breaks an output contract or a SPEC rule (a bug)."""


# ---------------------------------------------------------------- I/O tasks (retried)
# Retried only where a later attempt can succeed (flows/retries.py): a missing folder or a
# breached contract fails once.


@task(**IO_RETRIES, cache_policy=NONE)
def read_input_tables(inputs: str) -> tuple[dict[str, pd.DataFrame], list[InputRecord]]:
    try:
        tables, files = read_inputs(inputs)
    except TableReadError as exc:
        raise read_error(exc.table, exc.path, exc.problem) from exc
    return tables, [InputRecord(**f.to_dict()) for f in files]


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
    tables, files = read_input_tables(ctx.inputs)
    policy = QuarantinePolicy(max_share=ctx.config.contracts.quarantine)
    previous = ctx.tree.previous_inputs(ctx.cycle)
    # great-expectations writes its Data Docs to a local folder of the workspace.
    docs = Path(ws.root) / "data_docs"
    try:
        checked = validate_inputs(tables, ctx.cycle, policy, previous, horizon=ctx.horizon)
        quality = run_quality_suites(
            checked.tables, ctx.cycle, docs, previous=previous,
            settings=ctx.config.contracts.quality,
        )
    except ContractBreach as breach:
        breach.rejects_path = write_rejects(breach.rejects, ws.path("check", "rejects.csv"))
        with contextlib.suppress(Exception):  # the Data Docs the breach names; never hide it
            make_offline(docs)
        raise
    make_offline(docs)  # before publish copies them into the version
    ws.save_frames("check", {**checked.tables, "rejects": checked.rejects})
    result = CheckResult(
        inputs=files,
        findings=[*checked.findings, *quality.findings],
        quarantined_rows={str(t): int(n) for t, n in
                          checked.rejects.groupby("table").size().items()}
        if not checked.rejects.empty else {},
        data_docs=str(quality.data_docs_index) if quality.data_docs_index else None,
        seconds=round(time.perf_counter() - start, 3),
    )
    ws.save_result("check", result)
    logger.info(
        "contracts passed: %d tables, %d findings, %d quarantined rows",
        len(tables), len(result.findings), len(checked.rejects),
    )
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
    check = ws.load_result("check", CheckResult)
    tables = ws.load_frames("check")
    keys = planned_keys(tables, ctx.cycle, ctx.horizon)
    key = baseline_cache_key(check.input_hashes(), keys, ctx.cycle, ctx.horizon,
                             ctx.config.forecasting, check.quarantined_rows)
    frames = ctx.tree.read_cache("baselines", key)
    workers = None
    if frames is not None and "baseline_forecast" in frames:
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
                engine=fitter,
            )
        frames = {"baseline_forecast": fitted.forecast, "cleaning": fitted.cleaning,
                  "selection": fitted.selection}
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
    )
    ws.save_result("baseline", result)
    return result


PAST_PLAN_COLUMNS = ["cycle", "plan_version", "sku", "location", "period", "sales_forecast",
                     "baseline_forecast", "consensus_demand"]


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
    tables = ws.load_frames("check")
    tables.pop("rejects", None)
    baseline = ws.load_frames("baseline", ["baseline_forecast"])["baseline_forecast"]
    plan = build_plan(tables, baseline, ctx.cycle, ctx.horizon, settings)
    ws.save_frames("plan", {
        "consensus_plan": plan.consensus_plan,
        "capacity_report": plan.capacity_report,
        "exceptions": plan.exceptions,
        "trust": plan.trust,
        "family_plan": plan.family_plan,
        "promotion_load": plan.promotion_load,
    })
    rows, supply = len(plan.consensus_plan), plan.supply_plan
    severities = {str(s): int(n) for s, n in plan.exceptions["severity"].value_counts().items()}
    trust = plan.trust.to_dict(orient="records")
    # The plan is on disk: free it before forecast value added builds its own frames, so
    # the stage's peak is the larger of the two, not their sum (about 1 GB at 100k).
    del plan, baseline
    release_memory()
    fva = compute_fva(
        tables["sales_history"], tables.get("forecast_history"), ctx.cycle,
        products=tables.get("products"),
        past_plans=ctx.tree.past_plans(ctx.cycle, PAST_PLAN_COLUMNS), settings=settings,
    )
    ws.save_frames("plan", {"fva": fva})
    result = PlanResult(
        rows=rows, exceptions=severities, trust=trust, supply_plan=supply,
        # The audit at publish checks the `short` labels against the same threshold.
        shortfall_tolerance_units=settings.shortfall_tolerance_units,
        seconds=round(time.perf_counter() - start, 3),
    )
    ws.save_result("plan", result)
    return result


def _package_versions() -> dict[str, str]:
    names = ["sop-consensus", "prefect", "statsforecast", "pandera", "great-expectations",
             "pandas", "highspy", "duckdb", "sqlalchemy"]
    return {n: package_version(n) for n in names}


@flow(name="sop-publish")
def publish_stage(ctx: RunContext) -> PublishResult:
    """Stamp the version, compare with the previous published plan, render the report, stage,
    audit, then publish atomically.

    Memory: the stage holds the plan, its inputs and its staged copy one after the other,
    not all at once (at 100k SKU-locations each is about a gigabyte): the files are written
    and the in-memory frames dropped before the audit reads the staged files back, and the
    store receives those audited frames.

    Args:
        ctx: The run: cycle, horizon, inputs, output folder, run id, store, settings, engine.
    """
    logger = get_run_logger()
    ws, tree, cycle = ctx.workspace, ctx.tree, ctx.cycle
    start = time.perf_counter()
    tables = ws.load_frames("check", list(PUBLISH_INPUTS))
    plan_store = PlanStore(resolve_store_url(ctx.store_url()))
    version = claim_version(tree, cycle, plan_store, ctx.run_id)
    staging = None
    try:
        staging, inputs_sha = _stage_files(ctx, ws, version, tables, plan_store)
        release_memory()
        staged = tree.read_staged(staging)
        audit_plan(staged, tables, cycle, ctx.horizon,
                   ws.load_result("plan", PlanResult).shortfall_tolerance_units)
        del tables
        release_memory()
        publication = promote(tree, staging, cycle, version, staged, plan_store, inputs_sha)
        staging = None
    except BaseException as exc:
        discard(tree, staging, plan_store, cycle, version, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        plan_store.dispose()
    logger.info("published %s version %d at %s", cycle, version, publication.path)
    plan_published(cycle, version, len(staged["consensus_plan"]), publication.path,
                   publication.store_url, len(staged.get("plan_changes", ())))
    if flow_run.get_parent_flow_run_id() is None:
        # Run on its own (re-run from the UI): the artifacts belong to this run.
        publish_artifacts(tree, cycle, version)
    return PublishResult(cycle=cycle, plan_version=version, path=publication.path,
                         store=publication.store_url,
                         seconds=round(time.perf_counter() - start, 3))


def _stage_files(
    ctx: RunContext, ws: Workspace, version: int, tables: dict[str, pd.DataFrame],
    plan_store: PlanStore,
) -> tuple[str, str]:
    """Write every file of the version into its staging folder; (folder, inputs' sha256).

    A function of its own so that the plan and output frames it builds (and the previous
    plan it compares with) are freed on return.
    """
    cycle = ctx.cycle
    check = ws.load_result("check", CheckResult)
    rejects = ws.load_frames("check", ["rejects"]).get("rejects", pd.DataFrame())
    plan = ws.load_frames("plan")
    fitted = ws.load_frames("baseline", ["baseline_forecast", "selection"])
    exceptions = pd.concat(
        [findings_to_exceptions(check.findings), plan["exceptions"],
         guardrail_exceptions(fitted.pop("selection", pd.DataFrame()))], ignore_index=True
    )
    consensus_plan = order_columns(stamp_version(plan.pop("consensus_plan"), cycle, version),
                                   "consensus_plan")
    previous = read_previous_plan(ctx.tree, cycle, version, plan_store)
    changes = compute_plan_changes(
        consensus_plan,
        previous.plan if previous else None,
        previous.cycle if previous else None,
        previous.version if previous else None,
        ctx.config.reconciliation,
    )
    changes_summary = ChangesSummary(
        previous_cycle=previous.cycle if previous else None,
        previous_version=previous.version if previous else None,
        by_change={str(k): int(n) for k, n in changes["change"].value_counts().items()},
    )
    del previous
    frames = {
        "consensus_plan": consensus_plan,
        "baseline_forecast": order_columns(fitted["baseline_forecast"], "baseline_forecast"),
        "capacity_report": order_columns(plan["capacity_report"], "capacity_report"),
        "exceptions": order_columns(exceptions, "exceptions"),
        "rejects": rejects.reset_index(drop=True),
        "plan_changes": order_columns(changes, "plan_changes"),
    }
    del fitted, exceptions, consensus_plan
    snapshot = {f"inputs/{t}": tables[t].reset_index(drop=True)
                for t in SNAPSHOT_TABLES if t in tables}
    # Beyond SPEC's files: the views the meeting and procurement also ask for.
    extras = {name: plan[name].reset_index(drop=True) for name in EXTRA_PLAN_FILES
              if name in plan}
    plan_result = ws.load_result("plan", PlanResult)
    manifest = build_manifest(
        cycle=cycle, version=version, horizon=ctx.horizon, run_id=ctx.run_id,
        workspace=ws.root, check=check, baseline=ws.load_result("baseline", BaselineResult),
        plan=plan_result, store_url=plan_store.safe_url, package_versions=_package_versions(),
        rows={k: len(v) for k, v in frames.items()}, changes=changes_summary,
        quarantined=bool(len(rejects)),
    )
    report = render_report(
        cycle=cycle,
        version=version,
        consensus_plan=frames["consensus_plan"],
        baseline_forecast=frames["baseline_forecast"],
        capacity_report=frames["capacity_report"],
        exceptions=frames["exceptions"],
        history=tables["sales_history"],
        products=tables["products"],
        promotions=tables.get("promotions"),
        trust=plan.get("trust"),
        fva=plan.get("fva"),
        contract_summary=manifest.contracts.model_dump(mode="json"),
        data_docs_href=DATA_DOCS_INDEX if check.data_docs else None,
    )
    docs = Path(check.data_docs).parent if check.data_docs else None
    staging = ctx.tree.stage_version(
        cycle, version, {**frames, **extras, **snapshot}, report, manifest,
        folders={"data_docs": docs} if docs else None,
    )
    return staging, check.inputs_sha256()


def audit_plan(
    staged: dict[str, pd.DataFrame], tables: dict[str, pd.DataFrame], cycle: str, horizon: int,
    shortfall_units: float = 1.0,
) -> None:
    """The last gate: what readers would get must keep every contract and SPEC rule."""
    validate_outputs({k: staged[k] for k in OUTPUT_COLUMNS})
    violations = check_plan_rules(
        staged["consensus_plan"], staged["capacity_report"], tables, cycle, horizon,
        allow_forced=True, shortfall_units=shortfall_units,
    )
    if violations:
        shown = "\n".join(f"- {v}" for v in violations[:20])
        raise PlanAuditError(
            f"the plan breaks {len(violations)} SPEC rule(s); nothing was published:\n{shown}"
        )


@task(**IO_RETRIES, cache_policy=NONE)
def publish_artifacts(tree: OutputTree, cycle: str, version: int) -> None:
    """Summary and top exceptions of a published version in the Prefect UI.

    Read back from the published folder, so the UI shows exactly what readers get, computed
    by the same functions as the report.
    """
    manifest = tree.read_manifest(cycle, version)
    frames = {name: tree.read_version_table(cycle, version, name)
              for name in ("consensus_plan", "capacity_report", "exceptions")}
    markdown = render_markdown_summary(
        cycle=cycle, version=version, consensus_plan=frames["consensus_plan"],
        capacity_report=frames["capacity_report"], exceptions=frames["exceptions"],
        contract_summary=manifest.contracts.model_dump(mode="json"),
    )
    path = tree.version_dir(cycle, version)
    links = (
        f"\n\n**Published files:** `{path}`  \n**Report:** `{path}/report.html`"
        + (f"  \n**Data Docs:** `{path}/{manifest.contracts.data_docs}`"
           if manifest.contracts.data_docs else "")
    )
    key = f"sop-{cycle}".lower()
    create_markdown_artifact(markdown + links, key=key, description="S&OP plan summary")
    exceptions = frames["exceptions"]
    assert exceptions is not None
    create_table_artifact(
        top_exceptions(exceptions, TOP_EXCEPTIONS).fillna("").astype(str)
        .to_dict(orient="records"),
        key=f"{key}-exceptions",
        description="Top exceptions for the S&OP meeting",
    )


# ---------------------------------------------------------------- the monthly flow


class StageFailed(Exception):
    """A stage of the monthly flow failed; the message names the stage and the cause."""

    def __init__(self, stage: str, cause: BaseException) -> None:
        super().__init__(f"stage '{stage}' failed: {type(cause).__name__}: {cause}")
        self.stage = stage
        self.cause = cause


def _run_stage(stage: str, call: Any, ctx: RunContext) -> Any:
    """Call a stage sub-flow so that a failure says, in the run's final state, which stage.

    Stages hand over files, so what one stage freed is returned to the OS before the next
    starts: the process's peak is then the largest stage, not their sum.
    """
    keep_large_blocks_in_mmap()
    try:
        return call(ctx)
    except Exception as exc:
        raise StageFailed(stage, exc) from exc
    finally:
        release_memory()


class RunResult(BaseModel):
    """What a monthly run published, and how long each stage took."""

    cycle: str
    plan_version: int
    path: str
    store: str
    workspace: str
    seconds: dict[str, float]


@flow(name="sop-monthly", log_prints=True)
@documented_by(RunParams)
def monthly_sop(
    inputs: str | None = None,
    out: str | None = None,
    cycle: Cycle | None = None,
    horizon: Horizon = 18,
    store: str | None = None,
    config: str | None = None,
    settings: RunConfig | None = None,
    engine: EngineName = "local",
    dask_address: str | None = None,
    jobs: int | None = None,
) -> RunResult:
    """The monthly S&OP job: check -> baselines -> reconcile -> publish.

    One parameter per RunParams field, every one optional, so a partial set is a run; the
    model checks them together (a store URL with a password is refused here), and the run's
    context is built once from them."""
    params = RunParams(
        inputs=inputs, out=out, cycle=cycle, horizon=horizon, store=store, config=config,
        settings=settings, engine=engine, dask_address=dask_address, jobs=jobs,
    )
    ctx = RunContext.from_params(params, run_id=_run_id(), run_date=_scheduled_run_date())
    # Kept with the run's files: a stage re-run and a what-if on this plan use its settings.
    ctx.workspace.save_result("context", ctx)
    try:
        check = _run_stage("ingest_and_check", ingest_and_check, ctx)
        base = _run_stage("baselines", baselines_stage, ctx)
        plan = _run_stage("reconcile", reconcile_stage, ctx)
        published = _run_stage("publish", publish_stage, ctx)
    except StageFailed as exc:
        plan_failed(ctx.cycle, exc.stage, exc.cause)
        raise
    publish_artifacts(ctx.tree, ctx.cycle, published.plan_version)
    return RunResult(
        cycle=ctx.cycle, plan_version=published.plan_version, path=published.path,
        store=published.store, workspace=ctx.workspace.root,
        seconds={"ingest_and_check": check.seconds, "baselines": base.seconds,
                 "reconcile": plan.seconds, "publish": published.seconds},
    )


@flow(name="sop-validate")
def validate_flow(ctx: RunContext) -> CheckResult:
    """The data contracts alone (no forecast, nothing published).

    Args:
        ctx: The run: cycle, horizon, inputs, output folder, run id, store, settings, engine.
    """
    return ingest_and_check(ctx)


def _scheduled_run_date() -> date | None:
    """The day this run was scheduled for, in the schedule's zone (SOP_TIMEZONE).

    Outside a flow run Prefect answers with the current time, which is what a manual run
    means by "this month" too."""
    scheduled = flow_run.scheduled_start_time
    if scheduled is None:
        return None
    return local_run_date(scheduled, SopSettings().timezone)


def _run_id() -> str:
    """The monthly flow run's id: the run folder, the manifest and plan_runs all carry it."""
    run_id = flow_run.get_id()
    return str(run_id) if run_id else time.strftime("%Y%m%d%H%M%S")


SNAPSHOT_TABLES = ("sales_forecast",)
# Checked inputs the publish stage reads: what the audit, the report and the snapshot need
# (forecast_history, millions of rows at scale, only matters to reconcile).
PUBLISH_INPUTS = tuple(dict.fromkeys(
    [*RULE_INPUTS, *SNAPSHOT_TABLES, "sales_history", "products", "promotions"]
))
EXTRA_PLAN_FILES = ("family_plan", "trust", "promotion_load", "fva")
