"""Lot sizing: the capacity LP's receipts turned into whole units in lots of at least MOQ.

SPEC: planned_receipts are integers and either 0 or at least the SKU's min_order_qty, while
every capacity rule still holds. A MIP over every SKU-month of a warehouse (10k SKUs x 18 months
is ~180k integer columns) is far beyond the LP's seconds, so the LP's plan is repaired instead:

1. `fit_lots`, one forward pass over the months, vectorised over SKUs: each month orders what
   brings stock up to the LP's stock (whole units, raised to MOQ), so the LP's served demand
   stays feasible and a lot covers the following months until the LP's stock catches up.
   Before a month is fixed, its inbound and the storage it commits for every later month (an
   upper bound: a SKU's stock never falls below what the LP holds until its next lot) are
   checked; where a limit would break, lots are shrunk -- first to what the month itself needs
   (pre-build deferred), then to nothing (the need moves to the next month: a cut if it never
   fits). Ordering nothing at all in a month always fits when the months before did, so the
   pass never leaves a limit broken.
2. `polish`, rounds of two moves on the exact plan until nothing changes or the time budget is
   spent: serve a cut from stock that would otherwise stay unused to the horizon end, and
   receive a cut where a whole-unit lot (>= MOQ where none arrives that month) still fits the
   month's inbound and outbound and every later month's storage. These are exactly the cuts
   data_contracts.plan_rules calls needless.

Every move keeps the stock balance, integral lots, MOQ, lead time and the capacity limits, so a
plan cut short by the budget keeps them too; it may only leave a cut that one more round would
have served (counted in `LotSizing.open_cuts`).
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reconciliation.promotions import EXCEPTION_COLUMNS

# Shortages below this (units) are float noise, not a reason to order a lot.
NOISE = 1e-6


@dataclass
class LotLimits:
    """Per month (T,): what a lot-sized plan may use, never tighter than the LP's own plan.

    Where the inputs force the LP over a limit (open orders above inbound, stock above storage)
    the LP's use is the limit and no new lot may arrive that month.
    """

    inbound: np.ndarray     # pallets incl. overtime
    outbound: np.ndarray    # units incl. overtime
    storage: np.ndarray     # pallets at month end
    lot_allowed: np.ndarray  # bool


@dataclass
class LotSizing:
    receipts: np.ndarray
    served: np.ndarray
    on_hand: np.ndarray
    rounds: int             # polish rounds run
    budget_exhausted: bool  # polish stopped by the time budget before it settled
    open_cuts: int          # cuts a further polish round could still serve (0 when settled)


def lot_limits(
    inbound: np.ndarray, outbound: np.ndarray, storage: np.ndarray, ot_pct: np.ndarray,
    upp: np.ndarray, open_orders: np.ndarray, lp_receipts: np.ndarray, lp_served: np.ndarray,
    lp_on_hand: np.ndarray,
) -> LotLimits:
    """The limits `fit_lots` and `polish` keep, from warehouse capacity and the LP's plan."""
    inv_upp = 1.0 / upp
    in_lim = inbound * (1 + ot_pct)
    out_lim = outbound * (1 + ot_pct)
    oo_pal = inv_upp @ open_orders
    lp_in = inv_upp @ (lp_receipts + open_orders)
    lp_st = inv_upp @ lp_on_hand
    slack_in = oo_pal > in_lim * (1 + 1e-9)
    slack_st = lp_st > storage * (1 + 1e-9) + 1e-9
    return LotLimits(
        inbound=np.maximum(in_lim, np.where(slack_in, lp_in, -np.inf)),
        outbound=np.maximum(out_lim, lp_served.sum(axis=0)),
        storage=np.maximum(storage, lp_st),
        lot_allowed=~(slack_in | slack_st),
    )


def _whole(x: np.ndarray) -> np.ndarray:
    """Whole units covering x, ignoring float noise above an integer."""
    return np.ceil(np.maximum(x, 0.0) - NOISE)


