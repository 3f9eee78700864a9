"""fit_baselines: promo-free statistical baseline per SKU x location with 80/95% intervals."""

import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy.stats import norm

from data_contracts.periods import add_months, horizon_periods, is_month
from data_contracts.tables import OUTPUT_COLUMNS
from forecasting.cleaning import CLEANING_COLUMNS, clean_promotions, clip_outliers
from forecasting.cold_start import (
    ColdStartEvidence,
    ColdStartPool,
    cold_start_evidence,
    combine_cold_start,
    family_of,
    forecast_cold_start,
)
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
from forecasting.pooled_ar import ALIAS as POOLED
from forecasting.pooled_ar import pooled_forecasts
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


@dataclass
class _PendingGroup:
    """A model group's fit before the estimates it pools over the catalogue's series: the
    conformal rows' bounds and `sigma_pooled` are set by `_finish_group`."""

    group: int  # position in `_model_groups`
    fit: _GroupForecast
    conformal: np.ndarray  # (n,) bool: intervals from the pooled conformal quantiles
    naive: np.ndarray  # (n,) one-step naive MAE of the history (the series' scale)
    validated: np.ndarray  # (n,) bool: the chosen model's CV errors enter the pool
    calib: np.ndarray  # (n,) CV MAE of the chosen model where validated, else NaN


@dataclass
class _PendingCold:
    """The `new` rows of a panel, what their cold-start forecast needs besides the pool."""

    rows: np.ndarray
    panel: Panel  # just these rows
    in_history: np.ndarray
    products: pd.DataFrame | None


@dataclass
class PoolEvidence:
    """A model group's errors that its pooled estimates are taken over: conformal scores
    (`z`, validated series x windows x CV months), the ratios of CV MAE to naive MAE (scale
    `cv_mae`) and the relative cumulative errors with the series each row belongs to."""

    z: np.ndarray
    ratios: np.ndarray
    rel: np.ndarray
    rel_keys: pd.DataFrame  # sku, location per row of `rel`


@dataclass
class BaselineEvidence:
    """What one partition's fit gives the estimates pooled over the catalogue's series."""

    groups: dict[int, PoolEvidence]
    cold: ColdStartEvidence


@dataclass
class GroupPool:
    """A model group's pooled estimates: conformal quantiles per (level, side), None when no
    series of the catalogue could be validated; the median CV-to-naive MAE ratio; the relative
    RMSE of the cumulative error per months ahead, None without one."""

    quantiles: dict[tuple[int, str], np.ndarray] | None
    ratio: float
    rho: np.ndarray | None


@dataclass
class PooledEvidence:
    """Every estimate `fit_baselines` pools over the catalogue's series."""

    groups: dict[int, GroupPool]
    cold: ColdStartPool


@dataclass
class _GroupFit:
    """A model group's candidates fitted and cross-validated, before the choice of model: the
    demand classes' combination is chosen over the catalogue's series (`choose_classes`)."""

    group: int  # position in `_model_groups`
    rows: np.ndarray
    mset: ModelSet
    means: dict[str, np.ndarray]  # candidate -> (n, horizon)
    fc: pd.DataFrame  # the final forecasts, for the models' own intervals
    errors: np.ndarray  # (n, candidates) CV error, inf where none
    cv_pos: np.ndarray
    cv_actual: np.ndarray | None
    cv_fcst: dict[str, np.ndarray] | None
    values: np.ndarray  # the series' modelled history (cleaned)
    raw: np.ndarray  # the series' history as recorded (the guardrail's envelope)
    classes: np.ndarray  # demand class per series
    test_size: int


@dataclass
class ClassEvidence:
    """A model group's CV errors of its class menu over series with CV, each divided by the
    series' seasonal-naive MAE (`rel`, series x menu candidates; rows finite), with each
    row's demand class and series: `choose_classes` averages them per class."""

    rel: np.ndarray
    classes: np.ndarray
    keys: pd.DataFrame  # sku, location per row of `rel`


