"""The monthly S&OP flow: build the run's context once, then run the stages in order.

ingest_and_check -> baselines -> reconcile -> publish (flows/stages.py); each takes the typed
`RunContext` (flows/context.py) and returns its typed record. Paths under the output folder
belong to flows/output_tree.py; what a version holds, to flows/version_files.py.
"""

import time
from datetime import date
from typing import Any

from prefect import flow, runtime
from prefect.logging.loggers import flow_run_logger
from pydantic import BaseModel

from data_contracts.run_records import CheckResult
from flows import progress
from flows.config import RunConfig, SopSettings
from flows.context import RunContext
from flows.events import plan_failed
from flows.memory import keep_large_blocks_in_mmap, release_memory
from flows.params import Cycle, Horizon, RunParams, StoreUrl, documented_by, local_run_date
from flows.retries import exception_of
from flows.stages import baselines_stage, ingest_and_check, publish_stage, reconcile_stage
from flows.version_files import PlanAuditError, publish_artifacts
from forecasting.engines import EngineName

__all__ = ["PlanAuditError", "RunResult", "StageFailed", "baselines_stage", "ingest_and_check",
           "monthly_sop", "publish_stage", "reconcile_stage", "validate_flow"]


# ---------------------------------------------------------------- the monthly flow


class StageFailed(Exception):
    """A stage of the monthly flow failed; the message names the stage and the cause."""

    def __init__(self, stage: str, cause: BaseException, cycle: str) -> None:
        super().__init__(f"stage '{stage}' failed: {type(cause).__name__}: {cause}")
        self.stage = stage
        self.cause = cause
        self.cycle = cycle


def _run_stage(stage: str, call: Any, ctx: RunContext) -> Any:
    """Call a stage sub-flow so that a failure says, in the run's final state, which stage.

    Stages hand over files, so what one stage freed is returned to the OS before the next
    starts: the process's peak is then the largest stage, not their sum.
    """
    keep_large_blocks_in_mmap()
    progress.tell(stage, "running", 0, 1)
    started = time.perf_counter()
    try:
        result = call(ctx)
    except Exception as exc:
        raise StageFailed(stage, exc, ctx.cycle) from exc
    finally:
        release_memory()
    progress.finished(stage, time.perf_counter() - started)
    return result


class RunResult(BaseModel):
    """What a monthly run published, and how long each stage took."""

    cycle: str
    plan_version: int
    path: str
    store: str
    workspace: str
    seconds: dict[str, float]


def notify_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """on_failure hook: tell subscribers (`sop.plan.failed`) which stage stopped and why.

    A failure before any stage (bad parameters, unreadable config) is stage `setup`, for
    the cycle asked for (empty when the run was to take its cycle from the date)."""
    exc = exception_of(state)
    if isinstance(exc, StageFailed):
        plan_failed(exc.cycle, exc.stage, exc.cause)
    else:
        cycle = str((flow_run.parameters or {}).get("cycle") or "")
        plan_failed(cycle, "setup", exc or RuntimeError(state.message or "failed"))


def log_completion(flow: Any, flow_run: Any, state: Any) -> None:
    """on_completion hook: one line saying what the run published (the event went out with
    the publication itself)."""
    result = state.result()
    if isinstance(result, RunResult):
        flow_run_logger(flow_run, flow).info("plan %s version %d published at %s", result.cycle,
                              result.plan_version, result.path)


# A run that has not finished in this time is stuck (a 100k-series run takes ~2.5 h on two
# cores): it is failed, and the next schedule or a re-run starts over. SOP_RUN_TIMEOUT_HOURS.
RUN_TIMEOUT_SECONDS = SopSettings().run_timeout_hours * 3600


@flow(name="sop-monthly", log_prints=True, timeout_seconds=RUN_TIMEOUT_SECONDS,
      on_failure=[notify_failure], on_completion=[log_completion])
@documented_by(RunParams)
def monthly_sop(
    inputs: str | None = None,
    out: str | None = None,
    cycle: Cycle | None = None,
    horizon: Horizon = 18,
    store: StoreUrl | None = None,
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
    # A failure is told by the notify_failure hook (event sop.plan.failed).
    with progress.listening(progress.PrefectProgress(ctx.cycle)):
        check = _run_stage("ingest_and_check", ingest_and_check, ctx)
        base = _run_stage("baselines", baselines_stage, ctx)
        plan = _run_stage("reconcile", reconcile_stage, ctx)
        published = _run_stage("publish", publish_stage, ctx)
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
    scheduled = runtime.flow_run.scheduled_start_time
    if scheduled is None:
        return None
    return local_run_date(scheduled, SopSettings().timezone)


def _run_id() -> str:
    """The monthly flow run's id: the run folder, the manifest and plan_runs all carry it."""
    run_id = runtime.flow_run.get_id()
    return str(run_id) if run_id else time.strftime("%Y%m%d%H%M%S")
