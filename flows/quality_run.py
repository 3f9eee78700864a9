"""Runs the data-quality suites of data_contracts/quality.py with great-expectations 1.x.

One ephemeral GX context per run: a pandas data source, the suites as GX builds them from
their JSON (`data_contracts.quality.expectation_suites`), and per suite a Checkpoint whose
UpdateDataDocsAction writes its pages and the index into the Data Docs folder. A failed
`critical` expectation stops the run (ContractBreach, exit 3) after Data Docs are written,
so that the breach can be read there. GX is imported on first use: it is slow to import.
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from data_contracts.findings import ContractBreach, Finding
from data_contracts.quality import (
    FROM_GX_SEVERITY,
    PreparedSuite,
    QualitySettings,
    expectation_suites,
    precheck_findings,
    prepare_suites,
    prepare_summary_suites,
    summarize,
)

SITE = "sop_data_docs"


@dataclass
class QualityResult:
    """Findings of the suites, where Data Docs were written, and how long it took."""

    findings: list[Finding]
    data_docs_index: Path | None
    seconds: float = 0.0
    suites: dict[str, bool] = field(default_factory=dict)  # suite -> passed


def gx_context(docs_dir: Path, history_dir: Path | None = None) -> Any:
    """An ephemeral GX context whose one Data Docs site is the folder `docs_dir`.

    With `history_dir`, validation results are kept there (GX's own file store) instead of
    in memory: the Data Docs of every run then list the validations of every earlier run
    that kept its results there too, so the site shows the history of past cycles."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        data_docs_sites={
            SITE: {
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
    )
    if history_dir is not None:
        config.stores[config.validation_results_store_name] = {
            "class_name": "ValidationResultsStore",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                              "base_directory": str(history_dir)},
        }
    return gx.get_context(project_config=config, mode="ephemeral")


def _run_suites(
    suites: list[PreparedSuite], settings: QualitySettings, docs_dir: Path, cycle: str,
    history_dir: Path | None = None,
) -> tuple[list[Finding], dict[str, bool]]:
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.core.run_identifier import RunIdentifier

    context = gx_context(docs_dir, history_dir)
    source = context.data_sources.add_pandas("sop_inputs")
    documents = expectation_suites(settings)
    findings: list[Finding] = []
    passed: dict[str, bool] = {}
    for suite in suites:
        batch = source.add_dataframe_asset(suite.name).add_batch_definition_whole_dataframe(
            suite.name
        )
        gx_suite = context.suites.add(gx.ExpectationSuite(**documents[suite.name]))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=suite.name, data=batch, suite=gx_suite)
        )
        # One Checkpoint a suite: a run passes one dataframe to all its definitions.
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=suite.name,
                validation_definitions=[definition],
                actions=[UpdateDataDocsAction(name="data_docs", site_names=[SITE])],
                result_format="COMPLETE",
            )
        )
        run = checkpoint.run(
            batch_parameters={"dataframe": suite.frame},
            run_id=RunIdentifier(run_name=f"cycle={cycle}"),
        )
        (result,) = run.run_results.values()
        passed[suite.name] = bool(result.success)
        for outcome in result.results:
            if outcome.success:
                continue
            config = outcome.expectation_config
            finding = suite.finding(config.meta["rule"], outcome.result)
            # GX's own severity is what the run obeys (it equals the check's).
            finding.severity = FROM_GX_SEVERITY[str(config.severity.value)]
            findings.append(finding)
    if not suites or history_dir is not None:
        # The index (and the pages of earlier cycles' results) from the whole store; also
        # the (empty) index when there was nothing to check.
        context.build_data_docs(site_names=[SITE])
    return findings, passed


def run_quality_suites(
    tables: Mapping[str, pd.DataFrame],
    cycle: str,
    docs_dir: str | Path,
    previous: Mapping[str, pd.DataFrame] | None = None,
    baseline: pd.DataFrame | None = None,
    settings: QualitySettings | None = None,
    history_dir: str | Path | None = None,
) -> QualityResult:
    """Run the quality suites on validated `tables` (from validate_inputs) and build Data Docs.

    `previous` are the previous cycle's inputs (raw or validated): enables drift checks.
    `baseline` is a baseline_forecast: enables the sales-vs-baseline check. Writes Data Docs
    into `docs_dir`; with `history_dir` the validation results are kept there and Data Docs
    list the earlier runs' too. Raises ContractBreach when an `error` (GX: critical)
    expectation fails.
    """
    start = time.perf_counter()
    settings = settings or QualitySettings()
    suites = prepare_suites(tables, cycle, previous, baseline, settings)
    return _verdict(suites, precheck_findings(tables), cycle, docs_dir, settings, history_dir,
                    start)


def run_quality_summary(
    parts: list[dict[str, pd.DataFrame]],
    products: pd.DataFrame | None,
    cycle: str,
    docs_dir: str | Path,
    previous: Mapping[str, Any] | None = None,
    settings: QualitySettings | None = None,
    history_dir: str | Path | None = None,
) -> QualityResult:
    """run_quality_suites for a check made location group by location group: the suites run
    once, on the groups' summaries joined (data_contracts/quality.py `summarize`), with one
    set of Data Docs. `previous`: the previous cycle's summary (flows/check_parts.py)."""
    start = time.perf_counter()
    settings = settings or QualitySettings()
    summary = summarize(parts)
    suites = prepare_summary_suites(summary, products, cycle, previous, settings)
    history = summary.get("history_last")
    precheck = precheck_findings({"sales_history": history}) if history is not None else []
    return _verdict(suites, precheck, cycle, docs_dir, settings, history_dir, start)


def _verdict(
    suites: list[PreparedSuite], precheck: list[Finding], cycle: str, docs_dir: str | Path,
    settings: QualitySettings, history_dir: str | Path | None, start: float,
) -> QualityResult:
    docs = Path(docs_dir)
    docs.mkdir(parents=True, exist_ok=True)
    history = Path(history_dir) if history_dir is not None else None
    found, passed = _run_suites(suites, settings, docs, cycle, history)
    findings = [*precheck, *found]
    index = docs / "index.html"
    if any(f.severity == "error" for f in findings):
        raise ContractBreach(findings, kind="Data quality contract", notes=[f"Data Docs: {index}"])
    return QualityResult(
        findings,
        index if index.exists() else None,
        round(time.perf_counter() - start, 3),
        passed,
    )