@dataclass
class PartialFit:
    """One partition's fitted candidates, waiting for the catalogue's class choice
    (`select_partition`)."""

    keys: pd.DataFrame
    classes: np.ndarray
    span: np.ndarray
    cycle: str
    horizon: int
    groups: list[_GroupFit]
    cold: _PendingCold | None
    cold_evidence: ColdStartEvidence
    cleaning: pd.DataFrame


# Per model group: per demand class the candidate index its series default to (absent: the
# group's default).
ClassChoice = dict[int, dict[str, int]]


@dataclass
class PartialBaselines:
    """One partition's fit, waiting for the catalogue's `PooledEvidence` (`finish_partition`)."""

    keys: pd.DataFrame
    classes: np.ndarray
    span: np.ndarray
    cycle: str
    horizon: int
    groups: list[_PendingGroup]
    cold: _PendingCold | None
    cleaning: pd.DataFrame


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
    fitter = engine or LocalEngine(n_jobs)
    history, cycle = _checked(history, horizon, cycle)
    fit, class_evidence = _fit_partial(history, horizon, settings, cycle, promotions, keys,
                                       products, fitter, None)
    partial, evidence = select_partition(fit, choose_classes([class_evidence], settings),
                                         settings)
    result = finish_partition(partial, pool_evidence([evidence], settings, horizon), settings)
    if settings.hierarchy == "mint_shrink":
        result.forecast = _reconcile_hierarchy(result.forecast, history, horizon, settings,
                                               cycle, promotions, products, fitter)
    return result


def fit_partition(history: pd.DataFrame, horizon: int, settings: BaselineSettings, cycle: str,
                  promotions: pd.DataFrame | None, keys: pd.DataFrame | None,
                  products: pd.DataFrame | None, engine: Engine, first_month: str | None
                  ) -> tuple[PartialFit, dict[int, ClassEvidence]]:
    """Fit the series of one partition of the catalogue (a group of locations: `history`,
    `promotions` and `keys` of those locations only, `products` whole), up to the choice of
    model; `first_month`: the catalogue's first history month.

    Three steps pooled over the catalogue make each partition's rows of `fit_baselines` on
    the whole catalogue, number for number (`hierarchy: mint_shrink` excepted: its aggregates
    span every location): `choose_classes` of every partition's class evidence, then
    `select_partition` of each partial fit, `pool_evidence` of their evidence, then
    `finish_partition` of each.
    """
    history, cycle = _checked(history, horizon, cycle)
    return _fit_partial(history, horizon, settings, cycle, promotions, keys, products, engine,
                        first_month)


def choose_classes(parts: list[dict[int, ClassEvidence]], settings: BaselineSettings
                   ) -> ClassChoice:
    """Per model group and demand class, the combination of the group's class menu with the
    lowest CV error pooled over the catalogue's series (`_class_defaults`); rows in catalogue
    order, so the means are the whole catalogue's to the last bit."""
    out: ClassChoice = {}
    if not settings.class_selection:
        return out
    for g, (mset, members) in enumerate(_model_groups(settings)):
        ev = [p[g] for p in parts if g in p]
        if not mset.class_menu or not ev:
            continue
        keys = pd.concat([e.keys for e in ev], ignore_index=True)
        order = keys.sort_values(KEY, kind="stable").index.to_numpy()
        rel = np.concatenate([e.rel for e in ev], axis=0)[order]
        classes = np.concatenate([e.classes for e in ev])[order]
        out[g] = _class_defaults(rel, list(mset.candidates), mset.class_menu, classes,
                                 members, settings.class_min_series)
    return out


def select_partition(fit: PartialFit, choice: ClassChoice, settings: BaselineSettings
                     ) -> tuple[PartialBaselines, BaselineEvidence]:
    """A partition's models chosen (with the catalogue's class choice), its intervals and
    errors up to what is pooled: the partial fit and the evidence `pool_evidence` takes."""
    pending: list[_PendingGroup] = []
    evidence: dict[int, PoolEvidence] = {}
    for f in fit.groups:
        group, evidence[f.group] = _select_group(f, choice.get(f.group, {}), settings,
                                                 fit.keys)
        pending.append(group)
    partial = PartialBaselines(keys=fit.keys, classes=fit.classes, span=fit.span,
                               cycle=fit.cycle, horizon=fit.horizon, groups=pending,
                               cold=fit.cold, cleaning=fit.cleaning)
    return partial, BaselineEvidence(groups=evidence, cold=fit.cold_evidence)


