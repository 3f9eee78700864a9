"""What-if analyses: the `sop-whatif` flow (the `sop whatif` command is in flows/cli.py).

read the base version and its checked inputs -> read and check the scenario -> re-plan base and
scenario (pure core) -> store apart under OUT/scenarios/cycle=C/NAME/ -> artifact.
The published version is only read: a scenario never changes a published plan or the store.
"""

import hashlib
import posixpath
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE
from pydantic import ValidationError

from data_contracts import ContractBreach, Finding, QuarantinePolicy, validate_inputs
from data_contracts.run_records import CheckResult, Manifest
from flows.config import load_config
from flows.context import RunContext
from flows.io import sha256_file
from flows.output_tree import OutputTree, Workspace
from flows.previous_plan import FENCE_COLUMNS, PreviousPlan
from flows.retries import IO_RETRIES
from flows.whatif_params import (
    WhatIfParams,
    WhatIfUsageError,
    read_scenario,
    resolve_base,
)
from reconciliation.impact import WhatIf, analyse_scenario, plan_drift
from reconciliation.scenario import scenario_name
from reporting.whatif import markdown_summary, render_whatif_report

DRIFT_NOTE = 0.005  # relative drift of the re-planned base worth telling the reader about


def _workspace_matches(ws: Workspace, manifest: Manifest) -> bool:
    """The workspace checked the very input files (and quarantined the rows) of the manifest."""
    if not ws.has_result("check"):
        return False
    check = ws.load_result("check", CheckResult)
    return (check.input_hashes() == manifest.input_hashes()
            and check.quarantined_rows == manifest.contracts.quarantined_rows)


@task(**IO_RETRIES, cache_policy=NONE)
def load_base_inputs(tree: OutputTree, cycle: str, manifest: Manifest) -> tuple[
        dict[str, pd.DataFrame], str]:
    """The base run's checked input tables and where they came from.

    1. the run workspace named in the manifest, 2. any workspace of the cycle whose checked
    inputs have the manifest's hashes (versions published before the manifest named it),
    3. the input files listed in the manifest, re-read and re-checked -- refused (a contract
    breach) when a file changed since the base run.
    """
    named = [Workspace(tree, manifest.workspace)] if manifest.workspace else []
    for ws in [*named, *tree.workspaces(cycle)]:
        if _workspace_matches(ws, manifest):
            tables = ws.load_frames("check")
            tables.pop("rejects", None)
            return tables, f"checked inputs of the base run ({ws.root})"
    changed: list[Finding] = []
    for f in manifest.inputs:
        path = f.path
        now = sha256_file(path) if Path(path).is_file() else None
        if now != f.sha256:
            changed.append(Finding(
                table=f.table, rule="changed since the base run", count=1,
                sample=[{"path": path, "sha256_then": f.sha256, "sha256_now": now}],
                message=f"{f.table}: {path} "
                + ("is gone" if now is None else "changed") + f" since plan {cycle} was "
                "published (sha256 differs) and the base run's workspace is gone: the what-if "
                "cannot reproduce its inputs"))
    if changed:
        raise ContractBreach(changed, kind="Base inputs")
    from flows.io import read_inputs

    folder = str(Path(manifest.inputs[0].path).parent)
    tables, _ = read_inputs(folder)
    tables = {t: df for t, df in tables.items() if t in manifest.input_hashes()}
    quarantined = manifest.contracts.quarantined_rows
    policy = QuarantinePolicy(max_share={
        t: min(1.0, n / max(len(tables[t]), 1)) for t, n in quarantined.items() if t in tables})
    return validate_inputs(tables, cycle, policy).tables, f"input files re-read from {folder}"


@task(**IO_RETRIES, cache_policy=NONE)
def read_base_version(tree: OutputTree, cycle: str, version: int) -> tuple[
        Manifest, pd.DataFrame, pd.DataFrame]:
    baseline = tree.read_version_table(cycle, version, "baseline_forecast")
    plan = tree.read_version_table(cycle, version, "consensus_plan")
    assert baseline is not None and plan is not None  # a complete version has both
    return tree.read_manifest(cycle, version), baseline, plan


# ---------------------------------------------------------------- writing


def _stamp(df: pd.DataFrame, cycle: str, version: int, name: str) -> pd.DataFrame:
    out = df.reset_index(drop=True).copy()
    out.insert(0, "scenario", name)
    out.insert(0, "base_version", version)
    out.insert(0, "cycle", cycle)
    return out


@task(**IO_RETRIES, cache_policy=NONE)
def store_scenario(tree: OutputTree, cycle: str, name: str, frames: dict[str, pd.DataFrame],
                   report: str, scenario_text: str, summary: dict[str, Any]) -> str:
    """Write into a staging folder, then swap it in: readers see the old or the new scenario."""

    def write(folder: str) -> None:
        for table, df in frames.items():
            tree.write_frame(posixpath.join(folder, f"{table}.parquet"), df)
        tree.write_text(posixpath.join(folder, "report.html"), report)
        tree.write_text(posixpath.join(folder, "scenario.yaml"), scenario_text)
        tree.write_json(posixpath.join(folder, "summary.json"), summary)

    return tree.replace_folder(tree.scenario_dir(cycle, name), write)


