"""What each stage of a run found and did, typed, and the manifest published from them.

Stages return these records (and leave them in the run's workspace, so one stage can be re-run
on its own); `build_manifest` turns them into `manifest.json`, whose keys procurement systems and
the what-if analysis read. No I/O here.
"""

import hashlib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from data_contracts.findings import Finding
from data_contracts.tables import CONTRACT_VERSION

DATA_DOCS_INDEX = "data_docs/index.html"  # inside a published version


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputRecord(_Record):
    """Where one input table came from."""

    table: str
    path: str
    sha256: str
    rows: int
    format: str


class CheckResult(_Record):
    """The contracts stage: the inputs read, what the contracts tolerated, the Data Docs."""

    inputs: list[InputRecord]
    findings: list[Finding] = Field(default_factory=list)
    quarantined_rows: dict[str, int] = Field(default_factory=dict)
    data_docs: str | None = None  # the Data Docs index in the run's workspace
    seconds: float = 0.0
    flow_run_id: str | None = None  # the stage's Prefect flow run

    def input_hashes(self) -> dict[str, str]:
        return {f.table: f.sha256 for f in self.inputs}

    def inputs_sha256(self) -> str:
        """One hash of all input files: the same inputs give the same hash."""
        return hashlib.sha256("".join(f.sha256 for f in self.inputs).encode()).hexdigest()


class BaselineResult(_Record):
    """The baselines stage: which cache entry, which engine, which models won."""

    cache_key: str
    reused: bool
    engine: str
    jobs: int | None = None
    series: int
    models: dict[str, int] = Field(default_factory=dict)
    seconds: float = 0.0
    flow_run_id: str | None = None  # the stage's Prefect flow run


class PlanResult(_Record):
    """The reconcile stage: plan size, exceptions by severity, trust, the supply plan."""

    rows: int
    exceptions: dict[str, int] = Field(default_factory=dict)
    trust: list[dict[str, Any]] = Field(default_factory=list)
    shortfall_tolerance_units: float = 1.0
    supply_plan: dict[str, Any] = Field(default_factory=dict)
    seconds: float = 0.0
    flow_run_id: str | None = None  # the stage's Prefect flow run
    partitions: int = 1  # location groups planned one after the other (flows/partitions.py)


class PublishResult(_Record):
    """A published version: where readers find it."""

    cycle: str
    plan_version: int
    path: str
    store: str
    seconds: float = 0.0


class ChangesSummary(_Record):
    """What the version was compared with; an empty plan_changes then reads unambiguously."""

    previous_cycle: str | None = None
    previous_version: int | None = None
    by_change: dict[str, int] = Field(default_factory=dict)


class ContractsSummary(BaseModel):
    """The contracts' outcome as published: what passed, what was tolerated, where the docs are."""

    outcome: str
    findings: list[Finding] = Field(default_factory=list)
    quarantined_rows: dict[str, int] = Field(default_factory=dict)
    data_docs: str | None = None  # relative to the version folder


class Manifest(BaseModel):
    """manifest.json of a published version. Read leniently (`extra="ignore"`, defaults), so
    versions published by an older release stay readable."""

    model_config = ConfigDict(extra="ignore")

    cycle: str
    plan_version: int
    horizon: int
    run_id: str = ""
    workspace: str | None = None  # the run's checked inputs, for what-if analyses
    inputs: list[InputRecord]
    inputs_sha256: str = ""
    versions: dict[str, str] = Field(default_factory=dict)
    store: str = ""
    timings_seconds: dict[str, float] = Field(default_factory=dict)
    contracts: ContractsSummary
    baselines: dict[str, Any] = Field(default_factory=dict)
    trust: list[dict[str, Any]] = Field(default_factory=list)
    # How receipts were sized (LP + lot sizing), whether its time budget ran out, and what
    # whole units and MOQ cost against the LP's plan.
    supply_plan: dict[str, Any] = Field(default_factory=dict)
    rows: dict[str, int] = Field(default_factory=dict)
    plan_changes: ChangesSummary = Field(default_factory=ChangesSummary)
    # Version of the published tables' contract (data_contracts.output_schema); empty in
    # versions published before it had one.
    contract_version: str = ""

    def input_hashes(self) -> dict[str, str]:
        return {f.table: f.sha256 for f in self.inputs}


def build_manifest(
    *, cycle: str, version: int, horizon: int, run_id: str, workspace: str,
    check: CheckResult, baseline: BaselineResult, plan: PlanResult, store_url: str,
    package_versions: dict[str, str], rows: dict[str, int], changes: ChangesSummary,
    quarantined: bool,
) -> Manifest:
    """The manifest of a version: inputs (path, sha256, rows), versions, timings, contracts."""
    return Manifest(
        cycle=cycle, plan_version=version, horizon=horizon, run_id=run_id, workspace=workspace,
        inputs=check.inputs, inputs_sha256=check.inputs_sha256(), versions=package_versions,
        store=store_url,
        timings_seconds={"check": check.seconds, "baseline": baseline.seconds,
                         "plan": plan.seconds},
        contracts=ContractsSummary(
            outcome="passed_with_quarantine" if quarantined else "passed",
            findings=check.findings, quarantined_rows=check.quarantined_rows,
            # Copied into the version, so the published folder stays self-contained.
            data_docs=DATA_DOCS_INDEX if check.data_docs else None,
        ),
        baselines=baseline.model_dump(), trust=plan.trust, supply_plan=plan.supply_plan,
        rows=rows, plan_changes=changes, contract_version=CONTRACT_VERSION,
    )
