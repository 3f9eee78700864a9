"""Forecasts for too-short series: own or peers' level x the family's seasonal profile."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from forecasting.panel import Panel, month_index

MAX_PROFILE_SEASONS = 3
MIN_PEERS_FOR_SPREAD = 3


@dataclass
class ColdStartForecast:
    """Point forecasts and interval bounds for the rows of a Panel that are `new`."""

    rows: np.ndarray  # panel rows, shape (n,)
    model: np.ndarray  # model label per row
    mean: np.ndarray  # (n, horizon)
    lo: dict[int, np.ndarray]  # level -> (n, horizon)
    hi: dict[int, np.ndarray]


@dataclass
class ColdStartEvidence:
    """What the established series give the new ones: per series its family and location,
    its level (peers) and its recent months (family profiles). Series of several partitions
    are joined by `combine_cold_start`, which restores the catalogue's series order."""

    peers: pd.DataFrame  # sku, location, family (NaN: unknown SKU), level
    recent: np.ndarray  # (len(peers), months): the last full seasons, NaN as 0
    first_month: str  # month of the panel's column 0 (the same in every partition)
    n_months: int  # the panel's width


@dataclass
class ColdStartPool:
    """The catalogue's peers (family, location, level) and family seasonal profiles."""

    peers: pd.DataFrame
    profile: pd.DataFrame


