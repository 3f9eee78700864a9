"""Quality suites (great-expectations): freshness, completeness, drift, baseline; Data Docs."""

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from data_contracts import ContractBreach, QualitySettings, validate_inputs
from data_contracts.periods import add_months
from flows.quality_run import run_quality_suites

CYCLE = "2025-06"
World = dict[str, pd.DataFrame]


def checked(world: World) -> World:
    return validate_inputs(world, CYCLE).tables


def drop_history_after(world: World, last: str, location: str | None = None) -> None:
    h = world["sales_history"]
    late = h["period"] > last
    if location:
        late &= h["location"] == location
    world["sales_history"] = h[~late]


def test_valid_world_has_no_findings_and_writes_data_docs(world: World, tmp_path: Path) -> None:
    result = run_quality_suites(checked(world), CYCLE, tmp_path / "docs")
    assert result.findings == []
    assert result.data_docs_index == tmp_path / "docs" / "index.html"
    assert result.data_docs_index.exists()
    assert set(result.suites) == {"freshness", "freshness_by_location", "completeness"}
    assert all(result.suites.values())
    assert (tmp_path / "docs" / "validations" / "completeness").is_dir()


def test_history_short_of_the_cycle_warns(world: World, tmp_path: Path) -> None:
    drop_history_after(world, add_months(CYCLE, -3))
    result = run_quality_suites(checked(world), CYCLE, tmp_path)
    rules = {f.rule: f for f in result.findings}
    fresh = rules["history reaches the cycle"]
    assert fresh.severity == "warning" and fresh.table == "sales_history"
    assert "history ends 2025-03, expected up to 2025-05" in fresh.message
    assert "every location reaches the cycle" in rules
    assert result.data_docs_index is not None and result.data_docs_index.exists()


def test_stale_history_stops_the_run(world: World, tmp_path: Path) -> None:
    drop_history_after(world, add_months(CYCLE, -7))
    with pytest.raises(ContractBreach, match=r"sales_history\.period: .*looks stale") as info:
        run_quality_suites(checked(world), CYCLE, tmp_path)
    assert "Data Docs: " in str(info.value)
    assert (tmp_path / "index.html").exists()


def test_a_lagging_location_is_named(world: World, tmp_path: Path) -> None:
    drop_history_after(world, add_months(CYCLE, -4), location="DC-S")
    result = run_quality_suites(checked(world), CYCLE, tmp_path)
    (finding,) = [f for f in result.findings if f.column == "location"]
    assert "DC-S (last 2025-02)" in finding.message and finding.count == 1


def test_active_items_without_history_warn(world: World, tmp_path: Path, as_read: Callable) -> None:
    products = world["products"]
    extra = products.iloc[[0]].assign(sku="C1")
    extra.index = pd.Index([99], name="source_line")
    world["products"] = pd.concat([products, extra])
    inv = as_read([{"sku": "C1", "location": loc, "on_hand": 5} for loc in ("DC-N", "DC-S")])
    world["inventory"] = pd.concat([world["inventory"], inv.set_axis(pd.Index([50, 51]))])
    result = run_quality_suites(checked(world), CYCLE, tmp_path)
    (finding,) = [f for f in result.findings if f.rule == "active items have history"]
    assert finding.count == 2 and "75.0% of active SKU" in finding.message
    assert {r["sku"] for r in finding.sample} == {"C1"}


def test_forecast_drift_against_previous_cycle(world: World, tmp_path: Path) -> None:
    previous = {k: v.copy() for k, v in world.items()}
    prev_fc = previous["sales_forecast"]
    f1 = prev_fc["family"].eq("F1")
    prev_fc.loc[f1, "qty"] = "0"  # F1 was A1 alone (144); now +30/month as a family row
    result = run_quality_suites(checked(world), CYCLE, tmp_path, previous=previous)
    rules = {f.rule: f for f in result.findings}
    assert "total forecast drift" in rules
    assert "is up" in rules["total forecast drift"].message
    family = rules["family forecast drift"]
    assert family.severity == "warning" and family.count == 1
    assert family.sample[0]["family"] == "F1"
    assert "forecast_drift_family" in result.suites


def test_no_drift_when_previous_is_the_same(world: World, tmp_path: Path) -> None:
    previous = {k: v.copy() for k, v in world.items()}
    result = run_quality_suites(checked(world), CYCLE, tmp_path, previous=previous)
    assert result.findings == []


def test_sales_far_outside_the_baseline_warns(world: World, tmp_path: Path) -> None:
    tables = checked(world)
    rows = tables["sales_forecast"].dropna(subset=["sku"])[["sku", "location", "period"]]
    baseline = rows.assign(forecast=11.0, lo_80=9.0, hi_80=13.0, lo_95=8.0, hi_95=14.0)
    baseline.loc[baseline.index[0], ["forecast", "lo_80", "hi_80", "lo_95", "hi_95"]] = [
        3.0,
        2.0,
        4.0,
        1.0,
        5.0,
    ]
    baseline.loc[baseline.index[1], ["forecast", "lo_80", "hi_80", "lo_95", "hi_95"]] = [
        90.0,
        70.0,
        110.0,
        60.0,
        120.0,
    ]
    result = run_quality_suites(
        tables,
        CYCLE,
        tmp_path,
        baseline=baseline,
        settings=QualitySettings(baseline_far_factor=2.0),
    )
    rules = {f.rule: f for f in result.findings}
    assert rules["not far above the baseline"].count == 1
    assert "12 vs 95% range 1..5" in rules["not far above the baseline"].message
    assert rules["not far below the baseline"].count == 1


def test_severity_is_configurable(world: World, tmp_path: Path) -> None:
    drop_history_after(world, add_months(CYCLE, -3))
    settings = QualitySettings(freshness_severity="error")
    with pytest.raises(ContractBreach, match="Data quality contract breached"):
        run_quality_suites(checked(world), CYCLE, tmp_path, settings=settings)
