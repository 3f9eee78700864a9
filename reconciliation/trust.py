"""How much of each sales team's adjustment to keep: weights per team x direction from its record.

The consensus is `ref + w * (sales - ref)` with `ref` the promo-adjusted baseline and w in [0, 1].
For each team (submitted_by) and direction (sales above / below the reference) w is estimated
from past submissions (forecast_history) against what was then sold (sales_history):

* the reference of a past submission is what a baseline would have said at that cycle: the mean
  of the `trust_reference_months` months before the cycle, times a month-of-year index when the
  series had two or more full years of history, times the promotion uplift of that month;
* the fitted weight minimises the absolute error (WAPE) of `ref + w * (sales - ref)` against the
  actuals: that minimiser is the |d|-weighted median of (actual - ref) / (sales - ref), clipped;
* it is shrunk toward a prior by the number of observations n:
  w = (n * w_fit + prior_strength * prior) / (n + prior_strength).
  The prior follows Fildes et al. (2009): downward adjustments are kept more than upward ones
  and large adjustments more than small ones (small ones get `small_adjustment_prior_factor`).
"""

import numpy as np
import pandas as pd

from data_contracts.periods import month_numbers, months_between
from reconciliation.inputs import get_table
from reconciliation.promotions import clean_promotions, uplift_by_month
from reconciliation.settings import PlanSettings

UNKNOWN_TEAM = "(unknown)"
TRUST_COLUMNS = [
    "submitted_by", "direction", "weight", "weight_small", "n_obs", "bias", "wape",
    "reference_wape", "fitted_wape", "w_fit", "prior", "mean_adjustment_pct",
]


def team_of(series: pd.Series) -> pd.Series:
    """submitted_by (typed text, or None where a derived frame has no team); missing names
    become one '(unknown)' team."""
    return series.fillna("").replace("", UNKNOWN_TEAM)


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cum = np.cumsum(w)
    return float(v[np.searchsorted(cum, 0.5 * cum[-1])])


def _month_offsets(periods: pd.Series, start: str) -> np.ndarray:
    """Months from `start` to each period, computed once per distinct month."""
    codes, months = pd.factorize(periods)
    return np.array([months_between(start, str(m)) for m in months], dtype=int)[codes]


def past_references(
    history: pd.DataFrame, submissions: pd.DataFrame, promos: pd.DataFrame,
    settings: PlanSettings, months: tuple[str, str] | None = None,
) -> pd.DataFrame:
    """Past submissions (cycle, sku, location, period, qty, submitted_by) with `ref` and `actual`.

    Only submissions whose period has an actual and whose series had enough history before that
    submission's cycle are kept. Vectorised over series; loops only over past cycles.
    `months`: the first and last month of the whole history when `history` holds some locations
    only (a month after a group's last sale is still a month of zero demand); None: its own.
    """
    out_cols = [*submissions.columns, "ref", "actual"]
    if submissions.empty or history.empty:
        return pd.DataFrame(columns=out_cols)
    first_month, last_month = months or (history["period"].min(), history["period"].max())
    n_months = months_between(first_month, last_month) + 1
    # Integer series codes by index lookup, not merges: at 100k SKU-locations a merge copies
    # ~5M history rows and ~3M submissions with all their text columns.
    series = pd.MultiIndex.from_frame(history[["sku", "location"]]).unique()
    hk = series.get_indexer(pd.MultiIndex.from_frame(history[["sku", "location"]]))
    col = _month_offsets(history["period"], first_month)
    y = np.zeros((len(series), n_months))
    np.add.at(y, (hk, col), history["qty"].to_numpy(dtype=float))
    csum = np.concatenate([np.zeros((len(series), 1)), np.cumsum(y, axis=1)], axis=1)
    first_col = np.full(len(series), n_months)
    np.minimum.at(first_col, hk, col)

    sk = series.get_indexer(pd.MultiIndex.from_frame(submissions[["sku", "location"]]))
    period = submissions["period"]
    usable = (sk >= 0) & (period <= last_month).to_numpy() & (period >= first_month).to_numpy()
    cycle_code, cycles = pd.factorize(submissions["cycle"], sort=True)
    picked, refs, actuals = [], [], []
    for i, cyc in enumerate(cycles):
        c = months_between(first_month, str(cyc))  # columns [0, c) are known at that cycle
        if c <= 0:
            continue
        c = min(c, n_months)
        rows = np.flatnonzero(usable & (cycle_code == i))
        k = sk[rows]
        avail = c - first_col[k]
        ok = avail >= settings.trust_min_actual_months
        span = np.clip(np.minimum(avail, settings.trust_reference_months), 1, None)
        level = (csum[k, c] - csum[k, np.maximum(c - span, 0)]) / span
        # Month-of-year index from the last 2 or 3 full years, where the series has them.
        p_col = _month_offsets(period.iloc[rows], first_month)
        season = np.ones(len(rows))
        for years in (2, 3):
            w = 12 * years
            if c < w:
                continue
            block = y[:, c - w:c].reshape(len(series), years, 12).mean(axis=1)  # (K, 12)
            mean = block.mean(axis=1, keepdims=True)
            idx = np.divide(block, mean, out=np.ones_like(block), where=mean > 0)
            # block column j holds the month of column (c - w + j), hence the modulo
            j = (p_col - (c - w)) % 12
            use = avail >= w
            season = np.where(use, idx[k, j], season)
        picked.append(rows[ok])
        refs.append((level * season)[ok])
        actuals.append(y[k, p_col][ok])
    if not picked or not sum(len(p) for p in picked):
        return pd.DataFrame(columns=out_cols)
    obs = submissions.iloc[np.concatenate(picked)].reset_index(drop=True)
    obs["ref"] = np.concatenate(refs)
    obs["actual"] = np.concatenate(actuals)
    uplift = uplift_by_month(promos)
    if not uplift.empty:
        obs = obs.merge(uplift[["sku", "location", "period", "promo_uplift_pct"]],
                        on=["sku", "location", "period"], how="left")
        obs["ref"] = obs["ref"] * (1 + obs["promo_uplift_pct"].fillna(0.0) / 100.0)
    return obs[out_cols]


