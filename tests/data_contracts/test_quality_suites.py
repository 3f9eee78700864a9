"""The quality suites as data: committed GX suite files, severities, describers; no GX import."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from data_contracts import QualitySettings, validate_inputs
from data_contracts.quality import (
    SUITE_DESCRIPTIONS,
    SUITES_DIR,
    expectation_suites,
    prepare_suites,
    render_suite,
    suite_checks,
)
from tests.data_contracts.conftest import CYCLE

REGENERATE = "regenerate with: python -m data_contracts.quality"


def test_committed_suite_files_are_what_the_code_builds() -> None:
    suites = expectation_suites()
    assert sorted(p.stem for p in SUITES_DIR.glob("*.json")) == sorted(suites), REGENERATE
    for name, suite in suites.items():
        assert (SUITES_DIR / f"{name}.json").read_text() == render_suite(suite), REGENERATE


def test_every_suite_is_described_and_its_rules_are_unique() -> None:
    checks = suite_checks()
    assert set(checks) == set(SUITE_DESCRIPTIONS)
    for name, suite in checks.items():
        rules = [c.rule for c in suite]
        assert len(rules) == len(set(rules)), name


@pytest.mark.parametrize(
    ("settings", "suite", "severities"),
    [
        (QualitySettings(), "freshness", ["warning", "critical"]),
        (QualitySettings(freshness_severity="error"), "freshness", ["critical", "critical"]),
        (QualitySettings(stale_error_months=None), "freshness", ["warning"]),
        (QualitySettings(drift_severity="info"), "forecast_drift_family", ["info"]),
        (QualitySettings(baseline_severity="error"), "forecast_vs_baseline",
         ["critical", "critical"]),
    ],
)
def test_severities_are_gx_severities(
    settings: QualitySettings, suite: str, severities: list[str]
) -> None:
    expectations = expectation_suites(settings)[suite]["expectations"]
    assert [e["severity"] for e in expectations] == severities


def test_thresholds_come_from_the_settings() -> None:
    settings = QualitySettings(max_total_increase_pct=10, completeness_min_share=0.5,
                               stale_error_months=4)
    suites = expectation_suites(settings)
    assert suites["forecast_drift_total"]["expectations"][0]["kwargs"]["max_value"] == 10
    assert suites["completeness"]["expectations"][0]["kwargs"]["mostly"] == 0.5
    assert suites["freshness"]["expectations"][1]["kwargs"]["max_value"] == 3


def test_prepared_suites_describe_every_check(world: dict[str, pd.DataFrame]) -> None:
    tables = validate_inputs(world, CYCLE).tables
    forecast = tables["sales_forecast"].dropna(subset=["sku"])
    baseline = forecast[["sku", "location", "period"]].assign(lo_95=1.0, hi_95=2.0)
    suites = prepare_suites(tables, CYCLE, previous=world, baseline=baseline)
    assert [s.name for s in suites] == list(SUITE_DESCRIPTIONS)
    for suite in suites:
        assert set(suite.describe) == {c.rule for c in suite.checks}, suite.name
        columns = {
            v for c in suite.checks for k, v in c.kwargs.items() if k.startswith("column")
        }
        assert columns <= set(suite.frame.columns), suite.name
    far = next(s for s in suites if s.name == "forecast_vs_baseline")
    finding = far.finding("not far above the baseline",
                          {"unexpected_count": 1, "unexpected_index_list": [0]})
    assert finding.table == "sales_forecast" and finding.count == 1
    assert finding.sample[0]["hi_95"] == 2.0


def test_building_suites_imports_neither_gx_nor_prefect() -> None:
    code = (
        "import sys\n"
        "from data_contracts.quality import expectation_suites, prepare_suites\n"
        "from tests.data_contracts.conftest import make_world, CYCLE\n"
        "from data_contracts import validate_inputs\n"
        "tables = validate_inputs(make_world(), CYCLE).tables\n"
        "assert prepare_suites(tables, CYCLE) and expectation_suites()\n"
        "print(sorted(m for m in ('great_expectations', 'prefect') if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                          text=True, check=True, timeout=120)
    assert json.loads(done.stdout.strip().replace("'", '"')) == []
