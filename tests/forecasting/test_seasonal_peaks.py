"""Long, strongly multiplicatively seasonal histories (peaks ~25x troughs), h = 24.

The baseline must stay close to plain statsforecast fitted on the raw history: history
cleaning must not mistake the season for outliers, and a forecast far outside its own
history's range is replaced by a plain candidate and recorded."""

import numpy as np
import pandas as pd
import pytest
from statsforecast import StatsForecast
from statsforecast.models import AutoETS, DynamicOptimizedTheta

from data_contracts.periods import horizon_periods
from forecasting import BaselineSettings, fit_baselines
from forecasting.baseline import ImplausibleForecastError, _guard, guardrail_exceptions
from forecasting.models import seasonal_set

START = "2004-01"
HORIZON = 24


def peaked_series(seed: int, years: int = 20, ratio: float = 25.0) -> np.ndarray:
    """Monthly demand: 3 %/year growth x a seasonal profile whose peak is `ratio` times its
    trough, multiplicative log-normal noise (8 %)."""
    rng = np.random.default_rng(seed)
    t = np.arange(12 * years)
    peak = rng.integers(12)
    profile = np.exp(np.log(ratio) / 2 * np.cos(2 * np.pi * (t % 12 - peak) / 12))
    level = 10_000.0 * np.exp(0.03 / 12 * t)
    return level * profile * np.exp(rng.normal(0.0, 0.08, t.size))


def _history(series: dict[str, np.ndarray]) -> pd.DataFrame:
    return pd.concat([
        pd.DataFrame({"sku": sku, "location": "DC1",
                      "period": horizon_periods(START, y.size), "qty": y})
        for sku, y in series.items()], ignore_index=True)


def _plain(series: dict[str, np.ndarray]) -> pd.DataFrame:
    """AutoETS, DOTheta and their mean from plain statsforecast on the raw history."""
    df = pd.concat([
        pd.DataFrame({"unique_id": sku, "y": y,
                      "ds": pd.date_range(f"{START}-01", periods=y.size, freq="MS")})
        for sku, y in series.items()], ignore_index=True)
    sf = StatsForecast([AutoETS(season_length=12), DynamicOptimizedTheta(season_length=12)],
                       freq="MS")
    out = sf.forecast(df=df, h=HORIZON).reset_index(drop="unique_id" in df.columns)
    out["mean"] = (out["AutoETS"] + out["DynamicOptimizedTheta"]) / 2
    return out.sort_values(["unique_id", "ds"])


@pytest.fixture(scope="module")
def peaked() -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    # Seeds 4 and 5 end just after the peak: the last trough months were "raised" as
    # low outliers by an edge-truncated rolling median (forecasts ~2x plain statsforecast).
    series = {f"P{seed}": peaked_series(seed) for seed in (3, 4, 5)}
    return series, _history(series)


def test_baseline_matches_plain_statsforecast_on_peaked_seasons(peaked) -> None:  # type: ignore[no-untyped-def]
    series, history = peaked
    result = fit_baselines(history, horizon=HORIZON)
    plain = _plain(series)
    fc = result.forecast.sort_values(["sku", "period"])
    for sku in series:
        ours = fc.loc[fc["sku"] == sku, "forecast"].to_numpy()
        ref = plain.loc[plain["unique_id"] == sku]
        ens, ets = ref["mean"].to_numpy(), ref["AutoETS"].to_numpy()
        assert ours.sum() == pytest.approx(ens.sum(), rel=0.05), sku
        assert ours.max() == pytest.approx(ens.max(), rel=0.05), sku
        # And within a sane band of AutoETS alone (the reference).
        assert ours.sum() == pytest.approx(ets.sum(), rel=0.15), sku
        assert ours.max() < 1.5 * series[sku].max(), sku


def test_cleaning_leaves_regular_peaks_and_troughs_alone(peaked) -> None:  # type: ignore[no-untyped-def]
    """The season is no outlier: at most a handful of months per 240 touched, none of them
    moved by more than 25 %, and never the last months of the history."""
    series, history = peaked
    log = fit_baselines(history, horizon=HORIZON,
                        settings=BaselineSettings(clean_outliers=True)).cleaning
    last = horizon_periods(START, 240)[-6:]
    for sku in series:
        mine = log[log["sku"] == sku]
        assert len(mine) <= 6, mine
        assert not mine["period"].isin(last).any(), mine
        if len(mine):
            change = (mine["cleaned"] / mine["original"] - 1).abs()
            assert change.max() < 0.25, mine


def test_by_default_no_history_month_is_clipped(peaked) -> None:  # type: ignore[no-untyped-def]
    """Outlier clipping is opt-in: on the validation splits of M3, M1 and Tourism it never
    helped, and on Tourism's drifting seasons it cost more than plain AutoETS's margin."""
    _, history = peaked
    log = fit_baselines(history, horizon=HORIZON).cleaning
    assert not (log["rule"] == "outlier").any(), log


