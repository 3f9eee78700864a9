"""One fit per series and model gives statsforecast's own CV and a final forecast from it."""

import numpy as np
import pandas as pd
import pytest
from statsforecast import StatsForecast

from data_contracts.periods import FREQ
from forecasting import BaselineSettings, fit_baselines
from forecasting.models import seasonal_set
from forecasting.one_fit import FINAL, cv_and_forecast


def _long(series: dict[str, np.ndarray]) -> pd.DataFrame:
    """Long frame with series of different lengths, all ending in the same month."""
    parts = []
    for uid, y in series.items():
        ds = pd.date_range(end="2024-12-01", periods=len(y), freq="MS")
        parts.append(pd.DataFrame({"unique_id": uid, "ds": ds, "y": y}))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture
def panel(rng, seasonal) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return _long({f"s{i}": seasonal(rng, months, noise=0.2)
                  for i, months in enumerate([40, 48, 60, 75])})


def test_cv_part_is_statsforecasts_own_refit_false_cv(panel: pd.DataFrame) -> None:
    models = seasonal_set(12).statsforecast_models
    got = cv_and_forecast(models, panel, 18, [80, 95], 12, 3, 3)
    cv = got[got["window"] != FINAL].drop(columns="window").reset_index(drop=True)
    plain = StatsForecast(models=seasonal_set(12).statsforecast_models, freq=FREQ, n_jobs=1
                          ).cross_validation(df=panel, h=12, n_windows=3, step_size=3,
                                             refit=False)
    pd.testing.assert_frame_equal(cv[plain.columns], plain, check_dtype=False)


def test_final_forecast_rolls_the_origin_fit_over_the_whole_history(
        panel: pd.DataFrame) -> None:
    models = seasonal_set(12).statsforecast_models
    got = cv_and_forecast(models, panel, 6, [80], 12, 3, 3)
    final = got[got["window"] == FINAL].reset_index(drop=True)
    plain = StatsForecast(models=seasonal_set(12).statsforecast_models, freq=FREQ, n_jobs=1
                          ).forecast(df=panel, h=6, level=[80])
    assert (final["ds"].to_numpy() == plain["ds"].to_numpy()).all()
    assert final["y"].isna().all()
    # Parameter-free models: rolling forward is the same as fitting again.
    for col in ("SeasonalNaive", "SeasonalNaive-lo-80", "Naive", "Naive-hi-80"):
        np.testing.assert_allclose(final[col], plain[col])
    # AutoETS: the forecast of the model fitted at the first origin (18 months back),
    # rolled over the whole series, not a new fit.
    y = panel.loc[panel["unique_id"] == "s2", "y"].to_numpy()
    origin_fit = models[0].model.new().fit(y=y[:-18])
    expected = origin_fit.forward(y=y, h=6)["mean"]
    np.testing.assert_allclose(final.loc[final["unique_id"] == "s2", "AutoETS"], expected)


def test_a_series_no_longer_than_the_cv_test_is_refused(rng, seasonal) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="needs > 18"):
        cv_and_forecast(seasonal_set(12).statsforecast_models,
                        _long({"short": seasonal(rng, 18)}), 6, None, 12, 3, 3)


def test_only_series_long_enough_reuse_the_origin_fit(rng, seasonal, history_of) -> None:  # type: ignore[no-untyped-def]
    # 40 months: the origin sees 22 (< forward_min_months=30), so it is fitted again on all
    # 40 and its forecast is the refit one; 72 months: the origin sees 54 and is reused.
    series = {("SHORT", "DC1"): seasonal(rng, 40, noise=0.2),
              ("LONG", "DC1"): seasonal(rng, 72, noise=0.2)}
    history = history_of(series)
    forward = fit_baselines(history, horizon=12, settings=BaselineSettings()).forecast
    refit = fit_baselines(history, horizon=12,
                          settings=BaselineSettings(final_fit="refit")).forecast
    short_f, short_r = (f.loc[f["sku"] == "SHORT", "forecast"].to_numpy()
                        for f in (forward, refit))
    long_f, long_r = (f.loc[f["sku"] == "LONG", "forecast"].to_numpy() for f in (forward, refit))
    np.testing.assert_allclose(short_f, short_r)
    assert not np.allclose(long_f, long_r)
