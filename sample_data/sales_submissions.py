"""What the sales teams submit: this cycle's forecast and a year of past submissions, biased."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sample_data.catalog import Catalog
from sample_data.demand import DemandPaths, TimeAxis

SUBMIT_SHARE_SMOOTH = 0.9  # share of smooth series the teams forecast SKU by SKU
SUBMIT_SHARE_INTERMITTENT = 0.5  # teams often skip slow movers
SERIES_NOISE = 0.12  # a team's per-item misjudgement (log sd)
MONTH_NOISE = 0.06  # month-to-month wobble in a submission (log sd)
FAMILY_ROW_COMBOS = 2  # family x location pairs submitted as family totals
FORECAST_HISTORY_CYCLES = 12
FORECAST_HISTORY_LAGS = 3  # each past submission is kept for its first months only


@dataclass(frozen=True)
class Submissions:
    sales_forecast: pd.DataFrame
    forecast_history: pd.DataFrame
    submits: np.ndarray  # bool per series: a SKU-level sales number exists this cycle
    family_rows: np.ndarray  # bool per series: covered by a family-level row instead
    sales_qty: np.ndarray  # n_series x horizon, the (pre-aggregation) numbers; 0 where none


def _submitting_series(rng: np.random.Generator, cat: Catalog) -> np.ndarray:
    inter = cat.sku_intermittent[cat.series_sku]
    share = np.where(inter, SUBMIT_SHARE_INTERMITTENT, SUBMIT_SHARE_SMOOTH)
    submits = rng.random(cat.n_series) < share
    # Every new item has a sales number: there is nothing else to plan it on.
    return submits | (cat.sku_status[cat.series_sku] == "new")


def _family_combos(rng: np.random.Generator, cat: Catalog, submits: np.ndarray) -> np.ndarray:
    """Pick small family x location groups of plain active items that sales forecasts as a total."""
    status = cat.sku_status[cat.series_sku]
    plain = status == "active"
    n_fam = len(cat.family_names)
    fam = cat.sku_family[cat.series_sku]
    combo = fam * len(cat.locations) + cat.series_loc
    n_combos = n_fam * len(cat.locations)
    size = np.bincount(combo, minlength=n_combos)
    not_plain = np.bincount(combo, weights=(~plain).astype(float), minlength=n_combos)
    # Only groups with several SKUs, all of them active, so a split is meaningful.
    candidates = np.nonzero((size >= 3) & (not_plain == 0))[0]
    if candidates.size == 0:
        return np.zeros(cat.n_series, dtype=bool)
    # Prefer the smallest groups (at 100k series a big family would swamp the SKU-level data),
    # random among equals.
    tiebreak = rng.random(candidates.size)
    chosen = candidates[np.lexsort((tiebreak, size[candidates]))][:FAMILY_ROW_COMBOS]
    return np.isin(combo, chosen) & submits


def _biased(rng: np.random.Generator, expected: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """A team's number: expected demand x (1 + team bias) x item and month misjudgement."""
    n = expected.shape[0]
    item = np.exp(rng.normal(0.0, SERIES_NOISE, size=n) - SERIES_NOISE**2 / 2)[:, None]
    month = np.exp(rng.normal(0.0, MONTH_NOISE, size=expected.shape) - MONTH_NOISE**2 / 2)
    return np.round(expected * (1.0 + bias)[:, None] * item * month)