def _checked(history: pd.DataFrame, horizon: int, cycle: str | None) -> tuple[pd.DataFrame, str]:
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
    return history, cycle


def _model_groups(settings: BaselineSettings) -> list[tuple[ModelSet, list[str]]]:
    s = settings.season_length
    return [(seasonal_set(s, settings.with_ces, settings.seasonal_selection,
                          settings.pooled_ar), [SMOOTH, ERRATIC]),
            (intermittent_set(), [INTERMITTENT, LUMPY])]


def _fit_partial(history: pd.DataFrame, horizon: int, settings: BaselineSettings, cycle: str,
                 promotions: pd.DataFrame | None, keys: pd.DataFrame | None,
                 products: pd.DataFrame | None, fitter: Engine, first_month: str | None
                 ) -> tuple[PartialFit, dict[int, ClassEvidence]]:
    extra = None
    if keys is not None:
        extra = keys[KEY].astype(str)
    s = settings.season_length
    min_history = settings.min_history_months or 2 * s

    panel = build_panel(history, cycle, extra, first_month)
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

    fits: list[_GroupFit] = []
    class_evidence: dict[int, ClassEvidence] = {}
    for g, (mset, members) in enumerate(_model_groups(settings)):
        rows = np.flatnonzero(np.isin(classes, members))
        if rows.size:
            fit = _fit_group(panel, values, rows, mset, horizon, settings, fitter, g,
                             classes[rows])
            fits.append(fit)
            if settings.class_selection and mset.class_menu:
                class_evidence[g] = _class_evidence(fit, panel.keys, settings.season_length)
    established = classes != NEW
    families = panel.keys["sku"].map(family_of(products))
    cold_evidence = cold_start_evidence(panel, values, families, established, s)
    new_rows = np.flatnonzero(classes == NEW)
    cold = None
    if new_rows.size:
        sub = Panel(keys=panel.keys.iloc[new_rows].reset_index(drop=True),
                    first_month=panel.first_month, values=values[new_rows])
        wanted = None if products is None else products[
            products["sku"].astype(str).isin(set(sub.keys["sku"]))]
        cold = _PendingCold(rows=new_rows, panel=sub, in_history=np.asarray(in_history)[new_rows],
                            products=wanted)

    logs = [log for log in (promo_log, outlier_log) if log is not None and len(log)]
    cleaning = (pd.concat(logs, ignore_index=True) if logs
                else pd.DataFrame(columns=CLEANING_COLUMNS))
    cleaning = cleaning.astype({"original": float, "cleaned": float})
    cleaning = cleaning.sort_values([*KEY, "period", "rule"], ignore_index=True)
    partial = PartialFit(keys=panel.keys, classes=classes,
                         span=demand_stats(values)["span"].to_numpy(), cycle=cycle,
                         horizon=horizon, groups=fits, cold=cold, cold_evidence=cold_evidence,
                         cleaning=cleaning)
    return partial, class_evidence


def pool_evidence(parts: list[BaselineEvidence], settings: BaselineSettings,
                  horizon: int) -> PooledEvidence:
    """The pooled estimates of the catalogue from its partitions' evidence (one part: a
    catalogue fitted whole). Rows are put in catalogue order where the order changes a sum."""
    levels = tuple(settings.levels)
    groups: dict[int, GroupPool] = {}
    for g in sorted({g for p in parts for g in p.groups}):
        ev = [p.groups[g] for p in parts if g in p.groups]
        z = np.concatenate([e.z for e in ev], axis=0)
        ratios = np.concatenate([e.ratios for e in ev])
        rel_keys = pd.concat([e.rel_keys for e in ev], ignore_index=True)
        order = rel_keys.sort_values(KEY, kind="stable").index.to_numpy()
        rel = np.concatenate([e.rel for e in ev], axis=0)[order]
        groups[g] = GroupPool(
            quantiles=_conformal_quantiles(z, levels, horizon) if z.shape[0] else None,
            ratio=float(np.median(ratios)) if ratios.size else 1.0,
            rho=_pooled_rho(rel))
    cold = combine_cold_start([p.cold for p in parts], settings.season_length)
    return PooledEvidence(groups=groups, cold=cold)


