"""Data contracts on ~100,000 history rows, next to fitting the baselines of the same rows.

Reproduce: .venv/bin/python -m benchmarks.contracts [--skus 900]
Both are timed in one process on the same generated world (60 months of history), as CPU
seconds, so the ratio holds on a shared machine.
"""

import argparse
import resource
import time

from benchmarks.capacity import CYCLE, as_read
from benchmarks.doc import machine, update_section
from data_contracts import validate_inputs
from flows.quality_run import run_quality_suites
from forecasting import fit_baselines
from sample_data import generate_world


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skus", type=int, default=920)
    ap.add_argument("--no-doc", action="store_true")
    args = ap.parse_args()
    world = generate_world(n_skus=args.skus, history_months=60, cycle=CYCLE, horizon=18, seed=4)
    raw = {name: as_read(df, name) for name, df in world.tables.items()}
    rows = len(raw["sales_history"])
    validate_inputs(raw, CYCLE)  # warm-up: pandera builds its schemas once per process
    start = cpu()
    checked = validate_inputs(raw, CYCLE)
    pandera_s = cpu() - start
    import tempfile

    with tempfile.TemporaryDirectory() as docs:
        start = cpu()
        run_quality_suites(checked.tables, CYCLE, docs)
        gx_s = cpu() - start
    start, wall = cpu(), time.perf_counter()
    result = fit_baselines(checked.tables["sales_history"], horizon=18, cycle=CYCLE,
                           promotions=checked.tables.get("promotions"))
    fit_s, fit_wall = cpu() - start, time.perf_counter() - wall
    series = result.forecast[["sku", "location"]].drop_duplicates().shape[0]
    lines = [
        "| step | CPU s | share of fitting |", "|---|---:|---:|",
        f"| validate_inputs (pandera + cross-table), all tables | {pandera_s:.2f} |"
        f" {pandera_s / fit_s:.1%} |",
        f"| quality suites (great-expectations) + Data Docs | {gx_s:.2f} | {gx_s / fit_s:.1%} |",
        f"| fit_baselines ({series:,} series) | {fit_s:.1f} | 100 % |",
    ]
    print("\n".join(lines), flush=True)
    body = "\n".join([
        f"Machine: {machine()}. Command: `.venv/bin/python -m benchmarks.contracts`.",
        f"{rows:,} `sales_history` rows ({args.skus} SKUs, 60 months) plus the other eight "
        f"tables of the same world; fitting took {fit_wall:.0f} s wall.",
        "",
        *lines,
    ])
    if not args.no_doc:
        update_section("contracts", "## Data contracts on 100,000 history rows", body)


if __name__ == "__main__":
    main()
