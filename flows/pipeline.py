"""The monthly S&OP flow: one sub-flow per stage, each reading and writing the run's workspace.

ingest_and_check -> baselines -> reconcile -> publish. Each stage is also a flow of its
own so an engineer can re-run one stage from the Prefect UI against a workspace.
"""

import contextlib
import hashlib
import json
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

from data_contracts import (
    ContractBreach,
    Finding,
    QuarantinePolicy,
    check_plan_rules,
    read_error,
    run_quality_suites,
    validate_inputs,
    validate_outputs,
)
from data_contracts.plan_rules import RULE_INPUTS
from data_contracts.tables import OUTPUT_COLUMNS
from flows.config import RunConfig, SopSettings, load_config, resolve_store_url
from flows.data_docs import make_offline
from flows.engines import open_engine
from flows.events import plan_failed, plan_published
from flows.io import InputFile, TableReadError, read_inputs, write_table
from flows.memory import keep_large_blocks_in_mmap, release_memory
from flows.params import Cycle, Horizon, RunParams, documented_by, local_run_date, refuse_password
from flows.previous_plan import read_previous_plan
from flows.publish import (
    claim_version,
    discard,
    folder_current,
    promote,
    read_staged,
    stage_version,
)
from flows.retries import IO_RETRIES
from flows.store import PlanStore, default_store_url
from flows.workspace import Workspace
from forecasting import fit_baselines
from forecasting.baseline import guardrail_exceptions
from forecasting.engines import EngineName, usable_cores
from reconciliation import build_plan, planned_keys
from reconciliation.fva import compute_fva
from reconciliation.plan_changes import compute_plan_changes
from reconciliation.settings import PlanSettings
from reporting import render_markdown_summary, render_report

TOP_EXCEPTIONS = 25


class PlanAuditError(Exception):
    """The plan about to be published breaks an output contract or a SPEC rule (a bug)."""


# ---------------------------------------------------------------- I/O tasks (retried)
# Retried only where a later attempt can succeed (flows/retries.py): a missing folder or a
# breached contract fails once.


@task(**IO_RETRIES, cache_policy=NONE)
def read_input_tables(inputs: str) -> tuple[dict[str, pd.DataFrame], list[InputFile]]:
    try:
        return read_inputs(inputs)
    except TableReadError as exc:
        raise read_error(exc.table, exc.path, exc.problem) from exc


@task(**IO_RETRIES, cache_policy=NONE)
def write_rejects(rejects: pd.DataFrame, path: Path) -> Path:
    write_table(rejects, path)
    return path


# ---------------------------------------------------------------- stage flows


def _timed(timings: dict[str, float], name: str, start: float) -> None:
    timings[name] = round(time.perf_counter() - start, 3)


def _contract_exceptions(findings: list[Any]) -> pd.DataFrame:
    rows = [
        {
            "sku": "",
            "location": "",
            "period": "",
            "type": f"data_contract:{f.rule}",
            "severity": f.severity,
            "message": f.message,
        }
        for f in findings
    ]
    return pd.DataFrame(rows, columns=OUTPUT_COLUMNS["exceptions"])


@flow(name="sop-ingest-and-check")
def ingest_and_check(
    inputs: str,
    cycle: Cycle,
    workdir: str,
    config: str | None = None,
    horizon: int | None = None,
    out: str | None = None,
) -> dict[str, Any]:
    """Read the input tables, check every contract, keep the checked tables in the workspace.

    Raises ContractBreach (exit 3) with the offending rows written next to the workspace.

    Args:
        inputs: Folder or fsspec URL holding the input tables (NAME.csv/.parquet).
        cycle: First month planned, YYYY-MM.
        workdir: The run's workspace folder (OUT/runs/cycle=C/run=ID) the stages share.
        config: YAML/JSON/TOML run configuration file; empty = defaults.
        horizon: Months planned; empty = not checked against the forecast's months.
        out: Output folder of the published plans; drift checks compare with its last cycle.
    """
    logger = get_run_logger()
    cfg = load_config(config)
    ws = Workspace(Path(workdir))
    start = time.perf_counter()
    tables, files = read_input_tables(inputs)
    policy = QuarantinePolicy(max_share=cfg.contracts.quarantine)
    previous = previous_inputs(out, cycle) if out else None
    docs = ws.root / "data_docs"
    try:
        checked = validate_inputs(tables, cycle, policy, previous, horizon=horizon)
        quality = run_quality_suites(
            checked.tables, cycle, docs, previous=previous, settings=cfg.contracts.quality,
        )
    except ContractBreach as breach:
        path = write_rejects(breach.rejects, ws.path("check", "rejects.csv"))
        breach.rejects_path = str(path)
        with contextlib.suppress(Exception):  # the Data Docs the breach names; never hide it
            make_offline(docs)
        raise
    make_offline(docs)  # before publish copies them into the version
    findings = [*checked.findings, *quality.findings]
    ws.save_frames("check", checked.tables)
    ws.save_frames("check", {"rejects": checked.rejects})
    summary = {
        "inputs": [f.to_dict() for f in files],
        "findings": [f.model_dump() for f in findings],
        "quarantined_rows": checked.rejects.groupby("table").size().to_dict()
        if not checked.rejects.empty
        else {},
        "data_docs": str(quality.data_docs_index) if quality.data_docs_index else None,
        "seconds": round(time.perf_counter() - start, 3),
    }
    ws.save_json("check", "summary", summary)
    logger.info(
        "contracts passed: %d tables, %d findings, %d quarantined rows",
        len(tables), len(findings), len(checked.rejects),
    )
    return summary


