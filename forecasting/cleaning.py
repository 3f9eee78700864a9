"""History cleaning before fitting: past promotions out, outliers clipped, every change logged."""

import warnings

import numpy as np
import pandas as pd

from data_contracts.periods import expand_month_ranges
from forecasting.panel import KEY, Panel, month_index

CLEANING_COLUMNS = [*KEY, "period", "original", "cleaned", "rule", "detail"]
# Scales the median absolute deviation to a standard deviation under normality.
MAD_TO_SIGMA = 1.4826


def rolling_median(values: np.ndarray, window: int, exclude_centre: bool = False) -> np.ndarray:
    """Centred rolling median along months, ignoring NaN (edges use the part that exists).

    `exclude_centre` leaves each month out of its own median: otherwise the residual is
    often exactly 0 and its MAD understates the noise, flagging far too many outliers.
    """
    half = window // 2
    padded = np.pad(values, ((0, 0), (half, half)), constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, window, axis=1)
    if exclude_centre:
        windows = windows.copy()
        windows[:, :, half] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows before a series starts
        return np.nanmedian(windows, axis=2)


def _log(panel: Panel, rows: np.ndarray, cols: np.ndarray, before: np.ndarray,
         after: np.ndarray, rule: str, detail: list[str] | np.ndarray) -> pd.DataFrame:
    months = np.array(panel.months, dtype=object)
    keys = panel.keys.iloc[rows].reset_index(drop=True)
    return pd.DataFrame(
        {
            "sku": keys["sku"], "location": keys["location"], "period": months[cols],
            "original": before, "cleaned": after, "rule": rule, "detail": detail,
        },
        columns=CLEANING_COLUMNS,
    )


def clean_promotions(panel: Panel, promotions: pd.DataFrame | None, window: int,
                     season_length: int = 1) -> tuple[np.ndarray, pd.DataFrame]:
    """Take past promotion months back to baseline.

    Rule: `cleaned = max(original / (1 + uplift/100), min(original, local level))`, where the
    local level is the rolling median of the neighbouring non-promotion months, taken on the
    seasonally adjusted series (`seasonal_index`) and multiplied back, so that a promotion
    in a peak month is not floored at the trough's level. Dividing by
    the planned uplift uses the planners' own estimate (the one reconciliation adds back),
    and the local-level floor stops a promotion that did not lift sales from carving an
    artificial dip. Overlapping promotions in a month use the largest uplift (not compounded).
    Returns the cleaned matrix and the log of changed cells.
    """
    values = panel.values.copy()
    if promotions is None or promotions.empty or values.size == 0:
        return values, pd.DataFrame(columns=CLEANING_COLUMNS)
    promos = promotions.copy()
    promos["sku"], promos["location"] = promos["sku"].astype(str), promos["location"].astype(str)
    position, months = expand_month_ranges(promos["start_period"], promos["end_period"])
    expanded = promos.iloc[position].reset_index(drop=True)
    expanded["month"] = months
    first = int(month_index(pd.Series([panel.first_month]))[0])
    expanded["col"] = expanded["month"] - first
    rows = pd.MultiIndex.from_frame(panel.keys).get_indexer(
        pd.MultiIndex.from_frame(expanded[KEY])
    )
    expanded["row"] = rows
    expanded = expanded[(rows >= 0) & (expanded["col"] >= 0)
                        & (expanded["col"] < values.shape[1])]
    if expanded.empty:
        return values, pd.DataFrame(columns=CLEANING_COLUMNS)
    expanded["uplift_pct"] = expanded["uplift_pct"].astype(float)
    cells = (expanded.sort_values("uplift_pct", ascending=False)
             .drop_duplicates(["row", "col"]))
    r, c = cells["row"].to_numpy(), cells["col"].to_numpy()
    original = values[r, c]
    keep = ~np.isnan(original) & (original > 0)
    r, c, original, cells = r[keep], c[keep], original[keep], cells[keep]
    masked = values.copy()
    masked[r, c] = np.nan  # the local level must come from non-promotion months
    index = seasonal_index(masked, season_length)
    with np.errstate(invalid="ignore", divide="ignore"):
        adjusted = np.where(index > 0, masked / index, np.nan)
    level = (rolling_median(adjusted, window) * index)[r, c]
    deuplifted = original / (1.0 + cells["uplift_pct"].to_numpy() / 100.0)
    floor = np.where(np.isnan(level), deuplifted, np.minimum(original, level))
    cleaned = np.maximum(deuplifted, floor)
    changed = ~np.isclose(cleaned, original)
    values[r[changed], c[changed]] = cleaned[changed]
    detail = [
        f"promo {pid} +{u:g}%"
        for pid, u in zip(cells["promo_id"].to_numpy()[changed],
                          cells["uplift_pct"].to_numpy()[changed], strict=True)
    ]
    log = _log(panel, r[changed], c[changed], original[changed], cleaned[changed],
               "promotion", detail)
    return values, log


