"""Combination and selection rules of the smooth/erratic group, measured offline (issue #20).

    .venv/bin/python -m benchmarks.combination capture --data tourism --split validation
    .venv/bin/python -m benchmarks.combination rules          # every captured data set/split
    .venv/bin/python -m benchmarks.combination table          # the main rules, markdown

`capture` runs the baseline stage (`fit_baselines`, default settings, one process) on a
competition split and keeps, for the smooth/erratic group, every candidate's CV forecasts,
the CV actuals and every candidate's final forecast (plus the extra cheap members named by
`--extra`, fitted alongside but never chosen by the pipeline). `rules` then scores selection
and combination rules on those arrays without refitting anything, so a rule costs seconds to
try (the rules replace the group's forecasts; other series keep the pipeline's, and the
guardrail is not re-applied). Settings are chosen on the `validation` captures and only
checked on `test`.

Captures are pickles under `--store` (default: `sop-combination` in the temp directory).
"""

import argparse
import dataclasses
import pickle
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import competition as comp
from benchmarks.competition import COMPETITIONS, SEASON, Series
from forecasting.pooled_ar import ALIAS as POOLED

STORE = Path(tempfile.gettempdir()) / "sop-combination"


@dataclass
class Capture:
    """One competition split: the smooth/erratic group's CV and final arrays."""

    key: str
    split: str
    horizon: int
    series: list[Series]
    pipeline: np.ndarray  # (n_series, horizon) what `fit_baselines` forecast
    pipeline_cpu: float
    rows: np.ndarray  # positions (in `series`) of the smooth/erratic group
    demand_class: np.ndarray  # per group row
    history: np.ndarray  # (group rows, months) the modelled history, NaN before the start
    cv_pos: np.ndarray  # group rows that have CV
    cv_actual: np.ndarray  # (len(cv_pos), windows, cv_h)
    cv_fcst: dict[str, np.ndarray]  # single candidates, same shape
    final: dict[str, np.ndarray]  # (group rows, horizon)
    extra: tuple[str, ...] = field(default=())


# Weights of the pooled AR blended into the combinations that `rules` tries.
BLEND_WEIGHTS = (0.15, 0.25, 0.35, 0.5)

# Extra members whose combinations `combos` forms, with their short names there.
FOURTH_MEMBERS = {"AutoARIMA": "A", "Airline": "AL", "HoltWinters": "HW"}


def extra_model(name: str, season_length: int = SEASON) -> Any:
    """A statsforecast model by name, aliased `name`; two names of our own: `Airline` and
    `DampedETS`."""
    import statsforecast.models as sfm

    if name == "Airline":  # Box-Jenkins' airline model: one fit, no order search
        return sfm.ARIMA(order=(0, 1, 1), seasonal_order=(0, 1, 1),
                         season_length=season_length, alias=name)
    if name == "DampedETS":  # AutoETS searching damped-trend structures only
        return sfm.AutoETS(season_length=season_length, damped=True, alias=name)
    return getattr(sfm, name)(season_length=season_length, alias=name)


def _seasonal_set_with(extra: tuple[str, ...]) -> Callable[..., Any]:
    """`seasonal_set` plus `extra` statsforecast models as members (never the default)."""
    from forecasting import models as fm

    def build(season_length: int, with_ces: bool = False, per_series: bool = False) -> Any:
        base = fm.seasonal_set(season_length, with_ces, per_series)
        more = tuple(fm.GuardedModel(extra_model(name, season_length), True)
                     for name in extra)
        # Every other field (the class menu too) as the pipeline's own set.
        return dataclasses.replace(base, models=base.models[:2] + more + base.models[2:])
    return build


