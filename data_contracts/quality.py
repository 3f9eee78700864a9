"""Data-quality suites (great-expectations) across tables and runs, with Data Docs.

What pandera does not express well: freshness, completeness, drift against the previous
cycle, sales numbers against the statistical baseline. Each suite is a small derived table
checked by GX expectations; each expectation carries a severity: `error` stops the run
(ContractBreach), `warning` becomes a Finding for the S&OP meeting. GX is imported lazily.
"""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from data_contracts.coerce import as_number, as_text
from data_contracts.findings import SAMPLE_ROWS, ContractBreach, Finding, Severity, clean_value
from data_contracts.periods import add_months, months_between

SITE = "sop_data_docs"


class QualitySettings(BaseModel):
    """Thresholds and severities of the quality suites."""

    model_config = ConfigDict(extra="forbid")  # a misspelt threshold must not pass silently

    freshness_severity: Severity = "warning"
    stale_error_months: int | None = 6  # history ending this many months before the cycle stops
    completeness_min_share: float = 0.9  # of active SKU × locations that have history
    completeness_severity: Severity = "warning"
    max_total_increase_pct: float = 25.0  # total sales forecast vs previous cycle, same months
    family_max_ratio: float = 2.0  # a family's forecast volume vs previous cycle
    drift_severity: Severity = "warning"
    baseline_far_factor: float = 2.0  # above hi_95 × factor or below lo_95 / factor
    baseline_severity: Severity = "warning"


@dataclass
class QualityResult:
    """Findings of the suites, where Data Docs were written, and how long it took."""

    findings: list[Finding]
    data_docs_index: Path | None
    seconds: float = 0.0
    suites: dict[str, bool] = field(default_factory=dict)  # suite -> passed


Describe = Callable[[dict[str, Any], pd.DataFrame], tuple[str, int, list[dict[str, Any]]]]


@dataclass
class _Check:
    expectation_type: str  # GX expectation class name
    kwargs: dict[str, Any]
    severity: Severity
    table: str
    column: str | None
    rule: str
    describe: Describe  # (GX result, frame) -> (message, count, sample)


@dataclass
class _Suite:
    name: str
    frame: pd.DataFrame
    checks: list[_Check]


def _rows(frame: pd.DataFrame, result: dict[str, Any]) -> list[dict[str, Any]]:
    index = result.get("unexpected_index_list") or []
    picked = frame.loc[[i for i in index[:SAMPLE_ROWS] if i in frame.index]]
    return [{k: clean_value(v) for k, v in r.items()} for r in picked.to_dict("records")]


def _month_index(periods: pd.Series) -> np.ndarray:
    text = periods.astype(str)
    return text.str[:4].astype(int).to_numpy() * 12 + text.str[5:7].astype(int).to_numpy() - 1


def _freshness_suites(history: pd.DataFrame, cycle: str, s: QualitySettings) -> list[_Suite]:
    if history.empty:
        return []
    cycle_index = int(cycle[:4]) * 12 + int(cycle[5:7]) - 1
    gap = pd.DataFrame({"months_before_cycle": cycle_index - _month_index(history["period"])})
    last = str(history["period"].max())
    expected = add_months(cycle, -1)

    def late(result: dict[str, Any], frame: pd.DataFrame) -> tuple[str, int, list[dict[str, Any]]]:
        return (
            f"sales_history.period: history ends {last}, expected up to {expected} "
            f"(the month before the cycle {cycle})",
            1,
            [{"last_period": last, "expected": expected}],
        )

    checks = [
        _Check(
            "ExpectColumnMinToBeBetween",
            {"column": "months_before_cycle", "max_value": 1},
            s.freshness_severity,
            "sales_history",
            "period",
            "history reaches the cycle",
            late,
        )
    ]
    if s.stale_error_months:
        months = months_between(last, cycle)

        def stale(result: dict[str, Any], frame: pd.DataFrame) -> tuple[str, int, list[dict]]:
            return (
                f"sales_history.period: history ends {last}, {months} months before the cycle "
                f"{cycle} (limit {s.stale_error_months}): the extract looks stale",
                1,
                [{"last_period": last, "months_before_cycle": months}],
            )

        checks.append(
            _Check(
                "ExpectColumnMinToBeBetween",
                {"column": "months_before_cycle", "max_value": s.stale_error_months - 1},
                "error",
                "sales_history",
                "period",
                "history is not stale",
                stale,
            )
        )
    by_location = history.groupby("location", as_index=False)["period"].max()
    by_location["months_before_cycle"] = cycle_index - _month_index(by_location["period"])

    def lagging(result: dict[str, Any], frame: pd.DataFrame) -> tuple[str, int, list[dict]]:
        sample = _rows(frame, result)
        shown = ", ".join(f"{r['location']} (last {r['period']})" for r in sample[:3])
        n = int(result.get("unexpected_count") or 0)
        return (
            f"sales_history.period: history of {n} location(s) ends before {expected}, "
            f"e.g. {shown}",
            n,
            sample,
        )

    return [
        _Suite("freshness", gap, checks),
        _Suite(
            "freshness_by_location",
            by_location,
            [
                _Check(
                    "ExpectColumnValuesToBeBetween",
                    {"column": "months_before_cycle", "max_value": 1},
                    s.freshness_severity,
                    "sales_history",
                    "location",
                    "every location reaches the cycle",
                    lagging,
                )
            ],
        ),
    ]


