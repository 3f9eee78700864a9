"""Generated planning worlds for the reconciliation tests (no files, no network)."""

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from data_contracts.periods import add_months, horizon_periods
from data_contracts.tables import INPUT_COLUMNS, OUTPUT_COLUMNS
from reconciliation.scope import planned_keys


def make_baseline(
    keys: pd.DataFrame, cycle: str, horizon: int, level: dict[tuple[str, str], float],
    rng: np.random.Generator, noise: float = 0.0, cv: float = 0.25,
) -> pd.DataFrame:
    """SPEC baseline_forecast for keys x horizon: level x (1 + noise) with normal intervals."""
    periods = horizon_periods(cycle, horizon)
    rows = []
    for sku, loc in keys[["sku", "location"]].itertuples(index=False):
        lv = level.get((sku, loc), 0.0)
        for p in periods:
            f = max(lv * (1 + noise * rng.standard_normal()), 0.0)
            sd = cv * f
            rows.append([sku, loc, p, "test", f, max(f - 1.2816 * sd, 0), f + 1.2816 * sd,
                         max(f - 1.96 * sd, 0), f + 1.96 * sd, "smooth" if lv > 0 else "new"])
    return pd.DataFrame(rows, columns=OUTPUT_COLUMNS["baseline_forecast"])


def make_world(
    seed: int = 0, n_skus: int = 5, n_locs: int = 2, cycle: str = "2025-01", horizon: int = 6,
    capacity: float = 10.0, lead_max: int = 2, open_orders: bool = True, promos: bool = True,
    overrides: bool = True, family_rows: bool = True, safety_stock: bool = True,
    history_months: int = 24, storage: float | None = None, moq: bool = False,
) -> SimpleNamespace:
    """A small random but valid world: input tables, a baseline and the true levels.

    `capacity` scales every warehouse limit relative to the average monthly demand in pallets:
    10 is ample, ~1 is tight. `moq` gives SKUs minimum order quantities from none to several
    months of demand (drawn from their own stream, so the rest of the world is unchanged).
    """
    rng = np.random.default_rng(seed)
    skus = [f"S{i}" for i in range(n_skus)]
    locs = [f"L{j}" for j in range(n_locs)]
    fams = [f"F{i % 2}" for i in range(n_skus)]
    status = ["active"] * n_skus
    if n_skus >= 4:
        status[-1] = "phase_out"
        status[-2] = "new"
    upp = rng.choice([6.0, 12.0, 24.0, 40.0], n_skus)
    products = pd.DataFrame({
        "sku": skus, "family": fams, "units_per_pallet": upp,
        "lead_time_months": rng.integers(0, lead_max + 1, n_skus),
        "unit_cost": rng.uniform(1, 50, n_skus).round(2), "status": status,
        "safety_stock_units": (rng.uniform(0, 30, n_skus) if safety_stock
                               else np.zeros(n_skus)).round(),
        "min_order_qty": np.nan,
    })
    if moq:
        products["min_order_qty"] = np.random.default_rng(seed + 1).choice(
            [0.0, 7.5, 50.0, 200.0, 600.0, np.nan], n_skus)
    level: dict[tuple[str, str], float] = {}
    hist = []
    start = add_months(cycle, -history_months)
    for i, s in enumerate(skus):
        for loc in locs:
            if status[i] == "new" or rng.random() < 0.15:
                continue
            lv = float(rng.uniform(20, 300))
            level[(s, loc)] = lv
            for k in range(history_months):
                hist.append([s, loc, add_months(start, k), float(rng.poisson(lv))])
    history = pd.DataFrame(hist, columns=INPUT_COLUMNS["sales_history"])
    periods = horizon_periods(cycle, horizon)

    fc = []
    for (s, loc), lv in level.items():
        if status[skus.index(s)] == "phase_out":
            continue
        if rng.random() < 0.7:
            team = rng.choice(["north", "south", None])
            for p in periods:
                fc.append([s, "", loc, p, float(lv * rng.uniform(0.7, 1.5)), team])
    new_skus = [s for s, st in zip(skus, status, strict=True) if st == "new"]
    for s in new_skus:
        for p in periods:
            fc.append([s, "", locs[0], p, 80.0, "north"])
    if family_rows:
        for p in periods[:3]:
            fc.append(["", "F0", locs[-1], p, 200.0, "south"])
    sales_forecast = pd.DataFrame(
        fc, columns=INPUT_COLUMNS["sales_forecast"])
    for c in ("sku", "family"):
        sales_forecast[c] = sales_forecast[c].astype(object).where(sales_forecast[c] != "")

    inv = [[s, loc, float(round(lv * rng.uniform(0, 1.5)))] for (s, loc), lv in level.items()
           if rng.random() < 0.8]
    inventory = pd.DataFrame(inv, columns=INPUT_COLUMNS["inventory"])

    oo = []
    if open_orders:
        for (s, loc), lv in level.items():
            if rng.random() < 0.4:
                oo.append([s, loc, periods[int(rng.integers(0, min(2, horizon)))],
                           float(round(lv * rng.uniform(0.3, 1.0)) + 1)])
    tables: dict[str, pd.DataFrame] = {
        "sales_history": history, "sales_forecast": sales_forecast, "products": products,
        "inventory": inventory,
    }
    if oo:
        tables["open_orders"] = pd.DataFrame(oo, columns=INPUT_COLUMNS["open_orders"])
    keys = planned_keys({**tables, "warehouses": pd.DataFrame()}, cycle, horizon)

    wh = []
    for loc in locs:
        k = keys[keys["location"] == loc]
        pallets = sum(level.get((s, loc), 80.0) / upp[skus.index(s)] for s in k["sku"]) or 5.0
        units = sum(level.get((s, loc), 80.0) for s in k["sku"]) or 50.0
        st = storage if storage is not None else 4 * capacity
        wh.append([loc, np.nan, st * pallets + 50, capacity * pallets, capacity * units,
                   0.2, 15.0])
        wh.append([loc, periods[-1], st * pallets + 50, capacity * pallets * 0.8,
                   capacity * units, 0.1, np.nan])
    tables["warehouses"] = pd.DataFrame(wh, columns=INPUT_COLUMNS["warehouses"])
    if promos and level:
        (s, loc) = next(iter(level))
        tables["promotions"] = pd.DataFrame([
            ["P-past", s, loc, add_months(cycle, -6), add_months(cycle, -5), 30.0],
            ["P1", s, loc, periods[min(1, horizon - 1)], periods[min(2, horizon - 1)], 40.0],
            ["P2", s, loc, periods[min(2, horizon - 1)], periods[min(2, horizon - 1)], 25.0],
        ], columns=INPUT_COLUMNS["promotions"])
    if overrides and level:
        (s, loc) = list(level)[-1]
        tables["overrides"] = pd.DataFrame(
            [[s, loc, periods[-1], 123.0, "key account deal", "S&OP"]],
            columns=INPUT_COLUMNS["overrides"])
    fh = []
    for c_back in range(1, 7):
        pc = add_months(cycle, -c_back)
        for (s, loc), lv in level.items():
            for lag in range(3):
                p = add_months(pc, lag)
                if p >= cycle:
                    continue
                fh.append([pc, s, loc, p, float(lv * rng.uniform(0.9, 1.5)),
                           rng.choice(["north", "south"])])
    tables["forecast_history"] = pd.DataFrame(
        fh, columns=INPUT_COLUMNS["forecast_history"])
    baseline = make_baseline(keys, cycle, horizon, level, rng, noise=0.1)
    return SimpleNamespace(tables=tables, baseline=baseline, cycle=cycle, horizon=horizon,
                           level=level, keys=keys)


