"""Prediction intervals: coverage on held-out months, scale equivariance, selection audit."""

import numpy as np
import pandas as pd

from forecasting import BaselineSettings, fit_baselines


def _series(rng: np.random.Generator, months: int) -> np.ndarray:
    """Seasonal demand on a drifting level with heavy-tailed noise (Student t, 4 dof):
    harder than Gaussian noise, closer to what sales histories look like."""
    t = np.arange(months)
    level = 300.0 + np.cumsum(rng.normal(0, 6.0, months))
    season = 1 + 0.3 * np.sin(2 * np.pi * t / 12 + rng.uniform(0, 2 * np.pi))
    noise = 0.08 * level * rng.standard_t(4, months)
    return np.maximum(level * season + noise, 1.0)


def _held_out(n_series: int, train: int, test: int, seed: int
              ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    periods = pd.period_range("2018-01", periods=train, freq="M").strftime("%Y-%m")
    rows, future = [], {}
    for i in range(n_series):
        y = _series(rng, train + test)
        sku = f"S{i:03d}"
        rows.append(pd.DataFrame({"sku": sku, "location": "DC1", "period": periods,
                                  "qty": y[:train]}))
        future[sku] = y[train:]
    return pd.concat(rows, ignore_index=True), future


def _coverage(fc: pd.DataFrame, future: dict[str, np.ndarray]) -> dict[int, float]:
    fc = fc.sort_values(["sku", "period"])
    actual = np.concatenate([future[s] for s in sorted(future)])
    return {lv: float(np.mean((actual >= fc[f"lo_{lv}"].to_numpy())
                              & (actual <= fc[f"hi_{lv}"].to_numpy()))) for lv in (80, 95)}


def test_default_intervals_cover_held_out_months_near_nominal() -> None:
    """18 held-out months (beyond the 12-month CV horizon): coverage within ~5 points of the
    nominal level, and the 95% interval at least 0.90 (the issue's acceptance bar).

    Seven years of history, so that the CV models (fitted 18 months before the end) see
    66 months; shorter histories are covered by test_baseline's coverage test (48 and 72
    months), which over-covered before AutoETS's CV refitted the final structure
    (docs/forecasting.md, cost and accuracy notes)."""
    history, future = _held_out(n_series=80, train=84, test=18, seed=5)
    result = fit_baselines(history, horizon=18)
    cover = _coverage(result.forecast, future)
    assert 0.72 <= cover[80] <= 0.88, cover
    assert 0.90 <= cover[95] <= 0.99, cover


def test_intervals_scale_with_the_data() -> None:
    """Conformal intervals are in the units of the series: demand x10, bounds x10 (up to
    the optimisers' tolerance)."""
    history, _ = _held_out(n_series=12, train=48, test=0, seed=9)
    settings = BaselineSettings(interval_method="conformal", clean_outliers=False)
    base = fit_baselines(history, horizon=6, settings=settings).forecast
    scaled = fit_baselines(history.assign(qty=history["qty"] * 10), horizon=6,
                           settings=settings).forecast
    # ETS/Theta optimisers stop at a relative tolerance, so the point forecasts agree to
    # about 0.5 %; the interval half-widths come from the conformal scale and must follow.
    np.testing.assert_allclose(scaled["forecast"], base["forecast"] * 10, rtol=1e-2)
    for lv in (80, 95):
        np.testing.assert_allclose(scaled[f"hi_{lv}"] - scaled[f"lo_{lv}"],
                                   (base[f"hi_{lv}"] - base[f"lo_{lv}"]) * 10, rtol=1e-2)


def test_naive_scale_is_wider_than_self_normalised_cv_mae() -> None:
    """CV errors divided by their own MAE understate the tails; the naive scale, estimated
    apart from the CV errors, must not give narrower 95% intervals on the whole."""
    history, _ = _held_out(n_series=30, train=60, test=0, seed=13)
    width = {}
    for scale in ("naive", "cv_mae"):
        settings = BaselineSettings(interval_method="conformal", conformal_scale=scale)
        fc = fit_baselines(history, horizon=12, settings=settings).forecast
        width[scale] = float(np.median(fc["hi_95"] - fc["lo_95"]))
    assert width["naive"] >= 0.95 * width["cv_mae"], width


def test_selection_records_choice_cv_error_and_runner_up() -> None:
    history, _ = _held_out(n_series=10, train=60, test=0, seed=21)
    sel = fit_baselines(history, horizon=12).selection
    assert {"model", "cv_error", "runner_up", "runner_up_error"} <= set(sel.columns)
    assert sel["cv_error"].notna().all() and (sel["cv_error"] >= 0).all()
    assert sel["runner_up"].notna().all()
    assert (sel["runner_up"] != sel["model"]).all()
    assert sel["runner_up_error"].notna().all()
