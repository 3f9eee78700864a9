"""Computed safety stock against the truth: does it reach the service level it aims at?

Reproduce: .venv/bin/python -m benchmarks.safety_stock [--seeds 11 12 13 14] [--skus 120]
[--locations 2] [--levels 0.90 0.95 0.98] [--write]
Calibration (pick `safety_stock_prior_windows` on other seeds than the ones reported):
.venv/bin/python -m benchmarks.safety_stock --seeds 1 2 3 --prior 0 3 6

Per seeded `sample_data` world: products.safety_stock_units emptied, min_order_qty emptied
(lot sizing would add stock the safety stock is not responsible for), warehouse capacity x 100
(capacity does not confound), fit_baselines once, then build_plan per service level on two
demand plans: `baseline` (sales forecast, overrides and booked orders left out: the plan is
the promo-adjusted baseline the error was measured on) and `consensus` (the world's full
inputs). The plan is then played against the truth: receipts and open orders as planned,
demand = truth, unmet demand back-ordered.

Two measures, one outcome per SKU-location with a computed safety stock and world. L + 1
months is the protection interval: an order released at the cycle lands in month cycle + L,
the next one can land a month later, so the event the safety stock is sized for is "stock at
the end of month cycle + L is >= 0 against the truth".
* `sized`: cumulative truth over months cycle .. cycle + L no more than cumulative consensus
  demand plus the safety stock: the stock the plan would have at cycle + L if the order
  landing then is sized to leave exactly the safety stock (the plan's own rule), whatever the
  opening stock. This is what the formula promises, and the target it is judged against.
* `plan`: the plan's own stock at the end of cycle + L against the truth (on hand + open
  orders + planned receipts - cumulative truth >= 0). Above `sized` wherever opening stock or
  open orders already cover more than lead time + 1 month.
Counting only SKU-locations whose plan receives at cycle + L would select on the error: in
`sample_data` opening stock follows the true demand level, so the series whose forecast runs
low (truth above it) are the ones that need no receipt yet.
"""

import argparse
import time
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.capacity import as_read
from benchmarks.doc import machine, update_section
from data_contracts import validate_inputs
from data_contracts.periods import horizon_periods
from forecasting import fit_baselines
from reconciliation import PlanSettings, build_plan, planned_keys

CYCLE = "2026-12"
HORIZON = 18
LEFT_OUT_FOR_BASELINE = ("sales_forecast", "overrides", "customer_orders", "forecast_history")


def world_tables(seed: int, skus: int, locations: int) -> tuple[dict[str, pd.DataFrame],
                                                                 pd.DataFrame]:
    from sample_data import generate_world

    world = generate_world(n_skus=skus, n_locations=locations, cycle=CYCLE, horizon=HORIZON,
                           seed=seed)
    raw = {name: as_read(df, name) for name, df in world.tables.items()}
    tables = dict(validate_inputs(raw, CYCLE).tables)
    products = tables["products"].copy()
    products["safety_stock_units"] = np.nan
    products["min_order_qty"] = np.nan
    tables["products"] = products
    wh = tables["warehouses"].copy()
    for col in ("inbound_pallets", "outbound_units", "storage_pallets"):
        wh[col] = wh[col].astype(float) * 100
    tables["warehouses"] = wh
    return tables, world.truth


