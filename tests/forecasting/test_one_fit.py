"""One model search per series: plain statsforecast's forecasts, CV of the chosen structure."""

import numpy as np
import pandas as pd
import pytest
from statsforecast import StatsForecast
from statsforecast.models import AutoETS

from data_contracts.periods import FREQ
from forecasting import BaselineSettings, fit_baselines
from forecasting.models import ets_structure, seasonal_set
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


def _plain(models: list, panel: pd.DataFrame) -> StatsForecast:  # type: ignore[type-arg]
    return StatsForecast(models=models, freq=FREQ, n_jobs=1)


def test_final_forecasts_are_plain_statsforecasts_bit_for_bit(panel: pd.DataFrame) -> None:
    got = cv_and_forecast(seasonal_set(12).statsforecast_models, panel, 18, [80, 95], 12, 3, 3)
    final = got[got["window"] == FINAL].reset_index(drop=True)
    plain = _plain(seasonal_set(12).statsforecast_models, panel).forecast(
        df=panel, h=18, level=[80, 95])
    assert final["y"].isna().all()
    pd.testing.assert_frame_equal(final[plain.columns], plain, check_dtype=False)


def test_cv_refits_the_chosen_ets_structure_and_is_plain_cv_for_the_rest(
        panel: pd.DataFrame) -> None:
    models = seasonal_set(12).statsforecast_models
    got = cv_and_forecast(models, panel, 18, None, 12, 3, 3)
    cv = got[got["window"] != FINAL].drop(columns="window").reset_index(drop=True)
    plain = _plain(seasonal_set(12).statsforecast_models, panel).cross_validation(
        df=panel, h=12, n_windows=3, step_size=3, refit=False)
    same = ["unique_id", "ds", "cutoff", "y", "DynamicOptimizedTheta", "SeasonalNaive", "Naive"]
    pd.testing.assert_frame_equal(cv[same], plain[same], check_dtype=False)
    # AutoETS: the structure chosen on the whole series, its parameters fitted at the first
    # origin (18 months back) and rolled forward; not a new search there.
    y = panel.loc[panel["unique_id"] == "s2", "y"].to_numpy()
    whole = AutoETS(season_length=12).fit(y=y)
    origin = ets_structure(12, whole).fit(y=y[:-18])
    assert origin.model_["components"] == whole.model_["components"]
    ets = cv.loc[cv["unique_id"] == "s2", "AutoETS"].to_numpy().reshape(3, 12)
    for k, back in enumerate((18, 15, 12)):
        np.testing.assert_allclose(ets[k], origin.forward(y=y[:-back], h=12)["mean"])


def test_a_series_no_longer_than_the_cv_test_is_refused(rng, seasonal) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="needs > 18"):
        cv_and_forecast(seasonal_set(12).statsforecast_models,
                        _long({"short": seasonal(rng, 18)}), 6, None, 12, 3, 3)


def test_one_search_per_series_changes_no_forecast(rng, seasonal, history_of,
                                                   monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # 40 months: the first origin sees 22 (< 2 seasons) and searches on its own as before;
    # 72 months: the origin refits the structure the whole history chose.
    history = pd.concat([  # both end in 2026-12
        history_of({("SHORT", "DC1"): seasonal(rng, 40, noise=0.2)}, start="2023-09"),
        history_of({("LONG", "DC1"): seasonal(rng, 72, noise=0.2)}, start="2021-01")])
    searches: list[int] = []
    fit = AutoETS.fit

    def counted(self: AutoETS, y: np.ndarray, X: object = None) -> AutoETS:
        if self.model == "ZZZ":
            searches.append(len(y))
        return fit(self, y, X)

    monkeypatch.setattr(AutoETS, "fit", counted)
    monkeypatch.setattr(AutoETS, "forecast", lambda self, y, h, X=None, X_future=None,
                        level=None, fitted=False: counted(self, y).predict(h, level=level))
    once = fit_baselines(history, horizon=12, settings=BaselineSettings(), n_jobs=1)
    assert sorted(searches) == [22, 40, 72]  # SHORT: origin and whole; LONG: whole only
    searches.clear()
    twice = fit_baselines(history, horizon=12, settings=BaselineSettings(cv_structure="search"),
                          n_jobs=1)
    assert sorted(searches) == [22, 40, 54, 72]
    np.testing.assert_array_equal(once.forecast["forecast"], twice.forecast["forecast"])