def finish_partition(partial: PartialBaselines, pooled: PooledEvidence,
                     settings: BaselineSettings) -> BaselineResult:
    """The BaselineResult of a partition (see `fit_partition`) with the catalogue's pools
    (`hierarchy` is not applied here: `fit_baselines` does it)."""
    levels = tuple(settings.levels)
    horizon = partial.horizon
    cv_h = _cv_shape(settings, horizon)[0]
    parts = [_finish_group(p, pooled.groups[p.group], settings, levels) for p in partial.groups]
    if partial.cold is not None:
        c = partial.cold
        n = c.rows.size
        cold = forecast_cold_start(c.panel, c.panel.values, np.arange(n), c.in_history,
                                   c.products, partial.cycle, horizon, settings.season_length,
                                   levels, pooled.cold)
        parts.append(_GroupForecast(
            rows=c.rows, model=cold.model, mean=cold.mean, lo=cold.lo, hi=cold.hi,
            cv_error=np.full(n, np.nan), runner_up=np.full(n, None, dtype=object),
            runner_up_error=np.full(n, np.nan), interval_method=np.full(n, "cold_start"),
            guardrail=np.full(n, None, dtype=object),
            sigma_cv=np.full((n, cv_h), np.nan), sigma_pooled=np.full((n, cv_h), np.nan),
            cv_windows=np.zeros(n, dtype=int)))
    forecast, selection = _assemble(partial.keys, partial.span, partial.classes, parts,
                                    partial.cycle, horizon, levels)
    forecast_error = _error_frame(partial.keys, parts, cv_h)
    return BaselineResult(forecast=forecast, cleaning=partial.cleaning, selection=selection,
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
               settings: BaselineSettings, engine: Engine, group: int,
               row_classes: np.ndarray) -> _GroupFit:
    """CV and final forecasts for all series of a group (with one model search per series
    where `settings.cv_structure` allows, else one CV call and one final call of
    StatsForecast) and every candidate's CV error; the choice is `_select_group`'s."""
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
    pooled_cv = None
    if mset.pooled:
        # One pool per warehouse: a run fitted one warehouse at a time gets the same maps.
        means[POOLED], pooled_cv = pooled_forecasts(
            values[rows], panel.keys["location"].to_numpy()[rows], horizon, cv_pos, cv_h,
            windows, step)
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
        if pooled_cv is not None:
            cv_fcst[POOLED] = pooled_cv
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
    return _GroupFit(group=group, rows=rows, mset=mset, means=means, fc=fc, errors=errors,
                     cv_pos=cv_pos, cv_actual=cv_actual, cv_fcst=cv_fcst, values=values[rows],
                     raw=panel.values[rows], classes=row_classes, test_size=test_size)


def _class_evidence(fit: _GroupFit, keys: pd.DataFrame, season: int) -> ClassEvidence:
    """The class menu's CV errors of the group's series with CV, relative to each series'
    seasonal-naive MAE before the first CV origin (so every series weighs alike, as in
    MASE), where every menu candidate has one."""
    names = list(fit.mset.candidates)
    cols = np.array([names.index(c) for c in fit.mset.class_menu])
    pre = fit.values[fit.cv_pos, :fit.values.shape[1] - fit.test_size]
    scale = _seasonal_naive_mae(pre, season)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = fit.errors[np.ix_(fit.cv_pos, cols)] / scale[:, None]
    usable = np.isfinite(rel).all(axis=1)
    return ClassEvidence(rel=rel[usable], classes=fit.classes[fit.cv_pos][usable],
                         keys=keys.iloc[fit.rows[fit.cv_pos][usable]].reset_index(drop=True))


