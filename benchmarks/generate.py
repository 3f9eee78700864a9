"""Write large SPEC input folders (1k, 10k, 100k SKU x locations, 60 months of history).

    .venv/bin/python -m benchmarks.generate --sizes 1k,10k [--fmt parquet] [--out DIR]

One folder per size, `OUT/<size>/inputs/NAME.<fmt>` (OUT defaults to the git-ignored
`benchmarks/results/data`), read by `sop run --inputs`. Sizes are
counted in series (SKU x location); the sample world has ~2.15 locations per SKU, so the
number of SKUs is derived from the target and the series actually written are reported.
"""

import argparse
import json
import time
from pathlib import Path

from flows.io import write_inputs
from sample_data import generate_world

CYCLE = "2026-12"
HISTORY_MONTHS = 60
HORIZON = 18
N_LOCATIONS = 3
SERIES_PER_SKU = 2.15  # measured on generate_world(n_locations=3)
SIZES = {"1k": 1_000, "10k": 10_000, "100k": 100_000}


def skus_for(series: int) -> int:
    """SKUs whose world has about `series` SKU x location pairs."""
    return max(5, round(series / SERIES_PER_SKU))


def write_size(label: str, out: Path, fmt: str = "csv", seed: int = 7) -> dict[str, object]:
    """Generate and write one size; returns what was written (also saved as world.json)."""
    started = time.perf_counter()
    world = generate_world(n_skus=skus_for(SIZES[label]), n_locations=N_LOCATIONS,
                           history_months=HISTORY_MONTHS, cycle=CYCLE, horizon=HORIZON,
                           seed=seed)
    folder = out / label / "inputs"
    write_inputs(world.tables, folder, fmt=fmt)
    info: dict[str, object] = {
        "size": label,
        "series": int(world.facts["n_series"]),  # type: ignore[call-overload]
        "skus": skus_for(SIZES[label]),
        "history_months": HISTORY_MONTHS,
        "cycle": CYCLE,
        "horizon": HORIZON,
        "format": fmt,
        "rows": {name: len(df) for name, df in world.tables.items()},
        "seconds": round(time.perf_counter() - started, 1),
    }
    (out / label / "world.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1k,10k", help="comma list of 1k, 10k, 100k")
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
