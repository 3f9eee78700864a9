"""fit_baselines: promo-free statistical baseline per SKU x location with 80/95% intervals."""

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import norm

from data_contracts.periods import add_months, horizon_periods, is_month
from data_contracts.tables import OUTPUT_COLUMNS
from forecasting.cleaning import CLEANING_COLUMNS, clean_promotions, clip_outliers
from forecasting.cold_start import forecast_cold_start
from forecasting.demand_class import (
    ERRATIC,
    INTERMITTENT,
    LUMPY,
    NEW,
    SMOOTH,
    classify_demand,
    demand_stats,
)
from forecasting.engines import Engine, LocalEngine
from forecasting.hierarchy import (
    FAMILY_LOCATION,
    TOTAL_KEY,
    aggregate_history,
    mint_shrink,
    summing_rows,
)
from forecasting.models import ModelSet, intermittent_set, seasonal_set
from forecasting.one_fit import FINAL
from forecasting.panel import KEY, Panel, build_panel
from forecasting.settings import BaselineSettings

SELECTION_COLUMNS = [*KEY, "demand_class", "model", "cv_error", "runner_up", "runner_up_error",
                     "history_months", "interval_method", "guardrail"]
# Per series and months ahead k: how far the chosen model's cumulative forecast over k months
# missed on the CV windows (what a safety stock over a protection interval of k months needs).
FORECAST_ERROR_COLUMNS = [*KEY, "months", "sigma_cv", "sigma_pooled", "cv_windows"]


class ImplausibleForecastError(ValueError):
    """Raised by `BaselineResult.raise_for_guardrail` when forecasts left their envelope."""


@dataclass
class BaselineResult:
    """forecast: SPEC `baseline_forecast`; cleaning: changed history cells; selection: per
    series the chosen model, its CV error and the runner-up."""

    forecast: pd.DataFrame
    cleaning: pd.DataFrame
    selection: pd.DataFrame
    # FORECAST_ERROR_COLUMNS, see `_cumulative_error`; one row per series x k = 1..cv_h.
    forecast_error: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=FORECAST_ERROR_COLUMNS))

    def raise_for_guardrail(self) -> None:
        """Raise `ImplausibleForecastError` naming every series whose forecast the guardrail
        replaced (series, rejected model and reason), for callers that prefer to stop."""
        hits = self.selection[self.selection["guardrail"].notna()]
        if len(hits):
            lines = [f"{r.sku}/{r.location}: {r.guardrail}" for r in hits.itertuples()]
            raise ImplausibleForecastError(
                f"{len(hits)} series had a forecast outside the envelope of their history: "
                + "; ".join(lines))


def guardrail_exceptions(selection: pd.DataFrame) -> pd.DataFrame:
    """One info exception per series whose first-choice forecast the guardrail replaced, so
    planners see it in the published exceptions, not only in the selection file."""
    cols = OUTPUT_COLUMNS["exceptions"]
    if "guardrail" not in selection.columns:
        return pd.DataFrame(columns=cols)
    hits = selection[selection["guardrail"].notna()]
    return pd.DataFrame({
        "sku": hits["sku"].astype(str).to_numpy(),
        "location": hits["location"].astype(str).to_numpy(),
        "period": "", "type": "BASELINE_GUARDRAIL", "severity": "info",
        "message": [f"baseline kept inside the history's envelope: {why}"
                    for why in hits["guardrail"]],
    }, columns=cols)


@dataclass
class _GroupForecast:
    rows: np.ndarray
    model: np.ndarray
    mean: np.ndarray  # (n, horizon)
    lo: dict[int, np.ndarray]
    hi: dict[int, np.ndarray]
    cv_error: np.ndarray
    runner_up: np.ndarray
    runner_up_error: np.ndarray
    interval_method: np.ndarray
    guardrail: np.ndarray  # None, or why the first choice was replaced
    sigma_cv: np.ndarray      # (n, cv_h) RMSE of the cumulative CV error, NaN without CV
    sigma_pooled: np.ndarray  # (n, cv_h) the group's pooled estimate at the series' scale
    cv_windows: np.ndarray    # (n,) CV windows behind sigma_cv (0 = none)


