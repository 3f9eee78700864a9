"""Promotions: uplift factors on the baseline, plausibility against past promotions, extra load.

Overlapping promotions of the same SKU x location in a month do not compound: the largest
uplift applies (a shopper buys once; the deepest deal dominates). This keeps the promo-adjusted
baseline conservative and is what `data_contracts.plan_rules` checks against.
"""

import numpy as np
import pandas as pd

from data_contracts.periods import (
    MONTH_PATTERN,
    expand_month_ranges,
    month_numbers,
    periods_of_numbers,
)
from data_contracts.tables import INPUT_COLUMNS, OUTPUT_COLUMNS
from reconciliation.inputs import get_table
from reconciliation.settings import PlanSettings

EXCEPTION_COLUMNS = OUTPUT_COLUMNS["exceptions"]
PROMOTION_KEYS = ["promo_id", "sku", "location", "start_period", "end_period", "uplift_pct"]
# Published (promotion_load.parquet): one row per promotion x month of the horizon it runs in.
LOAD_COLUMNS = [*PROMOTION_KEYS, "period", "extra_units", "extra_pallets"]
# One row per promotion: what its months add up to (promotion_totals).
TOTAL_COLUMNS = [
    *PROMOTION_KEYS, "months", "extra_units", "extra_pallets", "peak_month", "peak_extra_pallets",
]


