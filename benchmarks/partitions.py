"""Peak memory and wall time of the reconcile stage, whole or by partition of locations.

    .venv/bin/python -m benchmarks.partitions prepare --size 100k --data DIR --work WORK
    .venv/bin/python -m benchmarks.partitions reconcile --work WORK/100k --partition-size 1

`prepare` reads a generated input folder (benchmarks/generate.py), checks it as
ingest_and_check does (validate_inputs, without the great-expectations suites) and writes the
checked tables into a run workspace, with a stand-in baseline (each series' mean of its last 12
months, SPEC baseline_forecast columns): the frames reconcile reads in a real run, in minutes.
`reconcile` runs what reconcile_stage runs on that workspace (build_plan on the whole
catalogue, or flows/partitions.py with `--partition-size N`) in this process, sampling its
resident memory every 0.1 s, and prints one JSON line: peak RSS, wall and CPU seconds.
"""

import argparse
import json
import resource
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from data_contracts import validate_inputs
from data_contracts.periods import horizon_periods
from data_contracts.tables import OUTPUT_COLUMNS
from flows.io import read_inputs
from flows.memory import keep_large_blocks_in_mmap, release_memory
from flows.output_tree import OutputTree
from reconciliation import PlanSettings, build_plan, planned_keys

CYCLE = "2026-12"
HORIZON = 18


def stand_in_baseline(history: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
    """Mean of each series' last 12 months (0 without history) for every key x month."""
    recent = history[history["period"] >= "2025-12"]
    level = recent.groupby(["sku", "location"])["qty"].sum() / 12.0
    periods = horizon_periods(CYCLE, HORIZON)
    grid = keys[["sku", "location"]].loc[keys.index.repeat(len(periods))].reset_index(drop=True)
    grid["period"] = np.tile(periods, len(keys))
    f = level.reindex(pd.MultiIndex.from_frame(grid[["sku", "location"]])).fillna(0.0).to_numpy()
    return grid.assign(model="Mean12", forecast=f, lo_80=0.7 * f, hi_80=1.3 * f, lo_95=0.5 * f,
                       hi_95=1.5 * f, demand_class="smooth")[OUTPUT_COLUMNS["baseline_forecast"]]


def prepare(inputs: Path, work: Path) -> None:
    tables, _ = read_inputs(str(inputs))
    checked = validate_inputs(tables, CYCLE, None, None, horizon=HORIZON)
    del tables
    ws = OutputTree.local(work).workspace(CYCLE, "bench")
    ws.save_frames("check", {**checked.tables, "rejects": checked.rejects})
    keys = planned_keys(checked.tables, CYCLE, HORIZON)
    ws.save_frames("baseline", {"baseline_forecast": stand_in_baseline(
        checked.tables["sales_history"], keys)})
    print(json.dumps({"workspace": ws.root, "keys": len(keys)}))


def reconcile(work: Path, partition_size: int | None, engine: str) -> dict[str, float]:
    from flows.partitions import location_groups, planned_locations, reconcile_by_partition
    from flows.stages import PAST_PLAN_COLUMNS

    keep_large_blocks_in_mmap()
    ws = OutputTree.local(work).workspace(CYCLE, "bench")
    proc = psutil.Process()
    peak = {"rss": 0, "children": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            own = proc.memory_info().rss
            kids = sum(c.memory_info().rss for c in proc.children(recursive=True))
            peak["rss"] = max(peak["rss"], own)
            peak["children"] = max(peak["children"], own + kids)
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start, cpu = time.perf_counter(), time.process_time()
    groups = location_groups(planned_locations(ws), partition_size)
    if len(groups) > 1:
        parted = reconcile_by_partition(ws, groups, CYCLE, HORIZON, PlanSettings(),
                                        PAST_PLAN_COLUMNS, engine)
        rows = parted.rows
    else:
        tables = ws.load_frames("check")
        tables.pop("rejects", None)
        baseline = ws.load_frames("baseline", ["baseline_forecast"])["baseline_forecast"]
        plan = build_plan(tables, baseline, CYCLE, HORIZON)
        ws.save_frames("plan", {"consensus_plan": plan.consensus_plan})
        rows = len(plan.consensus_plan)
        del plan, baseline
        release_memory()
        from reconciliation.fva import compute_fva
        compute_fva(tables["sales_history"], tables.get("forecast_history"), CYCLE,
                    products=tables.get("products"))
    wall = time.perf_counter() - start
    stop.set()
    sampler.join()
    return {"partitions": len(groups), "rows": rows, "wall_s": round(wall, 1),
            "cpu_s": round(time.process_time() - cpu, 1),
            "peak_rss_mib": round(peak["rss"] / 2**20),
            "peak_rss_with_children_mib": round(peak["children"] / 2**20),
            "ru_maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "load_1min": round(psutil.getloadavg()[0], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare")
    prep.add_argument("--size", required=True)
    prep.add_argument("--data", type=Path, default=Path("benchmarks/results/data"))
    prep.add_argument("--work", type=Path, default=Path("benchmarks/results/partitions"))
    run = sub.add_parser("reconcile")
    run.add_argument("--work", type=Path, required=True)
    run.add_argument("--partition-size", type=int, default=None)
    run.add_argument("--engine", choices=("local", "dask"), default="local")
    args = parser.parse_args()
    if args.command == "prepare":
        prepare(args.data / args.size / "inputs", args.work / args.size)
    else:
        print(json.dumps({"work": str(args.work), "partition_size": args.partition_size,
                          "engine": args.engine,
                          **reconcile(args.work, args.partition_size, args.engine)}))


if __name__ == "__main__":
    main()
