"""fit_baselines: output shape, intervals, cleaning log, cold start and fallbacks."""

import numpy as np
import pandas as pd
import pytest
from statsforecast.models import AutoETS

from data_contracts.periods import horizon_periods
from data_contracts.tables import OUTPUT_COLUMNS
from forecasting import BaselineResult, BaselineSettings, fit_baselines

FORECAST_COLUMNS = OUTPUT_COLUMNS["baseline_forecast"]


def assert_intervals_valid(fc: pd.DataFrame) -> None:
    values = fc[["lo_95", "lo_80", "forecast", "hi_80", "hi_95"]].to_numpy()
    assert np.isfinite(values).all()
    assert (values >= 0).all()
    assert (np.diff(values, axis=1) >= -1e-9).all(), "bounds must nest around the forecast"


@pytest.fixture
def mixed_result(seasonal, history_of) -> BaselineResult:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(11)
    months = 48
    series: dict[tuple[str, str], np.ndarray] = {}
    for i in range(3):
        series[(f"SM{i}", "DC1")] = seasonal(rng, months)
        occ = rng.random(months) < 0.35
        series[(f"IN{i}", "DC2")] = np.where(occ, 10.0, 0.0)
        series[(f"LU{i}", "DC2")] = np.where(occ, rng.gamma(0.8, 30.0, months).round() + 1, 0.0)
    history = history_of(series)
    return fit_baselines(history, horizon=18, cycle="2025-03")


def test_output_shape_and_periods(mixed_result: BaselineResult) -> None:
    fc = mixed_result.forecast
    assert list(fc.columns) == FORECAST_COLUMNS
    n_series = fc[["sku", "location"]].drop_duplicates().shape[0]
    assert n_series == 9
    assert len(fc) == n_series * 18
    expected = horizon_periods("2025-03", 18)
    for _, grp in fc.groupby(["sku", "location"]):
        assert grp["period"].tolist() == expected
    assert fc["period"].str.fullmatch(r"\d{4}-\d{2}").all()
    assert set(fc["demand_class"]) <= {"smooth", "erratic", "intermittent", "lumpy", "new"}
    assert_intervals_valid(fc)


def test_selection_records_model_and_runner_up(mixed_result: BaselineResult) -> None:
    sel = mixed_result.selection
    assert len(sel) == 9
    merged = mixed_result.forecast.drop_duplicates(["sku", "location"]).merge(
        sel, on=["sku", "location"], suffixes=("", "_sel"))
    assert (merged["model"] == merged["model_sel"]).all()
    smooth = sel[sel["sku"].str.startswith("SM")]
    assert smooth["cv_error"].notna().all() and smooth["runner_up"].notna().all()
    assert set(sel.loc[sel["sku"].str.startswith(("IN", "LU")), "model"]) <= {
        "CrostonSBA", "TSB", "ADIDA", "IMAPA", "HistoricAverage", "Mean(SBA,TSB,ADIDA,IMAPA)"}


def test_classes_on_mixed_history(mixed_history: pd.DataFrame) -> None:
    result = fit_baselines(mixed_history, horizon=6, settings=BaselineSettings(
        clean_outliers=False))
    cls = result.selection.set_index("sku")["demand_class"]
    assert (cls[cls.index.str.startswith("SM")] == "smooth").all()
    assert (cls[cls.index.str.startswith("ER")] == "erratic").all()
    assert (cls[cls.index.str.startswith("IN")] == "intermittent").all()
    assert (cls[cls.index.str.startswith("LU")] == "lumpy").all()


def test_promo_and_outlier_cleaning_logged(rng, seasonal, history_of) -> None:  # type: ignore[no-untyped-def]
    # Outlier clipping is opt-in (BaselineSettings.clean_outliers); this tests it switched on.
    y = seasonal(rng, 48, noise=0.03, amplitude=0.0)
    base = y.copy()
    y[20] *= 2.0  # promotion month, planned +100%
    y[35] *= 6.0  # a one-off outlier
    history = history_of({("P1", "DC1"): y})
    promos = pd.DataFrame({"promo_id": ["PR1"], "sku": ["P1"], "location": ["DC1"],
                           "start_period": ["2022-09"], "end_period": ["2022-09"],
                           "uplift_pct": [100.0]})
    result = fit_baselines(history, horizon=12, promotions=promos,
                           settings=BaselineSettings(clean_outliers=True))
    log = result.cleaning.set_index("rule")
    promo = log.loc[["promotion"]]
    assert promo["period"].tolist() == ["2022-09"]
    assert promo["cleaned"].iloc[0] == pytest.approx(base[20], rel=0.05)
    outlier = log.loc[["outlier"]]
    assert "2023-12" in outlier["period"].tolist()
    row = outlier[outlier["period"] == "2023-12"].iloc[0]
    assert row["original"] == pytest.approx(y[35])
    assert row["cleaned"] < y[35] / 2
    # The baseline is promo-free: nothing near the doubled level.
    assert result.forecast["forecast"].max() < 1.5 * base.mean()