def _lot(need: np.ndarray, moq: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """The smallest lot covering `need`: 0, or whole units and at least MOQ."""
    return np.where(allowed & (need > NOISE), np.maximum(_whole(need), moq), 0.0)


StockFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def cell_moq(moq: np.ndarray, fixed: np.ndarray | None, T: int) -> np.ndarray:
    """(K x T) smallest lot per cell: 0 where a fixed receipt (a firm one, in `open_orders`)
    already arrives, since what comes on top of it adds to a lot of at least MOQ."""
    out = np.repeat(moq[:, None], T, axis=1)
    return out if fixed is None else np.where(fixed > 0, 0.0, out)


def fit_lots(
    lp_served: np.ndarray, lp_on_hand: np.ndarray, on_hand: np.ndarray, open_orders: np.ndarray,
    upp: np.ndarray, first_receipt: np.ndarray, moq: np.ndarray, serve_weight: np.ndarray,
    limits: LotLimits, fixed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Receipts (0 or whole units >= MOQ), served and on hand that keep `limits`; see module doc.

    Served never exceeds the LP's, so outbound holds; inbound and storage are checked per month.
    `fixed` (K x T) marks receipts already in `open_orders` that a lot may add to (no MOQ).
    """
    K, T = lp_served.shape
    inv_upp = 1.0 / upp
    net = open_orders - lp_served
    r, s, inv = np.zeros((K, T)), np.zeros((K, T)), np.zeros((K, T))
    level = on_hand.astype(float).copy()
    everyone = np.arange(K)
    moq_cells = cell_moq(moq, fixed, T)
    for t in range(T):
        moq_t = moq_cells[:, t]
        allowed = (t >= first_receipt) & bool(limits.lot_allowed[t])
        # Future stock of a SKU ordering nothing more: its level now plus later open orders less
        # the LP's demand, never below the LP's own stock (a later lot restores that).
        ahead = np.cumsum(net[:, t + 1:], axis=1)

        def stock(lot: np.ndarray, rows: np.ndarray, t: int = t, ahead: np.ndarray = ahead,
                  level: np.ndarray = level) -> np.ndarray:
            """(len(rows), T - t) upper bound of on hand from month t on, given lots at t."""
            avail = level[rows] + lot + open_orders[rows, t]
            end = avail - np.minimum(lp_served[rows, t], np.maximum(avail, 0.0))
            later = np.maximum(lp_on_hand[rows, t + 1:], end[:, None] + ahead[rows])
            return np.concatenate([end[:, None], later], axis=1)

        def overload(lot: np.ndarray, proj: np.ndarray, t: int = t) -> tuple[float, np.ndarray]:
            over_in = float(inv_upp @ (lot + open_orders[:, t])) - limits.inbound[t]
            return over_in, inv_upp @ proj - limits.storage[t:]

        this_need = lp_served[:, t] - level - open_orders[:, t]
        lot = _lot(lp_on_hand[:, t] + this_need, moq_t, allowed)
        proj = stock(lot, everyone)
        # Shrink in two steps: to what this month needs (defer pre-build), then to nothing
        # (cheapest demand first).
        for smaller, cost in (
            (_lot(this_need, moq_t, allowed), serve_weight),
            (np.zeros(K), serve_weight * np.maximum(this_need, 0.0) / np.maximum(lot, 1.0)),
        ):
            if _fits(*overload(lot, proj)):
                break
            lot, proj = _shrink(lot, smaller, proj, cost, inv_upp, moq_t, stock, overload)
        avail = level + lot + open_orders[:, t]
        s[:, t] = np.minimum(lp_served[:, t], np.maximum(avail, 0.0))
        r[:, t] = lot
        level = avail - s[:, t]
        inv[:, t] = level
    return r, s, inv


def _fits(over_in: float, over_st: np.ndarray) -> bool:
    return over_in <= 1e-9 and bool((over_st <= 1e-9).all())


def _shrink(
    lot: np.ndarray, smaller: np.ndarray, proj: np.ndarray, cost: np.ndarray,
    inv_upp: np.ndarray, moq: np.ndarray, stock: StockFn,
    overload: Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """Shrink lots toward `smaller`, cheapest first, until the month fits or all are shrunk.

    The last lot shrunk goes only as far as needed (staying 0 or >= MOQ), so a small overload
    does not defer a whole lot.
    """
    cand = np.flatnonzero(smaller < lot)
    if cand.size == 0:
        return lot, proj
    over_in, over_st = overload(lot, proj)
    saved_in = (lot[cand] - smaller[cand]) * inv_upp[cand]
    cand = cand[np.lexsort((-saved_in, cost[cand]))]
    saved_in = (lot[cand] - smaller[cand]) * inv_upp[cand]
    saved_st = (proj[cand] - stock(smaller[cand], cand)) * inv_upp[cand, None]
    cum_in = np.cumsum(saved_in)
    cum_st = np.cumsum(saved_st, axis=0)
    done = (cum_in >= over_in - 1e-9) & (cum_st >= over_st[None, :] - 1e-9).all(axis=1)
    m = int(np.argmax(done)) if done.any() else cand.size - 1
    lot, proj = lot.copy(), proj.copy()
    lot[cand[:m]] = smaller[cand[:m]]
    proj[cand[:m]] = stock(lot[cand[:m]], cand[:m])
    j = cand[m]
    one = np.array([j])
    rest_in, rest_st = overload(lot, proj)
    old = proj[j].copy()
    # The largest lot of j that fits: use is monotone in the lot, so bisect whole units in
    # [max(MOQ, smaller + 1), lot - 1]; else j's lot becomes `smaller`.
    lo, hi, best = max(smaller[j] + 1.0, moq[j], 1.0), lot[j] - 1.0, smaller[j]
    while lo <= hi:
        mid = float(np.floor((lo + hi) / 2))
        gain_st = (old - stock(np.array([mid]), one)[0]) * inv_upp[j]
        if (lot[j] - mid) * inv_upp[j] >= rest_in - 1e-9 and bool(
                (gain_st >= rest_st - 1e-9).all()):
            best, lo = mid, mid + 1.0
        else:
            hi = mid - 1.0
    lot[j] = best
    proj[j] = stock(lot[one], one)[0]
    return lot, proj


def polish(
    r: np.ndarray, s: np.ndarray, inv: np.ndarray, consensus: np.ndarray,
    open_orders: np.ndarray, upp: np.ndarray, first_receipt: np.ndarray, moq: np.ndarray,
    serve_weight: np.ndarray, limits: LotLimits, deadline: float, max_rounds: int,
    fixed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, bool]:
    """Serve cuts from stock kept to the horizon end, and receive cuts whose lot still fits.

    Rounds of both moves, month by month, until a round changes nothing, `max_rounds` have run or
    time.monotonic() passes `deadline`. Returns r, s, inv, the rounds run and whether it stopped
    with moves left (budget or round limit).
    """
    r, s, inv = r.copy(), s.copy(), inv.copy()
    inv_upp = 1.0 / upp
    T = r.shape[1]
    has_fixed = np.zeros(r.shape, dtype=bool) if fixed is None else fixed > 0
    in_room = limits.inbound - inv_upp @ (r + open_orders)
    out_room = limits.outbound - s.sum(axis=0)
    st_room = limits.storage - inv_upp @ inv
    order = np.argsort(-serve_weight, kind="stable")
    rounds = 0
    while True:
        if rounds >= max_rounds or time.monotonic() > deadline:
            return r, s, inv, rounds, True
        rounds += 1
        changed = False
        for t in range(T):
            # Ship: stock that stays on hand to the horizon end serves a cut now instead.
            cut = consensus[order, t] - s[order, t]
            kept = inv[order, t:].min(axis=1)
            x = np.minimum(np.maximum(cut, 0.0), np.maximum(kept, 0.0))
            x = np.where(x > 1e-9, x, 0.0)
            if x.any() and out_room[t] > 1e-9:
                x = np.clip(out_room[t] - (np.cumsum(x) - x), 0.0, x)
                s[order, t] += x
                inv[order, t:] -= x[:, None]
                out_room[t] -= x.sum()
                st_room[t:] += float(x @ inv_upp[order])
                changed = changed or bool((x > 1e-9).any())
            # Receive: a whole-unit lot for the cut, where inbound, outbound and storage to
            # the horizon end still have room for it (what it does not serve stays on hand).
            allowed = (t >= first_receipt[order]) & bool(limits.lot_allowed[t])
            while True:
                cut = consensus[order, t] - s[order, t]
                serve = np.minimum(cut, max(out_room[t], 0.0))
                add = np.where((r[order, t] > 0) | has_fixed[order, t], _whole(serve),
                               np.maximum(_whole(serve), moq[order]))
                serve = np.minimum(serve, add)
                extra = (add - serve) * inv_upp[order]
                pallets = add * inv_upp[order]
                room_st = float(st_room[t:].min())
                fits = allowed & (serve > 1e-9) & (pallets <= in_room[t] + 1e-9) & (
                    extra <= room_st + 1e-9)
                if not fits.any():
                    break
                pallets, extra, serve = (np.where(fits, v, 0.0) for v in (pallets, extra, serve))
                take = fits & (np.cumsum(pallets) <= in_room[t] + 1e-9) & (
                    np.cumsum(extra) <= room_st + 1e-9) & (np.cumsum(serve) <= out_room[t] + 1e-9)
                take[np.argmax(fits)] = True  # the first that fits alone always fits
                k = order[take]
                r[k, t] += add[take]
                s[k, t] += serve[take]
                inv[k, t:] += (add[take] - serve[take])[:, None]
                in_room[t] -= float(pallets[take].sum())
                out_room[t] -= float(serve[take].sum())
                st_room[t:] -= float(extra[take].sum())
                changed = True
        if not changed:
            return r, s, inv, rounds, False


def open_cuts(
    r: np.ndarray, s: np.ndarray, inv: np.ndarray, consensus: np.ndarray,
    open_orders: np.ndarray, upp: np.ndarray, first_receipt: np.ndarray, moq: np.ndarray,
    limits: LotLimits, fixed: np.ndarray | None = None,
) -> int:
    """Cuts that one polish move could still serve (each judged alone); 0 on a settled plan."""
    inv_upp = 1.0 / upp
    T = r.shape[1]
    in_room = limits.inbound - inv_upp @ (r + open_orders)
    out_room = limits.outbound - s.sum(axis=0)
    st_room = limits.storage - inv_upp @ inv
    cut = consensus - s
    serve = np.minimum(cut, np.maximum(out_room, 0.0)[None, :])
    add = np.where(r > 0, _whole(serve), np.maximum(_whole(serve), cell_moq(moq, fixed, T)))
    serve = np.minimum(serve, add)
    room_ahead = np.minimum.accumulate(st_room[::-1])[::-1]
    kept = np.minimum.accumulate(inv[:, ::-1], axis=1)[:, ::-1]
    month = np.arange(T)[None, :]
    receive = (month >= first_receipt[:, None]) & limits.lot_allowed[None, :] & (
        serve > 1e-6) & (add * inv_upp[:, None] <= in_room[None, :] - 1e-9) & (
        (add - serve) * inv_upp[:, None] <= room_ahead[None, :] - 1e-9)
    ship = (np.minimum(cut, kept) > 1e-6) & (out_room[None, :] > 1e-6)
    return int((receive | ship).sum())


def lot_size(
    lp_served: np.ndarray, lp_on_hand: np.ndarray,
    consensus: np.ndarray, on_hand: np.ndarray, open_orders: np.ndarray, upp: np.ndarray,
    first_receipt: np.ndarray, moq: np.ndarray, serve_weight: np.ndarray, limits: LotLimits,
    deadline: float, max_rounds: int, fixed: np.ndarray | None = None,
) -> LotSizing:
    """`fit_lots` then `polish` one location's LP plan (dense K x T); see the module doc.

    `fixed` (K x T): receipts already counted in `open_orders` (firm ones) that a lot may add
    to without a MOQ of its own; the returned receipts exclude them."""
    r, s, inv = fit_lots(lp_served, lp_on_hand, on_hand, open_orders, upp, first_receipt,
                         moq, serve_weight, limits, fixed)
    r, s, inv, rounds, stopped = polish(r, s, inv, consensus, open_orders, upp, first_receipt,
                                        moq, serve_weight, limits, deadline, max_rounds, fixed)
    left = open_cuts(r, s, inv, consensus, open_orders, upp, first_receipt, moq, limits, fixed)
    return LotSizing(r, s, inv, rounds, stopped and left > 0, left)


def plan_cost(
    r: np.ndarray, s: np.ndarray, inv: np.ndarray, consensus: np.ndarray,
    open_orders: np.ndarray, upp: np.ndarray, unit_cost: np.ndarray, hold_cost: np.ndarray,
    inbound: np.ndarray, outbound: np.ndarray, ot_cost: np.ndarray, outbound_upp: float,
) -> dict[str, float]:
    """One location's plan in money: holding, overtime (priced as capacity_report does) and
    unserved demand valued at unit_cost, so plans with and without lot sizes compare."""
    inv_upp = 1.0 / upp
    in_use = inv_upp @ (r + open_orders)
    out_use = s.sum(axis=0)
    ot_pal = np.where(np.isfinite(inbound), np.maximum(in_use - inbound, 0.0), 0.0)
    ot_units = np.where(np.isfinite(outbound), np.maximum(out_use - outbound, 0.0), 0.0)
    cut = np.maximum(consensus - s, 0.0)
    return {
        "holding": float(((inv * inv_upp[:, None]).sum(axis=1) * hold_cost).sum()),
        "overtime": float(((ot_pal + ot_units / max(outbound_upp, 1e-9)) * ot_cost).sum()),
        "unserved": float((cut.sum(axis=1) * unit_cost).sum()),
        "unserved_units": float(cut.sum()),
    }


def lot_size_exceptions(
    keys: pd.DataFrame, extra_cut: np.ndarray, moq: np.ndarray, tol: float
) -> pd.DataFrame:
    """One info row per SKU x location whose whole-unit lots (>= MOQ) serve less than the plan
    without lot sizes: the lot does not fit the warehouse when it is needed. The cut months
    themselves carry their CAPACITY_SHORTFALL warnings."""
    hit = np.flatnonzero(extra_cut > max(tol, 1e-6))
    k = keys.iloc[hit]
    return pd.DataFrame({
        "sku": k["sku"].to_numpy(), "location": k["location"].to_numpy(), "period": "",
        "type": "MIN_ORDER_QTY_CUT", "severity": "info",
        "message": [
            f"{c:,.1f} units more cut over the horizon than a plan without lot sizes: "
            + (f"a lot of at least {m:,.0f} units (min_order_qty)" if m > 0 else
               "a whole-unit lot") + " does not fit inbound or storage when needed"
            for c, m in zip(extra_cut[hit], moq[hit], strict=True)],
    }, columns=EXCEPTION_COLUMNS)
