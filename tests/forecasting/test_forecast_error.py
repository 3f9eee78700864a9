"""fit_baselines' forecast_error: the chosen model's cumulative CV error per series and k."""

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting import fit_baselines
from forecasting.baseline import FORECAST_ERROR_COLUMNS, _cumulative_error


def test_one_row_per_series_and_month_ahead(seasonal, history_of) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    series = {(f"S{i}", "DC1"): seasonal(rng, 48) for i in range(3)}
    # 30 months up to the cycle: modelled (not new), but too short to validate.
    short = history_of({("SHORT", "DC1"): seasonal(rng, 30)}, start="2022-07")
    history = pd.concat([history_of(series), short], ignore_index=True)
    result = fit_baselines(history, horizon=12, cycle="2025-01")
    fe = result.forecast_error
    assert list(fe.columns) == FORECAST_ERROR_COLUMNS
    assert len(fe) == 4 * 12 and sorted(fe["months"].unique()) == list(range(1, 13))
    validated = fe[fe["cv_windows"] > 0]
    assert set(validated["sku"]) == {"S0", "S1", "S2"}
    assert (validated["sigma_cv"] > 0).all() and np.isfinite(validated["sigma_pooled"]).all()
    short = fe[fe["sku"] == "SHORT"]
    # No CV of its own: only the group's pooled estimate at its own scale.
    assert short["sigma_cv"].isna().all() and (short["sigma_pooled"] > 0).all()
    # A sum over more months misses by more, on the whole.
    by_k = validated.groupby("months")["sigma_cv"].mean()
    assert by_k.iloc[-1] > by_k.iloc[0]


def explicit_rmse(actual: np.ndarray, fcst: np.ndarray) -> np.ndarray:
    """(windows, h) -> RMSE over windows of the error summed over the first k months."""
    h = actual.shape[1]
    out = np.empty(h)
    for k in range(1, h + 1):
        sums = [sum(actual[w, j] - fcst[w, j] for j in range(k)) for w in range(actual.shape[0])]
        out[k - 1] = np.sqrt(np.mean(np.square(sums)))
    return out


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 5), windows=st.integers(1, 4), h=st.integers(1, 6),
       scale=st.floats(0.1, 1000.0), seed=st.integers(0, 2**16))
def test_cumulative_error_is_the_rmse_of_summed_errors_and_scales(
        n: int, windows: int, h: int, scale: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    actual = rng.gamma(2.0, 50.0, (n, windows, h))
    fcst = {"A": rng.gamma(2.0, 50.0, (n, windows, h)), "B": rng.gamma(2.0, 50.0, (n, windows, h))}
    chosen = rng.integers(0, 2, n)
    naive = rng.uniform(1.0, 20.0, n)
    own, pooled = _cumulative_error(chosen, ["A", "B"], np.arange(n), actual, fcst, naive, h)
    for i in range(n):
        expected = explicit_rmse(actual[i], fcst[["A", "B"][chosen[i]]][i])
        np.testing.assert_allclose(own[i], expected, rtol=1e-9)
    # Same data in other units: every error estimate is in those units too.
    own_s, pooled_s = _cumulative_error(chosen, ["A", "B"], np.arange(n), actual * scale,
                                        {k: v * scale for k, v in fcst.items()}, naive * scale, h)
    np.testing.assert_allclose(own_s, own * scale, rtol=1e-9)
    np.testing.assert_allclose(pooled_s, pooled * scale, rtol=1e-9)


def test_without_cv_everything_is_missing() -> None:
    own, pooled = _cumulative_error(np.array([0, -1]), ["A"], np.zeros(0, dtype=int), None,
                                    None, np.ones(2), 3)
    assert np.isnan(own).all() and np.isnan(pooled).all()
    assert isinstance(pd.DataFrame(own), pd.DataFrame)
