"""Supply side of the world: product master, stock, open orders and warehouse capacity."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sample_data.catalog import PALLET_SIZES, Catalog
from sample_data.demand import DemandPaths, TimeAxis

LEAD_TIME_P = (0.15, 0.40, 0.30, 0.15)  # P(lead time = 0, 1, 2, 3 months)
CAPACITY_MARGIN = 1.2  # every-month capacity over the busiest month's need
STORAGE_MONTHS = 3.0  # storage sized for ~3 months of peak throughput (stock + pre-build)
SQUEEZE_MONTHS = 2  # consecutive peak months with reduced inbound at one warehouse
SQUEEZE_FACTOR = 0.7  # inbound in squeeze months as a share of that month's need
EARLIEST_SQUEEZE = 4  # months after the cycle: leave time to pre-build with lead times <= 3


def build_products(
    rng: np.random.Generator, cat: Catalog, demand: DemandPaths, axis: TimeAxis
) -> pd.DataFrame:
    """Product master: family, pallet size, lead time, cost, status, safety stock, MOQ."""
    n = cat.skus.size
    fam_names = np.array(cat.family_names, dtype=object)[cat.sku_family]
    upp = np.empty(n)
    for name in cat.family_names:  # a handful of families, not a per-row loop
        mask = fam_names == name
        upp[mask] = rng.choice(PALLET_SIZES[name], size=int(mask.sum()))
    lead = rng.choice(4, size=n, p=LEAD_TIME_P)
    cost = np.round(np.exp(rng.normal(np.log(4.0), 0.8, size=n)), 2)

    # Safety stock: about half a month of an average location's demand over the next year.
    h = axis.n_history
    monthly = demand.expected[:, h : h + 12].mean(axis=1)
    per_sku = np.bincount(cat.series_sku, weights=monthly, minlength=n)
    n_loc = np.maximum(np.bincount(cat.series_sku, minlength=n), 1)
    avg = per_sku / n_loc
    safety = np.round(avg * rng.uniform(0.3, 0.7, size=n))
    safety[cat.sku_status == "phase_out"] = 0.0
    # MOQ: a half or whole pallet, but never more than ~2 months of demand, some have none.
    moq = upp * rng.choice([0.0, 0.5, 1.0], size=n, p=[0.3, 0.35, 0.35])
    moq = np.round(np.minimum(moq, np.maximum(2 * avg, 1.0)))
    return pd.DataFrame(
        {
            "sku": cat.skus,
            "family": fam_names,
            "units_per_pallet": upp.astype(float),
            "lead_time_months": lead.astype(np.int64),
            "unit_cost": cost,
            "status": cat.sku_status.copy(),
            "safety_stock_units": safety,
            "min_order_qty": moq,
        }
    )


def build_inventory(
    rng: np.random.Generator, cat: Catalog, demand: DemandPaths, axis: TimeAxis
) -> pd.DataFrame:
    """On hand at the start of the cycle month: ~1-2 months of demand; new items have none."""
    h = axis.n_history
    status = cat.sku_status[cat.series_sku]
    near = demand.expected[:, h : h + 2].mean(axis=1)
    # Phase-out items carry what is left of their last months' demand, or nothing at all.
    recent = demand.expected[:, max(0, h - 3) : h].mean(axis=1)
    on_hand = np.round(
        np.where(status == "phase_out", recent, near) * rng.uniform(1.0, 2.0, size=cat.n_series)
    )
    has_row = status != "new"
    has_row &= ~((status == "phase_out") & (rng.random(cat.n_series) < 0.5))
    # A few stock-outs at the start of the month.
    on_hand[rng.random(cat.n_series) < 0.02] = 0.0
    idx = np.nonzero(has_row)[0]
    return pd.DataFrame(
        {
            "sku": cat.skus[cat.series_sku[idx]],
            "location": np.array(cat.locations, dtype=object)[cat.series_loc[idx]],
            "on_hand": on_hand[idx],
        }
    )


def build_open_orders(
    rng: np.random.Generator,
    cat: Catalog,
    demand: DemandPaths,
    axis: TimeAxis,
    lead_time: np.ndarray,
) -> pd.DataFrame:
    """The pipeline: orders placed in past cycles, arriving before new orders can.

    A SKU with lead time L gets about a month of demand arriving in each of the first
    L months (a few orders are missing, so some early shortfalls remain); new items get
    their launch stock if they launch inside their lead time.
    """
    h, n = axis.n_history, cat.n_series
    status = cat.sku_status[cat.series_sku]
    lead = lead_time[cat.series_sku]
    months = np.arange(min(3, axis.horizon))[None, :]
    expected = demand.expected[:, h : h + months.shape[1]]
    in_pipeline = (months < lead[:, None]) & (expected > 0) & (status != "new")[:, None]
    in_pipeline &= rng.random(in_pipeline.shape) < 0.9
    qty = np.round(expected * rng.uniform(0.85, 1.15, size=expected.shape))
    launch_offset = demand.launch - h
    launch_stock = (status == "new")[:, None] & (months == launch_offset[:, None])
    launch_stock &= launch_offset[:, None] < lead[:, None]
    # Launch stock: two months of the ramped-up rate.
    launch_qty = np.round(2.0 * demand.expected[:, h : h + axis.horizon].max(axis=1))
    qty = np.where(launch_stock, launch_qty[:, None], qty)
    s, m = np.nonzero((in_pipeline | launch_stock) & (qty > 0))
    assert s.size == 0 or s.max() < n
    return pd.DataFrame(
        {
            "sku": cat.skus[cat.series_sku[s]],
            "location": np.array(cat.locations, dtype=object)[cat.series_loc[s]],
            "period": axis.periods[h + m],
            "qty": qty[s, m].astype(float),
        }
    )


@dataclass(frozen=True)
class Squeeze:
    location: str
    periods: list[str]


def build_warehouses(
    rng: np.random.Generator,
    cat: Catalog,
    demand: DemandPaths,
    axis: TimeAxis,
    sales_qty: np.ndarray,
    units_per_pallet: np.ndarray,
) -> tuple[pd.DataFrame, Squeeze]:
    """Every-month capacity per location plus a peak-season inbound squeeze at one of them."""
    h = axis.n_history
    n_loc = len(cat.locations)
    # Plan against the larger of expected demand and sales' number: consensus lies in between.
    need_units = np.maximum(demand.expected[:, h:], sales_qty)
    upp = units_per_pallet[cat.series_sku][:, None]
    need_pallets = need_units / upp
    loc_units = np.zeros((n_loc, axis.horizon))
    loc_pallets = np.zeros((n_loc, axis.horizon))
    np.add.at(loc_units, cat.series_loc, need_units)
    np.add.at(loc_pallets, cat.series_loc, need_pallets)

    peak_units = np.maximum(loc_units.max(axis=1), 1.0)
    peak_pallets = np.maximum(loc_pallets.max(axis=1), 1.0)
    inbound = np.ceil(peak_pallets * CAPACITY_MARGIN)
    storage = np.ceil(peak_pallets * STORAGE_MONTHS)
    outbound = np.ceil(peak_units * CAPACITY_MARGIN / 100.0) * 100.0
    overtime = np.round(rng.uniform(0.10, 0.25, size=n_loc), 2)
    ot_cost = np.round(rng.uniform(2.0, 6.0, size=n_loc), 2)
    every = pd.DataFrame(
        {
            "location": np.array(cat.locations, dtype=object),
            "period": np.full(n_loc, np.nan, dtype=object),
            "storage_pallets": storage,
            "inbound_pallets": inbound,
            "outbound_units": outbound,
            "overtime_pct": overtime,
            "overtime_cost_per_pallet": ot_cost,
        }
    )

    # The squeeze goes where the seasonal peak is sharpest, late enough to pre-build for it.
    window = loc_pallets[:, EARLIEST_SQUEEZE:]
    span = min(SQUEEZE_MONTHS, window.shape[1])
    if span == 0:
        return every, Squeeze(location=cat.locations[0], periods=[])
    rolling = np.stack(
        [window[:, i : i + span].sum(axis=1) for i in range(window.shape[1] - span + 1)], axis=1
    )
    ratio = rolling / np.maximum(loc_pallets.mean(axis=1, keepdims=True) * span, 1e-9)
    loc, start = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
    months = [EARLIEST_SQUEEZE + int(start) + i for i in range(span)]
    squeezed_inbound = np.floor(loc_pallets[loc, months] * SQUEEZE_FACTOR)
    squeeze_rows = pd.DataFrame(
        {
            "location": cat.locations[loc],
            "period": axis.periods[[h + m for m in months]],
            "storage_pallets": storage[loc],
            "inbound_pallets": np.maximum(squeezed_inbound, 1.0),
            "outbound_units": outbound[loc],
            "overtime_pct": overtime[loc],
            "overtime_cost_per_pallet": ot_cost[loc],
        }
    )
    table = pd.concat([every, squeeze_rows], ignore_index=True)
    return table, Squeeze(
        location=cat.locations[loc], periods=[str(axis.periods[h + m]) for m in months]
    )
