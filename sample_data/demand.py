"""The demand process: level, trend, family seasonality, life cycle, promotions and noise.

History and truth are two windows of one simulated path per series, so whatever a
baseline learns from the history is genuinely predictive of the truth.
"""

from dataclasses import dataclass

import numpy as np

from data_contracts.periods import add_months
from sample_data.catalog import FAMILIES, Catalog

UPLIFT_CHOICES = np.array([15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 60.0])
PROMO_SERIES_SHARE = 0.35  # smooth active series that run promotions at all
PROMO_WINDOW_P = 0.5  # chance of a promotion in each 12-month window
RAMP_MONTHS = 3  # launches reach full rate after this many months
PHASE_OUT_MONTHS = 9  # phase-out items decline linearly over this many months


@dataclass(frozen=True)
class TimeAxis:
    """History months followed by horizon months, as one index t = 0..T-1."""

    periods: np.ndarray  # object array of YYYY-MM
    n_history: int
    horizon: int

    @property
    def n(self) -> int:
        return self.n_history + self.horizon

    @property
    def month_of_year(self) -> np.ndarray:
        return np.array([int(p[5:7]) for p in self.periods])


def build_time_axis(cycle: str, history_months: int, horizon: int) -> TimeAxis:
    """Months from `cycle - history_months` to `cycle + horizon - 1`."""
    start = add_months(cycle, -history_months)
    periods = np.array(
        [add_months(start, i) for i in range(history_months + horizon)], dtype=object
    )
    return TimeAxis(periods=periods, n_history=history_months, horizon=horizon)


@dataclass(frozen=True)
class Promotions:
    """One entry per promotion: series, first and last month index, planned uplift in %."""

    series: np.ndarray
    start: np.ndarray
    end: np.ndarray
    uplift_pct: np.ndarray


@dataclass(frozen=True)
class DemandPaths:
    """Per series x month: what a well-informed planner expects, and what actually sells."""

    expected: np.ndarray  # mean demand incl. planned promo uplift (n_series x T)
    actual: np.ndarray  # realised demand, integer units as float (n_series x T)
    alive: np.ndarray  # life-cycle multiplier in [0, 1] (n_series x T)
    promotions: Promotions
    launch: np.ndarray  # per series: first month index with demand (0 if from the start)


def _life_cycle(
    rng: np.random.Generator, cat: Catalog, axis: TimeAxis
) -> tuple[np.ndarray, np.ndarray]:
    """Multiplier per series x month for late launches, new items and phase-outs."""
    n, h = cat.n_series, axis.n_history
    status = cat.sku_status[cat.series_sku]
    late = cat.sku_late_start[cat.series_sku]
    t = np.arange(axis.n)[None, :]

    # Launch month per SKU, shared by its locations (a launch is a national event).
    sku_launch = np.zeros(cat.skus.size, dtype=np.int64)
    is_late = cat.sku_late_start
    sku_launch[is_late] = rng.integers(0, max(1, h - 12), size=int(is_late.sum()))
    is_new = cat.sku_status == "new"
    sku_launch[is_new] = h + rng.integers(0, min(4, axis.horizon), size=int(is_new.sum()))
    launch = sku_launch[cat.series_sku]
    ramp = np.clip((t - launch[:, None] + 1) / RAMP_MONTHS, 0.0, 1.0)
    life = np.where((late | (status == "new"))[:, None], ramp, 1.0)

    # Phase-out: demand fades to zero somewhere between half a year before and after the cycle.
    is_out = cat.sku_status == "phase_out"
    sku_end = np.full(cat.skus.size, axis.n + PHASE_OUT_MONTHS, dtype=np.int64)
    sku_end[is_out] = h + rng.integers(-6, 6, size=int(is_out.sum()))
    end = sku_end[cat.series_sku][:, None]
    fade = np.clip((end - t) / PHASE_OUT_MONTHS, 0.0, 1.0)
    life = np.where((status == "phase_out")[:, None], fade, life)
    assert life.shape == (n, axis.n)
    return life, launch


def _seasonality(rng: np.random.Generator, cat: Catalog, axis: TimeAxis) -> np.ndarray:
    """1 + A cos(2 pi (month - peak) / 12), family peak, SKU-specific amplitude."""
    peaks = np.array([f[1] for f in FAMILIES])[cat.sku_family]
    amps = np.array([f[2] for f in FAMILIES])[cat.sku_family]
    # A few SKUs peak a month early or late: same family, not identical curves.
    peaks = peaks + rng.choice([-1, 0, 1], size=peaks.size, p=[0.1, 0.8, 0.1])
    amps = amps * rng.uniform(0.7, 1.3, size=amps.size)
    peak_s, amp_s = peaks[cat.series_sku], amps[cat.series_sku]
    moy = axis.month_of_year[None, :]
    return 1.0 + amp_s[:, None] * np.cos(2 * np.pi * (moy - peak_s[:, None]) / 12.0)


