"""Consensus accuracy on generated worlds where the truth is known.

An unbiased team and an optimistic team (+30%) submit numbers that carry real information about
the month (noisy views of the actual); the baseline is a noisy view of the underlying level. The
trust weights are learnt from 12 past cycles of submissions. The consensus must beat both the
sales numbers and the baseline by 5% WAPE.
"""

import numpy as np
import pandas as pd
import pytest

from data_contracts.periods import add_months, horizon_periods
from reconciliation import PlanSettings, build_plan


def wape(forecast: np.ndarray, actual: np.ndarray) -> float:
    return float(np.abs(forecast - actual).sum() / actual.sum())


def truth_world(
    seed: int, n_keys: int = 80, horizon: int = 6, history: int = 36, past_cycles: int = 12,
    bias: float = 0.3, sales_noise: float = 0.2, baseline_noise: float = 0.2,
    demand_noise: float = 0.25, seasonal: bool = True, informed: bool = True,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame, str]:
    """Tables, baseline and the horizon's actuals (sku, location, period, actual)."""
    rng = np.random.default_rng(seed)
    cycle = "2025-01"
    start = add_months(cycle, -history)
    months = [add_months(start, k) for k in range(history + horizon)]
    skus = [f"S{i:03d}" for i in range(n_keys)]
    level = rng.uniform(50, 500, n_keys)
    amp = rng.uniform(0.0, 0.4, n_keys) if seasonal else np.zeros(n_keys)
    phase = rng.uniform(0, 2 * np.pi, n_keys)
    moy = np.array([int(m[5:7]) - 1 for m in months])
    mean = level[:, None] * (1 + amp[:, None] * np.sin(2 * np.pi * moy[None, :] / 12
                                                       + phase[:, None]))
    actual = mean * rng.lognormal(-demand_noise ** 2 / 2, demand_noise, mean.shape)
    team = np.where(np.arange(n_keys) % 2 == 0, "unbiased", "optimistic")
    factor = np.where(team == "optimistic", 1 + bias, 1.0)[:, None]

    def submission(cols: np.ndarray) -> np.ndarray:
        seen = actual if informed else mean  # informed teams know something about the month
        return seen[:, cols] * factor * rng.lognormal(-sales_noise ** 2 / 2, sales_noise,
                                                        (n_keys, len(cols)))

    hist = pd.DataFrame({
        "sku": np.repeat(skus, history), "location": "L0",
        "period": np.tile(months[:history], n_keys), "qty": actual[:, :history].ravel().round(),
    })
    fh = []
    for c in range(history - past_cycles, history):
        cols = np.arange(c, min(c + 3, history))
        sub = submission(cols)
        for j, col in enumerate(cols):
            fh.append(pd.DataFrame({"cycle": months[c], "sku": skus, "location": "L0",
                                    "period": months[col], "qty": sub[:, j],
                                    "submitted_by": team}))
    h_cols = np.arange(history, history + horizon)
    periods = horizon_periods(cycle, horizon)
    sales = submission(h_cols)
    sf = pd.DataFrame({"sku": np.repeat(skus, horizon), "family": np.nan, "location": "L0",
                       "period": np.tile(periods, n_keys), "qty": sales.ravel(),
                       "submitted_by": np.repeat(team, horizon)})
    base = mean[:, h_cols] * rng.lognormal(-baseline_noise ** 2 / 2, baseline_noise,
                                           (n_keys, horizon))
    b = base.ravel()
    baseline = pd.DataFrame({
        "sku": np.repeat(skus, horizon), "location": "L0", "period": np.tile(periods, n_keys),
        "model": "test", "forecast": b, "lo_80": b * 0.6, "hi_80": b * 1.4, "lo_95": b * 0.4,
        "hi_95": b * 1.6, "demand_class": "smooth",
    })
    tables = {
        "sales_history": hist, "sales_forecast": sf,
        "products": pd.DataFrame({"sku": skus, "family": "F", "units_per_pallet": 10.0,
                                  "lead_time_months": 0, "unit_cost": 1.0}),
        "warehouses": pd.DataFrame({"location": ["L0"], "period": [np.nan],
                                    "storage_pallets": [1e9], "inbound_pallets": [1e9],
                                    "outbound_units": [1e12], "overtime_pct": [0.0]}),
        "inventory": pd.DataFrame({"sku": skus, "location": "L0", "on_hand": 0.0}),
    }
    if fh:
        tables["forecast_history"] = pd.concat(fh, ignore_index=True)
    truth = pd.DataFrame({"sku": np.repeat(skus, horizon), "location": "L0",
                          "period": np.tile(periods, n_keys),
                          "actual": actual[:, h_cols].ravel()})
    return tables, baseline, truth, cycle


def accuracy(seed: int, **kw: float | bool) -> dict[str, float]:
    tables, baseline, truth, cycle = truth_world(seed, **kw)  # type: ignore[arg-type]
    res = build_plan(tables, baseline, cycle, 6, PlanSettings())
    m = res.consensus_plan.merge(truth, on=["sku", "location", "period"])
    a = m["actual"].to_numpy()
    return {
        "sales": wape(m["sales_forecast"].to_numpy(), a),
        "baseline": wape(m["baseline_forecast"].to_numpy(), a),
        "consensus": wape(m["consensus_demand"].to_numpy(), a),
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_consensus_beats_sales_and_baseline(seed: int) -> None:
    acc = accuracy(seed)
    assert acc["consensus"] <= 0.95 * min(acc["sales"], acc["baseline"]), acc


def test_trust_learns_the_optimistic_bias() -> None:
    tables, baseline, _, cycle = truth_world(4)
    trust = build_plan(tables, baseline, cycle, 6).trust.set_index(["submitted_by", "direction"])
    assert trust.loc[("optimistic", "up"), "weight"] < trust.loc[("unbiased", "up"), "weight"]
    assert trust.loc[("optimistic", "up"), "bias"] > 0.15
    assert abs(trust.loc[("unbiased", "up"), "bias"]) < trust.loc[("optimistic", "up"), "bias"]
    assert trust["weight"].between(0, 1).all()