def fit_baselines(history: pd.DataFrame, horizon: int, settings: BaselineSettings | None = None,
                  cycle: str | None = None, promotions: pd.DataFrame | None = None,
                  keys: pd.DataFrame | None = None, products: pd.DataFrame | None = None,
                  n_jobs: int | None = None, engine: Engine | None = None) -> BaselineResult:
    """Fit statistical baselines for every sku x location of `history` ∪ `keys`.

    Takes `sales_history` (sku, location, period, qty), returns a BaselineResult whose
    `forecast` has one row per series x month of the `horizon` months from `cycle`
    (default: month after the last history month). Model fitting runs on `engine` (default:
    this process on `n_jobs` processes, default every usable core); every engine gives the
    same numbers.
    """
    settings = settings or BaselineSettings()
    history = _check_history(history)
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    if cycle is None:
        if history.empty:
            raise ValueError("cycle is required when history is empty")
        cycle = add_months(str(history["period"].max()), 1)
    if not is_month(cycle):
        raise ValueError(f"cycle must be a month in YYYY-MM form, got {cycle!r}")
    late = history[history["period"] >= cycle]
    if len(late):
        raise ValueError(
            f"sales_history has {len(late)} rows at or after the cycle {cycle}; first: "
            f"{late.head(3).to_dict('records')}")
    extra = None
    if keys is not None:
        extra = keys[KEY].astype(str)
    s = settings.season_length
    min_history = settings.min_history_months or 2 * s

    panel = build_panel(history, cycle, extra)
    in_history = pd.MultiIndex.from_frame(panel.keys).isin(
        pd.MultiIndex.from_frame(history[KEY]))
    values, promo_log = (clean_promotions(panel, promotions, settings.cleaning_window, s)
                         if settings.clean_promotions else (panel.values.copy(), None))
    classes = classify_demand(values, min_history)
    outlier_log = None
    if settings.clean_outliers:
        eligible = np.isin(classes, [SMOOTH, ERRATIC])
        values, outlier_log = clip_outliers(panel, values, eligible, s,
                                            settings.cleaning_window, settings.outlier_threshold)
        # Clipping only lowers CV²; re-classify so the label matches the series modelled.
        classes = classify_demand(values, min_history)

    levels = tuple(settings.levels)
    cv_h = _cv_shape(settings, horizon)[0]
    parts: list[_GroupForecast] = []
    groups = ((seasonal_set(s, settings.with_ces, settings.seasonal_selection), [SMOOTH, ERRATIC]),
              (intermittent_set(), [INTERMITTENT, LUMPY]))
    fitter = engine or LocalEngine(n_jobs)
    for mset, members in groups:
        rows = np.flatnonzero(np.isin(classes, members))
        if rows.size:
            parts.append(_fit_group(panel, values, rows, mset, horizon, settings, fitter,
                                    classes[rows]))
    new_rows = np.flatnonzero(classes == NEW)
    if new_rows.size:
        established = classes != NEW
        cold = forecast_cold_start(panel, values, new_rows, established, np.asarray(in_history),
                                   products, cycle, horizon, s, levels)
        n = new_rows.size
        parts.append(_GroupForecast(
            rows=new_rows, model=cold.model, mean=cold.mean, lo=cold.lo, hi=cold.hi,
            cv_error=np.full(n, np.nan), runner_up=np.full(n, None, dtype=object),
            runner_up_error=np.full(n, np.nan), interval_method=np.full(n, "cold_start"),
            guardrail=np.full(n, None, dtype=object),
            sigma_cv=np.full((n, cv_h), np.nan), sigma_pooled=np.full((n, cv_h), np.nan),
            cv_windows=np.zeros(n, dtype=int)))

    forecast, selection = _assemble(panel, values, classes, parts, cycle, horizon, levels)
    forecast_error = _error_frame(panel, parts, cv_h)
    if settings.hierarchy == "mint_shrink":
        forecast = _reconcile_hierarchy(forecast, history, horizon, settings, cycle, promotions,
                                        products, fitter)
    logs = [log for log in (promo_log, outlier_log) if log is not None and len(log)]
    cleaning = (pd.concat(logs, ignore_index=True) if logs
                else pd.DataFrame(columns=CLEANING_COLUMNS))
    cleaning = cleaning.astype({"original": float, "cleaned": float})
    cleaning = cleaning.sort_values([*KEY, "period", "rule"], ignore_index=True)
    return BaselineResult(forecast=forecast, cleaning=cleaning, selection=selection,
                          forecast_error=forecast_error)


