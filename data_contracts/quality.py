"""Data-quality suites across tables and runs: what is checked, thresholds and severities.

What pandera does not express well: freshness, completeness, drift against the previous
cycle, sales numbers against the statistical baseline. Each suite is a small derived table
checked by great-expectations (GX) expectations, written here as GX 1.x ExpectationSuite
JSON (`expectation_suites`; the defaults are committed as `data_contracts/suites/*.json`).
Each expectation carries GX's own `severity`: `critical` (our `error`) stops the run,
`warning` becomes a Finding for the S&OP meeting. Pure: no GX import, no files; the GX run
and Data Docs are `flows/quality_run.py`.

Usage: `python -m data_contracts.quality` rewrites `data_contracts/suites/` from the defaults.
"""

import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from data_contracts.coerce import as_number, as_text
from data_contracts.findings import SAMPLE_ROWS, Finding, Severity, clean_value
from data_contracts.periods import add_months, months_between

SUITES_DIR: Final = Path(__file__).with_name("suites")

# Our severities and GX 1.x's (`Expectation.severity`), both ways.
GX_SEVERITY: Final[dict[str, str]] = {"error": "critical", "warning": "warning", "info": "info"}
FROM_GX_SEVERITY: Final[dict[str, Severity]] = {
    "critical": "error", "warning": "warning", "info": "info"
}


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


@dataclass(frozen=True)
class QualityCheck:
    """One expectation: GX's type and arguments, its severity, and the table/column/rule it is
    about (for the Finding)."""

    expectation: str  # GX expectation type, e.g. "expect_column_min_to_be_between"
    kwargs: dict[str, Any]
    severity: Severity
    table: str
    column: str | None
    rule: str  # unique within its suite


# What each suite checks, in words (GX shows it on the suite's page).
SUITE_DESCRIPTIONS: Final[dict[str, str]] = {
    "freshness": "sales_history reaches the month before the cycle and is not stale "
    "(one row per history row: months_before_cycle)",
    "freshness_by_location": "every location's sales_history reaches the month before the "
    "cycle (one row per location: its last period, months_before_cycle)",
    "completeness": "active SKU × locations planned in any table have sales_history "
    "(one row per SKU × location: has_history)",
    "forecast_drift_total": "total sales forecast against the previous cycle's, over the "
    "months both cover (one row: previous_qty, qty, change_pct)",
    "forecast_drift_family": "each family's sales forecast against the previous cycle's, "
    "same months (one row per family: previous_qty, qty, ratio)",
    "forecast_vs_baseline": "each SKU sales number against the baseline's 95% interval "
    "(one row per number: qty, lo_95, hi_95, upper_limit, lower_limit)",
}


def suite_checks(settings: QualitySettings | None = None) -> dict[str, list[QualityCheck]]:
    """Every suite's checks under `settings` (the data decide later which suites run)."""
    s = settings or QualitySettings()
    freshness = [
        QualityCheck(
            "expect_column_min_to_be_between",
            {"column": "months_before_cycle", "max_value": 1},
            s.freshness_severity, "sales_history", "period", "history reaches the cycle",
        )
    ]
    if s.stale_error_months:
        freshness.append(
            QualityCheck(
                "expect_column_min_to_be_between",
                {"column": "months_before_cycle", "max_value": s.stale_error_months - 1},
                "error", "sales_history", "period", "history is not stale",
            )
        )
    return {
        "freshness": freshness,
        "freshness_by_location": [
            QualityCheck(
                "expect_column_values_to_be_between",
                {"column": "months_before_cycle", "max_value": 1},
                s.freshness_severity, "sales_history", "location",
                "every location reaches the cycle",
            )
        ],
        "completeness": [
            QualityCheck(
                "expect_column_values_to_be_in_set",
                {"column": "has_history", "value_set": [True],
                 "mostly": s.completeness_min_share},
                s.completeness_severity, "sales_history", "sku", "active items have history",
            )
        ],
        "forecast_drift_total": [
            QualityCheck(
                "expect_column_values_to_be_between",
                {"column": "change_pct", "max_value": s.max_total_increase_pct},
                s.drift_severity, "sales_forecast", "qty", "total forecast drift",
            )
        ],
        "forecast_drift_family": [
            QualityCheck(
                "expect_column_values_to_be_between",
                {"column": "ratio", "max_value": s.family_max_ratio, "strict_max": True},
                s.drift_severity, "sales_forecast", "family", "family forecast drift",
            )
        ],
        "forecast_vs_baseline": [
            QualityCheck(
                "expect_column_pair_values_a_to_be_greater_than_b",
                {"column_A": "upper_limit", "column_B": "qty", "or_equal": True},
                s.baseline_severity, "sales_forecast", "qty", "not far above the baseline",
            ),
            QualityCheck(
                "expect_column_pair_values_a_to_be_greater_than_b",
                {"column_A": "qty", "column_B": "lower_limit", "or_equal": True},
                s.baseline_severity, "sales_forecast", "qty", "not far below the baseline",
            ),
        ],
    }