def test_cold_start_for_key_without_history(rng, seasonal, history_of) -> None:  # type: ignore[no-untyped-def]
    series = {(f"F{i}", "DC1"): seasonal(rng, 36, level=100.0 * (i + 1), noise=0.05,
                                                 amplitude=0.5) for i in range(3)}
    history = history_of(series)
    keys = pd.DataFrame({"sku": ["NEW1", "NEW2"], "location": ["DC1", "DC9"]})
    products = pd.DataFrame({"sku": ["F0", "F1", "F2", "NEW1", "NEW2"],
                             "family": ["fam"] * 5, "status": ["active"] * 3 + ["new"] * 2})
    result = fit_baselines(history, horizon=12, keys=keys, products=products)
    fc = result.forecast
    new = fc[fc["sku"].str.startswith("NEW")]
    assert len(new) == 24
    assert (new["demand_class"] == "new").all()
    assert new["model"].str.startswith("ColdStart").all()
    assert (new["forecast"] > 0).all()
    assert_intervals_valid(fc)
    # Peers' median level (~200), shaped by the family's seasonal profile.
    assert 100 < new["forecast"].mean() < 300
    assert new["forecast"].std() > 10


def test_short_and_constant_series_fall_back(rng, seasonal, history_of) -> None:  # type: ignore[no-untyped-def]
    series = {("LONG", "DC1"): seasonal(rng, 48),
              ("FLAT", "DC1"): np.full(48, 5.0),
              ("SHORT", "DC1"): np.r_[np.zeros(40), np.full(8, 20.0)]}
    result = fit_baselines(history_of(series), horizon=6)
    fc = result.forecast.set_index("sku")
    assert fc.loc["FLAT", "forecast"].to_numpy() == pytest.approx(5.0)
    assert (fc.loc["SHORT", "demand_class"] == "new").all()
    assert fc.loc["SHORT", "forecast"].to_numpy() == pytest.approx(20.0)
    assert_intervals_valid(result.forecast)


def test_failing_model_falls_back(monkeypatch, rng, seasonal, history_of) -> None:  # type: ignore[no-untyped-def]
    def boom(self: AutoETS, *args: object, **kwargs: object) -> None:
        raise RuntimeError("ETS broke")

    monkeypatch.setattr(AutoETS, "forecast", boom)
    monkeypatch.setattr(AutoETS, "fit", boom)
    series = {(f"S{i}", "DC1"): seasonal(rng, 48) for i in range(3)}
    result = fit_baselines(history_of(series), horizon=6)
    models = set(result.selection["model"])
    assert not any("ETS" in m for m in models), models
    assert_intervals_valid(result.forecast)


def test_bad_history_is_rejected_with_rows() -> None:
    history = pd.DataFrame({"sku": ["A"], "location": ["L"], "period": ["2024-01"],
                            "qty": [-1.0]})
    with pytest.raises(ValueError, match="negative"):
        fit_baselines(history, horizon=3)
    history["qty"] = 1.0
    with pytest.raises(ValueError, match="at or after the cycle"):
        fit_baselines(history, horizon=3, cycle="2023-12")


@pytest.mark.parametrize("method", ["model", "conformal"])
# 48 months: the CV origin sees 30. When the origin searched its own AutoETS structure on
# those 30 months (`cv_structure="search"`), CV models far worse than the final one made the
# conformal intervals conservative (80% covered ~96%); refitting the final structure there
# calibrates them.
@pytest.mark.parametrize("train", [48, 72])
def test_interval_coverage_is_roughly_nominal(method, train, seasonal, history_of) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    test = 12
    series = {(f"S{i}", "DC1"): seasonal(rng, train + test, noise=0.15)
              for i in range(60)}
    history = history_of({k: v[:train] for k, v in series.items()})
    settings = BaselineSettings(interval_method=method)
    fc = fit_baselines(history, horizon=test, settings=settings).forecast
    actual = np.concatenate([v[train:] for v in series.values()])
    fc = fc.sort_values(["sku", "period"])
    order = sorted(series)
    actual = np.concatenate([series[k][train:] for k in order])
    cover80 = np.mean((actual >= fc["lo_80"]) & (actual <= fc["hi_80"]))
    cover95 = np.mean((actual >= fc["lo_95"]) & (actual <= fc["hi_95"]))
    assert 0.68 <= cover80 <= 0.92, cover80
    assert 0.86 <= cover95 <= 0.995, cover95