def _reconcile_hierarchy(forecast: pd.DataFrame, history: pd.DataFrame, horizon: int,
                         settings: BaselineSettings, cycle: str,
                         promotions: pd.DataFrame | None, products: pd.DataFrame | None,
                         engine: Engine) -> pd.DataFrame:
    """MinT-shrink over total -> family -> sku x location (see forecasting/hierarchy.py).

    Base forecasts of the aggregates: this same function on the summed history (no
    promotions). Residuals: a backtest of bottoms and aggregates from one season before the
    cycle, over that season's months. Intervals move with the mean, then floor and nest."""
    if products is None or not len(products):
        raise ValueError("hierarchy='mint_shrink' needs `products` (sku -> family)")
    plain = settings.model_copy(update={"hierarchy": "none"})
    prod = products.drop_duplicates("sku")
    family_of = pd.Series(prod["family"].astype(str).to_numpy(), index=prod["sku"].astype(str))
    bottom_keys = forecast[KEY].drop_duplicates().reset_index(drop=True)
    families = bottom_keys["sku"].map(family_of).fillna("").to_numpy()
    agg, names = summing_rows(families)
    upper_keys = pd.MultiIndex.from_tuples(
        [TOTAL_KEY, *((f, FAMILY_LOCATION) for f in names[1:])], names=KEY)

    def matrix(frame: pd.DataFrame, index: pd.MultiIndex, periods: list[str],
               column: str = "forecast") -> np.ndarray:
        if frame.empty:
            return np.zeros((len(index), len(periods)))
        wide = frame.pivot_table(index=KEY, columns="period", values=column, aggfunc="sum")
        return wide.reindex(index=index, columns=periods).fillna(0.0).to_numpy()

    bottom_index = pd.MultiIndex.from_frame(bottom_keys)

    def fit_upper(hist: pd.DataFrame, at: str, h: int) -> np.ndarray:
        upper = fit_baselines(aggregate_history(hist, family_of), h, plain, at,
                              engine=engine).forecast
        return matrix(upper, upper_keys, horizon_periods(at, h))

    back = settings.season_length
    origin = add_months(cycle, -back)
    months = horizon_periods(origin, back)
    past = history[history["period"] < origin]
    backtest = fit_baselines(past, back, plain, origin, promotions, bottom_keys, products,
                             engine=engine).forecast
    actual = matrix(history, bottom_index, months, "qty")
    resid_bottom = (actual - matrix(backtest, bottom_index, months)).T
    resid_upper = (agg @ actual - fit_upper(past, origin, back)).T

    periods = horizon_periods(cycle, horizon)
    base_bottom = matrix(forecast, bottom_index, periods)
    bottom = mint_shrink(fit_upper(history, cycle, horizon), base_bottom, agg,
                         resid_upper, resid_bottom)
    delta = pd.DataFrame({**{k: np.repeat(bottom_keys[k].to_numpy(), horizon) for k in KEY},
                          "period": np.tile(np.array(periods, dtype=object), len(bottom_keys)),
                          "delta": (bottom - base_bottom).ravel()})
    out = forecast.merge(delta, on=[*KEY, "period"], how="left")
    shift = out.pop("delta").fillna(0.0).to_numpy()
    narrow, wide = settings.levels
    out["forecast"] = np.maximum(out["forecast"] + shift, 0.0)
    out[f"lo_{narrow}"] = np.clip(np.fmin(out[f"lo_{narrow}"] + shift, out["forecast"]), 0, None)
    out[f"hi_{narrow}"] = np.fmax(out[f"hi_{narrow}"] + shift, out["forecast"])
    out[f"lo_{wide}"] = np.clip(np.fmin(out[f"lo_{wide}"] + shift, out[f"lo_{narrow}"]), 0, None)
    out[f"hi_{wide}"] = np.fmax(out[f"hi_{wide}"] + shift, out[f"hi_{narrow}"])
    return out[forecast.columns]


def _check_history(history: pd.DataFrame) -> pd.DataFrame:
    missing = {"sku", "location", "period", "qty"} - set(history.columns)
    if missing:
        raise ValueError(f"history lacks columns {sorted(missing)}")
    out = history[["sku", "location", "period", "qty"]].copy()
    out["sku"], out["location"] = out["sku"].astype(str), out["location"].astype(str)
    out["period"] = out["period"].astype(str)
    out["qty"] = pd.to_numeric(out["qty"], errors="coerce").astype(float)
    bad = out[out["qty"].isna() | (out["qty"] < 0) | ~out["period"].map(is_month)]
    if len(bad):
        raise ValueError(
            f"history has {len(bad)} rows with a missing/negative qty or a period not in "
            f"YYYY-MM form; first: {bad.head(3).to_dict('records')}")
    return out