def outcomes(plan: pd.DataFrame, safety: pd.DataFrame, truth: pd.DataFrame,
             tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per planned SKU-location: whether its safety stock was computed, and the `sized` and
    `plan` outcomes at the end of cycle + lead time (see the module docstring)."""
    periods = horizon_periods(CYCLE, HORIZON)
    T = len(periods)
    p = plan.sort_values(["sku", "location", "period"])
    keys = p[["sku", "location"]].iloc[::T].reset_index(drop=True)
    index = pd.MultiIndex.from_frame(keys)
    receipts = p["planned_receipts"].to_numpy(float).reshape(-1, T)
    opens = p["open_orders"].to_numpy(float).reshape(-1, T)
    demand = p["consensus_demand"].to_numpy(float).reshape(-1, T)
    t = truth.pivot_table(index=["sku", "location"], columns="period", values="qty",
                          aggfunc="sum").reindex(index=index, columns=periods).fillna(0.0
                                                                                      ).to_numpy()
    inv = tables["inventory"].groupby(["sku", "location"])["on_hand"].sum()
    start = inv.reindex(index).fillna(0.0).to_numpy(float)
    stock = start[:, None] + np.cumsum(receipts + opens - t, axis=1)
    miss = np.cumsum(t - demand, axis=1)
    ss = keys.merge(safety, on=["sku", "location"], how="left")
    units = ss["safety_stock_units"].to_numpy(float)
    rows = np.arange(len(keys))
    at = np.minimum(ss["lead_time_months"].to_numpy(int), T - 1)
    return pd.DataFrame({
        "sku": keys["sku"], "location": keys["location"],
        "computed": (ss["source"] == "computed").to_numpy() & (units > 0),
        "sized": miss[rows, at] <= units + 1e-6,
        "plan": stock[rows, at] >= -1e-6,
        "method": ss["error_method"].to_numpy(),
    })


def run(seeds: list[int], skus: int, locations: int, levels: list[float],
        priors: list[float]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for seed in seeds:
        tables, truth = world_tables(seed, skus, locations)
        keys = planned_keys(tables, CYCLE, HORIZON)
        start = time.perf_counter()
        fitted = fit_baselines(tables["sales_history"], HORIZON, cycle=CYCLE,
                               promotions=tables.get("promotions"), keys=keys,
                               products=tables["products"], n_jobs=1)
        fit_s = time.perf_counter() - start
        plans = {"baseline": {k: v for k, v in tables.items()
                              if k not in LEFT_OUT_FOR_BASELINE},
                 "consensus": tables}
        for prior in priors:
            for level in levels:
                settings = PlanSettings(service_level=level, safety_stock_prior_windows=prior)
                for name, tabs in plans.items():
                    if name == "consensus" and len(priors) > 1:
                        continue  # calibration looks at the plan the error was measured on
                    res = build_plan(tabs, fitted.forecast, CYCLE, HORIZON, settings,
                                     forecast_error=fitted.forecast_error)
                    o = outcomes(res.consensus_plan, res.safety_stock, truth, tables)
                    o = o[o["computed"]]
                    results.append({
                        "seed": seed, "plan": name, "level": level, "prior": prior,
                        "fit_s": fit_s, "computed": len(o), "ok_sized": int(o["sized"].sum()),
                        "ok_plan": int(o["plan"].sum()),
                        "methods": o["method"].value_counts().to_dict(),
                    })
                    print(results[-1], flush=True)
    return results


def summarise(results: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(results)
    g = df.groupby(["plan", "prior", "level"], as_index=False).agg(
        worlds=("seed", "nunique"), computed=("computed", "sum"), ok_sized=("ok_sized", "sum"),
        ok_plan=("ok_plan", "sum"))
    g["achieved_sized"] = g["ok_sized"] / g["computed"]
    g["achieved_plan"] = g["ok_plan"] / g["computed"]
    # Binomial standard error of the sized share, in points.
    g["se_points"] = 100 * np.sqrt(g["achieved_sized"] * (1 - g["achieved_sized"])
                                   / g["computed"])
    return g


def table(g: pd.DataFrame) -> str:
    lines = ["| demand plan | prior windows | target | achieved (sized) | miss (points) | "
             "± s.e. | achieved (plan's stock) | SKU-locations |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in g.itertuples():
        lines.append(
            f"| {r.plan} | {r.prior:g} | {100 * r.level:.0f} % | {100 * r.achieved_sized:.1f} % "
            f"| {100 * (r.achieved_sized - r.level):+.1f} | {r.se_points:.1f} | "
            f"{100 * r.achieved_plan:.1f} % | {r.computed:,} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[11, 12, 13, 14])
    ap.add_argument("--skus", type=int, default=120)
    ap.add_argument("--locations", type=int, default=2)
    ap.add_argument("--levels", type=float, nargs="+", default=[0.90, 0.95, 0.98])
    ap.add_argument("--prior", type=float, nargs="+",
                    default=[PlanSettings().safety_stock_prior_windows])
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args()
    g = summarise(run(args.seeds, args.skus, args.locations, args.levels, args.prior))
    print(g.to_string())
    body = table(g)
    print(body)
    if args.write:
        update_section(
            "safety_stock", "## Computed safety stock: target vs achieved service level",
            f"`python -m benchmarks.safety_stock --seeds {' '.join(map(str, args.seeds))} "
            f"--skus {args.skus} --locations {args.locations}` on {machine()}; worlds of "
            f"`sample_data` (seeds {', '.join(map(str, args.seeds))}), capacity x 100, "
            "safety_stock_units and min_order_qty emptied. Achieved: share of SKU-locations "
            "with a computed safety stock whose stock at the end of cycle + lead time stays "
            ">= 0 against the true demand: `sized` if the receipt landing then leaves exactly "
            "the safety stock, `plan's stock` with the plan's own opening stock and receipts "
            "(see docs/safety_stock.md).\n\n" + body)


if __name__ == "__main__":
    main()
