"""Synthetic published tables for report tests, built here (not with other packages' code)."""

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

EVIL_SKU = '<script>alert("pwned")</script>'
CYCLE = "2026-12"


def _months(start: str, n: int) -> list[str]:
    y, m = int(start[:4]), int(start[5:7])
    out = []
    for i in range(n):
        k = y * 12 + m - 1 + i
        out.append(f"{k // 12:04d}-{k % 12 + 1:02d}")
    return out


def make_report_inputs(n_skus: int, horizon: int = 18, seed: int = 0) -> dict[str, Any]:
    """Keyword arguments for render_report: plan, baseline, capacity, exceptions, history, ..."""
    rng = np.random.default_rng(seed)
    locations = ["DC-NORTH", "DC-SOUTH", "DC-EAST"]
    families = ["BEVERAGES", "SNACKS", "DAIRY", "FROZEN", "HOUSEHOLD", "PERSONAL_CARE"]
    skus = np.array([f"SKU-{i:05d}" for i in range(1, n_skus + 1)], dtype=object)
    skus[0] = EVIL_SKU  # user data that must come out escaped
    periods = np.array(_months(CYCLE, horizon), dtype=object)
    hist_periods = np.array(_months("2022-12", 48), dtype=object)

    # Each SKU at two locations.
    s_sku = np.repeat(np.arange(n_skus), 2)
    s_loc = (np.tile([0, 1], n_skus) + np.repeat(rng.integers(0, 3, n_skus), 2)) % 3
    n_series = s_sku.size
    level = np.exp(rng.normal(4.5, 1.0, n_series))
    level[:2] *= 50  # the evil SKU is big, so it gets a chart
    season = 1 + 0.3 * np.sin(np.arange(horizon) / 12 * 2 * np.pi)
    base = level[:, None] * season[None, :]
    has_sales = rng.random(n_series) < 0.8
    has_sales[:2] = True
    sales = np.where(has_sales[:, None], base * 1.3, 0.0)
    consensus = np.where(has_sales[:, None], base * 1.1, base)
    constrained = consensus.copy()
    squeezed = (s_loc == 2)[:, None] & (np.arange(horizon) >= 7)[None, :] & (np.arange(horizon) < 9)
    constrained = np.where(squeezed, consensus * 0.9, consensus)
    s_idx, m_idx = np.indices(base.shape)
    s_idx, m_idx = s_idx.ravel(), m_idx.ravel()
    sku_col, loc_col = skus[s_sku[s_idx]], np.array(locations, dtype=object)[s_loc[s_idx]]
    plan = pd.DataFrame(
        {
            "cycle": CYCLE,
            "plan_version": 3,
            "sku": sku_col,
            "location": loc_col,
            "period": periods[m_idx],
            "sales_forecast": sales.ravel(),
            "baseline_forecast": base.ravel(),
            "consensus_demand": consensus.ravel(),
            "constrained_demand": constrained.ravel(),
            "shortfall": (consensus - constrained).ravel(),
            "planned_receipts": constrained.ravel(),
            "order_release_period": periods[np.maximum(m_idx - 1, 0)],
            "projected_on_hand": base.ravel() * 0.5,
            "reason": np.where(sales.ravel() > 0, "SALES_SHRUNK", "BASELINE"),
        }
    )
    baseline = pd.DataFrame(
        {
            "sku": sku_col,
            "location": loc_col,
            "period": periods[m_idx],
            "model": "AutoETS",
            "forecast": base.ravel(),
            "lo_80": base.ravel() * 0.8,
            "hi_80": base.ravel() * 1.2,
            "lo_95": base.ravel() * 0.65,
            "hi_95": base.ravel() * 1.35,
            "demand_class": "smooth",
        }
    )
    h_s, h_m = np.indices((n_series, hist_periods.size))
    h_s, h_m = h_s.ravel(), h_m.ravel()
    history = pd.DataFrame(
        {
            "sku": skus[s_sku[h_s]],
            "location": np.array(locations, dtype=object)[s_loc[h_s]],
            "period": hist_periods[h_m],
            "qty": np.round(level[h_s] * rng.uniform(0.7, 1.3, h_s.size)),
        }
    )
    cap_rows = []
    for li, loc in enumerate(locations):
        for mi, p in enumerate(periods):
            inbound_util = 0.7 + 0.05 * li + (0.5 if li == 2 and 7 <= mi < 9 else 0.0)
            status = (
                "short"
                if li == 2 and 7 <= mi < 9
                else ("overtime" if li == 1 and mi == 5 else "ok")
            )
            if status == "overtime":
                inbound_util = 1.1
            cap_rows.append(
                {
                    "location": loc,
                    "period": p,
                    "inbound_pallets": 100 * inbound_util,
                    "inbound_capacity_pallets": 100.0,
                    "storage_pallets": 300 + 10 * mi,
                    "storage_capacity_pallets": 500.0,
                    "outbound_units": 9000.0,
                    "outbound_capacity_units": 10000.0,
                    "overtime_pallets": 10.0 if status != "ok" else 0.0,
                    "overtime_units": 0.0,
                    "overtime_cost": 30.0 if status != "ok" else 0.0,
                    "status": status,
                }
            )
    capacity = pd.DataFrame(cap_rows)
    n_exc = max(10, n_series // 4)
    sev = rng.choice(["error", "warning", "info"], size=n_exc, p=[0.1, 0.3, 0.6])
    types = rng.choice(
        ["CAPACITY_SHORTFALL", "SALES_BIAS", "NEW_ITEM", "STOCKOUT_RISK"], size=n_exc
    )
    exc_s = rng.integers(0, n_series, n_exc)
    exceptions = pd.DataFrame(
        {
            "sku": skus[s_sku[exc_s]],
            "location": np.array(locations, dtype=object)[s_loc[exc_s]],
            "period": periods[rng.integers(0, horizon, n_exc)],
            "type": types,
            "severity": sev,
            "message": [f"message {i} for <b>{t}</b>" for i, t in enumerate(types)],
        }
    )
    exceptions.loc[0, ["sku", "severity", "message"]] = [EVIL_SKU, "error", f"{EVIL_SKU} is short"]
    products = pd.DataFrame(
        {
            "sku": skus,
            "family": np.array(families, dtype=object)[np.arange(n_skus) % len(families)],
            "units_per_pallet": 48.0,
            "lead_time_months": 1,
            "unit_cost": 2.5,
            "status": "active",
        }
    )
    n_promo = max(3, n_skus // 10)
    promo_s = rng.integers(0, n_series, n_promo)
    start = rng.integers(0, horizon - 2, n_promo)
    promotions = pd.DataFrame(
        {
            "promo_id": [f"PR-{i:05d}" for i in range(n_promo)],
            "sku": skus[s_sku[promo_s]],
            "location": np.array(locations, dtype=object)[s_loc[promo_s]],
            "start_period": periods[start],
            "end_period": periods[start + 1],
            "uplift_pct": 30.0,
        }
    )
    # The plan's sums per family x location x period, as reconciliation publishes them.
    family_plan = (
        plan.assign(family=plan["sku"].map(dict(zip(products["sku"], products["family"],
                                                    strict=True))))
        .groupby(["family", "location", "period"], as_index=False)[
            ["sales_forecast", "baseline_forecast", "consensus_demand", "constrained_demand",
             "shortfall", "planned_receipts"]
        ]
        .sum()
    )
    # One row per promotion x month: baseline x uplift %, 48 units a pallet.
    promo_months = pd.concat(
        [promotions.assign(period=periods[start]), promotions.assign(period=periods[start + 1])]
    )
    promotion_load = promo_months.merge(
        plan[["sku", "location", "period", "baseline_forecast"]], on=["sku", "location", "period"]
    )
    promotion_load["extra_units"] = (
        promotion_load.pop("baseline_forecast") * promotion_load["uplift_pct"] / 100
    )
    promotion_load["extra_pallets"] = promotion_load["extra_units"] / 48.0
    trust = pd.DataFrame(
        {
            "submitted_by": ["team-north", "team-north", "team-south", "team-south"],
            "direction": ["up", "down", "up", "down"],
            "weight": [0.9, 0.8, 0.3, 0.7],
            "n_obs": [120, 80, 150, 40],
            "bias": [0.02, -0.01, 0.31, 0.05],
            "wape": [0.18, 0.2, 0.41, 0.25],
        }
    )
    movement = make_movement_inputs(
        plan.assign(family=plan["sku"].map(dict(zip(products["sku"], products["family"],
                                                    strict=True)))))
    return {
        **movement,
        "cycle": CYCLE,
        "version": 3,
        "consensus_plan": plan,
        "baseline_forecast": baseline,
        "capacity_report": capacity,
        "exceptions": exceptions,
        "history": history,
        "family_plan": family_plan,
        "promotion_load": promotion_load.sort_values(["promo_id", "period"], ignore_index=True),
        "trust": trust,
        "contract_summary": {
            "passed": True,
            "warnings": 2,
            "tables": {"sales_history": 1234, "products": n_skus},
            "findings": [
                {
                    "table": "sales_history",
                    "rule": "volume_drift",
                    "severity": "warning",
                    "count": 3,
                }
            ],
        },
        "data_docs_href": "data_docs/index.html",
    }


def make_movement_inputs(plan: pd.DataFrame) -> dict[str, Any]:
    """plan_waterfall, plan_stability and sales_bias for the report, from the core functions
    on this plan and made-up earlier cycles (last cycle's baseline 5% lower, and so on)."""
    from reconciliation.stability import compute_stability
    from reconciliation.waterfall import compute_waterfall

    previous = plan.assign(baseline_forecast=plan["baseline_forecast"] * 0.95,
                           consensus_demand=plan["consensus_demand"] * 0.93,
                           constrained_demand=plan["constrained_demand"] * 0.93)
    waterfall = compute_waterfall(plan, previous, "2026-11", 2)
    cycles = []
    for back, factor in ((3, 1.0), (2, 1.08), (1, 0.97)):
        cycles.append(plan.assign(cycle=f"2026-{12 - back:02d}", plan_version=1,
                                  consensus_demand=plan["consensus_demand"] * factor))
    stability = compute_stability(pd.concat([*cycles, plan], ignore_index=True))
    teams = ["team-north", "team-south"]
    months = ["2026-08", "2026-09", "2026-10", "2026-11", "2026-12"]
    bias = pd.DataFrame({
        "submitted_by": np.repeat(teams, len(months)),
        "submission_cycle": months * len(teams),
        "n_obs": [40, 42, 44, 41, 0] * len(teams),
        "sales_units": [1200.0, 1300, 1250, 1280, np.nan, 1000, 1010, 990, 1005, np.nan],
        "actual_units": [1000.0, 1020, 1010, 1030, np.nan, 1000, 1000, 1000, 1000, np.nan],
        "sales_bias": [0.2, 0.27, 0.24, 0.24, np.nan, 0.0, 0.01, -0.01, 0.005, np.nan],
        "consensus_bias": [0.08, 0.1, 0.09, 0.07, np.nan, 0.0, 0.0, -0.005, 0.0, np.nan],
        "sales_weight": [0.6, 0.5, 0.42, 0.35, 0.3, 0.8, 0.82, 0.85, 0.86, 0.88],
    })
    return {"waterfall": waterfall, "stability": stability, "sales_bias": bias}


@pytest.fixture
def report_inputs() -> Callable[..., dict[str, Any]]:
    return make_report_inputs


@pytest.fixture(scope="session")
def small_inputs() -> dict[str, Any]:
    return make_report_inputs(200)


REPO = Path(__file__).resolve().parents[2]
DEMO_SCENARIO = REPO / "examples" / "scenario-promo.yaml"


@dataclass(frozen=True)
class DemoRun:
    """`sop demo` with its defaults, then the README's what-if on it: what `make demo` shows."""

    out: Path
    version: Path  # the published version folder
    scenario: Path  # the stored what-if folder
    demo_stdout: str
    whatif_stdout: str


def _sop(*args: str) -> str:
    sop = Path(sys.executable).with_name("sop")
    result = subprocess.run(
        [str(sop), *args], capture_output=True, text=True, timeout=900, cwd=REPO,
        env={**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "COLUMNS": "200"},
    )
    assert result.returncode == 0, (args, result.stderr[-3000:])
    return result.stdout


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """One real demo run per session (about a minute), shared by the browser and README tests."""
    out = tmp_path_factory.mktemp("demo") / "sop-demo"
    demo_stdout = _sop("demo", "--out", str(out))
    # Two cycles, the month before the demo's cycle first: the pack to read is the later one.
    _earlier, version = sorted(out.glob("cycle=*/version=1"))
    cycle = version.parent.name.removeprefix("cycle=")
    whatif_stdout = _sop("whatif", "--base", cycle, "--scenario", str(DEMO_SCENARIO),
                         "--out", str(out))
    (scenario,) = out.glob(f"scenarios/cycle={cycle}/*")
    return DemoRun(out, version, scenario, demo_stdout, whatif_stdout)