def _select_group(fit: _GroupFit, class_choice: dict[str, int], settings: BaselineSettings,
                  keys: pd.DataFrame) -> tuple[_PendingGroup, PoolEvidence]:
    """Vectorised selection (each series' class default from `class_choice`), guardrail and
    model intervals; what is pooled over the group's series (conformal quantiles, the
    cumulative error's scale) is left to `_finish_group`, with the errors it pools as
    evidence."""
    mset, rows, means, errors, fc = fit.mset, fit.rows, fit.means, fit.errors, fit.fc
    cv_pos, cv_actual, cv_fcst, values = fit.cv_pos, fit.cv_actual, fit.cv_fcst, fit.values
    names = list(mset.candidates)
    n, horizon = rows.size, next(iter(means.values())).shape[1]
    levels = tuple(settings.levels)
    cv_h, _, _ = _cv_shape(settings, horizon)
    windows = settings.cv_windows
    final_ok = np.stack([np.isfinite(means[c]).all(axis=1) for c in names], axis=1)
    default = np.full(n, names.index(mset.default))
    for k, j in class_choice.items():
        default[fit.classes == k] = j
    chosen = _select(errors, names, mset, settings.selection_margin, final_ok, default)
    if mset.pooled:
        chosen = _unblended_where_missing(chosen, names, mset, means[POOLED])
    chosen, guardrail = _guard(chosen, means, errors, names, mset, fit.raw, settings)
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
            mean[none] = np.nan_to_num(np.nanmean(values[none], axis=1))[:, None]

    scale_actual = np.full(n, np.nan)
    chosen_err = np.full(n, np.nan)
    if cv_actual is not None and cv_fcst is not None:
        with np.errstate(invalid="ignore"):
            scale_actual[cv_pos] = np.mean(np.abs(cv_actual), axis=(1, 2))
        chosen_err[has_cv] = errors[np.flatnonzero(has_cv), chosen[has_cv]]
    lo, hi, method = _model_intervals(mset, fc, chosen_name, levels, n, horizon, settings)
    naive = _naive_mae(values)
    validated, calib, z, ratios = _conformal_errors(chosen, names, naive, values, cv_pos,
                                                    cv_actual, cv_fcst, settings, fit.test_size,
                                                    cv_h)

    def relative(err: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.where(scale_actual > 0, err / scale_actual, err)
        return np.where(np.isfinite(rel), rel, np.nan)

    runner_name = np.array([names[j] if j >= 0 else None for j in runner], dtype=object)
    runner_err = np.where(runner >= 0, errors[np.arange(n), np.maximum(runner, 0)], np.nan)
    sigma_cv, rel_cum, rel_rows = _cumulative_errors(chosen, names, cv_pos, cv_actual, cv_fcst,
                                                     naive, cv_h)
    cv_windows = np.zeros(n, dtype=int)
    cv_windows[np.isfinite(sigma_cv[:, 0])] = windows
    forecast = _GroupForecast(rows=rows, model=chosen_name, mean=mean, lo=lo, hi=hi,
                         cv_error=relative(chosen_err), runner_up=runner_name,
                         runner_up_error=relative(runner_err), interval_method=method,
                         guardrail=guardrail, sigma_cv=sigma_cv,
                         sigma_pooled=np.full((n, cv_h), np.nan), cv_windows=cv_windows)
    pending = _PendingGroup(group=fit.group, fit=forecast, conformal=method == "conformal",
                            naive=naive, validated=validated, calib=calib)
    evidence = PoolEvidence(z=z, ratios=ratios, rel=rel_cum,
                            rel_keys=keys.iloc[rows[rel_rows]].reset_index(drop=True))
    return pending, evidence


def _finish_group(p: _PendingGroup, pool: GroupPool, settings: BaselineSettings,
                  levels: tuple[int, ...]) -> _GroupForecast:
    """The group's conformal bounds and pooled cumulative error from the catalogue's pool.

    Conformal: each conformal row's mean plus its scale times the pooled quantiles. Scale
    `naive`: the naive MAE; `cv_mae`: the CV MAE where validated, elsewhere the naive MAE times
    the pooled median ratio of CV MAE to it (the naive MAE throughout without validation).
    """
    fit = p.fit
    horizon = fit.mean.shape[1]
    steps = np.arange(1, horizon + 1)
    scale = p.naive.copy()
    quantiles = pool.quantiles
    if quantiles is None:
        # No series of the group could be validated: random-walk-like normal intervals,
        # MAE -> sigma by sqrt(pi/2).
        quantiles = {}
        for lv in levels:
            zq = norm.ppf(0.5 + lv / 200.0) * np.sqrt(np.pi / 2) * np.sqrt(steps)
            quantiles[(lv, "lo")], quantiles[(lv, "hi")] = -zq, zq
    elif settings.conformal_scale != "naive":
        scale[p.validated] = p.calib[p.validated]
        scale[~p.validated] = p.naive[~p.validated] * pool.ratio
    conformal = p.conformal
    lo = {lv: fit.lo[lv].copy() for lv in levels}
    hi = {lv: fit.hi[lv].copy() for lv in levels}
    for lv in levels:
        lo[lv][conformal] = (fit.mean + scale[:, None] * quantiles[(lv, "lo")][None, :])[conformal]
        hi[lv][conformal] = (fit.mean + scale[:, None] * quantiles[(lv, "hi")][None, :])[conformal]
    return replace(fit, lo=lo, hi=hi,
                   sigma_pooled=_at_scale(p.naive, pool.rho, fit.sigma_pooled.shape[1]))


def _cumulative_errors(chosen: np.ndarray, names: list[str], cv_pos: np.ndarray,
                       cv_actual: np.ndarray | None, cv_fcst: dict[str, np.ndarray] | None,
                       scale: np.ndarray, cv_h: int
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per series of a group, for k = 1..cv_h months ahead: the RMSE over the CV windows of
    the chosen model's cumulative error (sum of actual - forecast over the first k months
    of a window); and the rows the group's pooled estimate is taken over: per series and
    window with every k finite, the cumulative error divided by the series' `scale` (its
    one-step naive MAE, the scale the conformal intervals use), with the series' position
    in the group per row.

    The cumulative error is what a stock covering k months runs out against (Prak, Teunter &
    Syntetos 2017): it carries the correlation of errors across months that the sum of monthly
    variances would miss. Its RMSE is not centred, so a biased model is charged for its bias.
    A few windows give a noisy RMSE per series; the pooled estimate (`_cumulative_error`) is
    the RMS of those rows over the group's series, multiplied back by the series' scale. It
    also serves series too short to validate.
    """
    n = chosen.size
    own = np.full((n, cv_h), np.nan)
    none = (own, np.zeros((0, cv_h)), np.zeros(0, dtype=int))
    if cv_actual is None or cv_fcst is None or not cv_pos.size:
        return none
    pick = chosen[cv_pos]
    ok = pick >= 0
    idx = cv_pos[ok]
    if not idx.size:
        return none
    stacked = np.stack([cv_fcst[c] for c in names], axis=0)  # (cand, n_cv, w, h)
    err = cv_actual[ok] - stacked[pick[ok], np.flatnonzero(ok)]  # (k, w, h)
    cum = np.cumsum(err, axis=2)
    with np.errstate(invalid="ignore"):
        own[idx] = np.sqrt(np.mean(cum**2, axis=1))
    own[~np.isfinite(own)] = np.nan
    s = scale[idx]
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = cum / np.where(s > 0, s, np.nan)[:, None, None]
    series = np.repeat(idx, rel.shape[1])
    rel = rel.reshape(-1, rel.shape[2])
    finite = np.isfinite(rel).all(axis=1)
    return own, rel[finite], series[finite]


def _pooled_rho(rel: np.ndarray) -> np.ndarray | None:
    """The group's relative RMSE of the cumulative error per months ahead, over the rows of
    `_cumulative_errors` (None without a row)."""
    return np.sqrt(np.mean(rel ** 2, axis=0)) if rel.shape[0] else None


def _at_scale(scale: np.ndarray, rho: np.ndarray | None, cv_h: int) -> np.ndarray:
    """The pooled estimate at each series' `scale` (NaN without a scale or a pool)."""
    if rho is None:
        return np.full((scale.size, cv_h), np.nan)
    return np.where(scale[:, None] > 0, scale[:, None] * rho[None, :], np.nan)


