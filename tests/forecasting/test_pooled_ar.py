"""The pooled AR: learns a shared seasonal shape, never sees CV months, pools by warehouse."""

import numpy as np
import pytest

from forecasting import pooled_ar
from forecasting.models import Ensemble
from forecasting.pooled_ar import fit_map, pooled_forecasts, predict

H = 12


def seasonal_panel(n: int, months: int, seed: int = 0) -> np.ndarray:
    """`n` series sharing one multiplicative season (peak 8x the trough) at their own
    levels and growth rates, with 5 % noise; a few start later (NaN before)."""
    rng = np.random.default_rng(seed)
    season = 1 + 7 * (np.sin(2 * np.pi * np.arange(months + H) / 12) + 1) / 2
    level = rng.uniform(10, 10_000, n)[:, None]
    growth = (1 + rng.uniform(-0.005, 0.01, n))[:, None] ** np.arange(months + H)[None, :]
    noise = rng.lognormal(0, 0.05, (n, months + H))
    full = level * season[None, :] * growth * noise
    full[: n // 10, :12] = np.nan  # listed a year later
    return full


def test_learns_a_shared_multiplicative_season() -> None:
    full = seasonal_panel(60, 72)
    values, future = full[:, :72], full[:, 72:]
    ends = np.full(60, 72)
    coef = fit_map(values, ends, H)
    assert coef is not None and coef.shape == (1 + pooled_ar.LAGS, H)
    fc = predict(coef, values, ends, H)
    # Within the noise of the true path: the season's 8x swing is kept, not smoothed away.
    assert np.median(np.abs(fc / future - 1)) < 0.06
    assert np.all(fc.max(axis=1) / fc.min(axis=1) > 5)


def test_too_few_windows_and_non_positive_months_give_no_forecast() -> None:
    full = seasonal_panel(60, 72)
    values = full[:, :72].copy()
    values[3, -5] = 0.0  # a month without sales among the last LAGS
    ends = np.full(60, 72)
    fc = predict(fit_map(values, ends, H), values, ends, H)
    assert np.isnan(fc[3]).all() and np.isfinite(np.delete(fc, 3, axis=0)).all()
    # Two series of 40 months: 5 windows each, far below MIN_WINDOWS.
    assert fit_map(values[:2, -40:], np.full(2, 40), H) is None
    assert np.isnan(predict(None, values, ends, H)).all()


def test_cv_forecasts_never_see_the_cv_months() -> None:
    """Changing every month after the first CV origin of the other series leaves a series'
    CV forecasts as they were: the CV map is learnt before the first origin."""
    values = seasonal_panel(40, 84)[:, :84]
    pools = np.zeros(40, dtype=int)
    cv_pos = np.arange(40)
    cv_h, windows, step = 12, 3, 3
    test_size = cv_h + step * (windows - 1)
    final, cv = pooled_forecasts(values, pools, H, cv_pos, cv_h, windows, step)
    changed = values.copy()
    changed[1:, 84 - test_size:] *= 3.0
    final2, cv2 = pooled_forecasts(changed, pools, H, cv_pos, cv_h, windows, step)
    assert np.isfinite(cv).all()
    np.testing.assert_array_equal(cv[0], cv2[0])
    # The final map does learn from those months: series 0's own history is unchanged,
    # its final forecast is not.
    assert not np.allclose(final[0], final2[0])


def test_each_warehouse_is_its_own_pool() -> None:
    """Two warehouses fitted together give each series the numbers of its warehouse fitted
    alone, bit for bit (a run fitted one warehouse at a time equals a whole run)."""
    a, b = seasonal_panel(30, 72, seed=1), seasonal_panel(30, 72, seed=2) * 0.3
    values = np.vstack([a, b])[:, :72]
    pools = np.array(["B", "A"] * 30)  # interleaved, as catalogue order puts them
    cv_pos = np.arange(60)[::2]
    final, cv = pooled_forecasts(values, pools, H, cv_pos, 12, 2, 3)
    for label in ("A", "B"):
        rows = np.flatnonzero(pools == label)
        own_cv = np.flatnonzero(np.isin(rows, cv_pos))
        f1, c1 = pooled_forecasts(values[rows], pools[rows], H, own_cv, 12, 2, 3)
        np.testing.assert_array_equal(final[rows], f1)
        np.testing.assert_array_equal(cv[np.isin(cv_pos, rows)], c1)


@pytest.mark.parametrize("how", ["mean", "median"])
def test_blend_leaves_a_missing_pooled_forecast_out(how: str) -> None:
    ens = Ensemble("x", ("A", "B", "C", "P"), how, 0.25)  # type: ignore[arg-type]
    a, b, c = np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]]), np.array([[8.0, 9.0]])
    base = (a + b + c) / 3 if how == "mean" else b
    p = np.array([[100.0, np.nan]])
    out = ens.combine([a, b, c, p])
    assert out[0, 0] == pytest.approx(0.75 * base[0, 0] + 25.0)
    assert out[0, 1] == base[0, 1]
    # A failed ordinary member still fails the combination.
    assert np.isnan(ens.combine([a, np.full((1, 2), np.nan), c, p])).all()
