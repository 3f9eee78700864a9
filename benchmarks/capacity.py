"""Capacity solve at scale: build_plan on ~10,000 SKU-locations x 18 months.

Reproduce: .venv/bin/python -m benchmarks.capacity [--skus 4650] [--locations 3]
The baseline is a plain 12-month mean (no model fitting), so the figure is the
reconciliation stage alone; the LP's share is timed by wrapping plan_capacity.
"""

import argparse
import time

import pandas as pd

import reconciliation.plan as plan_module
from benchmarks.doc import machine, update_section
from data_contracts import validate_inputs
from data_contracts.periods import add_months, horizon_periods
from flows.io import parse_table
from reconciliation import build_plan, planned_keys
from sample_data import generate_world

CYCLE = "2026-12"
HORIZON = 18


def mean_baseline(tables: dict[str, pd.DataFrame], keys: pd.DataFrame) -> pd.DataFrame:
    """A cheap stand-in for the statistical baseline: each series' last-12-month mean."""
    hist = tables["sales_history"]
    recent = hist[hist["period"] >= add_months(CYCLE, -12)]
    level = recent.groupby(["sku", "location"])["qty"].sum().div(12).rename("forecast")
    frame = keys[["sku", "location"]].merge(level.reset_index(), how="left").fillna(0.0)
    periods = pd.DataFrame({"period": horizon_periods(CYCLE, HORIZON)})
    out = frame.merge(periods, how="cross")
    out["model"] = "Mean12"
    for col in ("lo_80", "lo_95"):
        out[col] = out["forecast"] * 0.7
    for col in ("hi_80", "hi_95"):
        out[col] = out["forecast"] * 1.3
    out["demand_class"] = "smooth"
    return out


def as_read(df: pd.DataFrame, table: str) -> pd.DataFrame:
    return parse_table(table, f"{table}.csv", df.to_csv(index=False).encode(), "csv")


def run(skus: int, locations: int) -> dict[str, float]:
    world = generate_world(n_skus=skus, n_locations=locations, cycle=CYCLE, horizon=HORIZON,
                           seed=1)
    raw = {name: as_read(df, name) for name, df in world.tables.items()}
    tables = validate_inputs(raw, CYCLE).tables
    keys = planned_keys(tables, CYCLE, HORIZON)
    baseline = mean_baseline(tables, keys)
    lp_seconds = 0.0
    original = plan_module.plan_capacity

    def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal lp_seconds
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            lp_seconds += time.perf_counter() - start

    plan_module.plan_capacity = timed
    try:
        start = time.perf_counter()
        result = build_plan(tables, baseline, CYCLE, HORIZON)
        total = time.perf_counter() - start
    finally:
        plan_module.plan_capacity = original
    return {
        "keys": float(len(keys)),
        "rows": float(len(result.consensus_plan)),
        "build_plan_s": total,
        "capacity_s": lp_seconds,
        "short_rows": float((result.consensus_plan["shortfall"] > 1e-6).sum()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skus", type=int, default=4650, help="SKUs (about 2.15 locations each)")
    ap.add_argument("--locations", type=int, nargs="+", default=[3, 10])
    ap.add_argument("--no-doc", action="store_true", help="print only")
    args = ap.parse_args()
    lines = ["| warehouses | SKU-locations | plan rows | build_plan (s) | capacity LP (s) |",
             "|---:|---:|---:|---:|---:|"]
    for n_loc in args.locations:
        r = run(args.skus, n_loc)
        lines.append(f"| {n_loc} | {r['keys']:,.0f} | {r['rows']:,.0f} | "
                     f"{r['build_plan_s']:.1f} | {r['capacity_s']:.1f} |")
        print(lines[-1], flush=True)
    body = "\n".join([
        f"Machine: {machine()}.",
        "Command: `.venv/bin/python -m benchmarks.capacity` (baseline = 12-month mean, so no",
        "model fitting is timed; one HiGHS LP per warehouse, 18 months).",
        "",
        *lines,
    ])
    if not args.no_doc:
        update_section("capacity", "## Capacity solve at 10,000 SKU-locations", body)


if __name__ == "__main__":
    main()