def _completeness_suite(tables: Mapping[str, pd.DataFrame], s: QualitySettings) -> list[_Suite]:
    keys = []
    for table in ("sales_history", "sales_forecast", "inventory", "open_orders"):
        if table in tables and len(tables[table]):
            keys.append(tables[table][["sku", "location"]].dropna())
    if not keys or "products" not in tables:
        return []
    pairs = pd.concat(keys).drop_duplicates()
    products = tables["products"]
    status = products.set_index("sku")["status"] if "status" in products else pd.Series(dtype=str)
    active = pairs["sku"].map(status).fillna("active") == "active"
    pairs = pairs[active]
    if pairs.empty:
        return []
    history = tables.get("sales_history", pd.DataFrame(columns=["sku", "location"]))
    seen = pd.MultiIndex.from_frame(history[["sku", "location"]].drop_duplicates())
    pairs = pairs.assign(has_history=pd.MultiIndex.from_frame(pairs).isin(seen)).reset_index(
        drop=True
    )
    share = float(pairs["has_history"].mean())

    def incomplete(result: dict[str, Any], frame: pd.DataFrame) -> tuple[str, int, list[dict]]:
        sample = _rows(frame, result)
        n = int(result.get("unexpected_count") or 0)
        shown = ", ".join(f"{r['sku']}@{r['location']}" for r in sample[:3])
        return (
            f"sales_history.sku: only {share:.1%} of active SKU × locations have history "
            f"(expected at least {s.completeness_min_share:.0%}); {n} without, e.g. {shown}",
            n,
            sample,
        )

    check = _Check(
        "ExpectColumnValuesToBeInSet",
        {"column": "has_history", "value_set": [True], "mostly": s.completeness_min_share},
        s.completeness_severity,
        "sales_history",
        "sku",
        "active items have history",
        incomplete,
    )
    return [_Suite("completeness", pairs, [check])]


def _forecast_by_family(tables: Mapping[str, pd.DataFrame], family_of: pd.Series) -> pd.DataFrame:
    """sales_forecast (raw or typed) -> family, period, qty."""
    forecast = tables["sales_forecast"]
    qty, _ = as_number(forecast["qty"])
    sku = as_text(forecast["sku"])
    family = (
        as_text(forecast["family"]) if "family" in forecast else pd.Series(np.nan, forecast.index)
    )
    family = family.where(family.notna(), sku.map(family_of))
    return pd.DataFrame(
        {"family": family.fillna("(unknown)"), "period": as_text(forecast["period"]), "qty": qty}
    )