def build_submissions(
    rng: np.random.Generator, cat: Catalog, axis: TimeAxis, demand: DemandPaths
) -> Submissions:
    """Sales forecast for the horizon (SKU rows + a few family rows) and past submissions."""
    h = axis.n_history
    submits = _submitting_series(rng, cat)
    family_rows = _family_combos(rng, cat, submits)
    bias = cat.team_bias[cat.series_loc]
    team = np.array(cat.teams, dtype=object)

    expected_h = demand.expected[:, h:]
    sales = _biased(rng, expected_h, bias)
    # Sales only forecasts months in which the item is expected to sell at all.
    has_number = submits[:, None] & (expected_h > 0)
    sales = np.where(has_number, sales, 0.0)
    periods_h = axis.periods[h:]

    sku_mask = has_number & ~family_rows[:, None]
    s, m = np.nonzero(sku_mask)
    sku_rows = pd.DataFrame(
        {
            "sku": cat.skus[cat.series_sku[s]],
            "family": np.full(s.size, np.nan, dtype=object),
            "location": np.array(cat.locations, dtype=object)[cat.series_loc[s]],
            "period": periods_h[m],
            "qty": sales[s, m],
            "submitted_by": team[cat.series_loc[s]],
        }
    )
    fam_rows = _family_level_rows(cat, periods_h, sales, family_rows)
    # Column-wise concatenation: pandas warns when concatenating frames with all-NaN columns.
    sales_forecast = pd.DataFrame(
        {
            col: np.concatenate([sku_rows[col].to_numpy(), fam_rows[col].to_numpy()])
            for col in sku_rows.columns
        }
    )
    sales_forecast["qty"] = sales_forecast["qty"].astype(float)

    history = _forecast_history(rng, cat, axis, demand, submits & ~family_rows, bias)
    return Submissions(
        sales_forecast=sales_forecast,
        forecast_history=history,
        submits=submits,
        family_rows=family_rows,
        sales_qty=sales,
    )


def _family_level_rows(
    cat: Catalog, periods_h: np.ndarray, sales: np.ndarray, family_rows: np.ndarray
) -> pd.DataFrame:
    idx = np.nonzero(family_rows)[0]
    if idx.size == 0:
        return pd.DataFrame(columns=["sku", "family", "location", "period", "qty", "submitted_by"])
    fam = cat.sku_family[cat.series_sku[idx]]
    loc = cat.series_loc[idx]
    wide = pd.DataFrame(sales[idx], columns=list(periods_h))
    wide["family"] = np.array(cat.family_names, dtype=object)[fam]
    wide["location"] = np.array(cat.locations, dtype=object)[loc]
    long = (
        wide.groupby(["family", "location"], sort=True)
        .sum()
        .reset_index()
        .melt(id_vars=["family", "location"], var_name="period", value_name="qty")
    )
    long = long[long["qty"] > 0].sort_values(["family", "location", "period"])
    team_of = dict(zip(cat.locations, cat.teams, strict=True))
    return pd.DataFrame(
        {
            "sku": np.full(len(long), np.nan, dtype=object),
            "family": long["family"].to_numpy(dtype=object),
            "location": long["location"].to_numpy(dtype=object),
            "period": long["period"].to_numpy(dtype=object),
            "qty": long["qty"].to_numpy(dtype=float),
            "submitted_by": long["location"].map(team_of).to_numpy(dtype=object),
        }
    )


def _forecast_history(
    rng: np.random.Generator,
    cat: Catalog,
    axis: TimeAxis,
    demand: DemandPaths,
    submits: np.ndarray,
    bias: np.ndarray,
) -> pd.DataFrame:
    """Past monthly cycles' submissions for the months that now have actuals."""
    h = axis.n_history
    pairs = [
        (c, c + lag)
        for c in range(max(0, h - FORECAST_HISTORY_CYCLES), h)
        for lag in range(FORECAST_HISTORY_LAGS)
        if c + lag < h
    ]
    if not pairs:
        return pd.DataFrame(columns=["cycle", "sku", "location", "period", "qty", "submitted_by"])
    cyc = np.array([p[0] for p in pairs])
    per = np.array([p[1] for p in pairs])
    expected = demand.expected[:, per]  # n_series x n_pairs
    qty = _biased(rng, expected, bias)
    s, k = np.nonzero(submits[:, None] & (expected > 0))
    return pd.DataFrame(
        {
            "cycle": axis.periods[cyc[k]],
            "sku": cat.skus[cat.series_sku[s]],
            "location": np.array(cat.locations, dtype=object)[cat.series_loc[s]],
            "period": axis.periods[per[k]],
            "qty": qty[s, k],
            "submitted_by": np.array(cat.teams, dtype=object)[cat.series_loc[s]],
        }
    )