def expectation_suites(settings: QualitySettings | None = None) -> dict[str, dict[str, Any]]:
    """Every suite as GX 1.x ExpectationSuite JSON (`gx.ExpectationSuite(**suite)` loads it).

    Expectations carry GX's `severity` and, in `meta`, the table, column and rule a failure
    is reported under.
    """
    return {
        name: {
            "name": name,
            "id": None,
            "expectations": [
                {
                    "type": check.expectation,
                    "kwargs": check.kwargs,
                    "meta": {"table": check.table, "column": check.column, "rule": check.rule},
                    "severity": GX_SEVERITY[check.severity],
                }
                for check in checks
            ],
            "meta": {"description": SUITE_DESCRIPTIONS[name]},
            "notes": None,
        }
        for name, checks in suite_checks(settings).items()
    }


def render_suite(suite: Mapping[str, Any]) -> str:
    """One suite as the JSON text of its committed file."""
    return json.dumps(suite, indent=2, ensure_ascii=False) + "\n"


Describe = Callable[[dict[str, Any], pd.DataFrame], tuple[str, int, list[dict[str, Any]]]]


@dataclass
class PreparedSuite:
    """A suite ready to run: its checks, the derived table GX checks, and how failures read."""

    name: str
    frame: pd.DataFrame
    checks: list[QualityCheck]
    describe: dict[str, Describe] = field(default_factory=dict)  # rule -> message builder

    def __post_init__(self) -> None:
        missing = {c.rule for c in self.checks} - set(self.describe)
        if missing:
            raise ValueError(f"suite {self.name}: no message for {', '.join(sorted(missing))}")

    def finding(self, rule: str, result: Mapping[str, Any]) -> Finding:
        """The Finding of the failed check `rule`, from GX's result dict (COMPLETE format)."""
        check = next(c for c in self.checks if c.rule == rule)
        message, count, sample = self.describe[rule](dict(result), self.frame)
        return Finding(
            table=check.table,
            column=check.column,
            rule=check.rule,
            severity=check.severity,
            count=count,
            sample=sample,
            message=message,
        )


def _rows(frame: pd.DataFrame, result: dict[str, Any]) -> list[dict[str, Any]]:
    index = result.get("unexpected_index_list") or []
    picked = frame.loc[[i for i in index[:SAMPLE_ROWS] if i in frame.index]]
    return [{k: clean_value(v) for k, v in r.items()} for r in picked.to_dict("records")]


def _month_index(periods: pd.Series) -> np.ndarray:
    text = periods.astype(str)
    return text.str[:4].astype(int).to_numpy() * 12 + text.str[5:7].astype(int).to_numpy() - 1