def prior_weight(direction: str, small: bool, settings: PlanSettings) -> float:
    """The Fildes-style prior for an adjustment of this direction and size."""
    base = settings.prior_weight_up if direction == "up" else settings.prior_weight_down
    return base * (settings.small_adjustment_prior_factor if small else 1.0)


def estimate_trust(
    tables: dict[str, pd.DataFrame], cycle: str, settings: PlanSettings,
    teams: list[str] | None = None,
) -> pd.DataFrame:
    """Trust table: one row per team x direction ('up', 'down') with weight and evidence.

    `teams` adds rows (at the prior) for teams that submit now but have no track record.
    `weight` applies to large adjustments, `weight_small` to small ones.
    """
    return trust_table(trust_observations(tables, cycle, settings), settings, teams)


def trust_observations(
    tables: dict[str, pd.DataFrame], cycle: str, settings: PlanSettings,
    months: tuple[str, str] | None = None,
) -> pd.DataFrame:
    """The past submissions trust is fitted on (`past_references`' rows), with the source row of
    each submission in column `source_row` (forecast_history's index).

    Each row depends on its own SKU x location only, so the observations of a catalogue are
    those of its locations, concatenated (a partitioned run computes them location group by
    location group); `trust_table` then fits the weights, which are per team and so cross
    locations.
    """
    fh = get_table(tables, "forecast_history")
    # get_table renumbers rows; the table's own index names each row in every location group.
    raw = tables.get("forecast_history")
    subs = fh[["cycle", "sku", "location", "period"]].assign(
        qty=fh["qty"].fillna(0.0), submitted_by=team_of(fh["submitted_by"]),
        source_row=np.asarray(raw.index) if raw is not None else np.arange(len(fh)))
    # Only what was known: past cycles, and periods whose actuals are in (before this cycle).
    subs = subs[
        (subs["cycle"] < cycle) & (subs["period"] < cycle) & (subs["period"] >= subs["cycle"])
    ]
    sh = get_table(tables, "sales_history")
    history = sh[["sku", "location", "period"]].assign(qty=sh["qty"].fillna(0.0))
    history = history[history["period"] < cycle]
    obs = past_references(history, subs, clean_promotions(tables), settings, months)
    # Compact: a partitioned run keeps every location's observations while it plans (a few
    # million rows at 300k SKU-locations); the cycle only orders them, as a month number.
    return pd.DataFrame({
        "cycle": month_numbers(obs["cycle"].astype(str)).astype(np.int32),
        "source_row": obs["source_row"].to_numpy(np.int64),
        "submitted_by": obs["submitted_by"].astype("category"),
        "qty": obs["qty"].to_numpy(float), "ref": obs["ref"].to_numpy(float),
        "actual": obs["actual"].to_numpy(float)})


