"""Forecast value added: the naive -> baseline -> sales -> consensus stair-step on past cycles.

Every point is one (past cycle c, sku, location, period p) with c <= p < the current cycle and
p inside sales_history's span, so its actual is known (absent months are zero demand, SPEC).
Points come from forecast_history and from past plans. Per point, each step's forecast made at c:

* ``naive`` - seasonal naive: the actual of p - 12 when that month was known at c
  (p - 12 < c) and lies inside sales_history; otherwise the last month before c (y[c - 1]);
  missing when c - 1 is before the history too.
* ``baseline`` - the past plan's baseline_forecast (promo-free, SPEC) where a plan of cycle c
  is given; otherwise the reference `reconciliation.trust.past_references` rebuilds from the
  history before c (level of the last `trust_reference_months` months x month-of-year index),
  without promotion uplift so it matches the promo-free baseline. Missing where the series had
  fewer than `trust_min_actual_months` months of history before c.
* ``sales`` - the sales number: forecast_history qty (summed over the point's rows, as the plan
  sums a key's submissions); where forecast_history has none, a past plan's sales_forecast > 0.
  The point's team is its first submitter, else the plan's submitted_by, else '(unknown)'.
* ``consensus`` - the past plan's consensus_demand; missing (the step is absent) without one.

Accuracy per level x key over a consistent sample (the points where every step that the
level x key has at all has a value): WAPE = sum|f - a| / sum a, bias = (sum f - sum a) / sum a,
FVA = WAPE of the previous step present - WAPE of this step (positive = the step improved the
forecast; NaN for the first step). WAPE and bias are NaN when the sample's actuals sum to 0.

The accuracy is computed from partial sums per location (`fva_sums`: count, actuals, each step's
forecasts and absolute errors per level x key x which steps a point has), added in location
order (`fva_from_sums`). Every location's sums depend on its own points only, so a catalogue
planned location group by location group (flows/partitions.py) keeps a few rows per location,
not its past submissions, and gets the same table number for number as the whole catalogue.
"""

import itertools

import numpy as np
import pandas as pd

from data_contracts.periods import month_numbers, periods_of_numbers
from reconciliation.inputs import number, text, typed_table
from reconciliation.promotions import clean_promotions
from reconciliation.settings import PlanSettings
from reconciliation.trust import past_references, team_of

STEPS: tuple[str, ...] = ("naive", "baseline", "sales", "consensus")
LEVELS: tuple[str, ...] = ("total", "team", "family")
FVA_COLUMNS = ["level", "key", "step", "wape", "bias", "n_obs", "fva"]
TOTAL_KEY = "ALL"
UNKNOWN_FAMILY = "(no family)"
SEASON = 12


def empty_fva() -> pd.DataFrame:
    """The FVA table with its columns and no rows."""
    return pd.DataFrame(
        {
            "level": pd.Series(dtype="object"),
            "key": pd.Series(dtype="object"),
            "step": pd.Series(dtype="object"),
            "wape": pd.Series(dtype=float),
            "bias": pd.Series(dtype=float),
            "n_obs": pd.Series(dtype="int64"),
            "fva": pd.Series(dtype=float),
        }
    )


def compute_fva(
    history: pd.DataFrame,
    forecast_history: pd.DataFrame | None,
    cycle: str,
    products: pd.DataFrame | None = None,
    past_plans: pd.DataFrame | None = None,
    settings: PlanSettings | None = None,
) -> pd.DataFrame:
    """FVA table (FVA_COLUMNS): one row per level x key x step present, levels total/team/family
    and team_lag (key "TEAM · lag N", N = months between the submission's cycle and period).

    `history` is sales_history, `forecast_history` the past sales submissions, `past_plans` the
    consensus_plan rows of earlier cycles (cycle, sku, location, period, sales_forecast,
    baseline_forecast, consensus_demand; optional submitted_by, plan_version - the highest
    version of a cycle is used). `products` maps sku to family. Only points before `cycle` count.
    Vectorised: keys become integer codes, the history a dense series x month matrix.
    """
    return fva_table(fva_points(history, forecast_history, cycle, products, past_plans, settings))


POINT_COLUMNS = [*STEPS, "actual", "submitted_by", "family", "lag", "location"]


