"""Hierarchy reconciliation (total -> family -> sku x location): MinT-shrink and its setting."""

import numpy as np
import pandas as pd
import pytest

from forecasting import BaselineSettings, fit_baselines
from forecasting.hierarchy import mint_shrink, shrinkage_intensity, summing_rows


def _problem(rng: np.random.Generator, n_bottom: int = 12, months: int = 12, h: int = 4):
    families = rng.choice(["a", "b", "c"], n_bottom)
    agg, names = summing_rows(families)
    actual_b = rng.gamma(2.0, 50.0, (months, n_bottom))
    resid_b = rng.normal(0, 20, (months, n_bottom))
    resid_u = resid_b @ agg.T + rng.normal(0, 30, (months, agg.shape[0]))
    base_b = rng.gamma(2.0, 50.0, (n_bottom, h))
    base_u = agg @ base_b + rng.normal(0, 40, (agg.shape[0], h))
    return agg, names, actual_b, resid_u, resid_b, base_u, base_b


def test_summing_rows_total_then_sorted_families() -> None:
    agg, names = summing_rows(np.array(["b", "a", "b"]))
    assert names == ["total", "a", "b"]
    assert agg.tolist() == [[1, 1, 1], [0, 1, 0], [1, 0, 1]]


def test_coherent_forecasts_are_left_alone(rng) -> None:  # type: ignore[no-untyped-def]
    agg, _, _, resid_u, resid_b, _, base_b = _problem(rng)
    out = mint_shrink(agg @ base_b, base_b, agg, resid_u, resid_b)
    np.testing.assert_allclose(out, base_b, rtol=1e-9, atol=1e-9)


def test_result_is_nonnegative_and_follows_an_accurate_aggregate(rng) -> None:  # type: ignore[no-untyped-def]
    agg, _, _, resid_u, resid_b, base_u, base_b = _problem(rng)
    lam, _, _ = shrinkage_intensity(np.hstack([resid_u, resid_b]))
    assert 0.0 <= lam <= 1.0
    # Aggregates with near-zero residuals are trusted: the bottoms move to match them (up
    # to the floor at 0) when the aggregates agree among themselves.
    base_u[0] = base_u[1:].sum(axis=0)
    out = mint_shrink(base_u, base_b, agg, rng.normal(0, 0.01, resid_u.shape), resid_b)
    assert (out >= 0).all()
    gap_before = np.abs(agg @ base_b - base_u).mean()
    assert np.abs(agg @ out - base_u).mean() < 0.2 * gap_before
    np.testing.assert_allclose(agg @ out, base_u, rtol=0.05)
    # A bottom series that never erred (e.g. no demand) keeps its forecast.
    resid_b[:, 0] = 0.0
    out = mint_shrink(base_u, base_b, agg, resid_u, resid_b)
    np.testing.assert_allclose(out[0], base_b[0], atol=1e-4)


def test_matches_hierarchicalforecast(rng) -> None:  # type: ignore[no-untyped-def]
    methods = pytest.importorskip("hierarchicalforecast.methods")
    agg, _, actual_b, resid_u, resid_b, base_u, base_b = _problem(rng, n_bottom=40)
    s = np.vstack([agg, np.eye(agg.shape[1])])
    y_in = s @ actual_b.T
    y_fit = y_in - np.hstack([resid_u, resid_b]).T
    ref = methods.MinTrace(method="mint_shrink").fit_predict(
        S=s, y_hat=np.vstack([base_u, base_b]), y_insample=y_in, y_hat_insample=y_fit)["mean"]
    ours = mint_shrink(base_u, base_b, agg, resid_u, resid_b)
    np.testing.assert_allclose(ours, np.maximum(ref[agg.shape[0]:], 0.0), atol=1e-6)


def test_fit_baselines_setting(seasonal, history_of) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    months = 48
    series = {(f"S{i}", loc): seasonal(rng, months, level=100.0 + 40 * i, noise=0.25)
              for i in range(4) for loc in ("DC1", "DC2")}
    history = history_of(series)
    products = pd.DataFrame({"sku": [f"S{i}" for i in range(4)], "family": ["F1", "F1", "F2",
                                                                             "F2"]})
    base = fit_baselines(history, horizon=6, cycle="2025-01", products=products).forecast
    rec = fit_baselines(history, horizon=6, cycle="2025-01", products=products,
                        settings=BaselineSettings(hierarchy="mint_shrink")).forecast
    assert list(rec.columns) == list(base.columns)
    assert rec[["sku", "location", "period", "model"]].equals(
        base[["sku", "location", "period", "model"]])
    values = rec[["lo_95", "lo_80", "forecast", "hi_80", "hi_95"]].to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all()
    assert (np.diff(values, axis=1) >= -1e-9).all()
    assert not np.allclose(rec["forecast"], base["forecast"])
    assert BaselineSettings().hierarchy == "none"
    with pytest.raises(ValueError, match="products"):
        fit_baselines(history, horizon=6, cycle="2025-01",
                      settings=BaselineSettings(hierarchy="mint_shrink"))