def _drift_suites(
    tables: Mapping[str, pd.DataFrame], previous: Mapping[str, pd.DataFrame], s: QualitySettings
) -> list[_Suite]:
    if "sales_forecast" not in tables or "sales_forecast" not in previous:
        return []
    family_of = pd.Series(dtype=object)
    for source in (previous, tables):  # current products win
        if "products" in source and {"sku", "family"} <= set(source["products"].columns):
            p = source["products"]
            family_of = pd.concat(
                [
                    family_of,
                    pd.Series(as_text(p["family"]).to_numpy(), index=as_text(p["sku"]).to_numpy()),
                ]
            )
    family_of = family_of[~family_of.index.duplicated(keep="last")]
    now = _forecast_by_family(tables, family_of)
    before = _forecast_by_family(previous, family_of)
    months = sorted(set(now["period"].dropna()) & set(before["period"].dropna()))
    if not months:
        return []
    now, before = now[now["period"].isin(months)], before[before["period"].isin(months)]
    span = f"{months[0]}..{months[-1]}"
    cur, prev = float(now["qty"].sum()), float(before["qty"].sum())
    suites = []
    if prev > 0:
        total = pd.DataFrame(
            {
                "months": [span],
                "previous_qty": [prev],
                "qty": [cur],
                "change_pct": [(cur - prev) / prev * 100],
            }
        )

        def grown(result: dict[str, Any], frame: pd.DataFrame) -> tuple[str, int, list[dict]]:
            return (
                f"sales_forecast.qty: total forecast for {span} is up "
                f"{total['change_pct'].iloc[0]:.1f}% vs the previous cycle "
                f"(limit {s.max_total_increase_pct:g}%): {prev:,.0f} -> {cur:,.0f} units",
                1,
                _rows(frame, {"unexpected_index_list": [0]}),
            )

        suites.append(
            _Suite(
                "forecast_drift_total",
                total,
                [
                    _Check(
                        "ExpectColumnValuesToBeBetween",
                        {"column": "change_pct", "max_value": s.max_total_increase_pct},
                        s.drift_severity,
                        "sales_forecast",
                        "qty",
                        "total forecast drift",
                        grown,
                    )
                ],
            )
        )
    fam = pd.DataFrame(
        {
            "previous_qty": before.groupby("family")["qty"].sum(),
            "qty": now.groupby("family")["qty"].sum(),
        }
    ).fillna(0.0)
    fam = fam[fam["previous_qty"] > 0].rename_axis("family").reset_index()
    if len(fam):
        fam["ratio"] = fam["qty"] / fam["previous_qty"]

        def doubled(result: dict[str, Any], frame: pd.DataFrame) -> tuple[str, int, list[dict]]:
            sample = _rows(frame, result)
            n = int(result.get("unexpected_count") or 0)
            shown = ", ".join(
                f"{r['family']}: {r['previous_qty']:,.0f} -> {r['qty']:,.0f} (x{r['ratio']:.1f})"
                for r in sample[:3]
            )
            return (
                f"sales_forecast.family: forecast volume of {n} famil{'y' if n == 1 else 'ies'} "
                f"grew x{s.family_max_ratio:g} or more vs the previous cycle for {span}, "
                f"e.g. {shown}",
                n,
                sample,
            )

        suites.append(
            _Suite(
                "forecast_drift_family",
                fam,
                [
                    _Check(
                        "ExpectColumnValuesToBeBetween",
                        {"column": "ratio", "max_value": s.family_max_ratio, "strict_max": True},
                        s.drift_severity,
                        "sales_forecast",
                        "family",
                        "family forecast drift",
                        doubled,
                    )
                ],
            )
        )
    return suites


def _baseline_suite(
    tables: Mapping[str, pd.DataFrame], baseline: pd.DataFrame, s: QualitySettings
) -> list[_Suite]:
    needed = {"sku", "location", "period", "lo_95", "hi_95"}
    if "sales_forecast" not in tables or baseline.empty or not needed <= set(baseline.columns):
        return []
    forecast = tables["sales_forecast"]
    forecast = forecast[forecast["sku"].notna()][["sku", "location", "period", "qty"]]
    keys = ["sku", "location", "period"]
    joined = forecast.merge(baseline[[*keys, "lo_95", "hi_95"]], on=keys, how="inner")
    joined = joined.dropna(subset=["lo_95", "hi_95"]).reset_index(drop=True)
    if joined.empty:
        return []
    f = s.baseline_far_factor
    joined["upper_limit"] = joined["hi_95"] * f
    joined["lower_limit"] = joined["lo_95"] / f

    def far(side: str) -> Describe:
        def describe(result: dict[str, Any], frame: pd.DataFrame) -> tuple[str, int, list[dict]]:
            sample = _rows(frame, result)
            n = int(result.get("unexpected_count") or 0)
            shown = "; ".join(
                f"{r['sku']}@{r['location']} {r['period']}: {r['qty']:,.0f} vs 95% range "
                f"{r['lo_95']:,.0f}..{r['hi_95']:,.0f}"
                for r in sample[:3]
            )
            limit = f"above {f:g}x hi_95" if side == "above" else f"below lo_95/{f:g}"
            return (
                f"sales_forecast.qty: {n} sales numbers far {side} the baseline ({limit}), "
                f"e.g. {shown}",
                n,
                sample,
            )

        return describe

    checks = [
        _Check(
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {"column_A": "upper_limit", "column_B": "qty", "or_equal": True},
            s.baseline_severity,
            "sales_forecast",
            "qty",
            "not far above the baseline",
            far("above"),
        ),
        _Check(
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {"column_A": "qty", "column_B": "lower_limit", "or_equal": True},
            s.baseline_severity,
            "sales_forecast",
            "qty",
            "not far below the baseline",
            far("below"),
        ),
    ]
    return [_Suite("forecast_vs_baseline", joined, checks)]