def fva_points(
    history: pd.DataFrame,
    forecast_history: pd.DataFrame | None,
    cycle: str,
    products: pd.DataFrame | None = None,
    past_plans: pd.DataFrame | None = None,
    settings: PlanSettings | None = None,
    months: tuple[str, str] | None = None,
) -> pd.DataFrame:
    """compute_fva's points (POINT_COLUMNS), sorted by location, sku, cycle and period.

    Each point depends on its own SKU x location only, so the points of a catalogue are those
    of its location groups concatenated in location order (a partitioned run builds them group
    by group, `months` being the whole history's first and last month before `cycle`); the
    accuracy per team and family (`fva_table`) then crosses locations.
    """
    settings = settings or PlanSettings()
    first = int(month_numbers(pd.Series([months[0]]))[0]) if months else None
    found = _past_points(history, forecast_history, cycle, past_plans, first)
    if found is None:
        return _no_points()
    points, hist, codes = found
    points = _rebuild_baseline(points, hist, codes, settings, months)
    k = points["k"].to_numpy()
    order = pd.DataFrame({"location": codes.location[k], "sku": codes.sku[k],
                          "c": points["c"].to_numpy(), "p": points["p"].to_numpy()}
                         ).sort_values(["location", "sku", "c", "p"], kind="stable").index
    family = _families(codes.sku, typed_table("products", products))[k]
    lags = (points["p"].to_numpy() - points["c"].to_numpy()).astype(int)
    out = points.assign(family=family, lag=lags, location=codes.location[k])[POINT_COLUMNS]
    return out.iloc[order.to_numpy()].reset_index(drop=True)


def past_points(
    history: pd.DataFrame,
    forecast_history: pd.DataFrame | None,
    cycle: str,
    past_plans: pd.DataFrame | None = None,
    months: tuple[str, str] | None = None,
) -> pd.DataFrame:
    """compute_fva's points without the baseline step: one row per past (cycle, sku, location,
    period) with a known actual. Columns cycle, sku, location, period, submitted_by, sales,
    consensus, actual (sales / consensus NaN where that forecast was not made). `months`: the
    whole history's first and last month before `cycle` when `history` holds some locations
    only (see fva_points)."""
    columns = ["cycle", "sku", "location", "period", "submitted_by", "sales", "consensus",
               "actual"]
    first = int(month_numbers(pd.Series([months[0]]))[0]) if months else None
    found = _past_points(history, forecast_history, cycle, past_plans, first)
    if found is None:
        return pd.DataFrame(columns=columns)
    points, _, codes = found
    k = points["k"].to_numpy()
    return pd.DataFrame({
        "cycle": periods_of_numbers(points["c"].to_numpy()),
        "sku": codes.sku[k], "location": codes.location[k],
        "period": periods_of_numbers(points["p"].to_numpy()),
        "submitted_by": points["submitted_by"].to_numpy(),
        "sales": points["sales"].to_numpy(float),
        "consensus": points["consensus"].to_numpy(float),
        "actual": points["actual"].to_numpy(float),
    })[columns]


def _past_points(
    history: pd.DataFrame,
    forecast_history: pd.DataFrame | None,
    cycle: str,
    past_plans: pd.DataFrame | None,
    first: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, "_SeriesCodes"] | None:
    """(points with actual and naive, the history, the series codes); None without points.
    `first`: the whole history's first month (see _actual_and_naive)."""
    now = int(month_numbers(pd.Series([cycle]))[0])
    if now < 0:
        raise ValueError(f"cycle must be YYYY-MM, got {cycle!r}")
    # The input tables come straight from the caller: typed here, once, as get_table does.
    hist = _history(typed_table("sales_history", history), now)
    subs = _submissions(typed_table("forecast_history", forecast_history), now)
    plans = _plans(past_plans, now)
    if hist.empty or (subs.empty and plans.empty):
        return None
    codes = _SeriesCodes([hist, subs, plans])
    points = _points(subs, plans, codes)
    points = _actual_and_naive(points, hist, codes, now, first)
    return None if points.empty else (points, hist, codes)


def _no_points() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object" if c in ("submitted_by", "family",
                                                                "location")
                                      else "int64" if c == "lag" else float)
                         for c in POINT_COLUMNS})


def fva_table(points: pd.DataFrame) -> pd.DataFrame:
    """The FVA table (see compute_fva) of `fva_points`' points."""
    return fva_from_sums(fva_sums(points))


LEVEL_ORDER: tuple[str, ...] = (*LEVELS, "team_lag")
_ABS = [f"abs_{s}" for s in STEPS]
_SUM = [f"sum_{s}" for s in STEPS]
SUM_COLUMNS = ["location", "level", "key", "pattern", "n", "actual", *_ABS, *_SUM]


