"""A pooled autoregression: one linear map from a series' last two years to its next months,
estimated over every series of a warehouse at once (a "global" model in Montero-Manso and
Hyndman's sense, 2021), as a member of the smooth/erratic combinations.

Why: ETS and Theta each look at one series; a map learnt across hundreds of series brings
what they cannot (how seasonal shapes like this one usually continue), and its errors differ
from theirs, which is what a combination needs. On the validation splits of M3, M1 and
Tourism, blending it into the class combinations lowered sMAPE on all three
(docs/benchmarks.md).

The model: per window, the last `LAGS` months are divided by their last 12 months' mean (the
scale) and logged; the next `h` months, divided by the same scale and logged (floored, so
that a zero month stays finite), are a ridge regression of those inputs (one set of
coefficients per month ahead). Logs make a multiplicative season additive, and the scaling
pools series of any size. A series with a zero or negative month among its last `LAGS`
(or fewer, if shorter) has no forecast from it (NaN): the combinations then leave it out.

Pools are one warehouse's series of one model group (`pool` labels): a run fitted one
warehouse at a time gets every series the numbers of a whole run (the sums are made over the
pool's rows in catalogue order, in fixed chunks).
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

ALIAS = "PooledAR"
LAGS = 24
SCALE_MONTHS = 12
RIDGE = 1.0
# Fewer training windows than this and the pool has no map: 25 inputs per month ahead need
# many more windows than coefficients to be estimated at all.
MIN_WINDOWS = 200
# Floor of a target month relative to its window's scale, before the log.
FLOOR = 1e-3
# Rows per chunk of the normal equations (bounds memory on 100k-series pools).
CHUNK = 2048


def _log_scaled(x: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(x / scale[:, None], FLOOR))


def _normal_equations(values: np.ndarray, ends: np.ndarray, h: int
                      ) -> tuple[np.ndarray, np.ndarray, int]:
    """Sums X'X and X'Y (intercept first) over every window of the rows' histories
    `values[i, :ends[i]]` whose inputs are all positive and whose targets are all known."""
    k = LAGS + 1
    xtx, xty, n = np.zeros((k, k)), np.zeros((k, h)), 0
    for lo in range(0, values.shape[0], CHUNK):
        block, stop = values[lo:lo + CHUNK], ends[lo:lo + CHUNK]
        if block.shape[1] < LAGS + h:
            break
        win = sliding_window_view(block, LAGS + h, axis=1)  # (rows, starts, LAGS + h)
        # A window may be used when its targets end before the row's end.
        starts = np.arange(win.shape[1])
        inside = starts[None, :] + LAGS + h <= stop[:, None]
        x, y = win[..., :LAGS], win[..., LAGS:]
        ok = inside & np.all(x > 0, axis=2) & np.all(np.isfinite(y), axis=2)
        if not ok.any():
            continue
        x, y = x[ok], y[ok]
        scale = x[:, -SCALE_MONTHS:].mean(axis=1)
        design = np.hstack([np.ones((x.shape[0], 1)), _log_scaled(x, scale)])
        xtx += design.T @ design
        xty += design.T @ _log_scaled(y, scale)
        n += x.shape[0]
    return xtx, xty, n


def fit_map(values: np.ndarray, ends: np.ndarray, h: int) -> np.ndarray | None:
    """Coefficients (1 + LAGS, h) learnt on `values[i, :ends[i]]` for every row i (NaN before
    a series starts), or None where the pool has too few windows."""
    xtx, xty, n = _normal_equations(values, ends, h)
    if n < MIN_WINDOWS:
        return None
    # The intercept is not shrunk: only the lags are.
    penalty = RIDGE * np.eye(LAGS + 1)
    penalty[0, 0] = 0.0
    return np.linalg.solve(xtx + penalty, xty)


def predict(coef: np.ndarray | None, values: np.ndarray, ends: np.ndarray, h: int
            ) -> np.ndarray:
    """Forecast (rows, h) from `values[i, :ends[i]]`, NaN where the map is missing (None)
    or a row's last `LAGS` months (all its months, if fewer) are not all positive."""
    n = values.shape[0]
    out = np.full((n, h), np.nan)
    if coef is None:
        return out
    x = np.full((n, LAGS), np.nan)
    for i in range(n):
        y = values[i, max(ends[i] - LAGS, 0):ends[i]]
        y = y[np.isfinite(y)]
        if y.size == 0:
            continue
        if y.size < LAGS:
            # A short series' missing lags: the mean of its first season, a level
            # without a season (the fitted map then leans on the lags it has).
            y = np.concatenate([np.full(LAGS - y.size, y[:SCALE_MONTHS].mean()), y])
        x[i] = y
    ok = np.all(x > 0, axis=1)
    if ok.any():
        scale = x[ok, -SCALE_MONTHS:].mean(axis=1)
        design = np.hstack([np.ones((int(ok.sum()), 1)), _log_scaled(x[ok], scale)])
        out[ok] = np.exp(design @ coef) * scale[:, None]
    return out


def pooled_forecasts(values: np.ndarray, pools: np.ndarray, horizon: int, cv_pos: np.ndarray,
                     cv_h: int, windows: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Final forecasts (rows, horizon) and CV forecasts (len(cv_pos), windows, cv_h) of the
    rows of `values` (one model group; every row ends at the panel's last month), one map
    per pool label.

    The CV map of a pool is learnt on its histories up to the first CV origin only, and
    rolled forward over the later windows without refitting, like the one-fit CV of the
    other members: its CV errors then judge it on months it never saw."""
    n, months = values.shape
    test_size = cv_h + step * (windows - 1)
    final = np.full((n, horizon), np.nan)
    cv = np.full((cv_pos.size, windows, cv_h), np.nan)
    whole = np.full(n, months)
    cuts = months - test_size + step * np.arange(windows)
    at_cv = np.full(n, -1)
    at_cv[cv_pos] = np.arange(cv_pos.size)
    for label in dict.fromkeys(pools.tolist()):
        rows = np.flatnonzero(pools == label)
        sub = values[rows]
        final[rows] = predict(fit_map(sub, whole[rows], horizon), sub, whole[rows], horizon)
        in_cv = rows[at_cv[rows] >= 0]
        if not in_cv.size:
            continue
        origin = np.full(rows.size, cuts[0])
        coef = fit_map(sub, origin, cv_h)
        for k, cut in enumerate(cuts):
            cv[at_cv[in_cv], k] = predict(coef, values[in_cv], np.full(in_cv.size, cut), cv_h)
    return final, cv