BASELINE_TABLES = ("sales_history", "promotions", "products")


def baseline_cache_key(
    ws: Workspace, cycle: str, horizon: int, cfg: RunConfig, keys: pd.DataFrame
) -> str:
    """Inputs that decide the baselines: history, promotions, products, the planned keys,
    the settings and the code version. Same key, same baselines: no refit.

    The other tables only matter through the set of planned sku x location pairs, so a new
    sales forecast with the same pairs (new quantities) reuses the baselines."""
    summary = ws.load_json("check", "summary")
    hashes = {f["table"]: f["sha256"] for f in summary["inputs"] if f["table"] in BASELINE_TABLES}
    pairs = keys["sku"].astype(str) + "\x1f" + keys["location"].astype(str)
    planned = hashlib.sha256("\n".join(sorted(pairs)).encode()).hexdigest()
    quarantined = summary.get("quarantined_rows", {})
    payload = json.dumps(
        {
            "inputs": hashes,
            "planned_keys": planned,
            "cycle": cycle,
            "horizon": horizon,
            "settings": cfg.forecasting.model_dump(mode="json"),
            "quarantined": {t: n for t, n in quarantined.items() if t in BASELINE_TABLES},
            "statsforecast": package_version("statsforecast"),
            "sop": package_version("sop-consensus"),
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


@flow(name="sop-baselines")
def baselines_stage(
    workdir: str, cycle: Cycle, horizon: int, config: str | None = None,
    cache_dir: str | None = None, engine: EngineName = "local", dask_address: str | None = None,
    jobs: int | None = None,
) -> dict[str, Any]:
    """Fit statistical baselines for every planned SKU x location (cached on input hashes).

    The baselines are the same whichever engine fits them.

    Args:
        workdir: The run's workspace folder (OUT/runs/cycle=C/run=ID) the stages share.
        cycle: First month planned, YYYY-MM.
        horizon: Months forecast from the cycle month.
        config: YAML/JSON/TOML run configuration file; empty = defaults.
        cache_dir: Folder of cached baselines (OUT/cache/baselines); empty = always refit.
        engine: Where statsforecast fits: this process, or a Dask cluster.
        dask_address: Dask scheduler, e.g. tcp://scheduler:8786; empty = a local cluster.
        jobs: Processes fitting (or local Dask workers); empty = the config's execution.jobs,
            else every core this process may use.
    """
    logger = get_run_logger()
    cfg = load_config(config)
    ws = Workspace(Path(workdir))
    start = time.perf_counter()
    tables = ws.load_frames("check")
    keys = planned_keys(tables, cycle, horizon)
    key = baseline_cache_key(ws, cycle, horizon, cfg, keys)
    cache = Path(cache_dir) / key if cache_dir else None
    if cache is not None and (cache / "baseline_forecast.parquet").exists():
        frames = {p.stem: pd.read_parquet(p) for p in cache.glob("*.parquet")}
        logger.info("baselines reused from cache %s", key)
        reused = True
    else:
        workers = jobs or cfg.execution.jobs or usable_cores()
        with open_engine(engine, dask_address, workers) as fitter:
            result = fit_baselines(
                tables["sales_history"],
                horizon=horizon,
                settings=cfg.forecasting,
                cycle=cycle,
                promotions=tables.get("promotions"),
                keys=keys,
                products=tables.get("products"),
                engine=fitter,
            )
        frames = {
            "baseline_forecast": result.forecast,
            "cleaning": result.cleaning,
            "selection": result.selection,
        }
        if cache is not None:
            cache.mkdir(parents=True, exist_ok=True)
            for name, df in frames.items():
                df.to_parquet(cache / f"{name}.parquet", index=False)
        reused = False
    ws.save_frames("baseline", frames)
    summary = {
        "cache_key": key,
        "reused": reused,
        "engine": engine,
        "jobs": None if reused else workers,
        "series": int(frames["baseline_forecast"][["sku", "location"]].drop_duplicates().shape[0]),
        "models": frames["baseline_forecast"].drop_duplicates(["sku", "location"])["model"]
        .value_counts()
        .to_dict(),
        "seconds": round(time.perf_counter() - start, 3),
    }
    ws.save_json("baseline", "summary", summary)
    return summary


@flow(name="sop-reconcile")
def reconcile_stage(
    workdir: str, cycle: Cycle, horizon: int, config: str | None = None, out: str | None = None
) -> dict[str, Any]:
    """Consensus between sales and baseline, overrides, then the capacity plan.

    Args:
        workdir: The run's workspace folder (OUT/runs/cycle=C/run=ID) the stages share.
        cycle: First month planned, YYYY-MM.
        horizon: Months planned from the cycle month (as in the workspace's baselines).
        config: YAML/JSON/TOML run configuration file; empty = defaults.
        out: Output folder; its earlier cycles' plans give forecast value added.
    """
    cfg = load_config(config)
    ws = Workspace(Path(workdir))
    start = time.perf_counter()
    tables = ws.load_frames("check")
    tables.pop("rejects", None)
    baseline = ws.load_frames("baseline", ["baseline_forecast"])["baseline_forecast"]
    result = build_plan(tables, baseline, cycle, horizon, cfg.reconciliation)
    ws.save_frames(
        "plan",
        {
            "consensus_plan": result.consensus_plan,
            "capacity_report": result.capacity_report,
            "exceptions": result.exceptions,
            "trust": result.trust,
            "family_plan": result.family_plan,
            "promotion_load": result.promotion_load,
        },
    )
    summary = {
        "rows": len(result.consensus_plan),
        "exceptions": result.exceptions["severity"].value_counts().to_dict(),
        "trust": result.trust.to_dict(orient="records"),
        # The audit at publish checks the `short` labels against the same threshold.
        "shortfall_tolerance_units": cfg.reconciliation.shortfall_tolerance_units,
        "supply_plan": result.supply_plan,
    }
    # The plan is on disk: free it before forecast value added builds its own frames, so
    # the stage's peak is the larger of the two, not their sum (about 1 GB at 100k).
    del result, baseline
    release_memory()
    fva = compute_fva(
        tables["sales_history"], tables.get("forecast_history"), cycle,
        products=tables.get("products"), past_plans=past_plans(out, cycle) if out else None,
        settings=cfg.reconciliation,
    )
    ws.save_frames("plan", {"fva": fva})
    summary["seconds"] = round(time.perf_counter() - start, 3)
    ws.save_json("plan", "summary", summary)
    return summary


def _stamp(df: pd.DataFrame, cycle: str, version: int) -> pd.DataFrame:
    out = df.reset_index(drop=True).copy()
    out.insert(0, "plan_version", version)
    out.insert(0, "cycle", cycle)
    return out


def _order(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """SPEC columns first, in SPEC order; extra columns after them."""
    spec = OUTPUT_COLUMNS[table]
    return df[spec + [c for c in df.columns if c not in spec]]


def _package_versions() -> dict[str, str]:
    names = ["sop-consensus", "prefect", "statsforecast", "pandera", "great-expectations",
             "pandas", "highspy", "duckdb", "sqlalchemy"]
    return {n: package_version(n) for n in names}


@flow(name="sop-publish")
def publish_stage(
    workdir: str, out: str, cycle: Cycle, horizon: int, store: str | None = None,
    config: str | None = None,
) -> dict[str, Any]:
    """Stamp the version, compare with the previous published plan, render the report, stage,
    audit, then publish atomically.

    Memory: the stage holds the plan, its inputs and its staged copy one after the other,
    not all at once (at 100k SKU-locations each is about a gigabyte): the files are written
    and the in-memory frames dropped before the audit reads the staged files back, and the
    store receives those audited frames.

    Args:
        workdir: The run's workspace folder (OUT/runs/cycle=C/run=ID) the stages share.
        out: Output folder the version is published under.
        cycle: First month planned, YYYY-MM.
        horizon: Months planned (as in the workspace's plan; the audit checks it).
        store: SQLAlchemy URL without password; empty = SOP_STORE_URL or DuckDB in out.
        config: The run's configuration file (its tolerances compare with the previous plan).
    """
    if store:
        refuse_password(store)
    logger = get_run_logger()
    ws = Workspace(Path(workdir))
    start = time.perf_counter()
    settings = load_config(config).reconciliation
    tables = ws.load_frames("check", list(PUBLISH_INPUTS))
    store_url = store or SopSettings().store_url or default_store_url(out)
    plan_store = PlanStore(resolve_store_url(store_url))
    # The monthly run's id when publishing as its stage: the run a planner looks up in the UI.
    run_id = str(flow_run.get_parent_flow_run_id() or flow_run.get_id() or "")
    version = claim_version(out, cycle, plan_store, run_id)
    staging = None
    try:
        staging, inputs_sha = _stage_files(ws, out, cycle, version, horizon, tables,
                                           plan_store, run_id, settings)
        release_memory()
        staged = read_staged(staging)
        audit_plan(staged, tables, cycle, horizon,
                   ws.load_json("plan", "summary").get("shortfall_tolerance_units", 1.0))
        del tables
        release_memory()
        publication = promote(staging, out, cycle, version, staged, plan_store, inputs_sha)
        staging = None
    except BaseException as exc:
        discard(staging, plan_store, cycle, version, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        plan_store.dispose()
    logger.info("published %s version %d at %s", cycle, version, publication.path)
    plan_published(cycle, version, len(staged["consensus_plan"]), str(publication.path),
                   publication.store_url, len(staged.get("plan_changes", ())))
    if flow_run.get_parent_flow_run_id() is None:
        # Run on its own (re-run from the UI): the artifacts belong to this run.
        publish_artifacts(publication.path)
    return {
        "cycle": cycle,
        "plan_version": version,
        "path": str(publication.path),
        "store": publication.store_url,
        "seconds": round(time.perf_counter() - start, 3),
    }


def _stage_files(
    ws: Workspace, out: str, cycle: str, version: int, horizon: int,
    tables: dict[str, pd.DataFrame], plan_store: PlanStore, run_id: str,
    settings: PlanSettings,
) -> tuple[Path, str]:
    """Write every file of the version into its staging folder; (folder, inputs' sha256).

    A function of its own so that the plan and output frames it builds (and the previous
    plan it compares with) are freed on return.
    """
    check_summary = ws.load_json("check", "summary")
    rejects = ws.load_frames("check", ["rejects"]).get("rejects", pd.DataFrame())
    plan = ws.load_frames("plan")
    fitted = ws.load_frames("baseline", ["baseline_forecast", "selection"])
    baseline = fitted["baseline_forecast"]
    findings = [Finding.model_validate(f) for f in check_summary["findings"]]
    exceptions = pd.concat(
        [_contract_exceptions(findings), plan["exceptions"],
         guardrail_exceptions(fitted.pop("selection", pd.DataFrame()))], ignore_index=True
    )
    consensus_plan = _order(_stamp(plan.pop("consensus_plan"), cycle, version),
                            "consensus_plan")
    previous = read_previous_plan(out, cycle, version, plan_store)
    changes = compute_plan_changes(
        consensus_plan,
        previous.plan if previous else None,
        previous.cycle if previous else None,
        previous.version if previous else None,
        settings,
    )
    # In the manifest, so that an empty plan_changes file says "nothing changed" or "nothing
    # to compare with" unambiguously.
    changes_summary = {
        "previous_cycle": previous.cycle if previous else None,
        "previous_version": previous.version if previous else None,
        "by_change": {str(k): int(n) for k, n in changes["change"].value_counts().items()},
    }
    del previous
    frames = {
        "consensus_plan": consensus_plan,
        "baseline_forecast": _order(baseline.reset_index(drop=True), "baseline_forecast"),
        "capacity_report": _order(plan["capacity_report"].reset_index(drop=True),
                                  "capacity_report"),
        "exceptions": _order(exceptions.reset_index(drop=True), "exceptions"),
        "rejects": rejects.reset_index(drop=True),
        "plan_changes": _order(changes, "plan_changes"),
    }
    del baseline, exceptions, consensus_plan
    snapshot = {f"inputs/{t}": tables[t].reset_index(drop=True)
                for t in SNAPSHOT_TABLES if t in tables}
    # Beyond SPEC's files: the views the meeting and procurement also ask for.
    extras = {name: plan[name].reset_index(drop=True) for name in EXTRA_PLAN_FILES
              if name in plan}
    summaries = {
        stage: ws.load_json(stage, "summary") for stage in ("check", "baseline", "plan")
    }
    inputs_sha = hashlib.sha256(
        "".join(f["sha256"] for f in check_summary["inputs"]).encode()
    ).hexdigest()
    manifest = {
        "cycle": cycle,
        "plan_version": version,
        "horizon": horizon,
        "run_id": run_id,
        "workspace": str(ws.root),  # checked inputs, for what-if analyses (issue 9)
        "inputs": check_summary["inputs"],
        "inputs_sha256": inputs_sha,
        "versions": _package_versions(),
        "store": plan_store.safe_url,
        "timings_seconds": {s: summaries[s]["seconds"] for s in summaries},
        "contracts": {
            "outcome": "passed_with_quarantine" if len(rejects) else "passed",
            "findings": check_summary["findings"],
            "quarantined_rows": check_summary["quarantined_rows"],
            # Copied into the version, so the published folder stays self-contained.
            "data_docs": DATA_DOCS_INDEX if check_summary["data_docs"] else None,
        },
        "baselines": summaries["baseline"],
        "trust": summaries["plan"]["trust"],
        # How receipts were sized (LP + lot sizing), whether its time budget ran out, and
        # what whole units and MOQ cost against the LP's plan.
        "supply_plan": summaries["plan"].get("supply_plan", {}),
        "rows": {k: len(v) for k, v in frames.items()},
        "plan_changes": changes_summary,
    }
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
        contract_summary=manifest["contracts"],
        data_docs_href=DATA_DOCS_INDEX if check_summary["data_docs"] else None,
    )
    docs = Path(check_summary["data_docs"]).parent if check_summary["data_docs"] else None
    staging = stage_version(
        out, cycle, version, {**frames, **extras, **snapshot}, report, manifest,
        folders={"data_docs": docs} if docs else None,
    )
    return staging, inputs_sha


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
def publish_artifacts(path: Path) -> None:
    """Summary and top exceptions of a published version in the Prefect UI.

    Read back from the published folder, so the UI shows exactly what readers get, computed
    by the same functions as the report.
    """
    path = Path(path)
    manifest = json.loads((path / "manifest.json").read_text())
    frames = {
        name: pd.read_parquet(path / f"{name}.parquet")
        for name in ("consensus_plan", "capacity_report", "exceptions")
    }
    markdown = render_markdown_summary(
        cycle=manifest["cycle"],
        version=manifest["plan_version"],
        consensus_plan=frames["consensus_plan"],
        capacity_report=frames["capacity_report"],
        exceptions=frames["exceptions"],
        contract_summary=manifest["contracts"],
    )
    links = (
        f"\n\n**Published files:** `{path}`  \n**Report:** `{path / 'report.html'}`"
        + (f"  \n**Data Docs:** `{path / manifest['contracts']['data_docs']}`"
           if manifest["contracts"]["data_docs"] else "")
    )
    key = f"sop-{manifest['cycle']}".lower()
    create_markdown_artifact(markdown + links, key=key, description="S&OP plan summary")
    sev_rank = {"error": 0, "warning": 1, "info": 2}
    top = (
        frames["exceptions"]
        .assign(_rank=frames["exceptions"]["severity"].map(sev_rank))
        .sort_values("_rank", kind="stable")
        .drop(columns="_rank")
        .head(TOP_EXCEPTIONS)
    )
    create_table_artifact(
        top.fillna("").astype(str).to_dict(orient="records"),
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


def _run_stage(stage: str, call: Any, *args: Any) -> dict[str, Any]:
    """Call a stage sub-flow so that a failure says, in the run's final state, which stage.

    Stages hand over files, so what one stage freed is returned to the OS before the next
    starts: the process's peak is then the largest stage, not their sum.
    """
    keep_large_blocks_in_mmap()
    try:
        return call(*args)
    except Exception as exc:
        raise StageFailed(stage, exc) from exc
    finally:
        release_memory()


def _config_for_run(params: RunParams, ws: Workspace) -> str | None:
    """Settings typed in the UI win over the config file; stages read one file either way."""
    if params.settings is None:
        return params.config
    path = ws.path("config", "run_config.json")
    path.write_text(params.settings.model_dump_json(indent=2))
    return str(path)


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
) -> dict[str, Any]:
    """The monthly S&OP job: check -> baselines -> reconcile -> publish.

    One parameter per RunParams field, every one optional, so a partial set is a run; the
    model checks them together (a store URL with a password is refused here)."""
    params = RunParams(
        inputs=inputs, out=out, cycle=cycle, horizon=horizon, store=store, config=config,
        settings=settings, engine=engine, dask_address=dask_address, jobs=jobs,
    ).with_environment()
    cycle = params.resolved_cycle(_scheduled_run_date())
    ws = Workspace.new(params.out, cycle, run_id=_run_id())
    config = _config_for_run(params, ws)
    cache_dir = str(Path(params.out) / "cache" / "baselines")
    root = str(ws.root)
    try:
        check = _run_stage("ingest_and_check", ingest_and_check, params.inputs, cycle, root,
                           config, params.horizon, params.out)
        base = _run_stage("baselines", baselines_stage, root, cycle, params.horizon, config,
                          cache_dir, params.engine, params.dask_address, params.jobs)
        plan = _run_stage("reconcile", reconcile_stage, root, cycle, params.horizon, config,
                          params.out)
        published = _run_stage("publish", publish_stage, root, params.out, cycle,
                               params.horizon, params.store, config)
    except StageFailed as exc:
        plan_failed(cycle, exc.stage, exc.cause)
        raise
    publish_artifacts(Path(published["path"]))
    return {
        "cycle": cycle,
        "plan_version": published["plan_version"],
        "path": published["path"],
        "store": published["store"],
        "workspace": root,
        "seconds": {
            "ingest_and_check": check["seconds"],
            "baselines": base["seconds"],
            "reconcile": plan["seconds"],
            "publish": published["seconds"],
        },
    }


@flow(name="sop-validate")
def validate_flow(inputs: str, cycle: Cycle, workdir: str, config: str | None = None
                  ) -> dict[str, Any]:
    """The data contracts alone (no forecast, nothing published).

    Args:
        inputs: Folder or fsspec URL holding the input tables (NAME.csv/.parquet).
        cycle: First month planned, YYYY-MM.
        workdir: Folder for the checked tables, rejects and Data Docs.
        config: YAML/JSON/TOML run configuration file; empty = defaults.
    """
    return ingest_and_check(inputs, cycle, workdir, config)


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
DATA_DOCS_INDEX = "data_docs/index.html"
EXTRA_PLAN_FILES = ("family_plan", "trust", "promotion_load", "fva")
PAST_PLAN_COLUMNS = ["cycle", "plan_version", "sku", "location", "period", "sales_forecast",
                     "baseline_forecast", "consensus_demand"]


def past_plans(out: str, cycle: str) -> pd.DataFrame | None:
    """The current version of every earlier cycle's plan (what readers were given)."""
    frames = []
    for folder in sorted(Path(out).glob("cycle=*")):
        earlier = folder.name.removeprefix("cycle=")
        version = folder_current(out, earlier) if earlier < cycle else None
        path = folder / f"version={version}" / "consensus_plan.parquet"
        if version is not None and path.exists():
            frames.append(pd.read_parquet(path, columns=PAST_PLAN_COLUMNS))
    return pd.concat(frames, ignore_index=True) if frames else None


def previous_inputs(out: str, cycle: str) -> dict[str, pd.DataFrame] | None:
    """The inputs snapshot of the latest published version of the latest earlier cycle."""
    root = Path(out)
    earlier = sorted(
        p.name.removeprefix("cycle=") for p in root.glob("cycle=*")
        if p.name.removeprefix("cycle=") < cycle
    )
    for prev in reversed(earlier):
        version = folder_current(out, prev)
        if version is None:
            continue
        folder = root / f"cycle={prev}" / f"version={version}" / "inputs"
        frames = {p.stem: pd.read_parquet(p) for p in folder.glob("*.parquet")}
        if frames:
            return frames
    return None