def clean_promotions(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """promotions (SPEC columns, uplift 0 where missing); rows with unusable periods dropped."""
    p = get_table(tables, "promotions")
    out = p[INPUT_COLUMNS["promotions"]].assign(
        uplift_pct=p["uplift_pct"].fillna(0.0).clip(lower=0))
    ok = out["start_period"].str.match(MONTH_PATTERN) & out["end_period"].str.match(MONTH_PATTERN)
    return out[ok].reset_index(drop=True)


def promo_months(promos: pd.DataFrame) -> pd.DataFrame:
    """One row per promotion x month it runs (start..end inclusive)."""
    if promos.empty:
        return promos.assign(period=pd.Series(dtype="object"))
    position, months = expand_month_ranges(promos["start_period"], promos["end_period"])
    rep = promos.iloc[position].copy()
    rep["period"] = periods_of_numbers(months)
    return rep.reset_index(drop=True)


def uplift_by_month(promos: pd.DataFrame) -> pd.DataFrame:
    """(sku, location, period) -> promo_uplift_pct (max over overlapping promotions), promo_ids."""
    months = promo_months(promos)
    if months.empty:
        return pd.DataFrame({
            "sku": pd.Series(dtype="object"), "location": pd.Series(dtype="object"),
            "period": pd.Series(dtype="object"), "promo_uplift_pct": pd.Series(dtype=float),
            "promo_ids": pd.Series(dtype="object"),
        })
    return months.groupby(["sku", "location", "period"], as_index=False).agg(
        promo_uplift_pct=("uplift_pct", "max"),
        promo_ids=("promo_id", lambda s: ",".join(sorted(set(s)))),
    )


def realised_uplifts(
    promos: pd.DataFrame, history: pd.DataFrame, cycle: str, settings: PlanSettings
) -> pd.DataFrame:
    """Past promotions (ended before the cycle) with the uplift they delivered, in %.

    Delivered uplift = sales during the promotion / the average of the `promo_reference_months`
    months before it (months inside other promotions left out) - 1. Absent months are zero demand.
    Reference months are looked for up to 24 months back and not before the series' first month.
    """
    past = promos[promos["end_period"] < cycle]
    if past.empty or history.empty:
        return past.assign(realised_pct=pd.Series(dtype=float))
    # Promoted series x months as dense arrays (series codes by index lookup): at 100k
    # SKU-locations a merge plus per-month dict lookups held ~1 GB and took 20 s.
    series = pd.MultiIndex.from_frame(past[["sku", "location"]]).unique()
    hk = series.get_indexer(pd.MultiIndex.from_frame(history[["sku", "location"]]))
    mine = hk >= 0
    hk, h_month = hk[mine], month_numbers(history["period"])[mine]
    if not len(hk):
        return past.assign(realised_pct=np.nan)
    start, end = month_numbers(past["start_period"]), month_numbers(past["end_period"])
    m0 = int(min(h_month.min(), start.min()) - 24)
    n_months = int(max(h_month.max(), end.max()) - m0 + 2)
    y = np.zeros((len(series), n_months))
    np.add.at(y, (hk, h_month - m0), history["qty"].to_numpy(dtype=float)[mine])
    csum = np.concatenate([np.zeros((len(series), 1)), np.cumsum(y, axis=1)], axis=1)
    first = np.full(len(series), np.iinfo(np.int64).max)
    np.minimum.at(first, hk, h_month)
    months = promo_months(promos)
    pk = series.get_indexer(pd.MultiIndex.from_frame(months[["sku", "location"]]))
    p_month = month_numbers(months["period"]) - m0
    keep = (pk >= 0) & (p_month >= 0) & (p_month < n_months)
    in_promo = np.zeros((len(series), n_months), dtype=bool)
    in_promo[pk[keep], p_month[keep]] = True

    k = series.get_indexer(pd.MultiIndex.from_frame(past[["sku", "location"]]))
    start_hist = first[k]
    existed = start_hist <= start  # else the series did not exist before the promotion
    back = start[:, None] - np.arange(1, 25)[None, :]  # the 24 months before, nearest first
    ok = (back >= start_hist[:, None]) & ~in_promo[k[:, None], back - m0]
    chosen = ok & (np.cumsum(ok, axis=1) <= settings.promo_reference_months)
    n_ref = chosen.sum(axis=1)
    ref = np.divide((y[k[:, None], back - m0] * chosen).sum(axis=1), n_ref,
                    out=np.zeros(len(k)), where=n_ref > 0)
    span = np.maximum(end - start, 0) + 1
    actual = (csum[k, start - m0 + span] - csum[k, start - m0]) / span
    realised = np.where(existed & (ref > 0), 100.0 * (actual / np.where(ref > 0, ref, 1.0) - 1.0),
                        np.nan)
    return past.assign(realised_pct=realised)


def check_promo_uplifts(
    promos: pd.DataFrame, history: pd.DataFrame, products: pd.DataFrame, cycle: str,
    settings: PlanSettings,
) -> pd.DataFrame:
    """Exceptions for planned promotions whose uplift is out of line with past promotions.

    Compared with the SKU's own past promotions, else its family's. Implausible when above
    factor x best past + margin, or below worst past / factor - margin (under-planning a promo
    is as costly as over-planning it).
    """
    future = promos[promos["end_period"] >= cycle]
    if future.empty:
        return pd.DataFrame(columns=EXCEPTION_COLUMNS)
    past = realised_uplifts(promos, history, cycle, settings)
    return judge_promo_uplifts(future, past, products, settings)


def judge_promo_uplifts(
    future: pd.DataFrame, past: pd.DataFrame, products: pd.DataFrame, settings: PlanSettings,
) -> pd.DataFrame:
    """check_promo_uplifts' verdicts on the `future` promotions, given the `past` ones with their
    `realised_uplifts`. Past uplifts are compared across locations (per SKU, per family), so a
    partitioned run gathers every location group's realised uplifts before judging."""
    if future.empty:
        return pd.DataFrame(columns=EXCEPTION_COLUMNS)
    past = past.dropna(subset=["realised_pct"])
    past = past.assign(family=past["sku"].map(products["family"]).fillna(""))
    by_sku = past.groupby("sku")["realised_pct"].agg(["min", "max", "size"])
    by_family = past.groupby("family")["realised_pct"].agg(["min", "max", "size"])
    rows = []
    f, m = settings.promo_plausibility_factor, settings.promo_plausibility_margin_pct
    for row in future.itertuples(index=False):
        family = products["family"].get(row.sku, "")
        if row.sku in by_sku.index:
            ref, scope = by_sku.loc[row.sku], f"SKU {row.sku}"
        elif family and family in by_family.index:
            ref, scope = by_family.loc[family], f"family {family}"
        else:
            rows.append([row.sku, row.location, row.start_period, "PROMO_UNCHECKED", "info",
                         f"promotion {row.promo_id}: planned uplift {row.uplift_pct:.0f}% cannot "
                         "be checked, no past promotion of the SKU or its family in the history"])
            continue
        hi = max(ref["max"], 0.0) * f + m
        lo = max(ref["min"], 0.0) / f - m
        if row.uplift_pct > hi or row.uplift_pct < lo:
            word = "above" if row.uplift_pct > hi else "below"
            rows.append([
                row.sku, row.location, row.start_period, "PROMO_UPLIFT_IMPLAUSIBLE", "warning",
                f"promotion {row.promo_id}: planned uplift {row.uplift_pct:.0f}% is {word} what "
                f"{int(ref['size'])} past promotion(s) of {scope} delivered "
                f"({ref['min']:.0f}% to {ref['max']:.0f}%)",
            ])
    return pd.DataFrame(rows, columns=EXCEPTION_COLUMNS)


def promotion_load(
    promos: pd.DataFrame, rows: pd.DataFrame, products: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Extra units and pallets each promotion brings into its warehouse, month by month.

    `rows` is the plan (sku, location, period, baseline_forecast) over the horizon. Returns
    (load in LOAD_COLUMNS: one row per promotion x month it runs in the horizon, sorted by
    promotion and month; info exceptions, one per promotion). The extra load of a promotion
    in a month = baseline x its own uplift; pallets use units_per_pallet. It all has to come
    in (inbound) and mostly sit (storage) before it sells.
    """
    months = promo_months(promos)
    if months.empty:
        return pd.DataFrame(columns=LOAD_COLUMNS), pd.DataFrame(columns=EXCEPTION_COLUMNS)
    m = months.merge(rows[["sku", "location", "period", "baseline_forecast"]],
                     on=["sku", "location", "period"], how="inner")
    if m.empty:
        return pd.DataFrame(columns=LOAD_COLUMNS), pd.DataFrame(columns=EXCEPTION_COLUMNS)
    m["extra_units"] = m["baseline_forecast"] * m["uplift_pct"] / 100.0
    m["extra_pallets"] = m["extra_units"] / m["sku"].map(products["units_per_pallet"]).fillna(1.0)
    load = m.sort_values(["promo_id", "sku", "location", "period"], kind="stable")
    load = load[LOAD_COLUMNS].reset_index(drop=True)
    totals = promotion_totals(load)
    exc = pd.DataFrame({
        "sku": totals["sku"], "location": totals["location"], "period": totals["start_period"],
        "type": "PROMO_LOAD", "severity": "info",
        "message": [
            f"promotion {r.promo_id} (+{r.uplift_pct:.0f}%, {r.start_period}..{r.end_period}) "
            f"adds {r.extra_units:,.0f} units = {r.extra_pallets:,.1f} pallets of inbound and "
            f"storage load at {r.location}, peak {r.peak_extra_pallets:,.1f} pallets in "
            f"{r.peak_month}"
            for r in totals.itertuples(index=False)
        ],
    })
    return load, exc[EXCEPTION_COLUMNS]


def promotion_totals(load: pd.DataFrame) -> pd.DataFrame:
    """One row per promotion of `load` (LOAD_COLUMNS), in TOTAL_COLUMNS: its months in the
    horizon, their extra units and pallets summed, and the month with the most extra pallets.

    The PROMO_LOAD exceptions and the meeting pack both read promotions through this, so a
    promotion's total is always the sum of its published months.
    """
    if load.empty:
        return pd.DataFrame(columns=TOTAL_COLUMNS)
    load = load.sort_values("period", kind="stable").reset_index(drop=True)
    groups = load.groupby(PROMOTION_KEYS, sort=True)
    totals = groups.agg(months=("period", "count"), extra_units=("extra_units", "sum"),
                        extra_pallets=("extra_pallets", "sum"))
    # The earliest of the months with the most pallets.
    peak = load.loc[groups["extra_pallets"].idxmax(), [*PROMOTION_KEYS, "period", "extra_pallets"]]
    peak = peak.set_index(PROMOTION_KEYS).rename(
        columns={"period": "peak_month", "extra_pallets": "peak_extra_pallets"})
    return totals.join(peak).reset_index()[TOTAL_COLUMNS]