def _season_terms(values: np.ndarray, season_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Multiplicative index and additive term per cell (1 and 0 where unknown).

    Classical decomposition: each month ÷ (and −) its centred moving average over one
    season (2 x s for even s, NaN where the window is incomplete), then per cell the median
    over the same calendar month of the *other* years where there are at least 3 (like the
    rolling median, a month is left out of its own term: in-sample terms would absorb part
    of each month's noise and understate σ), of all years otherwise. Only rows with two
    seasons of history get them. A calendar month whose ratios are 0 (usually no sales)
    has index 0.
    """
    n_months = values.shape[1]
    index = np.ones_like(values, dtype=float)
    offset = np.zeros_like(values, dtype=float)
    if season_length < 2 or n_months < 2 * season_length:
        return index, offset
    if season_length % 2:
        weights = np.full(season_length, 1.0 / season_length)
    else:
        weights = np.full(season_length + 1, 1.0 / season_length)
        weights[[0, -1]] = 0.5 / season_length
    half = weights.size // 2
    padded = np.pad(values, ((0, 0), (half, half)), constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, weights.size, axis=1)
    average = np.sum(windows * weights, axis=2)  # NaN wherever the window is incomplete
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(average > 0, values / average, np.nan)
    diff = values - average
    # Calendar position counted back from the last month so it lines up for every row.
    pos = (np.arange(n_months) - n_months) % season_length
    long_enough = (np.sum(~np.isnan(values), axis=1) >= 2 * season_length)[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for p in range(season_length):  # season_length columns, vectorised over series
            cols = np.flatnonzero(pos == p)
            index[:, cols] = _median_of_others(ratio[:, cols])
            offset[:, cols] = _median_of_others(diff[:, cols])
    index = np.where(long_enough & np.isfinite(index), index, 1.0)
    offset = np.where(long_enough & np.isfinite(offset), offset, 0.0)
    return index, offset


def _median_of_others(x: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Per cell, the NaN-median of the other columns of its row (the same calendar month
    in the other years), so that a month's own value does not shape its own seasonal term;
    with fewer than 3 other values that median is not robust (one spike among 2 moves it
    half-way), so the row's median including the month itself is used instead."""
    k = x.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        full = np.repeat(np.nanmedian(x, axis=1, keepdims=True), k, axis=1)
    if k < 4:
        return full
    out = full.copy()
    others = ~np.eye(k, dtype=bool)
    finite = np.isfinite(x)
    enough = (finite.sum(axis=1, keepdims=True) - finite) >= 3
    for a in range(0, x.shape[0], chunk):  # bounded memory: chunk x k x k
        block = x[a:a + chunk]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            loo = np.nanmedian(np.where(others[None, :, :], block[:, None, :], np.nan), axis=2)
        out[a:a + chunk] = np.where(enough[a:a + chunk], loo, full[a:a + chunk])
    return out


def seasonal_index(values: np.ndarray, season_length: int) -> np.ndarray:
    """Multiplicative seasonal index per cell (`_season_terms`), 1 where unknown."""
    return _season_terms(values, season_length)[0]


def _robust_sigma(resid: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        centre = np.nanmedian(resid, axis=1, keepdims=True)
        return MAD_TO_SIGMA * np.nanmedian(np.abs(resid - centre), axis=1, keepdims=True)


def clip_outliers(panel: Panel, values: np.ndarray, eligible: np.ndarray, season_length: int,
                  window: int, threshold: float) -> tuple[np.ndarray, pd.DataFrame]:
    """Clip outliers of the `eligible` rows to `level ± threshold·σ`.

    Seasonal terms first (`_season_terms`, series with two seasons; none otherwise), then
    two seasonally adjusted series: `y − additive term` and `y / multiplicative index`. On
    each: level = centred rolling median, the month itself left out; σ = 1.4826·MAD of the
    residuals from it (floored at 10% of the adjusted series' median so flat series do not
    flag every wiggle). A month is an outlier only if it is beyond `level ± threshold·σ` on
    the same side under both adjustments (additive noise makes the multiplicative residuals
    of trough months look wide, a seasonal amplitude that grows with the level does the
    same to the additive residuals of peak months; a real spike is out under both); it is
    clipped to the bound, taken back to `y` (at least 0), of the adjustment whose σ in
    units of `y` is the smaller at that month (σ·index for the multiplicative one).
    Adjusting first matters at the ends of the history: there the rolling window is cut
    off, and on the raw series the last months' median comes from one side of the season
    only (a trough after a peak looked like a stock-out and was raised several-fold).
    Cells with index 0 are left alone. Intermittent series are not eligible: their spikes
    are the demand itself.
    """
    out = values.copy()
    rows = np.flatnonzero(eligible)
    if rows.size == 0 or values.shape[1] < 3:
        return out, pd.DataFrame(columns=CLEANING_COLUMNS)
    y = values[rows]
    index, offset = _season_terms(y, season_length)
    flags, bounds, sigmas = [], [], []
    for mult, add in ((np.ones_like(y), offset), (index, np.zeros_like(y))):
        with np.errstate(invalid="ignore", divide="ignore"):
            adjusted = np.where(mult > 0, (y - add) / mult, np.nan)
        level = rolling_median(adjusted, window, exclude_centre=True)
        resid = adjusted - level
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            sigma = _robust_sigma(resid)
            sigma = np.maximum(sigma,
                               0.1 * np.nanmedian(np.abs(adjusted), axis=1, keepdims=True))
        sigma = np.nan_to_num(sigma, nan=0.0)
        with np.errstate(invalid="ignore"):
            side = np.sign(resid) * ((np.abs(resid) > threshold * sigma) & (sigma > 0)
                                     & np.isfinite(resid))
        flags.append(side)
        bounds.append((level + np.sign(resid) * threshold * sigma) * mult + add)
        sigmas.append(np.broadcast_to(sigma, y.shape))
    flagged = (flags[0] != 0) & (flags[0] == flags[1])
    fr, fc = np.nonzero(flagged)
    if fr.size == 0:
        return out, pd.DataFrame(columns=CLEANING_COLUMNS)
    # Clip to the bound of the adjustment that is tighter at that month (σ in units of y).
    use_mult = sigmas[1][fr, fc] * index[fr, fc] < sigmas[0][fr, fc]
    b_add, b_mult = bounds[0][fr, fc], bounds[1][fr, fc]
    clipped = np.maximum(np.where(use_mult, b_mult, b_add), 0.0)
    out[rows[fr], fc] = clipped
    sigma_used = np.where(use_mult, sigmas[1][fr, fc], sigmas[0][fr, fc])
    detail = [f"outside seasonally adjusted median ± {threshold:g}σ (σ={s:.3g}, {kind})"
              for s, kind in zip(sigma_used, np.where(use_mult, "multiplicative", "additive"),
                                 strict=True)]
    log = _log(panel, rows[fr], fc, y[fr, fc], clipped, "outlier", detail)
    return out, log