def _freshness_suites(
    history: pd.DataFrame, cycle: str, s: QualitySettings, checks: dict[str, list[QualityCheck]]
) -> list[PreparedSuite]:
    if history.empty:
        return []
    cycle_index = int(cycle[:4]) * 12 + int(cycle[5:7]) - 1
    gap = pd.DataFrame({"months_before_cycle": cycle_index - _month_index(history["period"])})
    last = str(history["period"].max())
    expected = add_months(cycle, -1)
    months = months_between(last, cycle)

    def late(result: dict[str, Any], frame: pd.DataFrame) -> tuple[str, int, list[dict[str, Any]]]:
        return (
            f"sales_history.period: history ends {last}, expected up to {expected} "
            f"(the month before the cycle {cycle})",
            1,
            [{"last_period": last, "expected": expected}],
        )

    def stale(result: dict[str, Any], frame: pd.DataFrame) -> tuple[str, int, list[dict]]:
        return (
            f"sales_history.period: history ends {last}, {months} months before the cycle "
            f"{cycle} (limit {s.stale_error_months}): the extract looks stale",
            1,
            [{"last_period": last, "months_before_cycle": months}],
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
        PreparedSuite(
            "freshness", gap, checks["freshness"],
            {"history reaches the cycle": late, "history is not stale": stale},
        ),
        PreparedSuite(
            "freshness_by_location", by_location, checks["freshness_by_location"],
            {"every location reaches the cycle": lagging},
        ),
    ]


# What the completeness suite reads the planned SKU x locations from, in its order.
PAIR_TABLES = ("sales_history", "sales_forecast", "inventory", "open_orders")


def _completeness_suite(
    tables: Mapping[str, pd.DataFrame], s: QualitySettings, checks: dict[str, list[QualityCheck]]
) -> list[PreparedSuite]:
    keys = []
    for table in PAIR_TABLES:
        if table in tables and len(tables[table]):
            keys.append(tables[table][["sku", "location"]].dropna())
    if not keys or "products" not in tables:
        return []
    history = tables.get("sales_history", pd.DataFrame(columns=["sku", "location"]))
    return _completeness_of(pd.concat(keys).drop_duplicates(), tables["products"],
                            history[["sku", "location"]], s, checks)


def _completeness_of(
    pairs: pd.DataFrame, products: pd.DataFrame, history: pd.DataFrame, s: QualitySettings,
    checks: dict[str, list[QualityCheck]],
) -> list[PreparedSuite]:
    """The completeness suite of the planned SKU x locations `pairs` (in the order they are
    listed) against the SKU x locations that have `history`."""
    status = products.set_index("sku")["status"] if "status" in products else pd.Series(dtype=str)
    active = pairs["sku"].map(status).fillna("active") == "active"
    pairs = pairs[active]
    if pairs.empty:
        return []
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

    return [
        PreparedSuite(
            "completeness", pairs, checks["completeness"],
            {"active items have history": incomplete},
        )
    ]


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
    tables: Mapping[str, pd.DataFrame],
    previous: Mapping[str, pd.DataFrame],
    s: QualitySettings,
    checks: dict[str, list[QualityCheck]],
) -> list[PreparedSuite]:
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
    suites: list[PreparedSuite] = []
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
            PreparedSuite(
                "forecast_drift_total", total, checks["forecast_drift_total"],
                {"total forecast drift": grown},
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
            PreparedSuite(
                "forecast_drift_family", fam, checks["forecast_drift_family"],
                {"family forecast drift": doubled},
            )
        )
    return suites


def _baseline_suite(
    tables: Mapping[str, pd.DataFrame],
    baseline: pd.DataFrame,
    s: QualitySettings,
    checks: dict[str, list[QualityCheck]],
) -> list[PreparedSuite]:
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

    return [
        PreparedSuite(
            "forecast_vs_baseline", joined, checks["forecast_vs_baseline"],
            {
                "not far above the baseline": far("above"),
                "not far below the baseline": far("below"),
            },
        )
    ]


def prepare_suites(
    tables: Mapping[str, pd.DataFrame],
    cycle: str,
    previous: Mapping[str, pd.DataFrame] | None = None,
    baseline: pd.DataFrame | None = None,
    settings: QualitySettings | None = None,
) -> list[PreparedSuite]:
    """The suites that apply to validated `tables` (from validate_inputs), ready to run.

    `previous` are the previous cycle's inputs (raw or validated): enables drift checks.
    `baseline` is a baseline_forecast: enables the sales-vs-baseline check. A suite whose
    data is absent (no history, nothing to compare with) is left out.
    """
    s = settings or QualitySettings()
    checks = suite_checks(s)
    suites: list[PreparedSuite] = []
    if "sales_history" in tables:
        suites += _freshness_suites(tables["sales_history"], cycle, s, checks)
    suites += _completeness_suite(tables, s, checks)
    if previous is not None:
        suites += _drift_suites(tables, previous, s, checks)
    if baseline is not None:
        suites += _baseline_suite(tables, baseline, s, checks)
    return suites