def combine_trust_observations(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The observations of several location groups in the order one catalogue-wide call gives
    (by cycle, then source row), so that the fitted sums add up in the same order."""
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=["cycle", "source_row", "submitted_by", "qty", "ref",
                                     "actual"])
    obs = pd.concat(parts, ignore_index=True)
    obs["submitted_by"] = obs["submitted_by"].astype(str).astype("category")
    return obs.sort_values(["cycle", "source_row"], kind="stable").reset_index(drop=True)


def trust_table(
    obs: pd.DataFrame, settings: PlanSettings, teams: list[str] | None = None,
) -> pd.DataFrame:
    """Trust table from `trust_observations` (see estimate_trust)."""
    rows = []
    names = sorted(set(obs["submitted_by"]) | set(teams or []))
    for team in names:
        for direction in ("up", "down"):
            rows.append(_trust_row(obs, team, direction, settings))
    if not rows:
        return pd.DataFrame(columns=TRUST_COLUMNS)
    return pd.DataFrame(rows, columns=TRUST_COLUMNS)


def _trust_row(obs: pd.DataFrame, team: str, direction: str, settings: PlanSettings) -> list:
    prior = prior_weight(direction, False, settings)
    prior_small = prior_weight(direction, True, settings)
    o = obs[obs["submitted_by"] == team] if not obs.empty else obs
    if not o.empty:
        d_all = o["qty"].to_numpy(float) - o["ref"].to_numpy(float)
        o = o[(d_all > 0) if direction == "up" else (d_all < 0)]
    n = len(o)
    k = settings.prior_strength
    if n == 0:
        return [team, direction, prior, prior_small, 0, np.nan, np.nan, np.nan, np.nan, np.nan,
                prior, np.nan]
    sales, ref, actual = (o[c].to_numpy(float) for c in ("qty", "ref", "actual"))
    d, e = sales - ref, actual - ref
    w_fit = float(np.clip(_weighted_median(e / d, np.abs(d)), 0.0, 1.0))
    total = max(actual.sum(), 1e-9)
    return [
        team, direction,
        (n * w_fit + k * prior) / (n + k),
        (n * w_fit + k * prior_small) / (n + k),
        n,
        float((sales - actual).sum() / total),
        float(np.abs(sales - actual).sum() / total),
        float(np.abs(ref - actual).sum() / total),
        float(np.abs(ref + w_fit * d - actual).sum() / total),
        w_fit, prior,
        float(100.0 * d.sum() / max(ref.sum(), 1e-9)),
    ]


def sales_weights(
    rows: pd.DataFrame, trust: pd.DataFrame, settings: PlanSettings
) -> pd.Series:
    """Weight w per plan row from its team, direction and adjustment size.

    `rows` has submitted_by, sales_forecast, ref (promo-adjusted baseline), is_new. Rows without
    a sales number get w = 0 (their consensus is the reference anyway).
    """
    d = rows["sales_forecast"] - rows["ref"]
    direction = np.where(d > 0, "up", "down")
    small = d.abs() < settings.small_adjustment_pct / 100.0 * rows["ref"].abs()
    prior = np.where(
        direction == "up", settings.prior_weight_up, settings.prior_weight_down
    ) * np.where(small, settings.small_adjustment_prior_factor, 1.0)
    looked = pd.DataFrame({"submitted_by": rows["submitted_by"].to_numpy(),
                           "direction": direction})
    if not trust.empty:
        looked = looked.merge(trust[["submitted_by", "direction", "weight", "weight_small"]],
                              on=["submitted_by", "direction"], how="left")
    else:
        looked = looked.assign(weight=np.nan, weight_small=np.nan)
    w = np.where(small.to_numpy(), looked["weight_small"], looked["weight"])
    w = np.where(np.isnan(w.astype(float)), prior, w).astype(float)
    w = np.where(rows["is_new"].to_numpy(bool), settings.new_item_sales_weight, w)
    w = np.where(rows["has_sales"].to_numpy(bool), w, 0.0)
    return pd.Series(np.clip(w, 0.0, 1.0), index=rows.index, name="sales_weight")
