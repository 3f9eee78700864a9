"""What a primary key costs the embedded DuckDB store: insert time and file size of one plan.

Reproduce: .venv/bin/python -m benchmarks.store_keys [--keys 100000]
One 18-month plan of `--keys` SKU-locations is inserted through the store's own columnar path
(a registered DataFrame, INSERT ... SELECT) into a table with and one without the primary key
(cycle, plan_version, sku, location, period); both in the same run, so the ratio holds on a
noisy machine. The figures decide `flows.store.build_metadata`: no keys on DuckDB.
"""

import argparse
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from benchmarks.doc import machine, update_section

MONTHS = 18


def plan_rows(keys: int) -> pd.DataFrame:
    n = keys * MONTHS
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "cycle": "2026-12", "plan_version": 1,
        "sku": np.repeat([f"SKU-{i:06d}" for i in range(keys)], MONTHS),
        "location": "DC-EAST",
        "period": np.tile([f"{2027 + m // 12}-{m % 12 + 1:02d}" for m in range(MONTHS)], keys),
        **{c: rng.random(n) * 100 for c in ("consensus_demand", "constrained_demand",
                                             "planned_receipts", "projected_on_hand")},
    })


def insert(folder: Path, df: pd.DataFrame, with_key: bool) -> tuple[float, int]:
    """Seconds to insert `df`, and the database file's bytes afterwards."""
    path = folder / f"plan_{'key' if with_key else 'nokey'}.duckdb"
    con = duckdb.connect(str(path))
    key = ", PRIMARY KEY (cycle, plan_version, sku, location, period)" if with_key else ""
    con.execute(
        "CREATE TABLE consensus_plan (cycle TEXT, plan_version INTEGER, sku TEXT, "
        "location TEXT, period TEXT, consensus_demand DOUBLE, constrained_demand DOUBLE, "
        f"planned_receipts DOUBLE, projected_on_hand DOUBLE{key})"
    )
    start = time.perf_counter()
    con.register("frame", df)
    con.execute("INSERT INTO consensus_plan SELECT * FROM frame")
    con.execute("CHECKPOINT")
    seconds = time.perf_counter() - start
    con.close()
    return seconds, path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=100_000)
    args = parser.parse_args()
    df = plan_rows(args.keys)
    with tempfile.TemporaryDirectory() as tmp:
        plain_s, plain_b = insert(Path(tmp), df, with_key=False)
        key_s, key_b = insert(Path(tmp), df, with_key=True)
    body = "\n".join([
        f"Command: `.venv/bin/python -m benchmarks.store_keys --keys {args.keys}`  ",
        f"Machine: {machine()}, DuckDB {duckdb.__version__}",
        "",
        f"One plan of {args.keys:,} SKU-locations x {MONTHS} months ({len(df):,} rows):",
        "",
        "| table | insert (s) | file (MB) |",
        "|---|---:|---:|",
        f"| no primary key | {plain_s:.1f} | {plain_b / 1e6:.0f} |",
        f"| primary key (cycle, plan_version, sku, location, period) | {key_s:.1f} | "
        f"{key_b / 1e6:.0f} |",
        f"| ratio | {key_s / plain_s:.1f}x | {key_b / plain_b:.1f}x |",
        "",
        "Both stores declare the keys (flows/store.py): a few seconds per monthly run buy a "
        "store that refuses a duplicate row whatever wrote it; where the larger file matters, "
        "the catalogue belongs in PostgreSQL.",
    ])
    update_section("store-keys", "## Primary keys in the embedded store", body)
    print(body)


if __name__ == "__main__":
    main()