def forecast_totals(forecast: pd.DataFrame) -> pd.DataFrame:
    """A sales_forecast (raw or typed, or a batch of its rows) as qty per sku, family and
    period: what the drift suites read of it. The sums of batches' totals are the totals."""
    qty, _ = as_number(forecast["qty"])
    missing = pd.Series(np.nan, index=forecast.index, dtype=object)
    frame = pd.DataFrame({
        "sku": as_text(forecast["sku"]) if "sku" in forecast else missing,
        "family": as_text(forecast["family"]) if "family" in forecast else missing,
        "period": as_text(forecast["period"]), "qty": qty})
    return frame.groupby(["sku", "family", "period"], dropna=False, sort=False)["qty"].sum(
    ).reset_index()


def summarize(parts: list[dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """The location groups' summaries (data_contracts/partitioned.py `quality_summary`) as the
    whole catalogue's: last month of history per SKU x location, the planned SKU x locations
    in the order the whole tables list them, the forecast per sku, family and period."""
    out: dict[str, pd.DataFrame] = {}
    history = [p["history_last"] for p in parts if "history_last" in p]
    if history:
        out["history_last"] = pd.concat(history, ignore_index=True)
    pairs = pd.concat([p["pairs"] for p in parts], ignore_index=True)
    out["pairs"] = (pairs.sort_values(["rank", "line"], kind="stable")
                    .drop_duplicates(["sku", "location"])[["sku", "location"]])
    forecast = [p["forecast_totals"] for p in parts if "forecast_totals" in p]
    if forecast:
        out["forecast_totals"] = (pd.concat(forecast, ignore_index=True)
                                  .groupby(["sku", "family", "period"], dropna=False, sort=False)
                                  ["qty"].sum().reset_index())
    return out


def prepare_summary_suites(
    summary: Mapping[str, pd.DataFrame],
    products: pd.DataFrame | None,
    cycle: str,
    previous: Mapping[str, Any] | None = None,
    settings: QualitySettings | None = None,
) -> list[PreparedSuite]:
    """prepare_suites on a catalogue's `summary` (`summarize`) instead of its tables: the same
    suites with the same verdicts. Freshness checks each SKU x location's last month rather
    than every history row (its minimum, all the suite checks, is the same). `previous`: the
    previous cycle's products and `forecast_totals` (see flows/check_parts.py)."""
    s = settings or QualitySettings()
    checks = suite_checks(s)
    suites: list[PreparedSuite] = []
    history = summary.get("history_last")
    if history is not None:
        suites += _freshness_suites(history, cycle, s, checks)
    if products is not None and len(summary["pairs"]):
        seen = history if history is not None else pd.DataFrame(columns=["sku", "location"])
        suites += _completeness_of(summary["pairs"], products, seen[["sku", "location"]], s,
                                   checks)
    if previous is not None and "forecast_totals" in summary and "forecast_totals" in previous:
        now = {"sales_forecast": summary["forecast_totals"]}
        if products is not None:
            now["products"] = products
        before = {"sales_forecast": previous["forecast_totals"]}
        if "products" in previous:
            before["products"] = previous["products"]
        suites += _drift_suites(now, before, s, checks)
    return suites


def precheck_findings(tables: Mapping[str, pd.DataFrame]) -> list[Finding]:
    """Findings that need no suite: an empty sales_history makes every series a cold start."""
    if "sales_history" in tables and tables["sales_history"].empty:
        return [
            Finding(
                table="sales_history",
                rule="no history",
                severity="warning",
                message="sales_history: no rows; every series is a cold start",
            )
        ]
    return []


def _write_default_suites(folder: Path = SUITES_DIR) -> list[Path]:
    """Rewrite `folder` with the default suites' JSON files (a development command)."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.json"):
        stale.unlink()
    written = []
    for name, suite in expectation_suites().items():
        path = folder / f"{name}.json"
        path.write_text(render_suite(suite), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in _write_default_suites(Path(sys.argv[1]) if len(sys.argv) > 1 else SUITES_DIR):
        print(path)