def test_guardrail_replaces_forecast_outside_envelope_and_records_it(peaked) -> None:  # type: ignore[no-untyped-def]
    """With a tight envelope (1.02 x the last three years' maximum) the growing series' ensemble
    forecast leaves it: the series falls back to a single candidate inside the envelope,
    `selection.guardrail` says why, and `raise_for_guardrail` names series and model."""
    series, history = peaked
    result = fit_baselines(history, horizon=HORIZON,
                           settings=BaselineSettings(envelope_factor=1.02))
    sel = result.selection.set_index("sku")
    hit = sel[sel["guardrail"].notna()]
    assert len(hit), sel
    singles = {"AutoETS", "DynamicOptimizedTheta", "SeasonalNaive", "Naive"}
    for sku, row in hit.iterrows():
        assert row["model"] in singles
        assert "Mean(ETS,DOTheta)" in row["guardrail"] and row["model"] in row["guardrail"]
        fc = result.forecast[result.forecast["sku"] == sku]
        assert (fc["model"] == row["model"]).all()
        assert fc["forecast"].max() <= 1.02 * series[sku][-36:].max() + 1e-6
    with pytest.raises(ImplausibleForecastError, match=str(hit.index[0])):
        result.raise_for_guardrail()
    # The published exceptions name every replaced series (the flow adds these).
    exc = guardrail_exceptions(result.selection)
    assert sorted(exc["sku"]) == sorted(hit.index)
    assert set(exc["type"]) == {"BASELINE_GUARDRAIL"} and set(exc["severity"]) == {"info"}


def test_guardrail_silent_on_plausible_forecasts(peaked) -> None:  # type: ignore[no-untyped-def]
    _, history = peaked
    result = fit_baselines(history, horizon=HORIZON)
    assert result.selection["guardrail"].isna().all()
    assert (result.selection["model"] == seasonal_set(12).default).all()
    result.raise_for_guardrail()  # nothing to raise
    assert guardrail_exceptions(result.selection).empty


def test_guard_picks_best_cv_single_inside_the_envelope() -> None:
    """Unit level: the chosen ensemble is 4x the history's peak; of the single candidates the
    lowest-CV one inside the envelope wins, not the lowest-CV one overall."""
    mset = seasonal_set(12)
    names = list(mset.candidates)
    history = np.tile(np.r_[np.full(11, 10.0), 100.0], 4)[None, :]
    flat = np.full((1, 24), 90.0)
    means = {c: flat.copy() for c in names}
    means["AutoETS"] = np.full((1, 24), 700.0)  # outside, though best on CV
    means["Mean(ETS,DOTheta)"] = (means["AutoETS"] + means["DynamicOptimizedTheta"]) / 2
    cv = {"AutoETS": 1.0, "DynamicOptimizedTheta": 3.0, "SeasonalNaive": 2.0, "Naive": 0.5,
          "Mean(ETS,DOTheta)": 1.5, "Mean(ETS,DOTheta,SNaive)": 1.6,
          "Median(ETS,DOTheta,SNaive)": 1.7,
          # The pooled AR is a combination member, never a replacement, however good.
          "PooledAR": 0.1, "Mean(ETS,DOTheta)+PooledAR": 1.5,
          "Mean(ETS,DOTheta,SNaive)+PooledAR": 1.6, "Median(ETS,DOTheta,SNaive)+PooledAR": 1.7}
    assert sorted(names) == sorted(cv)
    errors = np.array([[cv[c] for c in names]])
    chosen = np.array([names.index("Mean(ETS,DOTheta)")])
    out, reason = _guard(chosen, means, errors, names, mset, history, BaselineSettings())
    assert names[out[0]] == "SeasonalNaive"  # Naive is fallback-only; ETS is outside
    assert "Mean(ETS,DOTheta) forecast max 395" in reason[0]
    assert "replaced by SeasonalNaive" in reason[0]
    off = BaselineSettings(envelope_factor=None)
    same, none = _guard(chosen, means, errors, names, mset, history, off)
    assert same[0] == chosen[0] and none[0] is None


def test_real_spike_and_stock_out_still_cleaned_on_peaked_seasons() -> None:
    """A 4x spike in a trough month and a peak month lost to a stock-out (x0.2) are still
    found and moved back towards their usual level; little else is touched."""
    y = peaked_series(4)
    clean = y.copy()
    trough, peak = 100 + int(np.argmin(y[100:112])), 150 + int(np.argmax(y[150:162]))
    y[trough] *= 4.0
    y[peak] *= 0.2
    log = fit_baselines(_history({"P": y}), horizon=HORIZON,
                        settings=BaselineSettings(clean_outliers=True)
                        ).cleaning.set_index("period")
    months = horizon_periods(START, y.size)
    assert {months[trough], months[peak]} <= set(log.index)
    assert log.loc[months[trough], "cleaned"] < 2.0 * clean[trough]
    assert log.loc[months[peak], "cleaned"] > 0.5 * clean[peak]
    assert len(log) <= 6