@pytest.fixture(scope="session")
def world() -> Callable[..., Any]:
    """Factory of generated worlds: `world(seed=..., capacity=...)`."""
    return make_world


@pytest.fixture(scope="session")
def baseline_for() -> Callable[..., pd.DataFrame]:
    return make_baseline


# ---------------------------------------------------------------- what-if world (issue 9)
# A small, fully controlled world: sales numbers equal the baseline. W1 has ample capacity.
# W2 receives exactly its regular inbound capacity (20 pallets) every month, has 20%
# overtime at 10 per pallet and little storage: extra load there needs overtime, then cuts.

WHATIF_CYCLE = "2025-01"
WHATIF_HORIZON = 6
WHATIF_PERIODS = horizon_periods(WHATIF_CYCLE, WHATIF_HORIZON)
WHATIF_LEVEL = {("A", "W1"): 100.0, ("B", "W1"): 50.0, ("A", "W2"): 100.0,
                ("B", "W2"): 50.0, ("C", "W2"): 100.0}
WHATIF_TEAM = {"A": "team-a", "B": "team-a", "C": "team-b"}


def make_whatif_world(w2_storage: float = 5.0) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    products = pd.DataFrame({
        "sku": ["A", "B", "C"], "family": ["F1", "F1", "F2"],
        "units_per_pallet": [10.0, 10.0, 20.0], "lead_time_months": [0, 0, 1],
        "unit_cost": [2.0, 5.0, 3.0], "status": "active",
    })
    history = pd.DataFrame([
        [s, loc, p, lv] for (s, loc), lv in WHATIF_LEVEL.items()
        for p in horizon_periods("2024-01", 12)
    ], columns=INPUT_COLUMNS["sales_history"])
    sales = pd.DataFrame([
        [s, np.nan, loc, p, lv, WHATIF_TEAM[s]]
        for (s, loc), lv in WHATIF_LEVEL.items() for p in WHATIF_PERIODS
    ], columns=INPUT_COLUMNS["sales_forecast"])
    # C arrives one month after the order: its first month is already on order.
    inventory = pd.DataFrame({"sku": ["C"], "location": ["W2"], "on_hand": [0.0]})
    open_orders = pd.DataFrame({"sku": ["C"], "location": ["W2"], "period": [WHATIF_CYCLE],
                                "qty": [100.0]})
    warehouses = pd.DataFrame({
        "location": ["W1", "W2"], "period": [np.nan, np.nan],
        "storage_pallets": [1e4, w2_storage], "inbound_pallets": [1e4, 20.0],
        "outbound_units": [1e6, 1e6], "overtime_pct": [0.2, 0.2],
        "overtime_cost_per_pallet": [10.0, 10.0],
    })
    baseline = pd.DataFrame([
        [s, loc, p, "test", lv, lv * 0.8, lv * 1.2, lv * 0.7, lv * 1.3, "smooth"]
        for (s, loc), lv in WHATIF_LEVEL.items() for p in WHATIF_PERIODS
    ], columns=OUTPUT_COLUMNS["baseline_forecast"])
    tables = {"sales_history": history, "sales_forecast": sales, "products": products,
              "inventory": inventory, "open_orders": open_orders, "warehouses": warehouses}
    return tables, baseline


@pytest.fixture
def whatif_world() -> Callable[..., tuple[dict[str, pd.DataFrame], pd.DataFrame]]:
    return make_whatif_world
