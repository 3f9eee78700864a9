"""Per demand class, one combination for every series: the lowest pooled, scaled CV error."""

import numpy as np

from forecasting.baseline import _class_defaults, _seasonal_naive_mae, _select
from forecasting.models import seasonal_set

MSET = seasonal_set(12)
NAMES = list(MSET.candidates)
MEAN, MEAN_SN, MEDIAN = MSET.class_menu


def _errors(rows: list[dict[str, float]]) -> np.ndarray:
    """CV MAE per series (rows) and candidate; candidates not given are far off."""
    return np.array([[r.get(c, 99.0) for c in NAMES] for r in rows])


def test_menu_is_the_three_combinations_with_the_mean_as_default() -> None:
    assert MSET.default == MEAN == "Mean(ETS,DOTheta)"
    assert {MEAN_SN, MEDIAN} == {"Mean(ETS,DOTheta,SNaive)", "Median(ETS,DOTheta,SNaive)"}


def test_each_class_takes_its_lowest_pooled_scaled_error_and_short_ones_follow() -> None:
    """30 smooth series where the median is better on most; 30 erratic ones where the mean
    with seasonal naive is; a series without CV takes its class's choice; one series with a
    huge error on a scale as huge does not outweigh the rest (errors are scaled)."""
    smooth = [{MEAN: 1.0, MEAN_SN: 1.1, MEDIAN: 0.9}] * 29 + [
        {MEAN: 10.0, MEAN_SN: 50.0, MEDIAN: 50.0}]
    erratic = [{MEAN: 2.0, MEAN_SN: 1.5, MEDIAN: 1.8}] * 30
    rows = smooth + erratic + [{}]  # the last series has no CV
    errors = _errors(rows)
    classes = np.array(["smooth"] * 30 + ["erratic"] * 30 + ["smooth"])
    cv_pos = np.arange(60)
    scale = np.r_[np.ones(29), 100.0, np.ones(30)]
    default = np.full(61, NAMES.index(MEAN))
    out = _class_defaults(errors, NAMES, MSET.class_menu, default, classes, cv_pos, scale, 30)
    picked = np.array(NAMES)[out]
    assert (picked[:30] == MEDIAN).all() and picked[60] == MEDIAN
    assert (picked[30:60] == MEAN_SN).all()
    # The default walks on through `_select`: no per-series switch, nothing failed.
    final_ok = np.ones((61, len(NAMES)), dtype=bool)
    chosen = _select(errors, NAMES, MSET, 0.2, final_ok, out)
    assert (chosen == out).all()


def test_a_small_class_takes_the_groups_choice_and_a_small_group_keeps_the_mean() -> None:
    """10 erratic series that alone would pick the mean with seasonal naive follow the
    group's pooled choice (the 40 series together: the median); 10 series in all keep the
    default."""
    rows = [{MEAN: 1.0, MEAN_SN: 1.2, MEDIAN: 0.8}] * 30 + [{MEAN: 1.0, MEAN_SN: 0.9,
                                                              MEDIAN: 0.95}] * 10
    classes = np.array(["smooth"] * 30 + ["erratic"] * 10)
    default = np.full(40, NAMES.index(MEAN))
    out = _class_defaults(_errors(rows), NAMES, MSET.class_menu, default, classes,
                          np.arange(40), np.ones(40), 30)
    assert (np.array(NAMES)[out] == MEDIAN).all()
    few = _class_defaults(_errors(rows[30:]), NAMES, MSET.class_menu, default[:10],
                          classes[30:], np.arange(10), np.ones(10), 30)
    assert (few == default[:10]).all()


def test_seasonal_naive_scale_ignores_the_months_before_a_series_starts() -> None:
    history = np.array([[np.nan] * 6 + [1.0] * 12 + [3.0] * 12,
                        [5.0] * 30])
    scale = _seasonal_naive_mae(history, 12)
    assert np.isclose(scale[0], 2.0)  # the 12 pairs with both months known, each 2 apart
    assert np.isnan(scale[1])  # flat: no scale