def cold_start_evidence(panel: Panel, values: np.ndarray, families: pd.Series,
                        established: np.ndarray, season_length: int) -> ColdStartEvidence:
    """The established rows' keys, family, peer level and recent seasons (see
    `seasonal_profiles`), in panel order."""
    n_months = values.shape[1]
    seasons = min(MAX_PROFILE_SEASONS, n_months // season_length) if season_length > 0 else 0
    rows = np.flatnonzero(established)
    peers = pd.DataFrame({
        "sku": panel.keys["sku"].iloc[rows].to_numpy(),
        "location": panel.keys["location"].iloc[rows].to_numpy(),
        "family": families.iloc[rows].to_numpy(),
        "level": (_peer_levels(values[rows], max(season_length, 1)) if rows.size
                  else np.zeros(0)),
    })
    recent = np.nan_to_num(values[rows, n_months - seasons * season_length:]) if (
        season_length > 1 and seasons >= 2) else np.zeros((rows.size, 0))
    return ColdStartEvidence(peers=peers, recent=recent, first_month=panel.first_month,
                             n_months=n_months)


def combine_cold_start(parts: list[ColdStartEvidence], season_length: int) -> ColdStartPool:
    """Peers and family profiles of the series of every part, as if fitted together: rows are
    put back in catalogue order (sku, location) so that sums add in the same order."""
    peers = pd.concat([p.peers for p in parts], ignore_index=True)
    recent = np.concatenate([p.recent for p in parts], axis=0)
    order = peers.sort_values(["sku", "location"], kind="stable").index.to_numpy()
    peers = peers.iloc[order].reset_index(drop=True)
    recent = recent[order]
    first = parts[0]
    profile = seasonal_profiles(peers["family"], recent, first.first_month, first.n_months,
                                season_length)
    return ColdStartPool(peers=peers[["family", "location", "level"]], profile=profile)


def seasonal_profiles(families: pd.Series, recent: np.ndarray, first_month: str,
                      n_months: int, season_length: int) -> pd.DataFrame:
    """Seasonal index per family (rows) x calendar position `month_index % season_length`
    (columns), mean 1, from the summed history of the family's established series over the
    last (up to 3) full seasons (`families` and `recent` of cold_start_evidence's rows);
    families with less than two seasons get a flat profile."""
    seasons = min(MAX_PROFILE_SEASONS, n_months // season_length) if season_length > 0 else 0
    known = families.notna().to_numpy()
    fams = families[known]
    if season_length <= 1 or seasons < 2 or fams.empty:
        return pd.DataFrame(columns=range(season_length), dtype=float)
    total = pd.DataFrame(recent[known]).groupby(fams.to_numpy()).sum()
    blocks = total.to_numpy().reshape(len(total), seasons, season_length)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = blocks / blocks.mean(axis=2, keepdims=True)
        index = np.nanmean(np.where(np.isfinite(ratios), ratios, np.nan), axis=1)
        index = index / np.nanmean(index, axis=1, keepdims=True)
    first = int(month_index(pd.Series([first_month]))[0]) + n_months - seasons * season_length
    positions = (first + np.arange(season_length)) % season_length
    profile = pd.DataFrame(index, index=total.index, columns=positions).sort_index(axis=1)
    return profile[np.isfinite(profile).all(axis=1)]


def _peer_levels(values: np.ndarray, season_length: int) -> np.ndarray:
    """Mean of the last full season: seasonality averages out, recent level kept."""
    with np.errstate(invalid="ignore"):
        return np.nanmean(np.nan_to_num(values[:, -season_length:]), axis=1)


def family_of(products: pd.DataFrame | None) -> pd.Series:
    """sku -> family of `products` (empty without a family column)."""
    if products is None or not len(products) or "family" not in products:
        return pd.Series(dtype=object)
    prod = products.drop_duplicates("sku")
    return pd.Series(prod["family"].astype(str).to_numpy(), index=prod["sku"].astype(str))


def forecast_cold_start(panel: Panel, values: np.ndarray, rows: np.ndarray,
                        in_history: np.ndarray, products: pd.DataFrame | None, cycle: str,
                        horizon: int, season_length: int, levels: tuple[int, ...],
                        pool: ColdStartPool) -> ColdStartForecast:
    """Forecast the `new` rows.

    Peers and family profiles come from `pool` (combine_cold_start of the catalogue's
    cold_start_evidence).

    - Some history (sold for fewer months than the `new` threshold): own level = mean of the
      last (up to one season of) de-seasonalised months; shape = the family profile.
    - No sale yet (a key without history, or recorded zeros of a product whose status is
      `new`): level = median level of peers, looked up in order family x location, family,
      location, all established series; shape = the family profile.
    - No sale and the product is not `new` (recorded zeros, or `phase_out` without history):
      zero (`NoDemand`): there is no evidence of demand to extrapolate.
    Intervals: own history -> normal with the de-seasonalised standard deviation (a CV of 100%
    when fewer than 3 months); peers -> quantiles of the peers' levels relative to their
    median (a CV of 100% when fewer than 3 peers).
    """
    keys = panel.keys
    status_of = pd.Series(dtype=object)
    if products is not None and len(products) and "status" in products:
        prod = products.drop_duplicates("sku")
        status_of = pd.Series(prod["status"].to_numpy(), index=prod["sku"].astype(str))
    families = keys["sku"].map(family_of(products))
    status = keys["sku"].map(status_of).to_numpy()
    profile = pool.profile
    cycle_idx = int(month_index(pd.Series([cycle]))[0])
    fut_pos = (cycle_idx + np.arange(horizon)) % max(season_length, 1)
    past_pos = (int(month_index(pd.Series([panel.first_month]))[0])
                + np.arange(values.shape[1])) % max(season_length, 1)

    n = rows.size
    fam = families.iloc[rows].to_numpy()
    fam_profile = profile.reindex(fam).to_numpy() if len(profile) else np.full(
        (n, max(season_length, 1)), np.nan)
    fam_profile = np.where(np.isfinite(fam_profile), fam_profile, 1.0)
    if season_length <= 1:
        fam_profile = np.ones((n, 1))
    future_idx = fam_profile[:, fut_pos]
    past_idx = fam_profile[:, past_pos]

    y = values[rows]
    span = np.sum(~np.isnan(y), axis=1)
    window = np.minimum(np.maximum(span, 1), max(season_length, 1))
    deseason = y / np.where(past_idx > 0, past_idx, 1.0)
    last = np.arange(y.shape[1])[None, :] >= y.shape[1] - window[:, None]
    recent = np.where(last, deseason, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"), np.testing.suppress_warnings() as sup:
        sup.filter(RuntimeWarning)
        own_level = np.nanmean(recent, axis=1)
        own_sd = np.nanstd(deseason, axis=1, ddof=1)
    own_sd = np.where(span >= 3, own_sd, own_level)

    # Peers: established series, levels by scope.
    peers = pool.peers
    level = np.full(n, np.nan)
    rel_lo = {lv: np.full(n, np.nan) for lv in levels}
    rel_hi = {lv: np.full(n, np.nan) for lv in levels}
    model = np.full(n, "NoDemand", dtype=object)
    target = pd.DataFrame({"family": fam, "location": keys["location"].iloc[rows].to_numpy()})
    unresolved = span == 0
    for scope, by in (("family-location", ["family", "location"]), ("family", ["family"]),
                      ("location", ["location"]), ("all", [])):
        if not unresolved.any() or peers.empty:
            break
        stats = _peer_stats(peers, by, levels)
        if by:
            hit = target[by].merge(stats, on=by, how="left")
        else:
            hit = pd.concat([stats] * n, ignore_index=True)
        found = unresolved & hit["median"].notna().to_numpy()
        level[found] = hit["median"].to_numpy()[found]
        for lv in levels:
            rel_lo[lv][found] = hit[f"lo-{lv}"].to_numpy()[found]
            rel_hi[lv][found] = hit[f"hi-{lv}"].to_numpy()[found]
        model[found] = f"ColdStart:{scope}"
        unresolved &= ~found

    has_own = span > 0
    level[has_own] = own_level[has_own]
    model[has_own] = "ShortHistory"
    # Zero, not a peer guess, where the product is not new and shows no demand.
    no_demand = (span == 0) & (in_history[rows] | (status[rows] == "phase_out"))
    no_demand &= status[rows] != "new"
    level[no_demand] = 0.0
    model[no_demand] = "NoDemand"
    level = np.nan_to_num(level)

    mean = level[:, None] * future_idx
    lo, hi = {}, {}
    for lv in levels:
        z = norm.ppf(0.5 + lv / 200.0)
        sd = own_sd[:, None] * future_idx * np.sqrt(1.0 + 1.0 / np.maximum(span, 1))[:, None]
        lo_own, hi_own = mean - z * sd, mean + z * sd
        lo_peer = np.where(np.isnan(rel_lo[lv]), 1.0 - z, rel_lo[lv])[:, None] * mean
        hi_peer = np.where(np.isnan(rel_hi[lv]), 1.0 + z, rel_hi[lv])[:, None] * mean
        lo[lv] = np.where(has_own[:, None], lo_own, lo_peer)
        hi[lv] = np.where(has_own[:, None], hi_own, hi_peer)
    return ColdStartForecast(rows=rows, model=model, mean=mean, lo=lo, hi=hi)


def _peer_stats(peers: pd.DataFrame, by: list[str], levels: tuple[int, ...]) -> pd.DataFrame:
    """Median level and relative level quantiles (level / median) per peer group."""
    groups = peers.groupby(by, dropna=True)["level"] if by else peers.assign(_all=0).groupby(
        "_all")["level"]
    out = groups.agg(["median", "size"])
    for lv in levels:
        qlo, qhi = groups.quantile(0.5 - lv / 200.0), groups.quantile(0.5 + lv / 200.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"lo-{lv}"] = (qlo / out["median"]).where(out["size"] >= MIN_PEERS_FOR_SPREAD)
            out[f"hi-{lv}"] = (qhi / out["median"]).where(out["size"] >= MIN_PEERS_FOR_SPREAD)
    out = out[out["median"] > 0]
    return out.reset_index(drop=not by)
