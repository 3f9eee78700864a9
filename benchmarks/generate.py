"""Write large SPEC input folders (1k to 300k SKU x locations, 60 months of history).

    .venv/bin/python -m benchmarks.generate --sizes 1k,10k [--fmt parquet] [--out DIR]

One folder per size, `OUT/<size>/inputs/NAME.<fmt>` (OUT defaults to the git-ignored
`benchmarks/results/data`), read by `sop run --inputs`. Sizes are
counted in series (SKU x location); the sample world has ~2.15 locations per SKU, so the
number of SKUs is derived from the target and the series actually written are reported.

Sizes above 100k are made of *regions*: independent 100k worlds (seeds seed, seed+1, ...) whose
SKUs, locations and promotion ids get a region prefix (`R2-`, `R3-`; the first region keeps
its names, so the 300k world contains the 100k world). The largest warehouse therefore has
the same size at 100k and 300k, and only the number of warehouses grows: what a catalogue
that grows by adding warehouses looks like, and the case where a partitioned run's memory
should stay flat.
"""

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from flows.io import write_inputs
from sample_data import generate_world

CYCLE = "2026-12"
HISTORY_MONTHS = 60
HORIZON = 18
N_LOCATIONS = 3
SERIES_PER_SKU = 2.15  # measured on generate_world(n_locations=3)
SIZES = {"1k": 1_000, "10k": 10_000, "100k": 100_000, "300k": 300_000, "1m": 1_000_000,
         "10m": 10_000_000}
REGION_SERIES = 100_000  # series per region for sizes above it
PREFIXED = ("sku", "location", "promo_id")  # renamed per region (empty keys stay empty)


def skus_for(series: int) -> int:
    """SKUs whose world has about `series` SKU x location pairs."""
    return max(5, round(series / SERIES_PER_SKU))


def write_size(label: str, out: Path, fmt: str = "csv", seed: int = 7) -> dict[str, object]:
    """Generate and write one size; returns what was written (also saved as world.json)."""
    started = time.perf_counter()
    regions = max(1, SIZES[label] // REGION_SERIES)
    per_region = SIZES[label] // regions
    folder = out / label / "inputs"
    folder.mkdir(parents=True, exist_ok=True)
    rows: dict[str, int] = {}
    series = 0
    largest = 0
    for region in range(regions):
        world = generate_world(n_skus=skus_for(per_region), n_locations=N_LOCATIONS,
                               history_months=HISTORY_MONTHS, cycle=CYCLE, horizon=HORIZON,
                               seed=seed + region)
        tables = {name: _prefixed(df, region) for name, df in world.tables.items()}
        for name, df in tables.items():
            _append(df, folder / f"{name}.{fmt}", fmt, first=region == 0)
            rows[name] = rows.get(name, 0) + len(df)
        series += int(world.facts["n_series"])  # type: ignore[call-overload]
        history = tables["sales_history"]
        largest = max(largest, int(history.drop_duplicates(["sku", "location"])
                                   .groupby("location").size().max()))
        del world, tables
    info: dict[str, object] = {
        "size": label,
        "series": series,
        "skus": skus_for(per_region) * regions,
        "regions": regions,
        "locations": N_LOCATIONS * regions,
        "largest_location_history_series": largest,
        "history_months": HISTORY_MONTHS,
        "cycle": CYCLE,
        "horizon": HORIZON,
        "format": fmt,
        "rows": rows,
        "seconds": round(time.perf_counter() - started, 1),
    }
    (out / label / "world.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def _prefixed(df: pd.DataFrame, region: int) -> pd.DataFrame:
    """Region `region`'s copy of a table: its keys prefixed (region 0 keeps its names)."""
    if region == 0:
        return df
    df = df.copy()
    for column in PREFIXED:
        if column in df:
            values = df[column]
            named = values.notna() & (values.astype(str) != "")
            df[column] = values.where(~named, f"R{region + 1}-" + values.astype(str))
    return df


def _append(df: pd.DataFrame, path: Path, fmt: str, first: bool) -> None:
    """Write a region's rows to the size's table file: CSV appended, Parquet as a row group."""
    if first:
        write_inputs({path.stem: df}, path.parent, fmt=fmt)
        return
    if fmt == "csv":
        with open(path, "a", newline="") as handle:
            df.to_csv(handle, header=False, index=False)
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    combined = pa.concat_tables([pq.read_table(path),
                                 pa.Table.from_pandas(df, preserve_index=False)],
                                promote_options="permissive")
    pq.write_table(combined, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1k,10k",
                        help="comma list of 1k, 10k, 100k, 300k, 1m, 10m")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/data"))
    parser.add_argument("--fmt", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    for label in args.sizes.split(","):
        if label not in SIZES:
            parser.error(f"unknown size {label!r}; choose from {', '.join(SIZES)}")
        info = write_size(label, args.out, args.fmt, args.seed)
        print(f"{label}: {info['series']} series, {info['rows']['sales_history']} history rows, "
              f"written to {args.out / label / 'inputs'} in {info['seconds']} s")


if __name__ == "__main__":
    main()
