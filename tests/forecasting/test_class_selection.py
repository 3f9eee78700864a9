"""Per demand class, one combination for every series: the lowest pooled, scaled CV error."""

import numpy as np
import pandas as pd

from forecasting.baseline import _class_defaults, _seasonal_naive_mae, _select
from forecasting.models import seasonal_set

MSET = seasonal_set(12)
NAMES = list(MSET.candidates)
MEAN, MEAN_SN, MEDIAN = MSET.class_menu
PLAIN = ("Mean(ETS,DOTheta)", "Mean(ETS,DOTheta,SNaive)", "Median(ETS,DOTheta,SNaive)")


def _errors(rows: list[dict[str, float]]) -> np.ndarray:
    """CV MAE per series (rows) and candidate; candidates not given are far off."""
    return np.array([[r.get(c, 99.0) for c in NAMES] for r in rows])


def test_menu_is_three_combinations_blended_with_the_pooled_ar() -> None:
    assert MSET.class_menu == tuple(f"{c}+PooledAR" for c in PLAIN)
    assert MSET.default == MEAN
    assert set(PLAIN) <= set(NAMES)  # still scored, for the runner-up
    assert "PooledAR" in MSET.fallback_only  # a member, never picked alone
    plain = seasonal_set(12, pooled=False)
    assert plain.class_menu == PLAIN and plain.default == PLAIN[0]
    assert "PooledAR" not in plain.candidates


def _rel(errors: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The class evidence: the menu's errors over each series' scale."""
    return errors[:, [NAMES.index(c) for c in MSET.class_menu]] / scale[:, None]


def test_each_class_takes_its_lowest_pooled_scaled_error_and_short_ones_follow() -> None:
    """30 smooth series where the median is better on most; 30 erratic ones where the mean
    with seasonal naive is; one series with a huge error on a scale as huge does not outweigh
    the rest (errors are scaled)."""
    smooth = [{MEAN: 1.0, MEAN_SN: 1.1, MEDIAN: 0.9}] * 29 + [
        {MEAN: 10.0, MEAN_SN: 50.0, MEDIAN: 50.0}]
    erratic = [{MEAN: 2.0, MEAN_SN: 1.5, MEDIAN: 1.8}] * 30
    errors = _errors(smooth + erratic)
    classes = np.array(["smooth"] * 30 + ["erratic"] * 30)
    scale = np.r_[np.ones(29), 100.0, np.ones(30)]
    out = _class_defaults(_rel(errors, scale), NAMES, MSET.class_menu, classes,
                          ["smooth", "erratic"], 30)
    assert out == {"smooth": NAMES.index(MEDIAN), "erratic": NAMES.index(MEAN_SN)}
    # The default walks on through `_select`: no per-series switch, nothing failed; a
    # series without CV (the last) takes its class's choice too.
    default = np.array([out[k] for k in [*classes, "smooth"]])
    errors = np.vstack([errors, _errors([{}])])
    final_ok = np.ones((61, len(NAMES)), dtype=bool)
    chosen = _select(errors, NAMES, MSET, 0.2, final_ok, default)
    assert (chosen == default).all() and chosen[60] == NAMES.index(MEDIAN)


def test_a_small_class_takes_the_groups_choice_and_a_small_group_keeps_the_mean() -> None:
    """10 erratic series that alone would pick the mean with seasonal naive follow the
    group's pooled choice (the 40 series together: the median); 10 series in all keep the
    default (no choice)."""
    rows = [{MEAN: 1.0, MEAN_SN: 1.2, MEDIAN: 0.8}] * 30 + [{MEAN: 1.0, MEAN_SN: 0.9,
                                                              MEDIAN: 0.95}] * 10
    classes = np.array(["smooth"] * 30 + ["erratic"] * 10)
    rel = _rel(_errors(rows), np.ones(40))
    out = _class_defaults(rel, NAMES, MSET.class_menu, classes, ["smooth", "erratic"], 30)
    assert out == {"smooth": NAMES.index(MEDIAN), "erratic": NAMES.index(MEDIAN)}
    assert _class_defaults(rel[30:], NAMES, MSET.class_menu, classes[30:],
                           ["smooth", "erratic"], 30) == {}


def test_seasonal_naive_scale_ignores_the_months_before_a_series_starts() -> None:
    history = np.array([[np.nan] * 6 + [1.0] * 12 + [3.0] * 12,
                        [5.0] * 30])
    scale = _seasonal_naive_mae(history, 12)
    assert np.isclose(scale[0], 2.0)  # the 12 pairs with both months known, each 2 apart
    assert np.isnan(scale[1])  # flat: no scale


def test_class_selection_off_forecasts_smooth_and_erratic_series_with_the_plain_mean() -> None:
    """`class_selection: false` is the documented way back to the ETS/DOTheta mean: every
    smooth or erratic series the guardrail left alone gets it."""
    from forecasting.baseline import fit_baselines
    from forecasting.settings import BaselineSettings
    from sample_data import generate_world

    world = generate_world(n_skus=12, n_locations=2, history_months=36, cycle="2026-12",
                           horizon=12, seed=4)
    history = world.tables["sales_history"]

    def models(on: bool) -> pd.Series:
        # Classes small enough to choose for themselves (the world has a few dozen series).
        sel = fit_baselines(history, 12, BaselineSettings(class_selection=on, class_min_series=1),
                            "2026-12", n_jobs=1).selection
        return sel[sel["demand_class"].isin(["smooth", "erratic"]) & sel["guardrail"].isna()
                   ]["model"]

    # 36 months of history give each series one window of the pooled AR's 24 + 12 months:
    # far too few for a map, so every blend is its plain combination and is named so.
    off = models(False)
    assert len(off) and (off == PLAIN[0]).all()
    assert (models(True) != PLAIN[0]).any()  # the setting is what keeps the mean here
