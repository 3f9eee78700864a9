"""The files of one published version: staged from a run's workspace, audited, summarised.

What the publish stage writes (SPEC outputs, the report, the manifest and the extra views),
the last gate before readers see it, and the summary the Prefect UI shows afterwards.
"""

from importlib.metadata import version as package_version
from pathlib import Path

import pandas as pd
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NONE

from data_contracts import check_plan_rules, validate_outputs
from data_contracts.findings import findings_to_exceptions
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
from flows.output_tree import OutputTree, Workspace
from flows.previous_plan import read_previous_cycle_plan, read_previous_plan
from flows.retries import IO_RETRIES
from flows.store import PlanStore
from forecasting.baseline import guardrail_exceptions
from reconciliation.plan_changes import compute_plan_changes
from reconciliation.sales_bias import empty_bias
from reconciliation.stability import compute_stability
from reconciliation.waterfall import compute_waterfall
from reporting import render_markdown_summary, render_report
from reporting.markdown import top_exceptions

TOP_EXCEPTIONS = 25
SNAPSHOT_TABLES = ("sales_forecast",)
# Checked inputs the publish stage reads: what the audit, the report and the snapshot need
# (forecast_history, millions of rows at scale, only matters to reconcile).
PUBLISH_INPUTS = tuple(dict.fromkeys(
    [*RULE_INPUTS, *SNAPSHOT_TABLES, "sales_history", "products", "promotions"]
))
# Beyond SPEC's files: the views the meeting and procurement also ask for.
EXTRA_PLAN_FILES = ("family_plan", "trust", "promotion_load", "fva")
# Past cycles' current plans, for plan stability across cycles.
STABILITY_COLUMNS = ["cycle", "plan_version", "sku", "location", "period", "consensus_demand"]


class PlanAuditError(Exception):
    """The plan about to be published breaks an output contract or a SPEC rule (a bug)."""


def package_versions() -> dict[str, str]:
    names = ["sop-consensus", "prefect", "statsforecast", "pandera", "great-expectations",
             "pandas", "highspy", "duckdb", "sqlalchemy"]
    return {n: package_version(n) for n in names}


def stage_version_files(
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
    exceptions = run_exceptions(check, plan["exceptions"],
                                fitted.pop("selection", pd.DataFrame()))
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
    waterfall, stability = plan_movement(ctx, consensus_plan, plan_store)
    small, extras = version_tables(plan, exceptions, rejects, waterfall, stability)
    frames = {
        "consensus_plan": consensus_plan,
        "baseline_forecast": order_columns(fitted["baseline_forecast"], "baseline_forecast"),
        "plan_changes": order_columns(changes, "plan_changes"),
        **small,
    }
    del fitted, exceptions, consensus_plan
    snapshot = {f"inputs/{t}": tables[t].reset_index(drop=True)
                for t in SNAPSHOT_TABLES if t in tables}
    plan_result = ws.load_result("plan", PlanResult)
    manifest = build_manifest(
        cycle=cycle, version=version, horizon=ctx.horizon, run_id=ctx.run_id,
        workspace=ws.root, check=check, baseline=ws.load_result("baseline", BaselineResult),
        plan=plan_result, store_url=plan_store.safe_url, package_versions=package_versions(),
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
        family_plan=plan.get("family_plan"),
        promotion_load=plan.get("promotion_load"),
        trust=plan.get("trust"),
        fva=plan.get("fva"),
        waterfall=frames["plan_waterfall"],
        stability=frames["plan_stability"],
        sales_bias=frames["sales_bias"],
        plan_changes=frames["plan_changes"],
        contract_summary=manifest.contracts.model_dump(mode="json"),
        data_docs_href=DATA_DOCS_INDEX if check.data_docs else None,
    )
    docs = Path(check.data_docs).parent if check.data_docs else None
    staging = ctx.tree.stage_version(
        cycle, version, {**frames, **extras, **snapshot}, report, manifest,
        folders={"data_docs": docs} if docs else None,
    )
    return staging, check.inputs_sha256()


def run_exceptions(check: CheckResult, plan_exceptions: pd.DataFrame,
                   selection: pd.DataFrame) -> pd.DataFrame:
    """The version's exceptions: the contracts' findings, the plan's, the baselines' guardrail."""
    return pd.concat([findings_to_exceptions(check.findings), plan_exceptions,
                      guardrail_exceptions(selection)], ignore_index=True)


def version_tables(plan: dict[str, pd.DataFrame], exceptions: pd.DataFrame,
                   rejects: pd.DataFrame, waterfall: pd.DataFrame, stability: pd.DataFrame
                   ) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """The version's tables that are not written by partition, and (second) the extra plan
    views beyond SPEC's files that the meeting and procurement also ask for, from the
    workspace's `plan` frames (sales_bias and safety_stock are taken out of it)."""
    frames = {
        "capacity_report": order_columns(plan["capacity_report"], "capacity_report"),
        "exceptions": order_columns(exceptions, "exceptions"),
        "rejects": rejects.reset_index(drop=True),
        "plan_waterfall": waterfall,
        "plan_stability": stability,
        # A workspace reconciled before sales_bias existed has none: published empty.
        "sales_bias": plan.pop("sales_bias", empty_bias()),
    }
    if "safety_stock" in plan:
        frames["safety_stock"] = plan.pop("safety_stock").reset_index(drop=True)
    extras = {name: plan[name].reset_index(drop=True) for name in EXTRA_PLAN_FILES
              if name in plan}
    return frames, extras


def plan_movement(
    ctx: RunContext, consensus_plan: pd.DataFrame, plan_store: PlanStore
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Why the plan moved since last cycle (the waterfall) and plan stability of every cycle
    published in this output folder, this version included."""
    previous = read_previous_cycle_plan(ctx.tree, ctx.cycle, plan_store)
    waterfall = compute_waterfall(
        consensus_plan, previous.plan if previous else None,
        previous.cycle if previous else None, previous.version if previous else None)
    del previous
    past = ctx.tree.past_plans(ctx.cycle, STABILITY_COLUMNS, ("family",))
    now = consensus_plan[[*STABILITY_COLUMNS, "family"]]
    stability = compute_stability(pd.concat([past, now], ignore_index=True)
                                  if past is not None else now)
    return waterfall, stability


def audit_plan(
    staged: dict[str, pd.DataFrame], tables: dict[str, pd.DataFrame], cycle: str, horizon: int,
    shortfall_units: float = 1.0,
) -> None:
    """The last gate: what readers would get must keep every contract and SPEC rule."""
    validate_outputs({k: staged[k] for k in [*OUTPUT_COLUMNS, "safety_stock"] if k in staged})
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