def capture(key: str, split: str, limit: int | None, extra: tuple[str, ...]) -> Capture:
    """Run the baseline stage on one split and keep the smooth/erratic group's arrays."""
    from forecasting import baseline as bl

    c = COMPETITIONS[key]
    series = comp.load(c, split, limit)
    seen: dict[str, Any] = {}
    real_fit_group = bl._fit_group

    def spy_fit_group(panel: Any, values: Any, rows: np.ndarray, mset: Any, *rest: Any) -> Any:
        fit = real_fit_group(panel, values, rows, mset, *rest)
        if mset.name == "seasonal":
            singles = [m.alias for m in mset.models] + ([POOLED] if mset.pooled else [])
            seen.update(rows=rows.copy(), history=fit.values.copy(), cv_pos=fit.cv_pos.copy(),
                        cv_actual=fit.cv_actual,
                        cv_fcst=None if fit.cv_fcst is None else
                        {a: fit.cv_fcst[a] for a in singles},
                        final={a: fit.means[a] for a in singles})
        return fit

    # A spy in place of the module's function for this one run (restored below).
    setattr(bl, "_fit_group", spy_fit_group)  # noqa: B010
    real_set = bl.seasonal_set
    if extra:
        setattr(bl, "seasonal_set", _seasonal_set_with(extra))  # noqa: B010
    try:
        with tempfile.TemporaryDirectory() as tmp:
            csv = comp.write_history_csv(series, Path(tmp), c.label)
            run, selection = comp.run_pipeline(series, csv, c.horizon, None)
    finally:
        bl._fit_group, bl.seasonal_set = real_fit_group, real_set
    # selection is in panel order (sorted keys); map panel rows to positions in `series`.
    pos = {s.sid: i for i, s in enumerate(series)}
    panel_pos = np.array([pos[s] for s in selection["sku"]])
    rows = seen["rows"]
    if seen.get("cv_actual") is None:
        raise RuntimeError(f"{key}/{split}: no series of the seasonal group has CV")
    return Capture(key=key, split=split, horizon=c.horizon, series=series, pipeline=run.mean,
                   pipeline_cpu=run.cpu, rows=panel_pos[rows],
                   demand_class=selection["demand_class"].to_numpy()[rows],
                   history=seen["history"], cv_pos=seen["cv_pos"],
                   cv_actual=seen["cv_actual"], cv_fcst=seen["cv_fcst"], final=seen["final"],
                   extra=extra)


# --- rules ---------------------------------------------------------------------------------

def _long(history: np.ndarray) -> Any:
    """A capture's group histories (NaN before each start) in Nixtla's long format, the row
    number as id and the month index as ds."""
    import pandas as pd

    frames = []
    for i, h in enumerate(history):
        y = h[np.isfinite(h)]
        frames.append(pd.DataFrame({"unique_id": i, "ds": np.arange(len(y)), "y": y}))
    return pd.concat(frames, ignore_index=True)


def final_only(cap: Capture, name: str, n_jobs: int) -> tuple[np.ndarray, float]:
    """One extra model's final forecasts on a capture's group histories, plain statsforecast
    (no CV: for a model too slow to fit at every CV origin, e.g. AutoARIMA), and its wall
    seconds. The class choice needs CV forecasts, so only the `all ...` rules can use it."""
    from statsforecast import StatsForecast

    sf = StatsForecast(models=[extra_model(name)], freq=1, n_jobs=n_jobs)
    fc, _, wall = comp.timed(lambda: sf.forecast(df=_long(cap.history), h=cap.horizon))
    fc = fc.sort_values(["unique_id", "ds"])
    return fc[name].to_numpy().reshape(len(cap.history), cap.horizon), wall


def fit_times(series: list[Series], names: list[str], horizon: int) -> dict[str, float]:
    """CPU milliseconds per series of one fit and forecast of each model, one process (the
    first series fitted once before, so numba's compilation is not counted)."""
    out = {}
    for name in names:
        extra_model(name).forecast(y=np.asarray(series[0].train, float), h=horizon)
        def fit_all(name: str = name) -> list[Any]:
            return [extra_model(name).forecast(y=np.asarray(s.train, float), h=horizon)
                    for s in series]
        _, cpu, _ = comp.timed(fit_all)
        out[name] = 1000 * cpu / len(series)
    return out


