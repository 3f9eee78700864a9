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


def clean_promotions(panel: Panel, promotions: pd.DataFrame | None,
                     window: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Take past promotion months back to baseline.

    Rule: `cleaned = max(original / (1 + uplift/100), min(original, local level))`, where the
    local level is the rolling median of the neighbouring non-promotion months. Dividing by
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
    level = rolling_median(masked, window)[r, c]
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


def clip_outliers(panel: Panel, values: np.ndarray, eligible: np.ndarray, season_length: int,
                  window: int, threshold: float) -> tuple[np.ndarray, pd.DataFrame]:
    """Clip outliers of the `eligible` rows to `level ± threshold·σ`.

    Level = centred rolling median + a robust seasonal term (median residual of the same
    calendar month, when the series has two seasons) so that a regular December peak is not
    mistaken for an outlier; σ = 1.4826·MAD of the residuals from the rolling median per
    series (floored at 10% of the series' median so flat series do not flag every wiggle),
    the month itself left out of its median. Intermittent
    series are not eligible: their spikes are the demand itself.
    """
    out = values.copy()
    rows = np.flatnonzero(eligible)
    if rows.size == 0 or values.shape[1] < 3:
        return out, pd.DataFrame(columns=CLEANING_COLUMNS)
    y = values[rows]
    level = rolling_median(y, window, exclude_centre=True)
    resid = y - level
    n_months = y.shape[1]
    seasonal = np.zeros_like(y)
    span = np.sum(~np.isnan(y), axis=1)
    if season_length > 1 and n_months >= 2 * season_length:
        # Calendar position counted back from the last month so it lines up for every row.
        pos = (np.arange(n_months) - n_months) % season_length
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for p in range(season_length):  # season_length columns, vectorised over series
                cols = pos == p
                seasonal[:, cols] = np.nanmedian(resid[:, cols], axis=1)[:, None]
        seasonal[span < 2 * season_length] = 0.0
        seasonal = np.nan_to_num(seasonal)
    resid2 = resid - seasonal
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        # σ from the residual *before* the seasonal term: that term is a median of only a
        # few years that includes the month itself, which would shrink the spread again.
        centre = np.nanmedian(resid, axis=1, keepdims=True)
        sigma = MAD_TO_SIGMA * np.nanmedian(np.abs(resid - centre), axis=1, keepdims=True)
        sigma = np.maximum(sigma, 0.1 * np.nanmedian(np.abs(y), axis=1, keepdims=True))
    sigma = np.nan_to_num(sigma, nan=0.0)
    with np.errstate(invalid="ignore"):
        flagged = (np.abs(resid2) > threshold * sigma) & (sigma > 0) & ~np.isnan(y)
    fr, fc = np.nonzero(flagged)
    if fr.size == 0:
        return out, pd.DataFrame(columns=CLEANING_COLUMNS)
    bound = level + seasonal + np.sign(resid2) * threshold * sigma
    clipped = np.maximum(bound[fr, fc], 0.0)
    out[rows[fr], fc] = clipped
    detail = [f"outside median ± {threshold:g}σ (σ={s:.3g})" for s in sigma[fr, 0]]
    log = _log(panel, rows[fr], fc, y[fr, fc], clipped, "outlier", detail)
    return out, log