def fva_sums(points: pd.DataFrame) -> pd.DataFrame:
    """Partial sums of `fva_points`' points per location x level x key x pattern (a bit per step
    the point has): count, actuals, and per step the forecasts and absolute errors (a missing
    forecast counts as 0: such points only enter a sample where that step is absent)."""
    if points.empty:
        return pd.DataFrame({c: pd.Series(dtype="object" if c in ("location", "level", "key")
                                          else "int64" if c in ("pattern", "n") else float)
                             for c in SUM_COLUMNS})
    values = points[list(STEPS)].to_numpy(float)
    actual = points["actual"].to_numpy(float)
    pattern = (~np.isnan(values)) @ (1 << np.arange(len(STEPS)))
    filled = np.nan_to_num(values)
    team = points["submitted_by"].astype(str).to_numpy()
    keys = {
        "total": np.full(len(points), TOTAL_KEY, dtype=object),
        "team": team,
        "family": points["family"].astype(str).to_numpy(),
        # Months ahead a number was submitted: far-out numbers are often the least reliable.
        "team_lag": (pd.Series(team) + " · lag " + points["lag"].astype(int).astype(str)
                     .to_numpy()).to_numpy(),
    }
    base = pd.DataFrame({"location": points["location"].astype(str).to_numpy(),
                         "pattern": pattern, "n": 1, "actual": actual,
                         **{a: np.abs(filled[:, j] - actual) for j, a in enumerate(_ABS)},
                         **{m: filled[:, j] for j, m in enumerate(_SUM)}})
    parts = [base.assign(level=level, key=key)
             .groupby(["location", "level", "key", "pattern"], sort=True).sum().reset_index()
             for level, key in keys.items()]
    return pd.concat(parts, ignore_index=True)[SUM_COLUMNS]


def fva_from_sums(sums: pd.DataFrame) -> pd.DataFrame:
    """The FVA table of the partial sums of any set of locations (`fva_sums`, concatenated):
    each level x key's sample is the patterns that have every step the key has at all, its sums
    added in location order whatever the grouping of locations into frames."""
    if sums.empty:
        return empty_fva()
    parts = []
    for level in LEVEL_ORDER:
        rows = sums[sums["level"] == level].sort_values(["key", "location", "pattern"],
                                                        kind="stable")
        if rows.empty:
            continue
        pattern = rows["pattern"].to_numpy(np.int64)
        has_any = rows.assign(p=np.where(rows["n"].to_numpy() > 0, pattern, 0)).groupby(
            "key", sort=True)["p"].agg(np.bitwise_or.reduce)
        available = rows["key"].map(has_any).to_numpy(np.int64)
        complete = rows[(pattern & available) == available]
        parts.append(_accuracy(level, complete, has_any))
    parts = [p for p in parts if not p.empty]
    return pd.concat(parts, ignore_index=True)[FVA_COLUMNS] if parts else empty_fva()


# --- keys and months as integers ----------------------------------------------------------