def seasonal_scale(history: np.ndarray, season: int = SEASON) -> np.ndarray:
    """In-sample seasonal-naive MAE per row: the class selection's own scale."""
    from forecasting.baseline import _seasonal_naive_mae

    return _seasonal_naive_mae(history, season)


def naive_scale(history: np.ndarray) -> np.ndarray:
    """In-sample one-step naive MAE per row (NaN where undefined or zero)."""
    return seasonal_scale(history, 1)


def combos(single: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Candidate forecasts of the rules: singles, means and medians of the members."""
    e, d, s = single["AutoETS"], single["DynamicOptimizedTheta"], single["SeasonalNaive"]
    out = {"ETS": e, "DOT": d, "SN": s, "Mean(E,D)": (e + d) / 2,
           "Mean(E,D,S)": (e + d + s) / 3,
           "Median(E,D,S)": np.median(np.stack([e, d, s]), axis=0),
           "W(.6E,.4D)": 0.6 * e + 0.4 * d}
    if "OptimizedTheta" in single:
        o = single["OptimizedTheta"]
        out["OT"] = o
        out["Mean(E,D,O)"] = (e + d + o) / 3
        out["Median(E,D,O)"] = np.median(np.stack([e, d, o]), axis=0)
        out["Median(E,D,O,S)"] = np.median(np.stack([e, d, o, s]), axis=0)
    if "DynamicTheta" in single:
        out["Mean(E,D,DT)"] = (e + d + single["DynamicTheta"]) / 3
    if POOLED in single:  # blended into the 3 combinations, as the pipeline does
        g = single[POOLED]
        out["AR"] = g
        for w in BLEND_WEIGHTS:
            for base in ("Mean(E,D)", "Mean(E,D,S)", "Median(E,D,S)"):
                out[f"{base}+{w}AR"] = np.where(np.isfinite(g), (1 - w) * out[base] + w * g,
                                                out[base])
        out["Mean(E,D,AR)"] = np.where(np.isfinite(g), (e + d + g) / 3, (e + d) / 2)
        # The pooled AR as an ordinary member (where it has a forecast).
        ok = np.isfinite(g)
        out["Median(E,D,AR)"] = np.where(ok, np.median(np.stack([e, d, g]), axis=0),
                                         (e + d) / 2)
        out["Median(E,D,S,AR)"] = np.where(ok, np.median(np.stack([e, d, s, g]), axis=0),
                                           out["Median(E,D,S)"])
        out["Mean(E,D,S,AR)"] = np.where(ok, (e + d + s + g) / 4, out["Mean(E,D,S)"])
    for name, short in FOURTH_MEMBERS.items():
        if name not in single:
            continue
        a = single[name]
        out[short] = a
        out[f"Mean(E,D,{short})"] = (e + d + a) / 3
        out[f"Median(E,D,{short})"] = np.median(np.stack([e, d, a]), axis=0)
        out[f"Mean(E,D,{short},S)"] = (e + d + a + s) / 4
        out[f"Median(E,D,{short},S)"] = np.median(np.stack([e, d, a, s]), axis=0)
    return out


def score_all(cap: Capture, group_mean: np.ndarray) -> dict[str, float]:
    """sMAPE and MASE over every series, the group's rows replaced by `group_mean`."""
    mean = cap.pipeline.copy()
    # A failed member makes a combination NaN: the pipeline's fallback stands there.
    ok = np.isfinite(group_mean).all(axis=1)
    mean[cap.rows[ok]] = np.maximum(group_mean[ok], 0.0)
    s = comp.score(cap.series, mean, None)
    return {"smape": s.smape, "mase": s.mase}


def cv_scaled_mae(cap: Capture, cands: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per CV series and candidate: CV MAE / seasonal-naive MAE of the history before the
    first origin (the MASE of the CV windows)."""
    w, cv_h = cap.cv_actual.shape[1:]
    step = max(1, cv_h // 4)
    test_size = cv_h + step * (w - 1)
    pre = cap.history[cap.cv_pos, :cap.history.shape[1] - test_size]
    scale = seasonal_scale(pre)
    return {c: np.mean(np.abs(v - cap.cv_actual), axis=(1, 2)) / scale for c, v in cands.items()}


def rules(cap: Capture, margins: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2)
          ) -> list[tuple[str, dict[str, float]]]:
    """Every rule's scores on one capture."""
    final = combos(cap.final)
    cvf = combos(cap.cv_fcst)
    cv_err = cv_scaled_mae(cap, cvf)
    out: list[tuple[str, dict[str, float]]] = []
    for name, f in final.items():
        out.append((f"all {name}", score_all(cap, f)))
    base = "Mean(E,D)"
    cls = cap.demand_class
    # Per class pooled choice: the candidate with the lowest mean CV MASE over the class's CV
    # series; it then forecasts every series of the class.
    menus = [("singles+mean", ["ETS", "DOT", "SN", "Mean(E,D)"]),
             ("combos", ["Mean(E,D)", "Mean(E,D,S)", "Median(E,D,S)"]),
             ("+3-way", ["ETS", "DOT", "SN", "Mean(E,D)", "Mean(E,D,S)", "Median(E,D,S)"]),
             ("all", [c for c in final if c in cvf])]
    for short in FOURTH_MEMBERS.values():  # the combinations with a fourth model
        if short in cvf:  # a model fitted at the CV origins too (not `final-only`)
            menus.append((f"combos+{short}", [
                "Mean(E,D)", "Mean(E,D,S)", "Median(E,D,S)", f"Mean(E,D,{short})",
                f"Median(E,D,{short})", f"Mean(E,D,{short},S)", f"Median(E,D,{short},S)"]))
    for share in BLEND_WEIGHTS:
        if f"Mean(E,D)+{share}AR" in cvf:
            blends = [f"{b}+{share}AR" for b in ("Mean(E,D)", "Mean(E,D,S)", "Median(E,D,S)")]
            menus.append((f"combos+{share}AR", ["Mean(E,D)", "Mean(E,D,S)", "Median(E,D,S)",
                                                *blends]))
            menus.append((f"blends {share}AR", blends))
    if "Mean(E,D,AR)" in cvf:
        menus.append(("combos+AR all weights", [c for c in cvf if "AR" in c and c != "AR"]
                      + ["Mean(E,D)", "Mean(E,D,S)", "Median(E,D,S)"]))
    for stat in ("mean", "gmean"):
        for menu_name, menu in menus:
            lead = base if base in menu else menu[0]  # what a margin favours
            for m in margins:
                chosen = np.full(len(cls), lead, dtype=object)
                picks = []
                for k in np.unique(cls):
                    in_k = cls[cap.cv_pos] == k
                    if stat == "mean":
                        pooled = {c: float(np.nanmean(cv_err[c][in_k])) for c in menu}
                    else:  # geometric mean of the ratio to the default's CV error
                        with np.errstate(divide="ignore", invalid="ignore"):
                            pooled = {c: float(np.exp(np.nanmean(np.where(
                                np.isfinite(r := np.log(cv_err[c][in_k] / cv_err[base][in_k])),
                                r, np.nan)))) for c in menu}
                    best = min(pooled, key=pooled.__getitem__)
                    pick = best if pooled[best] < (1 - m) * pooled[lead] else lead
                    chosen[cls == k] = pick
                    picks.append(f"{k}:{pick}")
                f = np.stack([final[c][i] for i, c in enumerate(chosen)])
                out.append((f"class-{stat} {menu_name} m={m} [{' '.join(picks)}]",
                            score_all(cap, f)))
    # Seasonal naive joins the mean where the season is strong: seasonal-naive MAE well
    # below the naive MAE on the history before the first CV origin (all history otherwise).
    ratio = seasonal_scale(cap.history) / naive_scale(cap.history)
    for t in (0.4, 0.5, 0.6, 0.7, 0.8):
        strong = ratio < t
        f = np.where(strong[:, None], final["Mean(E,D,S)"], final[base])
        out.append((f"SN joins where snaive/naive < {t} ({int(strong.sum())})",
                    score_all(cap, f)))
    # Per class weights on (ETS, DOT, SN), a grid on the simplex, learned on pooled CV MASE.
    grid = [(a / 10, b / 10, (10 - a - b) / 10) for a in range(11) for b in range(11 - a)]
    w_err = {}
    for wt in grid:
        v = wt[0] * cvf["ETS"] + wt[1] * cvf["DOT"] + wt[2] * cvf["SN"]
        w_err[wt] = cv_scaled_mae(cap, {"v": v})["v"]
    f = np.empty_like(final[base])
    picks = []
    for k in np.unique(cls):
        in_k = cls[cap.cv_pos] == k
        w = min(grid, key=lambda wt: float(np.nanmean(w_err[wt][in_k])))
        picks.append(f"{k}:{w}")
        f[cls == k] = (w[0] * final["ETS"] + w[1] * final["DOT"] + w[2] * final["SN"])[cls == k]
    out.append((f"class-weights [{' '.join(picks)}]", score_all(cap, f)))
    # Per series switch (the old mechanism) with a margin, singles vs the mean.
    for m in (0.1, 0.2, 0.3, 0.5):
        f = final[base].copy()
        for c in ("ETS", "DOT", "SN"):
            better = np.zeros(len(cls), dtype=bool)
            better[cap.cv_pos] = cv_err[c] < (1 - m) * np.minimum.reduce(
                [cv_err[o] for o in ("ETS", "DOT", "SN", base) if o != c])
            f[better] = final[c][better]
        out.append((f"per-series m={m}", score_all(cap, f)))
    return out


# Rule-name prefixes of `rules` shown by `table`, with the label they get there.
TABLE_RULES = (
    ("all Mean(E,D)", "Mean(ETS,DOTheta) for every series (previous default)"),
    ("all ETS", "AutoETS alone (= plain statsforecast on these series)"),
    ("all Mean(E,D,S)", "Mean(ETS,DOTheta,SNaive) for every series"),
    ("all Median(E,D,S)", "Median(ETS,DOTheta,SNaive) for every series"),
    ("all Median(E,D,O,S)", "Median(ETS,DOTheta,OptimizedTheta,SNaive) for every series"),
    ("all Mean(E,D,O)", "Mean(ETS,DOTheta,OptimizedTheta) for every series"),
    ("class-mean combos m=0.0", "per class, lowest pooled CV MASE of the 3 combinations "
     "(previous default)"),
    ("class-mean combos m=0.05", "the same, the ETS/DOTheta mean kept unless 5 % worse"),
    ("class-mean +3-way m=0.0", "the same, menu + ETS, DOTheta, SNaive alone"),
    ("class-gmean combos m=0.0", "the same, geometric mean of ratios to the ETS/DOTheta mean"),
    ("class-weights", "per class, weights of ETS/DOTheta/SNaive (0.1 grid) on pooled CV"),
    ("SN joins where snaive/naive < 0.8", "SNaive joins the mean where snaive/naive MAE < 0.8"),
    ("per-series m=0.2", "per series, a single model if its CV error is 20 % lower"),
    ("all AR", "the pooled AR alone (forecasting/pooled_ar.py)"),
    ("class-mean blends 0.25AR m=0.0",
     "**per class, the 3 combinations each blended with the pooled AR (1/4) (default)**"),
    ("class-mean blends 0.15AR m=0.0", "the same, pooled AR weight 0.15"),
    ("class-mean blends 0.35AR m=0.0", "the same, pooled AR weight 0.35"),
    ("class-mean blends 0.5AR m=0.0", "the same, pooled AR weight 0.5"),
    ("class-mean combos+0.25AR m=0.0", "the same, menu: the 3 combinations and their blends"),
)


def table(caps: list[Capture]) -> str:
    """sMAPE / MASE of TABLE_RULES, one column per capture (validation first)."""
    caps = sorted(caps, key=lambda c: (c.split != "validation", c.key))
    scored = [dict(rules(c)) for c in caps]
    head = "| rule (smooth/erratic group) | " + " | ".join(
        f"{c.key} {c.split}" for c in caps) + " |"
    lines = [head, "|---|" + "---:|" * len(caps)]
    for prefix, label in TABLE_RULES:
        cells = []
        for sc in scored:
            name = next((n for n in sc if n.startswith(prefix)), None)
            cells.append("–" if name is None else
                         f"{sc[name]['smape']:.3f} / {sc[name]['mase']:.3f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def load_captures(store: Path) -> list[Capture]:
    return [pickle.loads(p.read_bytes()) for p in sorted(store.glob("*.pkl"))]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    cp = sub.add_parser("capture")
    cp.add_argument("--data", required=True, choices=list(COMPETITIONS))
    cp.add_argument("--split", required=True, choices=["test", "validation"])
    cp.add_argument("--limit", type=int, default=None)
    cp.add_argument("--extra", default="", help="comma-separated statsforecast models")
    fo = sub.add_parser("final-only", help="score `all` combinations with one more model "
                        "fitted on the captures' final histories only")
    fo.add_argument("--model", required=True, help="a statsforecast model, e.g. AutoARIMA")
    fo.add_argument("--jobs", type=int, default=-1)
    ft = sub.add_parser("fit-times", help="CPU ms per series of one fit, one process")
    ft.add_argument("--data", default="m3", choices=list(COMPETITIONS))
    ft.add_argument("--limit", type=int, default=150)
    ft.add_argument("--models", default="AutoETS,DampedETS,AutoARIMA,Airline,"
                    "DynamicOptimizedTheta")
    ru = sub.add_parser("rules")
    ru.add_argument("--only", default="", help="substring a rule name must contain")
    ta = sub.add_parser("table", help="markdown: the rules of TABLE_RULES x every capture")
    for p in (cp, fo, ru, ta):
        p.add_argument("--store", type=Path, default=STORE)
    args = ap.parse_args(argv)
    if args.cmd == "capture":
        extra = tuple(x for x in args.extra.split(",") if x)
        cap = capture(args.data, args.split, args.limit, extra)
        args.store.mkdir(parents=True, exist_ok=True)
        (args.store / f"{args.data}-{args.split}.pkl").write_bytes(pickle.dumps(cap))
        print(f"{args.data}/{args.split}: {len(cap.rows)} group series, {len(cap.cv_pos)} "
              f"with CV, pipeline CPU {cap.pipeline_cpu:.1f} s")
        return
    if args.cmd == "fit-times":
        c = COMPETITIONS[args.data]
        times = fit_times(comp.load(c, "test", args.limit), args.models.split(","), c.horizon)
        for name, ms in times.items():
            print(f"{ms:8.1f} ms  {name}")
        return
    if args.cmd == "final-only":
        short = FOURTH_MEMBERS.get(args.model)
        for cap in load_captures(args.store):
            fc, wall = final_only(cap, args.model, args.jobs)
            cap.final[args.model] = fc
            print(f"\n## {cap.key} {cap.split}: {args.model} final forecasts in {wall:.0f} s")
            for name, s in rules(cap):
                if name.startswith("all ") and (short is None or short in name
                                                 or name in ("all Mean(E,D)",
                                                             "all Median(E,D,S)")):
                    print(f"{s['smape']:8.3f} {s['mase']:7.4f}  {name}")
        return
    if args.cmd == "table":
        print(table(load_captures(args.store)))
        return
    for cap in load_captures(args.store):
        print(f"\n## {cap.key} {cap.split} ({len(cap.series)} series)")
        for name, s in rules(cap):
            if args.only in name:
                print(f"{s['smape']:8.3f} {s['mase']:7.4f}  {name}")


if __name__ == "__main__":
    main()