def _context(docs_dir: Path) -> Any:
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
    return gx.get_context(project_config=config, mode="ephemeral")


def _run_suites(
    suites: list[_Suite], docs_dir: Path, cycle: str
) -> tuple[list[Finding], dict[str, bool]]:
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.core.run_identifier import RunIdentifier

    context = _context(docs_dir)
    source = context.data_sources.add_pandas("sop_inputs")
    findings: list[Finding] = []
    passed: dict[str, bool] = {}
    for suite in suites:
        batch = source.add_dataframe_asset(suite.name).add_batch_definition_whole_dataframe(
            suite.name
        )
        gx_suite = context.suites.add(gx.ExpectationSuite(name=suite.name))
        for number, check in enumerate(suite.checks):
            expectation = getattr(gxe, check.expectation_type)(
                **check.kwargs,
                meta={"check": number, "severity": check.severity, "rule": check.rule},
            )
            gx_suite.add_expectation(expectation)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=suite.name, data=batch, suite=gx_suite)
        )
        result = definition.run(
            batch_parameters={"dataframe": suite.frame},
            result_format="COMPLETE",
            run_id=RunIdentifier(run_name=f"cycle={cycle}"),
        )
        passed[suite.name] = bool(result.success)
        for outcome in result.results:
            if outcome.success:
                continue
            check = suite.checks[int(outcome.expectation_config.meta["check"])]
            message, count, sample = check.describe(dict(outcome.result), suite.frame)
            findings.append(
                Finding(
                    table=check.table,
                    column=check.column,
                    rule=check.rule,
                    severity=check.severity,
                    count=count,
                    sample=sample,
                    message=message,
                )
            )
    context.build_data_docs(site_names=[SITE])
    return findings, passed


def run_quality_suites(
    tables: Mapping[str, pd.DataFrame],
    cycle: str,
    docs_dir: str | Path,
    previous: Mapping[str, pd.DataFrame] | None = None,
    baseline: pd.DataFrame | None = None,
    settings: QualitySettings | None = None,
) -> QualityResult:
    """Run the quality suites on validated `tables` (from validate_inputs) and build Data Docs.

    `previous` are the previous cycle's inputs (raw or validated): enables drift checks.
    `baseline` is a baseline_forecast: enables the sales-vs-baseline check. Writes Data Docs
    into `docs_dir`. Raises ContractBreach when an `error` expectation fails.
    """
    start = time.perf_counter()
    settings = settings or QualitySettings()
    docs = Path(docs_dir)
    docs.mkdir(parents=True, exist_ok=True)
    suites: list[_Suite] = []
    if "sales_history" in tables:
        suites += _freshness_suites(tables["sales_history"], cycle, settings)
    suites += _completeness_suite(tables, settings)
    if previous is not None:
        suites += _drift_suites(tables, previous, settings)
    if baseline is not None:
        suites += _baseline_suite(tables, baseline, settings)
    findings: list[Finding] = []
    if "sales_history" in tables and tables["sales_history"].empty:
        findings.append(
            Finding(
                table="sales_history",
                rule="no history",
                severity="warning",
                message="sales_history: no rows; every series is a cold start",
            )
        )
    found, passed = _run_suites(suites, docs, cycle)
    findings += found
    index = docs / "index.html"
    if any(f.severity == "error" for f in findings):
        raise ContractBreach(findings, kind="Data quality contract", notes=[f"Data Docs: {index}"])
    return QualityResult(
        findings,
        index if index.exists() else None,
        round(time.perf_counter() - start, 3),
        passed,
    )
