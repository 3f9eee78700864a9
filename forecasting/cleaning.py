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


def seasonal_index(values: np.ndarray, season_length: int) -> np.ndarray:
    """Multiplicative seasonal index per cell (same shape as `values`), 1 where unknown.

    Classical ratio-to-moving-average: each month ÷ its centred moving average over one
    season (2 x s for even s, NaN where the window is incomplete), the median ratio per
    calendar month, normalised to mean 1. Only rows with two seasons of history get one.
    Ratios to the season's own average, rather than an additive term, because seasonal
    amplitude grows with the level: with peaks 25x troughs a single additive term per
    calendar month cannot fit both the early and the late years.
    A calendar month whose median ratio is 0 (usually no sales) has index 0.
    """
    n_rows, n_months = values.shape
    index = np.ones_like(values, dtype=float)
    if season_length < 2 or n_months < 2 * season_length:
        return index
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
    # Calendar position counted back from the last month so it lines up for every row.
    pos = (np.arange(n_months) - n_months) % season_length
    per_month = np.full((n_rows, season_length), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for p in range(season_length):  # season_length columns, vectorised over series
            per_month[:, p] = np.nanmedian(ratio[:, pos == p], axis=1)
        usable = (np.sum(~np.isnan(values), axis=1) >= 2 * season_length) & np.isfinite(
            per_month).all(axis=1)
        per_month = per_month / np.mean(per_month, axis=1, keepdims=True)
    usable &= np.isfinite(per_month).all(axis=1)
    index[usable] = per_month[usable][:, pos]
    return index


def clip_outliers(panel: Panel, values: np.ndarray, eligible: np.ndarray, season_length: int,
                  window: int, threshold: float) -> tuple[np.ndarray, pd.DataFrame]:
    """Clip outliers of the `eligible` rows to `level ± threshold·σ`.

    Works on the seasonally adjusted series `y / index` (`seasonal_index`; index 1 for
    series with less than two seasons): level = its centred rolling median, the month
    itself left out; σ = 1.4826·MAD of the residuals from that level per series (floored
    at 10% of the adjusted series' median so flat series do not flag every wiggle).
    Flagged months are clipped to `(level ± threshold·σ) · index`, at least 0. Adjusting
    first matters at the ends of the history: there the rolling window is cut off, and on
    the raw series the last months' median would come from one side of the season only
    (a trough after a peak would look like a stock-out and be raised several-fold).
    Calendar months with index 0 are left alone. Intermittent series are not eligible:
    their spikes are the demand itself.
    """
    out = values.copy()
    rows = np.flatnonzero(eligible)
    if rows.size == 0 or values.shape[1] < 3:
        return out, pd.DataFrame(columns=CLEANING_COLUMNS)
    y = values[rows]
    index = seasonal_index(y, season_length)
    with np.errstate(invalid="ignore", divide="ignore"):
        adjusted = np.where(index > 0, y / index, np.nan)
    level = rolling_median(adjusted, window, exclude_centre=True)
    resid = adjusted - level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        centre = np.nanmedian(resid, axis=1, keepdims=True)
        sigma = MAD_TO_SIGMA * np.nanmedian(np.abs(resid - centre), axis=1, keepdims=True)
        sigma = np.maximum(sigma, 0.1 * np.nanmedian(np.abs(adjusted), axis=1, keepdims=True))
    sigma = np.nan_to_num(sigma, nan=0.0)
    with np.errstate(invalid="ignore"):
        flagged = (np.abs(resid) > threshold * sigma) & (sigma > 0) & np.isfinite(resid)
    fr, fc = np.nonzero(flagged)
    if fr.size == 0:
        return out, pd.DataFrame(columns=CLEANING_COLUMNS)
    bound = (level + np.sign(resid) * threshold * sigma) * index
    clipped = np.maximum(bound[fr, fc], 0.0)
    out[rows[fr], fc] = clipped
    detail = [f"outside seasonally adjusted median ± {threshold:g}σ (σ={s:.3g}, index {i:.3g})"
              for s, i in zip(sigma[fr, 0], index[fr, fc], strict=True)]
    log = _log(panel, rows[fr], fc, y[fr, fc], clipped, "outlier", detail)
    return out, log