def _promotions(
    rng: np.random.Generator, cat: Catalog, axis: TimeAxis, life: np.ndarray
) -> Promotions:
    """Non-overlapping 1-2 month promotions: at most one per 12-month window per series."""
    h = axis.n_history
    # Windows never straddle the cycle: past and planned promotions are cleanly separated.
    windows = [(s, min(s + 12, h)) for s in range(0, h, 12)]
    windows += [(s, min(s + 12, axis.n)) for s in range(h, axis.n, 12)]
    smooth_active = (~cat.sku_intermittent & (cat.sku_status == "active"))[cat.series_sku]
    eligible = smooth_active & (rng.random(cat.n_series) < PROMO_SERIES_SHARE)
    series_l, start_l, dur_l = [], [], []
    for w_start, w_end in windows:  # a handful of windows; everything inside is vectorised
        length = w_end - w_start
        has = eligible & (rng.random(cat.n_series) < PROMO_WINDOW_P)
        dur = rng.integers(1, 3, size=cat.n_series)
        dur = np.minimum(dur, length)
        offset = (rng.random(cat.n_series) * (length - dur + 1)).astype(np.int64)
        idx = np.nonzero(has)[0]
        series_l.append(idx)
        start_l.append(w_start + offset[idx])
        dur_l.append(dur[idx])
    series = np.concatenate(series_l)
    start = np.concatenate(start_l)
    dur = np.concatenate(dur_l)
    # No promotion for an item before it is on the shelf.
    keep = life[series, start] > 0
    series, start, dur = series[keep], start[keep], dur[keep]
    order = np.lexsort((series, start))
    series, start, dur = series[order], start[order], dur[order]
    uplift = rng.choice(UPLIFT_CHOICES, size=series.size)
    return Promotions(series=series, start=start, end=start + dur - 1, uplift_pct=uplift)


def _promo_factor(
    promos: Promotions, shape: tuple[int, int], realised: np.ndarray | None
) -> np.ndarray:
    """Multiplier per series x month: 1 + uplift/100 inside each promotion."""
    factor = np.ones(shape)
    uplift = promos.uplift_pct / 100.0 if realised is None else realised
    factor[promos.series, promos.start] = 1.0 + uplift
    two = promos.end > promos.start
    factor[promos.series[two], promos.end[two]] = 1.0 + uplift[two]
    return factor


def simulate_demand(rng: np.random.Generator, cat: Catalog, axis: TimeAxis) -> DemandPaths:
    """Draw parameters and one demand path per series over history and horizon."""
    n, h = cat.n_series, axis.n_history
    shape = (n, axis.n)
    t = np.arange(axis.n)[None, :]

    # Level at the cycle month: SKU popularity x location size x local taste.
    sku_level = np.exp(rng.normal(np.log(120.0), 0.9, size=cat.skus.size))
    loc_w = np.array([1.0, 0.85, 0.65, 0.5, 0.4] + [0.3] * max(0, len(cat.locations) - 5))
    level = sku_level[cat.series_sku] * loc_w[cat.series_loc] * np.exp(rng.normal(0, 0.3, size=n))
    annual_growth = rng.normal(0.04, 0.08, size=cat.skus.size)[cat.series_sku]
    trend = np.exp(annual_growth[:, None] / 12.0 * (t - h))
    season = _seasonality(rng, cat, axis)
    life, launch = _life_cycle(rng, cat, axis)
    promos = _promotions(rng, cat, axis, life)
    # Promotions deliver their planned uplift only on average.
    realised_uplift = promos.uplift_pct / 100.0 * rng.uniform(0.7, 1.3, size=promos.series.size)

    inter = cat.sku_intermittent[cat.series_sku]
    smooth_idx, inter_idx = np.nonzero(~inter)[0], np.nonzero(inter)[0]
    expected = np.empty(shape)
    actual = np.empty(shape)

    # Smooth items: trend x season x life cycle x promotions, Poisson around a lognormal wobble.
    base = level[smooth_idx, None] * trend[smooth_idx] * season[smooth_idx] * life[smooth_idx]
    expected[smooth_idx] = base * _promo_factor(promos, shape, None)[smooth_idx]
    actual_mean = base * _promo_factor(promos, shape, realised_uplift)[smooth_idx]
    del base
    sigma = rng.uniform(0.08, 0.30, size=smooth_idx.size)[:, None]
    lam = actual_mean * np.exp(sigma * rng.standard_normal(actual_mean.shape) - sigma**2 / 2)
    actual[smooth_idx] = rng.poisson(lam)
    del lam, actual_mean

    # Intermittent items: rare orders of very variable size (lumpy), no trend or promos.
    k = inter_idx.size
    life_i = life[inter_idx]
    p_occ = rng.uniform(0.10, 0.45, size=k)[:, None]
    size_mean = np.exp(rng.normal(np.log(8.0), 0.7, size=k))[:, None]
    occurs = rng.random(life_i.shape) < p_occ * life_i
    s_sigma = 0.6
    noise = np.exp(s_sigma * rng.standard_normal(life_i.shape) - s_sigma**2 / 2)
    actual[inter_idx] = np.where(occurs, 1.0 + rng.poisson(size_mean * noise), 0.0)
    expected[inter_idx] = p_occ * life_i * (1.0 + size_mean)

    return DemandPaths(
        expected=expected, actual=actual, alive=life, promotions=promos, launch=launch
    )