# ---------------------------------------------------------------- the flow


def _fence_named(manifest: Manifest) -> tuple[str, int] | None:
    """(cycle, version) of the plan whose receipts the base version kept firm, as its manifest
    names it; None when the base had no previous plan."""
    fence = manifest.supply_plan.get("time_fence") or {}
    cycle, version = fence.get("previous_cycle"), fence.get("previous_version")
    return None if cycle is None or version is None else (str(cycle), int(version))


def _plan_settings(tree: OutputTree, config: str | None, manifest: Manifest) -> Any:
    """The plan settings: the given config file, else the base run's own, else defaults."""
    if config:
        return load_config(config).reconciliation
    ws = Workspace(tree, manifest.workspace) if manifest.workspace else None
    if ws is not None and ws.has_result("context"):
        return ws.load_result("context", RunContext).config.reconciliation
    return load_config(None).reconciliation


@flow(name="sop-whatif")
def whatif_flow(params: WhatIfParams) -> dict[str, Any]:
    """Impact of a scenario on a published plan, stored apart; the published plan is untouched.

    Args:
        params: The base plan (CYCLE or CYCLE/VERSION), the scenario file, the output folder,
            and optionally the scenario's name and a run configuration.
    """
    logger = get_run_logger()
    cycle, wanted = params.cycle_version()
    tree = OutputTree.local(params.out)
    version = resolve_base(tree, cycle, wanted)
    folder = tree.version_dir(cycle, version)
    scenario, text = read_scenario(params.scenario)
    name = params.name or scenario_name(scenario, Path(params.scenario).stem)
    manifest, baseline, published = read_base_version(tree, cycle, version)
    horizon = manifest.horizon
    try:
        settings = _plan_settings(tree, params.config, manifest)
    except (ValidationError, ValueError, OSError) as exc:
        raise WhatIfUsageError(f"config {params.config}: {exc}") from exc
    tables, source = load_base_inputs(tree, cycle, manifest)

    # The base kept last cycle's firm receipts (the version its manifest names, the same rows
    # whatever was published since): so do both re-planned sides.
    named = _fence_named(manifest) if settings.frozen_months > 0 else None
    fence_rows = None if named is None else tree.read_version_table(
        *named, "consensus_plan", FENCE_COLUMNS)
    fenced = None if named is None or fence_rows is None else PreviousPlan(*named, fence_rows)
    analysis: WhatIf = analyse_scenario(tables, baseline, scenario, cycle, horizon, settings,
                                        fenced.plan if fenced else None)
    comparison = analysis.comparison
    notes = [f"Base: plan {cycle} version {version} ({folder}); inputs: {source}; baselines "
             "reused from the base version, never refitted."]
    if named is not None and fenced is None:
        notes.append(f"The base kept firm receipts of plan {named[0]} version {named[1]}, "
                     "which this output folder does not hold (published from another folder): "
                     "both sides are re-planned without the time fence.")
    if scenario.demand == "as_submitted":
        notes.append("Demand: the scenario's sales numbers are taken as submitted (overrides "
                     "approved by 'what-if'), not weighed by the consensus policy.")
    if scenario.launches:
        notes.append("Launches have no history: zero cold-start baseline plus their sales "
                     "number.")
    drift = plan_drift(published, analysis.base.consensus_plan)
    if drift > DRIFT_NOTE:
        notes.append(f"The published plan differs by {drift:.1%} in total demand from the same "
                     "inputs re-planned now (other settings or code version): the comparison is "
                     "against the re-planned base.")

    frames = {
        "comparison": _stamp(comparison.by_month, cycle, version, name),
        "comparison_by_location": _stamp(comparison.by_location, cycle, version, name),
        "comparison_by_sku": _stamp(comparison.by_sku, cycle, version, name),
        "consensus_plan": _stamp(analysis.scenario.consensus_plan, cycle, version, name),
        "capacity_report": _stamp(analysis.scenario.capacity_report, cycle, version, name),
        "exceptions": _stamp(analysis.scenario.exceptions, cycle, version, name),
    }
    report = render_whatif_report(
        name=name, cycle=cycle, version=version, verdict=comparison.verdict,
        totals=comparison.totals, by_month=comparison.by_month,
        by_location=comparison.by_location, by_sku=comparison.by_sku, scenario_text=text,
        notes=notes,
    )
    summary = {
        "name": name, "cycle": cycle, "base_version": version, "base_path": folder,
        "scenario_file": str(Path(params.scenario).resolve()),
        "scenario_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "demand": scenario.demand, "description": scenario.description,
        "verdict": comparison.verdict, "totals": comparison.totals, "notes": notes,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    path = store_scenario(tree, cycle, name, frames, report, text, summary)
    key = re.sub(r"[^a-z0-9-]+", "-", f"whatif-{cycle}-{name}".lower()).strip("-")
    create_markdown_artifact(markdown_summary(name, cycle, version, comparison, path), key=key,
                             description=f"What-if {name}: {comparison.verdict}"[:500])
    logger.info("what-if %s: %s", name, comparison.verdict)
    return {"name": name, "cycle": cycle, "base_version": version, "path": path,
            "verdict": comparison.verdict, "totals": comparison.totals}