class _SeriesCodes:
    """One integer code per sku x location over several frames (columns sku, location)."""

    def __init__(self, frames: list[pd.DataFrame]) -> None:
        sku_codes, skus = pd.factorize(np.concatenate([f["sku"].to_numpy(object) for f in frames]))
        loc_codes, locs = pd.factorize(
            np.concatenate([f["location"].to_numpy(object) for f in frames])
        )
        combo = sku_codes.astype(np.int64) * max(len(locs), 1) + loc_codes
        k, uniques = pd.factorize(combo)
        self.sku = np.asarray(skus, dtype=object)[uniques // max(len(locs), 1)]
        self.location = np.asarray(locs, dtype=object)[uniques % max(len(locs), 1)]
        bounds = np.cumsum([0, *(len(f) for f in frames)])
        self.of_frame = [k[a:b].astype(np.int64) for a, b in itertools.pairwise(bounds)]

    def __len__(self) -> int:
        return len(self.sku)


# Point key: series code, cycle month and period month packed into one int64.
_SHIFT = 20
_MASK = (1 << _SHIFT) - 1


def _pack(k: np.ndarray, c: np.ndarray, p: np.ndarray) -> np.ndarray:
    return (k << (2 * _SHIFT)) | (c << _SHIFT) | p


# --- the input frames, cleaned ------------------------------------------------------------


def _history(history: pd.DataFrame, now: int) -> pd.DataFrame:
    h = history[["sku", "location"]].assign(qty=history["qty"].fillna(0.0))
    m = month_numbers(history["period"])
    return h.assign(m=m)[(m >= 0) & (m < now)].reset_index(drop=True)


def _past(c: np.ndarray, p: np.ndarray, now: int) -> np.ndarray:
    """Past cycle, a period with a known actual, forecast made no later than the period."""
    return (c >= 0) & (p >= 0) & (c < now) & (p < now) & (p >= c)


def _submissions(forecast_history: pd.DataFrame, now: int) -> pd.DataFrame:
    cols = ["sku", "location", "c", "p", "qty", "submitted_by"]
    if forecast_history.empty:
        return pd.DataFrame(columns=cols)
    fh = forecast_history
    subs = pd.DataFrame(
        {
            "sku": fh["sku"],
            "location": fh["location"],
            "c": month_numbers(fh["cycle"]),
            "p": month_numbers(fh["period"]),
            "qty": fh["qty"].fillna(0.0),
            "submitted_by": team_of(fh["submitted_by"]),
        }
    )
    ok = _past(subs["c"].to_numpy(), subs["p"].to_numpy(), now) & (subs["sku"] != "").to_numpy()
    return subs[ok].reset_index(drop=True)


def _plans(past_plans: pd.DataFrame | None, now: int) -> pd.DataFrame:
    cols = ["sku", "location", "c", "p", "plan_sales", "baseline", "consensus", "plan_team"]
    if past_plans is None or past_plans.empty:
        return pd.DataFrame(columns=cols)
    pp = past_plans
    # Past plans are published outputs read back from the store, not input tables: typed here.
    plans = pd.DataFrame(
        {
            "sku": text(pp["sku"]),
            "location": text(pp["location"]),
            "c": month_numbers(pp["cycle"]),
            "p": month_numbers(pp["period"]),
            "plan_sales": pd.to_numeric(pp["sales_forecast"], errors="coerce").astype(float),
            "baseline": pd.to_numeric(pp["baseline_forecast"], errors="coerce").astype(float),
            "consensus": pd.to_numeric(pp["consensus_demand"], errors="coerce").astype(float),
            "plan_team": text(pp["submitted_by"]) if "submitted_by" in pp.columns else "",
            "version": number(pp["plan_version"]) if "plan_version" in pp.columns else 0.0,
        }
    )
    plans = plans[_past(plans["c"].to_numpy(), plans["p"].to_numpy(), now)]
    # Only the latest published version of each cycle is that cycle's plan.
    plans = plans[plans["version"] == plans.groupby("c")["version"].transform("max")]
    return plans[cols].reset_index(drop=True)


def _points(subs: pd.DataFrame, plans: pd.DataFrame, codes: _SeriesCodes) -> pd.DataFrame:
    """One row per point: k, c, p, sales, baseline (from plans), consensus, submitted_by."""
    _, k_subs, k_plans = codes.of_frame
    key_subs = _pack(k_subs, subs["c"].to_numpy(np.int64), subs["p"].to_numpy(np.int64))
    key_plans = _pack(k_plans, plans["c"].to_numpy(np.int64), plans["p"].to_numpy(np.int64))
    pid, keys = pd.factorize(np.concatenate([key_subs, key_plans]))
    pid_subs, pid_plans = pid[: len(key_subs)], pid[len(key_subs) :]
    n = len(keys)

    def scatter(at: np.ndarray, values: np.ndarray, fill: object = np.nan) -> np.ndarray:
        out = np.full(n, fill, dtype=values.dtype if values.dtype == object else float)
        out[at] = values
        return out

    # A point's sales number is the sum of its submissions (as the plan sums them), credited
    # to the first submitting team.
    submitted = np.bincount(pid_subs, minlength=n) > 0
    sales = np.where(
        submitted, np.bincount(pid_subs, weights=subs["qty"].to_numpy(float), minlength=n), np.nan
    )
    first = pd.Series(pid_subs).drop_duplicates(keep="first")
    team = scatter(first.to_numpy(), subs["submitted_by"].to_numpy(object)[first.index], None)
    # A past plan's row (the last one of a duplicated key).
    last = pd.Series(pid_plans).drop_duplicates(keep="last")
    at, rows = last.to_numpy(), last.index.to_numpy()
    plan_sales = scatter(at, plans["plan_sales"].to_numpy(float)[rows])
    plan_team = scatter(at, plans["plan_team"].to_numpy(object)[rows], None)
    team = np.where(pd.isna(team), plan_team, team)
    return pd.DataFrame(
        {
            "k": keys >> (2 * _SHIFT),
            "c": (keys >> _SHIFT) & _MASK,
            "p": keys & _MASK,
            "sales": np.where(np.isnan(sales) & (plan_sales > 0), plan_sales, sales),
            "baseline": scatter(at, plans["baseline"].to_numpy(float)[rows]),
            "consensus": scatter(at, plans["consensus"].to_numpy(float)[rows]),
            "submitted_by": team_of(pd.Series(team, dtype=object)).to_numpy(),
        }
    )


# --- the steps ----------------------------------------------------------------------------


def _actual_and_naive(
    points: pd.DataFrame, hist: pd.DataFrame, codes: _SeriesCodes, now: int,
    first: int | None = None,
) -> pd.DataFrame:
    """Adds `actual` and `naive` from a dense series x month matrix of the history (from month
    number `first`, default its own first month)."""
    first = int(hist["m"].min()) if first is None else first
    y = np.zeros((len(codes), now - first))
    np.add.at(
        y, (codes.of_frame[0], hist["m"].to_numpy(np.int64) - first), hist["qty"].to_numpy(float)
    )
    points = points[points["p"].to_numpy() >= first].reset_index(drop=True)  # else unknown
    k = points["k"].to_numpy()
    p = points["p"].to_numpy() - first
    c = points["c"].to_numpy() - first
    seasonal = (p - SEASON >= 0) & (p - SEASON < c)
    naive = np.where(
        seasonal,
        y[k, np.clip(p - SEASON, 0, None)],
        np.where(c >= 1, y[k, np.clip(c - 1, 0, None)], np.nan),
    )
    return points.assign(actual=y[k, p], naive=naive)


def _rebuild_baseline(
    points: pd.DataFrame, hist: pd.DataFrame, codes: _SeriesCodes, settings: PlanSettings,
    months: tuple[str, str] | None = None,
) -> pd.DataFrame:
    """Fills a missing baseline with trust.py's reference rebuilt from history before the cycle."""
    missing = np.flatnonzero(points["baseline"].isna().to_numpy())
    if missing.size == 0:
        return points
    # Series codes stand in for sku x location: past_references only joins on them, and
    # integer joins are several times faster than joins on two text columns.
    ask = pd.DataFrame(
        {
            "cycle": periods_of_numbers(points["c"].to_numpy()[missing]),
            "sku": points["k"].to_numpy()[missing],
            "location": 0,
            "period": periods_of_numbers(points["p"].to_numpy()[missing]),
            "_pid": missing,
        }
    )
    coded = pd.DataFrame(
        {
            "sku": codes.of_frame[0],
            "location": 0,
            "period": periods_of_numbers(hist["m"].to_numpy()),
            "qty": hist["qty"],
        }
    )
    no_promos = clean_promotions({})  # the baseline is promo-free (SPEC)
    refs = past_references(coded, ask, no_promos, settings, months)
    baseline = points["baseline"].to_numpy(float).copy()
    if not refs.empty:
        baseline[refs["_pid"].to_numpy(np.int64)] = refs["ref"].to_numpy(float)
    return points.assign(baseline=baseline)


def _families(skus: np.ndarray, products: pd.DataFrame) -> np.ndarray:
    """Family of each series' sku; UNKNOWN_FAMILY where products does not name one."""
    if products.empty:
        return np.full(len(skus), UNKNOWN_FAMILY, dtype=object)
    fam = pd.Series(products["family"].to_numpy(), index=products["sku"].to_numpy())
    fam = fam[~fam.index.duplicated(keep="last")].replace("", UNKNOWN_FAMILY)
    return pd.Series(skus).map(fam).fillna(UNKNOWN_FAMILY).to_numpy(dtype=object)


# --- accuracy -----------------------------------------------------------------------------


def _accuracy(level: str, complete: pd.DataFrame, available: pd.Series) -> pd.DataFrame:
    """WAPE, bias, n_obs per key x step over each key's consistent sample: `complete` are its
    partial sums (sorted by key, then location), `available` each key's steps as bits."""
    sums = complete.groupby("key", sort=True)[["n", "actual", *_ABS, *_SUM]].sum()
    sums = sums.reindex(available.index, fill_value=0)
    n_obs = sums["n"].to_numpy(np.int64)
    total = sums["actual"].to_numpy(float)
    denom = np.where(total > 0, total, np.nan)
    names = sums.index.to_numpy(dtype=object)
    bits = available.to_numpy(np.int64)
    rows = []
    for j, step in enumerate(STEPS):
        show = ((bits >> j) & 1).astype(bool) & (n_obs > 0)
        rows.append(pd.DataFrame({
            "level": level, "key": names[show].astype(str), "step": step,
            "wape": (sums[_ABS[j]].to_numpy(float) / denom)[show],
            "bias": ((sums[_SUM[j]].to_numpy(float) - total) / denom)[show],
            "n_obs": n_obs[show].astype(np.int64), "_order": j,
        }))
    out = pd.concat(rows, ignore_index=True).sort_values(["key", "_order"], kind="stable")
    if out.empty:
        return empty_fva()
    out["fva"] = out.groupby("key")["wape"].shift(1) - out["wape"]
    return out.drop(columns="_order").reset_index(drop=True)