def _cv_shape(settings: BaselineSettings, horizon: int) -> tuple[int, int, int]:
    s = settings.season_length
    cv_h = settings.cv_horizon or min(horizon, max(s, 2))
    step = settings.cv_step or max(1, cv_h // 4)
    min_train = settings.min_cv_train_months or max(s + s // 2, 6)
    return cv_h, step, min_train


def _fit_group(panel: Panel, values: np.ndarray, rows: np.ndarray, mset: ModelSet, horizon: int,
               settings: BaselineSettings, engine: Engine,
               row_classes: np.ndarray | None = None) -> _GroupForecast:
    """CV and final forecasts for all series of a group (with one model search per series
    where `settings.cv_structure` allows, else one CV call and one final call of
    StatsForecast), then vectorised selection and intervals."""
    levels = tuple(settings.levels)
    cv_h, step, min_train = _cv_shape(settings, horizon)
    windows = settings.cv_windows
    test_size = cv_h + step * (windows - 1)
    span = np.sum(~np.isnan(values[rows]), axis=1)
    work = Panel(keys=panel.keys, first_month=panel.first_month, values=values)
    names = list(mset.candidates)
    n = rows.size

    want_levels = list(levels) if settings.interval_method == "model" else None
    cv_pos = np.flatnonzero(span >= test_size + min_train)
    # Series whose CV and final forecast come from one model search (forecasting/one_fit.py).
    min_origin = settings.structure_min_months or 2 * settings.season_length
    reuse = cv_pos[span[cv_pos] - test_size >= min_origin] if (
        settings.cv_structure == "final" and not mset.cv_refit) else np.zeros(0, dtype=int)
    refit = np.setdiff1d(np.arange(n), reuse)
    final_parts, cv_parts = [], []
    if reuse.size:
        both = engine.cv_and_forecast(mset.statsforecast_models, work.to_long(rows[reuse]),
                                      horizon, want_levels, cv_h, windows, step)
        is_final = both["window"].to_numpy() == FINAL
        final_parts.append(both[is_final].drop(columns=["window", "cutoff", "y"]))
        cv_parts.append(both.loc[~is_final, ["unique_id", "ds", "cutoff", "y",
                                             *(m.alias for m in mset.models)]])
    if refit.size:
        # Final fit of every candidate (what plain statsforecast would do).
        final_parts.append(engine.forecast(mset.statsforecast_models, work.to_long(rows[refit]),
                                           horizon, want_levels))
    fc = _order(pd.concat(final_parts, ignore_index=True), rows, horizon)
    means = {m.alias: fc[m.alias].to_numpy().reshape(n, horizon) for m in mset.models}
    for ens in mset.ensembles:
        means[ens.name] = ens.combine([means[m] for m in ens.members])
    final_ok = np.stack([np.isfinite(means[c]).all(axis=1) for c in names], axis=1)

    # Rolling-origin CV on the series long enough for it.
    errors = np.full((n, len(names)), np.inf)
    cv_actual = cv_fcst = None
    if cv_pos.size:
        only_cv = np.setdiff1d(cv_pos, reuse)
        if only_cv.size:
            cv_parts.append(engine.cross_validation(
                mset.statsforecast_models, work.to_long(rows[only_cv]), cv_h, windows, step,
                mset.cv_refit))
        cv = _order(pd.concat(cv_parts, ignore_index=True), rows[cv_pos], windows * cv_h,
                    by_cutoff=True)
        shape = (cv_pos.size, windows, cv_h)
        cv_actual = cv["y"].to_numpy().reshape(shape)
        cv_fcst = {m.alias: cv[m.alias].to_numpy().reshape(shape) for m in mset.models}
        for ens in mset.ensembles:
            cv_fcst[ens.name] = ens.combine([cv_fcst[m] for m in ens.members])
        for j, c in enumerate(names):
            err = cv_fcst[c] - cv_actual
            score = (np.mean(np.abs(err), axis=(1, 2)) if mset.cv_metric == "mae"
                     else np.sqrt(np.mean(err**2, axis=(1, 2))))
            errors[cv_pos, j] = np.where(np.isfinite(score), score, np.inf)
        for c in mset.fallback_only:
            errors[:, names.index(c)] = np.inf
    errors[~final_ok] = np.inf

    default = np.full(n, names.index(mset.default))
    if settings.class_selection and mset.class_menu and row_classes is not None and cv_pos.size:
        pre = values[rows[cv_pos], :values.shape[1] - test_size]
        default = _class_defaults(errors, names, mset.class_menu, default, row_classes, cv_pos,
                                  _seasonal_naive_mae(pre, settings.season_length),
                                  settings.class_min_series)
    chosen = _select(errors, names, mset, settings.selection_margin, final_ok, default)
    chosen, guardrail = _guard(chosen, means, errors, names, mset, panel.values[rows],
                               settings)
    runner = _runner_up(errors, chosen)
    has_cv = np.zeros(n, dtype=bool)
    has_cv[cv_pos] = True
    chosen_name = np.array([names[j] if j >= 0 else "Mean(history)" for j in chosen], dtype=object)
    mean = np.empty((n, horizon))
    for j, c in enumerate(names):
        mask = chosen == j
        mean[mask] = means[c][mask]
    # Last resort where every candidate failed: the series' own mean level.
    none = chosen < 0
    if none.any():
        with np.errstate(invalid="ignore"), np.testing.suppress_warnings() as sup:
            sup.filter(RuntimeWarning)
            mean[none] = np.nan_to_num(np.nanmean(values[rows[none]], axis=1))[:, None]

    scale_actual = np.full(n, np.nan)
    chosen_err = np.full(n, np.nan)
    if cv_actual is not None and cv_fcst is not None:
        with np.errstate(invalid="ignore"):
            scale_actual[cv_pos] = np.mean(np.abs(cv_actual), axis=(1, 2))
        chosen_err[has_cv] = errors[np.flatnonzero(has_cv), chosen[has_cv]]
    lo, hi, method = _intervals(mset, fc, chosen, chosen_name, names, mean, levels,
                                horizon, values[rows], cv_pos, cv_actual, cv_fcst, settings,
                                test_size)

    def relative(err: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.where(scale_actual > 0, err / scale_actual, err)
        return np.where(np.isfinite(rel), rel, np.nan)

    runner_name = np.array([names[j] if j >= 0 else None for j in runner], dtype=object)
    runner_err = np.where(runner >= 0, errors[np.arange(n), np.maximum(runner, 0)], np.nan)
    sigma_cv, sigma_pooled = _cumulative_error(chosen, names, cv_pos, cv_actual, cv_fcst,
                                               _naive_mae(values[rows]), cv_h)
    cv_windows = np.zeros(n, dtype=int)
    cv_windows[np.isfinite(sigma_cv[:, 0])] = windows
    return _GroupForecast(rows=rows, model=chosen_name, mean=mean, lo=lo, hi=hi,
                          cv_error=relative(chosen_err), runner_up=runner_name,
                          runner_up_error=relative(runner_err), interval_method=method,
                          guardrail=guardrail, sigma_cv=sigma_cv, sigma_pooled=sigma_pooled,
                          cv_windows=cv_windows)


def _cumulative_error(chosen: np.ndarray, names: list[str], cv_pos: np.ndarray,
                      cv_actual: np.ndarray | None, cv_fcst: dict[str, np.ndarray] | None,
                      scale: np.ndarray, cv_h: int) -> tuple[np.ndarray, np.ndarray]:
    """Per series of a group, for k = 1..cv_h months ahead: the RMSE over the CV windows of
    the chosen model's cumulative error (sum of actual - forecast over the first k months
    of a window), and the group's pooled estimate of it at the series' own scale.

    The cumulative error is what a stock covering k months runs out against (Prak, Teunter &
    Syntetos 2017): it carries the correlation of errors across months that the sum of monthly
    variances would miss. Its RMSE is not centred, so a biased model is charged for its bias.
    A few windows give a noisy RMSE per series; the pooled estimate is the RMS over the
    group's series and windows of the cumulative error divided by the series' one-step naive
    MAE (the scale the conformal intervals use), multiplied back by the series' scale. It also
    serves series too short to validate. NaN where neither exists.
    """
    n = chosen.size
    own = np.full((n, cv_h), np.nan)
    pooled = np.full((n, cv_h), np.nan)
    if cv_actual is None or cv_fcst is None or not cv_pos.size:
        return own, pooled
    pick = chosen[cv_pos]
    ok = pick >= 0
    idx = cv_pos[ok]
    if not idx.size:
        return own, pooled
    stacked = np.stack([cv_fcst[c] for c in names], axis=0)  # (cand, n_cv, w, h)
    err = cv_actual[ok] - stacked[pick[ok], np.flatnonzero(ok)]  # (k, w, h)
    cum = np.cumsum(err, axis=2)
    with np.errstate(invalid="ignore"):
        own[idx] = np.sqrt(np.mean(cum**2, axis=1))
    own[~np.isfinite(own)] = np.nan
    s = scale[idx]
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = cum / np.where(s > 0, s, np.nan)[:, None, None]
    rel = rel.reshape(-1, rel.shape[2])
    finite = np.isfinite(rel).all(axis=1)
    if finite.any():
        rho = np.sqrt(np.mean(rel[finite] ** 2, axis=0))  # (cv_h,)
        pooled = np.where(scale[:, None] > 0, scale[:, None] * rho[None, :], np.nan)
    return own, pooled


def _error_frame(panel: Panel, parts: list[_GroupForecast], cv_h: int) -> pd.DataFrame:
    """The long FORECAST_ERROR_COLUMNS frame of every series, in panel order."""
    n = len(panel.keys)
    own = np.full((n, cv_h), np.nan)
    pooled = np.full((n, cv_h), np.nan)
    windows = np.zeros(n, dtype=int)
    for p in parts:
        own[p.rows], pooled[p.rows], windows[p.rows] = p.sigma_cv, p.sigma_pooled, p.cv_windows
    return pd.DataFrame({
        "sku": np.repeat(panel.keys["sku"].to_numpy(), cv_h),
        "location": np.repeat(panel.keys["location"].to_numpy(), cv_h),
        "months": np.tile(np.arange(1, cv_h + 1), n),
        "sigma_cv": own.ravel(), "sigma_pooled": pooled.ravel(),
        "cv_windows": np.repeat(windows, cv_h),
    }, columns=FORECAST_ERROR_COLUMNS)


def _order(df: pd.DataFrame, rows: np.ndarray, per_series: int,
           by_cutoff: bool = False) -> pd.DataFrame:
    """Sort statsforecast output into the order of `rows`, checking it is rectangular."""
    df = df.reset_index(drop=("unique_id" in df.columns))
    pos = pd.Series(np.arange(rows.size), index=rows)
    df["_pos"] = df["unique_id"].map(pos).to_numpy()
    order = ["_pos", "cutoff", "ds"] if by_cutoff else ["_pos", "ds"]
    df = df.sort_values(order, kind="stable", ignore_index=True)
    if len(df) != rows.size * per_series:
        raise RuntimeError(f"statsforecast returned {len(df)} rows, expected "
                           f"{rows.size * per_series}")
    return df


def _seasonal_naive_mae(history: np.ndarray, season: int) -> np.ndarray:
    """In-sample seasonal-naive MAE per row (NaN where undefined or 0): MASE's scale."""
    if history.shape[1] <= season:
        return np.full(history.shape[0], np.nan)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows without a full season
        mae = np.nanmean(np.abs(history[:, season:] - history[:, :-season]), axis=1)
    return np.where(mae > 0, mae, np.nan)


def _class_defaults(errors: np.ndarray, names: list[str], menu: tuple[str, ...],
                    default: np.ndarray, row_classes: np.ndarray, cv_pos: np.ndarray,
                    scale: np.ndarray, min_series: int) -> np.ndarray:
    """Per series the candidate of `menu` its demand class adopts as its default.

    Each CV series' error of every menu candidate is divided by `scale` (its seasonal-naive
    MAE before the first CV origin, so that every series weighs alike, as in MASE) and
    averaged over the class's series; the lowest mean wins. Hundreds of series x windows
    make that a steady choice, where the same comparison per series over three overlapping
    windows is mostly noise (per-series selection cost 0.3 sMAPE on M3's validation split).
    A class with fewer than `min_series` usable series takes the choice pooled over the
    whole group (its classes together): a dozen erratic series among a thousand smooth ones
    are too few to decide alone, and on M1's and M3's validation splits the group's choice
    served them better than the plain default. A group with fewer than `min_series` keeps
    `default`. Series without CV take their class's choice too.
    """
    out = default.copy()
    cols = np.array([names.index(c) for c in menu])
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = errors[np.ix_(cv_pos, cols)] / scale[:, None]
    usable = np.isfinite(rel).all(axis=1)
    if usable.sum() < min_series:
        return out
    group = int(cols[int(np.argmin(rel[usable].mean(axis=0)))])
    cv_classes = row_classes[cv_pos]
    for k in np.unique(row_classes):
        in_k = usable & (cv_classes == k)
        out[row_classes == k] = (int(cols[int(np.argmin(rel[in_k].mean(axis=0)))])
                                 if in_k.sum() >= min_series else group)
    return out


def _select(errors: np.ndarray, names: list[str], mset: ModelSet, margin: float,
            final_ok: np.ndarray, default: np.ndarray | None = None) -> np.ndarray:
    """Chosen candidate index per series (-1 = none).

    `default`: per series the candidate it takes unless something below overrides it
    (None = `mset.default` for every series).
    With CV and `mset.per_series`: the default unless another candidate's CV error is
    `margin` lower; otherwise always the default.
    Without CV (or where the default failed): the default, else the first working fallback.
    """
    n = errors.shape[0]
    order = np.argsort(errors, axis=1, kind="stable")
    best = order[:, 0]
    best_err = errors[np.arange(n), best]
    if default is None:
        default = np.full(n, names.index(mset.default))
    default_err = errors[np.arange(n), default]
    has_cv = np.isfinite(errors).any(axis=1) & np.isfinite(best_err)
    switch = has_cv & mset.per_series & (
        ~np.isfinite(default_err) | (best_err < (1.0 - margin) * default_err))
    chosen = np.where(switch, best, default)
    # Without CV (or default failed in the final fit): walk the fallback chain.
    need = ~final_ok[np.arange(n), chosen]
    for name in mset.fallbacks:
        j = names.index(name)
        take = need & final_ok[:, j]
        chosen[take] = j
        need &= ~take
    chosen[need] = -1
    return chosen


def _runner_up(errors: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """The best CV candidate other than the chosen one (-1 = none)."""
    n = errors.shape[0]
    masked = errors.copy()
    masked[np.arange(n), np.maximum(chosen, 0)] = np.inf
    runner = np.argmin(masked, axis=1)
    return np.where(np.isfinite(masked[np.arange(n), runner]), runner, -1)


def envelope_cap(history: np.ndarray, factor: float, months: int) -> np.ndarray:
    """Upper end of the plausible envelope per row: `factor` x the maximum of the raw
    history's last `months` months (NaN where that maximum is not positive: no reference)."""
    recent = history[:, -months:]
    with np.errstate(invalid="ignore"), np.testing.suppress_warnings() as sup:
        sup.filter(RuntimeWarning)  # all-NaN rows (no history)
        top = np.nanmax(recent, axis=1) if recent.shape[1] else np.full(len(history), np.nan)
    return np.where(top > 0, factor * top, np.nan)


def _guard(chosen: np.ndarray, means: dict[str, np.ndarray], errors: np.ndarray,
           names: list[str], mset: ModelSet, history: np.ndarray,
           settings: BaselineSettings) -> tuple[np.ndarray, np.ndarray]:
    """Replace a chosen forecast that leaves the envelope of its own history.

    Envelope: max(forecast) <= `envelope_factor` x max(raw history of the last
    `envelope_months`). Where the chosen candidate exceeds it, the series takes the single
    (non-ensemble) candidate with the lowest CV error that stays inside (`fallback_only`
    ones last), without CV the first inside along the fallback chain; if none is inside,
    the series' own mean (`Mean(history)`). Returns the new choice and, per series, None or
    the reason (rejected model, its maximum, the cap and the replacement).
    """
    n = chosen.size
    reason = np.full(n, None, dtype=object)
    if settings.envelope_factor is None or n == 0:
        return chosen, reason
    months = settings.envelope_months or 3 * settings.season_length
    cap = envelope_cap(history, settings.envelope_factor, months)
    with np.errstate(invalid="ignore"), np.testing.suppress_warnings() as sup:
        sup.filter(RuntimeWarning)
        top = np.stack([np.nanmax(means[c], axis=1) for c in names], axis=1)
        inside = np.isfinite(top) & ~(top > cap[:, None])  # no cap (NaN): inside
    rows = np.arange(n)
    bad = (chosen >= 0) & ~inside[rows, np.maximum(chosen, 0)]
    if not bad.any():
        return chosen, reason
    out = chosen.copy()
    singles = [names.index(m.alias) for m in mset.models]
    primary = [j for j in singles if names[j] not in mset.fallback_only]
    last = [j for j in singles if names[j] in mset.fallback_only]
    chain = [names.index(c) for c in mset.fallbacks]
    for i in np.flatnonzero(bad):
        scored = sorted((errors[i, j], j) for j in primary if inside[i, j]
                        and np.isfinite(errors[i, j]))
        pick = scored[0][1] if scored else next(
            (j for j in [*chain, *last] if inside[i, j]), -1)
        out[i] = pick
        new = names[pick] if pick >= 0 else "Mean(history)"
        reason[i] = (f"{names[chosen[i]]} forecast max {top[i, chosen[i]]:.6g} > "
                     f"{settings.envelope_factor:g} x history max of the last {months} months "
                     f"({cap[i] / settings.envelope_factor:.6g}); replaced by {new}")
    return out, reason


def _naive_mae(history: np.ndarray) -> np.ndarray:
    """Mean absolute month-on-month change per row (NaN before a series starts), 0 if none."""
    with np.errstate(invalid="ignore"), np.testing.suppress_warnings() as sup:
        sup.filter(RuntimeWarning)
        return np.nan_to_num(np.nanmean(np.abs(np.diff(history, axis=1)), axis=1))


def _intervals(mset: ModelSet, fc: pd.DataFrame, chosen: np.ndarray,
               chosen_name: np.ndarray, names: list[str], mean: np.ndarray,
               levels: tuple[int, ...], horizon: int, history: np.ndarray, cv_pos: np.ndarray,
               cv_actual: np.ndarray | None, cv_fcst: dict[str, np.ndarray] | None,
               settings: BaselineSettings, test_size: int
               ) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray], np.ndarray]:
    """Model intervals where the chosen model has them (and `interval_method="model"`), else
    conformal.

    Conformal: signed CV errors of each series' chosen candidate, divided by a per-series
    scale, pooled over the group's series and windows per horizon step (±1 step), give
    quantiles that are multiplied back by the series' scale. Pooling across series is what
    makes a handful of windows enough; steps beyond the CV horizon widen with sqrt(step).
    Scale `naive` (default): one-step naive MAE of the history before the first CV origin for
    the calibration, of the whole history for the forecast; it is estimated apart from the
    CV errors, so the pooled quantiles are not shrunk by self-normalisation. Scale `cv_mae`:
    the series' CV MAE; series without CV then use their naive MAE times the group's median
    ratio of CV MAE to it.
    """
    n = mean.shape[0]
    lo = {lv: np.full((n, horizon), np.nan) for lv in levels}
    hi = {lv: np.full((n, horizon), np.nan) for lv in levels}
    method = np.full(n, "conformal", dtype=object)
    if settings.interval_method == "model":
        for m in mset.models:
            if not m.native_intervals:
                continue
            mask = chosen_name == m.alias
            if not mask.any():
                continue
            for lv in levels:
                lo[lv][mask] = fc[f"{m.alias}-lo-{lv}"].to_numpy().reshape(n, horizon)[mask]
                hi[lv][mask] = fc[f"{m.alias}-hi-{lv}"].to_numpy().reshape(n, horizon)[mask]
            method[mask] = "model"
        usable = np.all([np.isfinite(lo[lv]).all(axis=1) & np.isfinite(hi[lv]).all(axis=1)
                         for lv in levels], axis=0)
        method[~usable] = "conformal"

    naive_mae = _naive_mae(history)
    scale = naive_mae.copy()
    quantiles: dict[tuple[int, str], np.ndarray] = {}
    steps = np.arange(1, horizon + 1)
    usable_cv = np.zeros(0, dtype=int)
    if cv_actual is not None and cv_fcst is not None and cv_pos.size:
        pick = chosen[cv_pos]
        usable_cv = np.flatnonzero(pick >= 0)
    if usable_cv.size:
        assert cv_actual is not None and cv_fcst is not None
        stacked = np.stack([cv_fcst[c] for c in names], axis=0)  # (cand, n_cv, w, h)
        idx = cv_pos[usable_cv]
        err = cv_actual[usable_cv] - stacked[chosen[idx], usable_cv]  # (k, w, h)
        if settings.conformal_scale == "naive":
            calib = _naive_mae(history[idx, :history.shape[1] - test_size])
        else:
            calib = np.mean(np.abs(err), axis=(1, 2))
            scale[idx] = calib
            ratio_ok = naive_mae[idx] > 0
            ratio = (np.median(calib[ratio_ok] / naive_mae[idx][ratio_ok]) if ratio_ok.any()
                     else 1.0)
            no_cv = np.ones(n, dtype=bool)
            no_cv[idx] = False
            scale[no_cv] = naive_mae[no_cv] * ratio
        with np.errstate(invalid="ignore", divide="ignore"):
            # A series flat up to the first origin has no scale: left out of the pool.
            z = err / np.where(calib > 0, calib, np.nan)[:, None, None]
        cv_h = z.shape[2]
        for lv in levels:
            qlo, qhi = np.zeros(cv_h), np.zeros(cv_h)
            for k in range(cv_h):
                pool = z[:, :, max(k - 1, 0):k + 2].ravel()
                pool = pool[np.isfinite(pool)]
                if pool.size:
                    qlo[k] = np.quantile(pool, 0.5 - lv / 200.0)
                    qhi[k] = np.quantile(pool, 0.5 + lv / 200.0)
            # Wider, never narrower, further out; beyond the CV horizon grow like sqrt(step).
            qlo, qhi = np.minimum.accumulate(qlo), np.maximum.accumulate(qhi)
            grow = np.sqrt(np.maximum(steps, cv_h) / cv_h)
            quantiles[(lv, "lo")] = np.concatenate([qlo, np.full(horizon, qlo[-1])])[:horizon]
            quantiles[(lv, "hi")] = np.concatenate([qhi, np.full(horizon, qhi[-1])])[:horizon]
            quantiles[(lv, "lo")] *= np.where(steps > cv_h, grow, 1.0)
            quantiles[(lv, "hi")] *= np.where(steps > cv_h, grow, 1.0)
    else:
        # No series of the group could be validated: random-walk-like normal intervals,
        # MAE -> sigma by sqrt(pi/2).
        for lv in levels:
            zq = norm.ppf(0.5 + lv / 200.0) * np.sqrt(np.pi / 2) * np.sqrt(steps)
            quantiles[(lv, "lo")], quantiles[(lv, "hi")] = -zq, zq
    conformal = method == "conformal"
    for lv in levels:
        lo[lv][conformal] = (mean + scale[:, None] * quantiles[(lv, "lo")][None, :])[conformal]
        hi[lv][conformal] = (mean + scale[:, None] * quantiles[(lv, "hi")][None, :])[conformal]
    return lo, hi, method


def _assemble(panel: Panel, values: np.ndarray, classes: np.ndarray,
              parts: list[_GroupForecast], cycle: str, horizon: int,
              levels: tuple[int, ...]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stack the groups into SPEC's long `baseline_forecast` and the `selection` table."""
    n = len(panel.keys)
    model = np.empty(n, dtype=object)
    mean = np.zeros((n, horizon))
    lo = {lv: np.zeros((n, horizon)) for lv in levels}
    hi = {lv: np.zeros((n, horizon)) for lv in levels}
    sel = pd.DataFrame(index=np.arange(n), columns=SELECTION_COLUMNS[2:])
    for p in parts:
        model[p.rows] = p.model
        mean[p.rows] = p.mean
        for lv in levels:
            lo[lv][p.rows], hi[lv][p.rows] = p.lo[lv], p.hi[lv]
        sel.loc[p.rows, "model"] = p.model
        sel.loc[p.rows, "cv_error"] = p.cv_error
        sel.loc[p.rows, "runner_up"] = p.runner_up
        sel.loc[p.rows, "runner_up_error"] = p.runner_up_error
        sel.loc[p.rows, "interval_method"] = p.interval_method
        sel.loc[p.rows, "guardrail"] = p.guardrail
    # Demand is never negative: floor everything at zero, then force the bounds to nest.
    mean = np.maximum(np.nan_to_num(mean), 0.0)
    narrow, wide = levels[0], levels[-1]
    lo_n = np.clip(np.fmin(lo[narrow], mean), 0.0, None)
    hi_n = np.fmax(hi[narrow], mean)
    lo_w = np.clip(np.fmin(lo[wide], lo_n), 0.0, None)
    hi_w = np.fmax(hi[wide], hi_n)
    periods = horizon_periods(cycle, horizon)
    forecast = pd.DataFrame({
        "sku": np.repeat(panel.keys["sku"].to_numpy(), horizon),
        "location": np.repeat(panel.keys["location"].to_numpy(), horizon),
        "period": np.tile(np.array(periods, dtype=object), n),
        "model": np.repeat(model, horizon).astype(str),
        "forecast": mean.ravel(),
        f"lo_{narrow}": lo_n.ravel(), f"hi_{narrow}": hi_n.ravel(),
        f"lo_{wide}": lo_w.ravel(), f"hi_{wide}": hi_w.ravel(),
        "demand_class": np.repeat(classes, horizon).astype(str),
    })
    forecast = forecast[["sku", "location", "period", "model", "forecast", f"lo_{narrow}",
                         f"hi_{narrow}", f"lo_{wide}", f"hi_{wide}", "demand_class"]]
    sel["demand_class"] = classes
    sel["history_months"] = demand_stats(values)["span"].to_numpy()
    selection = pd.concat([panel.keys, sel], axis=1)[SELECTION_COLUMNS]
    selection = selection.astype({"cv_error": float, "runner_up_error": float,
                                  "history_months": int})
    return forecast, selection