def _cumulative_error(chosen: np.ndarray, names: list[str], cv_pos: np.ndarray,
                      cv_actual: np.ndarray | None, cv_fcst: dict[str, np.ndarray] | None,
                      scale: np.ndarray, cv_h: int) -> tuple[np.ndarray, np.ndarray]:
    """`_cumulative_errors`' RMSE per series and the group's pooled estimate at each series'
    scale (NaN where neither exists), for a group fitted whole: the pieces the fit uses
    (pool_evidence, _finish_group), put together for one group."""
    own, rel, _ = _cumulative_errors(chosen, names, cv_pos, cv_actual, cv_fcst, scale, cv_h)
    return own, _at_scale(scale, _pooled_rho(rel), cv_h)


def _error_frame(keys: pd.DataFrame, parts: list[_GroupForecast], cv_h: int) -> pd.DataFrame:
    """The long FORECAST_ERROR_COLUMNS frame of every series, in panel order."""
    n = len(keys)
    own = np.full((n, cv_h), np.nan)
    pooled = np.full((n, cv_h), np.nan)
    windows = np.zeros(n, dtype=int)
    for p in parts:
        own[p.rows], pooled[p.rows], windows[p.rows] = p.sigma_cv, p.sigma_pooled, p.cv_windows
    return pd.DataFrame({
        "sku": np.repeat(keys["sku"].to_numpy(), cv_h),
        "location": np.repeat(keys["location"].to_numpy(), cv_h),
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


def _class_defaults(rel: np.ndarray, names: list[str], menu: tuple[str, ...],
                    classes: np.ndarray, members: list[str], min_series: int
                    ) -> dict[str, int]:
    """Per demand class of `members` the candidate of `menu` (its index in `names`) the
    class adopts as its default.

    `rel` holds each CV series' error of every menu candidate divided by its seasonal-naive
    MAE (`_class_evidence`), averaged over the class's series; the lowest mean wins. Hundreds
    of series x windows make that a steady choice, where the same comparison per series over
    three overlapping windows is mostly noise (per-series selection cost 0.3 sMAPE on M3's
    validation split). A class with fewer than `min_series` series takes the choice pooled
    over the whole group (its classes together): a dozen erratic series among a thousand
    smooth ones are too few to decide alone, and on M1's and M3's validation splits the
    group's choice served them better than the plain default. A group with fewer than
    `min_series` keeps its default (empty result).
    """
    if rel.shape[0] < min_series:
        return {}
    cols = np.array([names.index(c) for c in menu])
    group = int(cols[int(np.argmin(rel.mean(axis=0)))])
    out = {}
    for k in members:
        in_k = classes == k
        out[k] = (int(cols[int(np.argmin(rel[in_k].mean(axis=0)))])
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


def _unblended_where_missing(chosen: np.ndarray, names: list[str], mset: ModelSet,
                             pooled: np.ndarray) -> np.ndarray:
    """Where the pooled AR has no forecast for a series, a blend chosen for it is its
    plain combination, number for number: name that one in the audit trail."""
    missing = ~np.isfinite(pooled).all(axis=1)
    out = chosen.copy()
    for e in mset.ensembles:
        if e.blend:
            plain = names.index(e.name.removesuffix(f"+{POOLED}"))
            out[missing & (chosen == names.index(e.name))] = plain
    return out


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


def _model_intervals(mset: ModelSet, fc: pd.DataFrame, chosen_name: np.ndarray,
                     levels: tuple[int, ...], n: int, horizon: int, settings: BaselineSettings
                     ) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray], np.ndarray]:
    """Model intervals where the chosen model has them (and `interval_method="model"`); the
    other rows' method is `conformal` (bounds NaN until `_finish_group`)."""
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
    return lo, hi, method


def _conformal_errors(chosen: np.ndarray, names: list[str], naive_mae: np.ndarray,
                      history: np.ndarray, cv_pos: np.ndarray, cv_actual: np.ndarray | None,
                      cv_fcst: dict[str, np.ndarray] | None, settings: BaselineSettings,
                      test_size: int, cv_h: int
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What a group's series give its conformal intervals: (validated, calib, z, ratios).

    Conformal: signed CV errors of each series' chosen candidate, divided by a per-series
    scale, pooled over the group's series and windows per horizon step (±1 step), give
    quantiles that are multiplied back by the series' scale. Pooling across series is what
    makes a handful of windows enough; steps beyond the CV horizon widen with sqrt(step).
    Scale `naive` (default): one-step naive MAE of the history before the first CV origin for
    the calibration, of the whole history for the forecast; it is estimated apart from the
    CV errors, so the pooled quantiles are not shrunk by self-normalisation. Scale `cv_mae`:
    the series' CV MAE (`calib`); series without CV then use their naive MAE times the group's
    median ratio of CV MAE to it (`ratios`: one per validated series with a naive MAE).
    `z`: the scaled errors (validated series x windows x CV months) that are pooled.
    """
    n = chosen.size
    validated = np.zeros(n, dtype=bool)
    calib_all = np.full(n, np.nan)
    none = (validated, calib_all, np.zeros((0, settings.cv_windows, cv_h)), np.zeros(0))
    if cv_actual is None or cv_fcst is None or not cv_pos.size:
        return none
    pick = chosen[cv_pos]
    usable_cv = np.flatnonzero(pick >= 0)
    if not usable_cv.size:
        return none
    stacked = np.stack([cv_fcst[c] for c in names], axis=0)  # (cand, n_cv, w, h)
    idx = cv_pos[usable_cv]
    err = cv_actual[usable_cv] - stacked[chosen[idx], usable_cv]  # (k, w, h)
    ratios = np.zeros(0)
    if settings.conformal_scale == "naive":
        calib = _naive_mae(history[idx, :history.shape[1] - test_size])
    else:
        calib = np.mean(np.abs(err), axis=(1, 2))
        calib_all[idx] = calib
        ratio_ok = naive_mae[idx] > 0
        ratios = calib[ratio_ok] / naive_mae[idx][ratio_ok]
    validated[idx] = True
    with np.errstate(invalid="ignore", divide="ignore"):
        # A series flat up to the first origin has no scale: left out of the pool.
        z = err / np.where(calib > 0, calib, np.nan)[:, None, None]
    return validated, calib_all, z, ratios


def _conformal_quantiles(z: np.ndarray, levels: tuple[int, ...], horizon: int
                         ) -> dict[tuple[int, str], np.ndarray]:
    """Per (level, side) and months ahead, the quantile of the pooled scaled errors `z`."""
    steps = np.arange(1, horizon + 1)
    quantiles: dict[tuple[int, str], np.ndarray] = {}
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
    return quantiles


def _assemble(keys: pd.DataFrame, span: np.ndarray, classes: np.ndarray,
              parts: list[_GroupForecast], cycle: str, horizon: int,
              levels: tuple[int, ...]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stack the groups into SPEC's long `baseline_forecast` and the `selection` table."""
    n = len(keys)
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
        "sku": np.repeat(keys["sku"].to_numpy(), horizon),
        "location": np.repeat(keys["location"].to_numpy(), horizon),
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
    sel["history_months"] = span
    selection = pd.concat([keys, sel], axis=1)[SELECTION_COLUMNS]
    selection = selection.astype({"cv_error": float, "runner_up_error": float,
                                  "history_months": int})
    return forecast, selection
