"""check_plan_rules: SPEC's "Rules the plan always keeps", checked on a plan and its inputs.

Independent of `reconciliation` on purpose (it audits that code): it recomputes stock balances,
capacity use and the consensus bounds from the input tables. Conventions it relies on, all
from SPEC or docs/architecture.md: a dated warehouses row overrides the every-month row;
overlapping promotions use the largest uplift (not compounded); uplift_pct is a percentage and
overtime_pct a fraction; family rows are split over the family's non-phase_out SKUs (all its
SKUs if it has only phase_out ones).
"""

import numpy as np
import pandas as pd

from data_contracts.periods import add_months, horizon_periods, months_between
from data_contracts.tables import INPUT_COLUMNS, PLAN_ROW_COLUMNS, REASON_CODES

QUANTITIES = [
    "sales_forecast", "baseline_forecast", "consensus_demand", "constrained_demand", "shortfall",
    "planned_receipts", "projected_on_hand",
]
KEY = ["sku", "location"]
ROW_KEY = ["sku", "location", "period"]
MAX_LISTED = 5  # sample rows named per violated rule


# The input tables the rules read; a caller that loads only some inputs loads these.
RULE_INPUTS = ("sales_history", "sales_forecast", "products", "promotions", "inventory",
               "open_orders", "warehouses", "overrides", "customer_orders")


def _table(tables: dict[str, pd.DataFrame], name: str) -> pd.DataFrame:
    assert name in RULE_INPUTS, f"{name} missing from RULE_INPUTS"
    df = tables.get(name)
    cols = INPUT_COLUMNS[name]
    if df is None:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in cols})
    # A shallow copy with a fresh index: the rules never write into input columns, and a deep
    # copy of sales_history (millions of rows) per call would set the audit's memory peak.
    df = df.copy(deep=False)
    df.index = pd.RangeIndex(len(df))
    for c in cols:
        if c not in df.columns:
            df[c] = np.nan
    return df


def _text(s: pd.Series) -> pd.Series:
    return s.astype("object").where(s.notna(), "").astype(str).str.strip()


def _num(s: pd.Series, default: float = 0.0) -> pd.Series:
    return pd.to_numeric(s, errors="coerce").astype(float).fillna(default)


def _sample(df: pd.DataFrame, cols: list[str]) -> str:
    rows = df[cols].head(MAX_LISTED).to_dict("records")
    more = f" (+{len(df) - MAX_LISTED} more)" if len(df) > MAX_LISTED else ""
    return "; ".join(
        ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items())
        for r in rows
    ) + more


def _close(a: pd.Series | np.ndarray, b: pd.Series | np.ndarray, tol: float) -> np.ndarray:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.abs(a - b) <= tol * np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))


def check_plan_rules(
    plan: pd.DataFrame, capacity_report: pd.DataFrame, tables: dict[str, pd.DataFrame],
    cycle: str, horizon: int, tol: float = 1e-6, allow_forced: bool = False,
    shortfall_units: float = 1.0,
) -> list[str]:
    """Human-readable violations of SPEC's plan rules; [] when every rule holds.

    `plan` is consensus_plan (cycle/plan_version optional), `tables` the validated inputs.
    Tolerances are relative: |a - b| <= tol * max(1, |a|, |b|).
    `allow_forced` leaves out capacity breaches the inputs force on any plan (stock on hand
    already above storage, open orders alone above inbound): the planner reports those as
    error exceptions, and refusing to publish would only hide them from the meeting.
    `shortfall_units` is the smallest capacity cut per location-month that must make it
    `short` (PlanSettings.shortfall_tolerance_units).
    """
    missing = [c for c in PLAN_ROW_COLUMNS if c not in plan.columns]
    if missing:
        return [f"consensus_plan lacks columns {missing}"]
    p = plan.reset_index(drop=True).copy()
    for c in ("sku", "location", "period", "reason", "order_release_period"):
        p[c] = _text(p[c])
    for c in QUANTITIES:
        p[c] = pd.to_numeric(p[c], errors="coerce").astype(float)
    products = _products(tables)
    out: list[str] = []
    out += _check_rows(p, tables, cycle, horizon, products)
    out += _check_quantities(p, tol)
    p = p.sort_values(ROW_KEY, kind="stable").reset_index(drop=True)
    p = _attach_supply_inputs(p, tables, products, cycle)
    out += _check_balance(p, tol)
    out += _check_lead_time(p, tol)
    out += _check_lots(p)
    cap_use = _capacity_use(p, tables, cycle, horizon)
    out += _check_capacity(cap_use, tol, allow_forced)
    out += _check_report(cap_use, capacity_report, tol)
    out += _check_no_needless_cut(p, cap_use, tol)
    out += _check_shortfall_labels(p, cap_use, capacity_report, tol, shortfall_units)
    out += _check_consensus(p, tables, cycle, horizon, products, tol)
    return out


def _products(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    pr = _table(tables, "products")
    return pd.DataFrame({
        "sku": _text(pr["sku"]), "family": _text(pr["family"]),
        "upp": _num(pr["units_per_pallet"], 1.0).where(lambda s: s > 0, 1.0),
        "lead": _num(pr["lead_time_months"]).round().astype(int),
        "moq": _num(pr["min_order_qty"]).clip(lower=0),
        "status": _text(pr["status"]).str.lower().replace("", "active"),
    }).drop_duplicates("sku", keep="last").set_index("sku")


def _check_rows(
    p: pd.DataFrame, tables: dict[str, pd.DataFrame], cycle: str, horizon: int,
    products: pd.DataFrame,
) -> list[str]:
    out = []
    periods = horizon_periods(cycle, horizon)
    dup = p[p.duplicated(ROW_KEY, keep=False)]
    if not dup.empty:
        out.append(f"duplicate sku x location x period rows: {_sample(dup, ROW_KEY)}")
    outside = p[~p["period"].isin(periods)]
    if not outside.empty:
        out.append(f"rows outside the horizon {periods[0]}..{periods[-1]}: "
                   f"{_sample(outside, ROW_KEY)}")
    counts = p[p["period"].isin(periods)].drop_duplicates(ROW_KEY).groupby(KEY).size()
    short = counts[counts != len(periods)]
    if not short.empty:
        out.append(f"{len(short)} key(s) without all {len(periods)} horizon months, e.g. "
                   f"{list(short.index[:MAX_LISTED])}")
    bad_reason = p[~p["reason"].isin(REASON_CODES)]
    if not bad_reason.empty:
        out.append(f"invalid reason codes: {_sample(bad_reason, [*ROW_KEY, 'reason'])}")

    # Scope: keys named directly must be planned unless a phase_out SKU with neither a sales
    # number nor stock; every planned key must come from an input (directly or a family row).
    window = set(periods)
    sf = _table(tables, "sales_forecast")
    sf = sf[_text(sf["period"]).isin(window)]
    co = _table(tables, "customer_orders")
    booked = co[_text(co["period"]).isin(window) & (_num(co["qty"]) > 0)]
    booked_keys = set(zip(_text(booked["sku"]), _text(booked["location"]), strict=True))
    direct = []
    for name, frame in (("sales_history", _table(tables, "sales_history")),
                        ("sales_forecast", sf[_text(sf["sku"]) != ""]),
                        ("inventory", _table(tables, "inventory")),
                        ("open_orders", _table(tables, "open_orders")),
                        ("customer_orders", booked)):
        # Distinct pairs before normalising: history has one row per key x month.
        frame = frame[KEY].drop_duplicates()
        direct.append(pd.DataFrame({"sku": _text(frame["sku"]),
                                    "location": _text(frame["location"]), "src": name}))
    # One row per key across sources (and raw spellings that normalise to the same key).
    d = pd.concat(direct, ignore_index=True).drop_duplicates(["sku", "location"])
    inv = _table(tables, "inventory")
    oo = _table(tables, "open_orders")
    stock = set(zip(_text(inv["sku"])[_num(inv["on_hand"]) > 0],
                    _text(inv["location"])[_num(inv["on_hand"]) > 0], strict=True))
    stock |= set(zip(_text(oo["sku"])[_num(oo["qty"]) > 0],
                     _text(oo["location"])[_num(oo["qty"]) > 0], strict=True))
    sku_sf = sf[_text(sf["sku"]) != ""]
    sales = set(zip(_text(sku_sf["sku"])[_num(sku_sf["qty"]) > 0],
                    _text(sku_sf["location"])[_num(sku_sf["qty"]) > 0], strict=True))
    planned = set(zip(p["sku"], p["location"], strict=True))
    status = products["status"]
    d_status = d["sku"].map(status).fillna("active")
    need = {k for k, st in zip(zip(d["sku"], d["location"], strict=True), d_status, strict=True)
            if st != "phase_out" or k in stock or k in sales or k in booked_keys}
    absent = sorted(need - planned)
    if absent:
        out.append(f"{len(absent)} key(s) in the inputs are not planned, "
                   f"e.g. {absent[:MAX_LISTED]}")
    fam = sf[(_text(sf["sku"]) == "") & (_text(sf["family"]) != "")]
    fam_locs = set(zip(_text(fam["family"]), _text(fam["location"]), strict=True))
    allowed = set(zip(d["sku"], d["location"], strict=True))
    extra = sorted(k for k in planned - allowed
                   if (products["family"].get(k[0], ""), k[1]) not in fam_locs)
    if extra:
        out.append(f"{len(extra)} planned key(s) come from no input, e.g. {extra[:MAX_LISTED]}")
    dropped = sorted(k for k in planned - allowed
                     if status.get(k[0], "active") == "phase_out" and k not in stock
                     and (products["family"].get(k[0], ""), k[1]) in fam_locs
                     and (products["status"][products["family"] == products["family"].get(
                         k[0], "")] != "phase_out").any())
    if dropped:
        out.append(f"phase_out SKU(s) planned only through a family split: {dropped[:MAX_LISTED]}")
    return out


def _check_quantities(p: pd.DataFrame, tol: float) -> list[str]:
    out = []
    for c in QUANTITIES:
        bad = p[p[c].isna() | (p[c] < -tol)]
        if not bad.empty:
            out.append(f"{c} is negative or missing: {_sample(bad, [*ROW_KEY, c])}")
    over = p[p["constrained_demand"] > p["consensus_demand"] + tol * np.maximum(
        1, p["consensus_demand"].abs())]
    if not over.empty:
        out.append("constrained_demand > consensus_demand: "
                   f"{_sample(over, [*ROW_KEY, 'consensus_demand', 'constrained_demand'])}")
    gap = p[~_close(p["shortfall"], p["consensus_demand"] - p["constrained_demand"], tol)]
    if not gap.empty:
        out.append("shortfall != consensus_demand - constrained_demand: "
                   f"{_sample(gap, [*ROW_KEY, 'shortfall'])}")
    return out


def _attach_supply_inputs(
    p: pd.DataFrame, tables: dict[str, pd.DataFrame], products: pd.DataFrame, cycle: str
) -> pd.DataFrame:
    oo = _table(tables, "open_orders")
    oo = pd.DataFrame({"sku": _text(oo["sku"]), "location": _text(oo["location"]),
                       "period": _text(oo["period"]), "oo": _num(oo["qty"])})
    oo = oo.groupby(ROW_KEY, as_index=False)["oo"].sum()
    p = p.drop(columns=[c for c in ("oo", "on_hand0") if c in p]).merge(oo, on=ROW_KEY,
                                                                          how="left")
    p["oo"] = p["oo"].fillna(0.0)
    inv = _table(tables, "inventory")
    inv = pd.DataFrame({"sku": _text(inv["sku"]), "location": _text(inv["location"]),
                        "on_hand0": _num(inv["on_hand"])}).groupby(KEY, as_index=False).sum()
    p = p.merge(inv, on=KEY, how="left")
    p["on_hand0"] = p["on_hand0"].fillna(0.0)
    p["upp"] = p["sku"].map(products["upp"]).fillna(1.0)
    p["lead"] = p["sku"].map(products["lead"]).fillna(0).astype(int)
    p["moq"] = p["sku"].map(products["moq"]).fillna(0.0)
    p["month"] = [months_between(cycle, x) for x in p["period"]]
    return p.sort_values(ROW_KEY, kind="stable").reset_index(drop=True)


def _check_balance(p: pd.DataFrame, tol: float) -> list[str]:
    prev = p.groupby(KEY)["projected_on_hand"].shift(1)
    prev = prev.fillna(p["on_hand0"])
    expect = prev + p["planned_receipts"] + p["oo"] - p["constrained_demand"]
    scale = p[["projected_on_hand", "planned_receipts", "oo", "constrained_demand"]].abs().sum(
        axis=1) + prev.abs()
    bad = p[np.abs(expect - p["projected_on_hand"]) > tol * np.maximum(1.0, scale)]
    if bad.empty:
        return []
    return ["stock balance broken (on_hand[t] != on_hand[t-1] + receipts + open_orders - "
            f"constrained): {_sample(bad.assign(expected=expect), [*ROW_KEY, 'projected_on_hand', 'expected'])}"]  # noqa: E501


def _check_lead_time(p: pd.DataFrame, tol: float) -> list[str]:
    out = []
    early = p[(p["month"] < p["lead"]) & (p["planned_receipts"] > tol)]
    if not early.empty:
        out.append("planned receipts before cycle + lead time: "
                   f"{_sample(early, [*ROW_KEY, 'planned_receipts', 'lead'])}")
    release = pd.Series([add_months(x, -int(n)) for x, n in zip(p["period"], p["lead"],
                                                                   strict=True)], index=p.index)
    ordered = p["planned_receipts"] > 0
    given = p["order_release_period"]
    wrong = p[ordered & (given != release)]
    if not wrong.empty:
        out.append("order_release_period != period - lead_time_months: "
                   f"{_sample(wrong, [*ROW_KEY, 'order_release_period', 'lead'])}")
    stray = p[~ordered & (given != "")]
    if not stray.empty:
        out.append("order_release_period set where planned_receipts is 0: "
                   f"{_sample(stray, [*ROW_KEY, 'order_release_period', 'planned_receipts'])}")
    before = p[ordered & (given != "") & (p["month"] - p["lead"] < 0)]
    if not before.empty:
        out.append("order_release_period before the cycle: "
                   f"{_sample(before, [*ROW_KEY, 'order_release_period', 'lead'])}")
    return out


def _check_lots(p: pd.DataFrame, tol: float = 1e-9) -> list[str]:
    """SPEC: planned_receipts are whole units, and either 0 or at least min_order_qty."""
    out = []
    r = p["planned_receipts"]
    frac = p[(r - r.round()).abs() > tol * np.maximum(1.0, r.abs())]
    if not frac.empty:
        out.append("planned_receipts not whole units: "
                   f"{_sample(frac, [*ROW_KEY, 'planned_receipts'])}")
    small = p[(r.abs() > tol) & (r < p["moq"] - tol * np.maximum(1.0, p["moq"]))]
    if not small.empty:
        out.append("planned_receipts between 0 and min_order_qty: "
                   f"{_sample(small, [*ROW_KEY, 'planned_receipts', 'moq'])}")
    return out


def _capacity(tables: dict[str, pd.DataFrame], cycle: str, horizon: int) -> pd.DataFrame:
    w = _table(tables, "warehouses")
    w = pd.DataFrame({
        "location": _text(w["location"]), "period": _text(w["period"]),
        "in_cap": _num(w["inbound_pallets"], np.nan), "out_cap": _num(w["outbound_units"], np.nan),
        "st_cap": _num(w["storage_pallets"], np.nan), "ot": _num(w["overtime_pct"]),
    })
    periods = horizon_periods(cycle, horizon)
    locs = sorted(set(w["location"]))
    # Object arrays: without warehouses np.repeat would make the empty keys floats.
    grid = pd.DataFrame({"location": np.repeat(np.array(locs, dtype=object), len(periods)),
                         "period": np.tile(np.array(periods, dtype=object), len(locs))})
    dated = w[w["period"] != ""].drop_duplicates(["location", "period"], keep="last")
    every = w[w["period"] == ""].drop_duplicates("location", keep="last").drop(columns="period")
    g = grid.merge(dated, on=["location", "period"], how="left").merge(
        every, on="location", how="left", suffixes=("", "_all"))
    for c in ("in_cap", "out_cap", "st_cap", "ot"):
        g[c] = g[c].fillna(g.pop(f"{c}_all"))
    return g


def _capacity_use(
    p: pd.DataFrame, tables: dict[str, pd.DataFrame], cycle: str, horizon: int
) -> pd.DataFrame:
    use = p.assign(
        in_pal=(p["planned_receipts"] + p["oo"]) / p["upp"],
        oo_pal=p["oo"] / p["upp"],
        st_pal=p["projected_on_hand"] / p["upp"],
        r_pal=p["planned_receipts"] / p["upp"],
    ).groupby(["location", "period"], as_index=False).agg(
        in_pal=("in_pal", "sum"), oo_pal=("oo_pal", "sum"), st_pal=("st_pal", "sum"),
        out_units=("constrained_demand", "sum"), r_pal=("r_pal", "sum"),
        short=("shortfall", "sum"), max_upp=("upp", "max"),
    )
    # Keys as text also without plan rows (a partition of locations with nothing planned:
    # an empty groupby's keys are floats, and merge refuses floats against text).
    use = use.astype({"location": str, "period": str})
    return use.merge(_capacity(tables, cycle, horizon), on=["location", "period"], how="left")


def _check_capacity(u: pd.DataFrame, tol: float, allow_forced: bool = False) -> list[str]:
    out = []
    in_lim = u["in_cap"] * (1 + u["ot"])
    out_lim = u["out_cap"] * (1 + u["ot"])
    checks = [
        ("inbound pallets (receipts + open orders) > inbound_pallets x (1 + overtime_pct)",
         u["in_pal"], in_lim, u["oo_pal"] > in_lim * (1 + tol)),
        ("outbound units > outbound_units x (1 + overtime_pct)", u["out_units"], out_lim,
         pd.Series(False, index=u.index)),
        ("pallets on hand at month end > storage_pallets", u["st_pal"], u["st_cap"],
         u["r_pal"] <= tol),
    ]
    for text, used, limit, forced in checks:
        bad = u[limit.notna() & (used > limit + tol * np.maximum(1.0, limit))]
        if allow_forced:
            bad = bad[~forced[bad.index].astype(bool)]
        if bad.empty:
            continue
        b = bad.assign(used=used[bad.index], limit=limit[bad.index],
                       forced_by_inputs=forced[bad.index])
        shown = _sample(b, ["location", "period", "used", "limit", "forced_by_inputs"])
        out.append(f"{text}: {shown}")
    return out


def _check_report(u: pd.DataFrame, report: pd.DataFrame, tol: float) -> list[str]:
    need = ["location", "period", "inbound_pallets", "storage_pallets", "outbound_units", "status"]
    missing = [c for c in need if c not in report.columns]
    if missing:
        return [f"capacity_report lacks columns {missing}"]
    r = report.copy()
    r["location"], r["period"] = _text(r["location"]), _text(r["period"])
    m = u.merge(r, on=["location", "period"], how="left", indicator=True)
    out = []
    absent = m[m["_merge"] == "left_only"]
    if not absent.empty:
        out.append(f"capacity_report lacks location-months of the plan: "
                   f"{_sample(absent, ['location', 'period'])}")
    m = m[m["_merge"] == "both"]
    for mine, theirs in (("in_pal", "inbound_pallets"), ("st_pal", "storage_pallets"),
                         ("out_units", "outbound_units")):
        bad = m[~_close(m[mine], pd.to_numeric(m[theirs], errors="coerce"), tol * 10)]
        if not bad.empty:
            out.append(f"capacity_report {theirs} disagrees with the plan: "
                       f"{_sample(bad, ['location', 'period', mine, theirs])}")
    bad_status = r[~r["status"].isin(["ok", "overtime", "short"])]
    if not bad_status.empty:
        out.append(f"invalid capacity_report status: {_sample(bad_status, ['location', 'period', 'status'])}")  # noqa: E501
    return out


def _check_no_needless_cut(
    p: pd.DataFrame, u: pd.DataFrame, tol: float
) -> list[str]:
    """Where capacity is ample nothing is cut. A cut is a true violation when the same month
    still had free inbound and outbound capacity (incl. overtime) and a receipt was allowed --
    receiving and shipping in that month would have served more -- or when stock on hand at the
    end of the cut month stays unused to the horizon end while outbound had room. (Stock held
    in a cut month to serve a later month is rationing, not a violation: the total served is
    the same.)

    Receipts are whole units in lots of at least min_order_qty, so "free" means room for the
    lot that would serve the cut: its pallets in inbound, and what it does not serve in
    storage in that and every later month (it stays on hand)."""
    out: list[str] = []
    cut = p[demand_cut(p["shortfall"], p["consensus_demand"], tol)]
    if cut.empty:
        return out
    u = u.sort_values(["location", "period"]).reset_index(drop=True)
    room = (u["st_cap"] - u["st_pal"]).fillna(np.inf)
    u = u.assign(st_room_ahead=room.iloc[::-1].groupby(u["location"].iloc[::-1]).cummin()
                 .iloc[::-1])
    c = cut.merge(u, on=["location", "period"], how="left")
    in_room = (c["in_cap"] * (1 + c["ot"]) - c["in_pal"]).fillna(np.inf) * c["upp"]
    out_room = (c["out_cap"] * (1 + c["ot"]) - c["out_units"]).fillna(np.inf)
    eps = 1e-4 * np.maximum(1.0, c["consensus_demand"])
    serve = np.minimum(c["shortfall"], np.maximum(out_room, 0.0))
    whole = np.ceil(np.maximum(serve - 1e-6, 0.0))
    lot = np.where(c["planned_receipts"] > 0, whole, np.maximum(whole, np.ceil(c["moq"] - 1e-9)))
    kept = np.maximum(lot - serve, 0.0) / c["upp"]
    could_receive = (c["month"] >= c["lead"]) & (serve > eps) & (in_room >= lot + eps) & (
        c["st_room_ahead"].fillna(np.inf) >= kept + 1e-4)
    # Stock that stays on hand from the cut month to the horizon end never serves anything:
    # shipping it in the cut month would have served more.
    left = p.iloc[::-1].groupby(KEY)["projected_on_hand"].cummin().iloc[::-1]
    c["stock_kept"] = cut.merge(p.assign(kept=left)[[*ROW_KEY, "kept"]], on=ROW_KEY,
                                how="left")["kept"].to_numpy()
    could_ship = (c["stock_kept"] > eps) & (out_room > eps)
    bad = c[could_receive | could_ship]
    if not bad.empty:
        out.append("demand cut although inbound and outbound capacity (or stock on hand) was "
                   f"free that month: {_sample(bad, [*ROW_KEY, 'shortfall', 'projected_on_hand'])}")
    return out


def limit_full(used: pd.Series, limit: pd.Series, unit: pd.Series | float) -> pd.Series:
    """True where a capacity limit is full: less than one unit (`unit`, in the limit's own
    measure) or a relative 1e-5 of it is left. Receipts are whole units, so room below one
    unit cannot be used; the plan (capacity_report's `binding`) and these rules share this."""
    room = limit - used
    return (room < np.maximum(np.asarray(unit) * (1 - 1e-9), limit * 1e-5)).fillna(False)


def demand_cut(shortfall: pd.Series, consensus: pd.Series, tol: float) -> pd.Series:
    """True where a row's demand is cut: its shortfall is above `tol` relative to its demand
    (and to one unit). The plan's reason codes and these rules share it, so LP round-off
    (a shortfall of a few millionths) is labelled and audited alike."""
    return shortfall > tol * np.maximum(1.0, consensus)


def _full_limits(u: pd.DataFrame) -> pd.Series:
    """True per location-month where inbound or outbound (incl. overtime) or storage is full."""
    unit_pallets = 1.0 / u["max_upp"]  # the smallest footprint of one unit there
    return (limit_full(u["in_pal"], u["in_cap"] * (1 + u["ot"]), unit_pallets)
            | limit_full(u["out_units"], u["out_cap"] * (1 + u["ot"]), 1.0)
            | limit_full(u["st_pal"], u["st_cap"], unit_pallets))


def _check_shortfall_labels(
    p: pd.DataFrame, u: pd.DataFrame, report: pd.DataFrame, tol: float, shortfall_units: float
) -> list[str]:
    """Lead time is not capacity: `short` and CAPACITY_SHORTFALL only where a limit of the
    location-month is full and cuts demand; LEAD_TIME_SHORTFALL exactly on the rows cut before
    a receipt can arrive; lead_time_shortfall_units is what those rows lose."""
    out: list[str] = []
    cut = demand_cut(p["shortfall"], p["consensus_demand"], tol)
    early = p["month"] < p["lead"]
    lead_rows = p[cut & early & ~p["reason"].isin(["LEAD_TIME_SHORTFALL", "OVERRIDE"])]
    if not lead_rows.empty:
        out.append("demand cut before the lead time allows a receipt is not labelled "
                   f"LEAD_TIME_SHORTFALL: {_sample(lead_rows, [*ROW_KEY, 'shortfall', 'reason'])}")
    wrong_lead = p[(p["reason"] == "LEAD_TIME_SHORTFALL") & ~(cut & early)]
    if not wrong_lead.empty:
        out.append("LEAD_TIME_SHORTFALL on a row not cut before its first possible receipt: "
                   f"{_sample(wrong_lead, [*ROW_KEY, 'shortfall'])}")
    if "status" not in report.columns:
        return out
    r = report.assign(location=_text(report["location"]), period=_text(report["period"]))
    m = u.assign(full=_full_limits(u)).merge(
        r.drop(columns=[c for c in u.columns if c in r.columns and c not in
                        ("location", "period")]), on=["location", "period"], how="inner")
    lead_units = p["shortfall"].where(cut & early, 0.0).groupby(
        [p["location"], p["period"]]).sum().rename("lead_units").reset_index()
    m = m.merge(lead_units, on=["location", "period"], how="left")
    m["lead_units"] = m["lead_units"].fillna(0.0)
    m["cap_units"] = np.clip(m["short"] - m["lead_units"], 0, None)
    forced = m["oo_pal"] > m["in_cap"] * (1 + m["ot"]) * (1 + tol)
    needless = m[(m["status"] == "short") & ~m["full"] & ~forced]
    if not needless.empty:
        out.append("capacity_report says 'short' where no capacity limit is full: "
                   f"{_sample(needless, ['location', 'period', 'in_pal', 'out_units', 'st_pal'])}")
    unlabelled = m[(m["status"] != "short") & m["full"] & (m["cap_units"] >= shortfall_units)]
    if not unlabelled.empty:
        out.append("capacity cuts demand but capacity_report does not say 'short': "
                   f"{_sample(unlabelled, ['location', 'period', 'cap_units', 'status'])}")
    if "lead_time_shortfall_units" in m.columns:
        lt = pd.to_numeric(m["lead_time_shortfall_units"], errors="coerce")
        bad = m[~_close(lt, m["lead_units"], tol * 10)]
        if not bad.empty:
            out.append("lead_time_shortfall_units disagrees with the plan: "
                       f"{_sample(bad, ['location', 'period', 'lead_time_shortfall_units'])}")
    cap_rows = p[p["reason"] == "CAPACITY_SHORTFALL"].merge(
        r[["location", "period", "status"]], on=["location", "period"], how="left")
    wrong_cap = cap_rows[(cap_rows["status"] != "short") | (cap_rows["month"] < cap_rows["lead"])
                         | ~demand_cut(cap_rows["shortfall"], cap_rows["consensus_demand"],
                                       tol)]
    if not wrong_cap.empty:
        out.append("CAPACITY_SHORTFALL on a row no capacity limit cuts: "
                   f"{_sample(wrong_cap, [*ROW_KEY, 'shortfall', 'status'])}")
    return out


def _check_consensus(
    p: pd.DataFrame, tables: dict[str, pd.DataFrame], cycle: str, horizon: int,
    products: pd.DataFrame, tol: float,
) -> list[str]:
    out = []
    window = set(horizon_periods(cycle, horizon))
    pr = _table(tables, "promotions")
    promos = pd.DataFrame({"sku": _text(pr["sku"]), "location": _text(pr["location"]),
                           "start": _text(pr["start_period"]), "end": _text(pr["end_period"]),
                           "uplift": _num(pr["uplift_pct"]).clip(lower=0)})
    upl = p[ROW_KEY].merge(promos, on=KEY, how="inner")
    upl = upl[(upl["period"] >= upl["start"]) & (upl["period"] <= upl["end"])]
    upl = upl.groupby(ROW_KEY, as_index=False)["uplift"].max()
    q = p.merge(upl, on=ROW_KEY, how="left")
    q["pab"] = q["baseline_forecast"] * (1 + q["uplift"].fillna(0.0) / 100.0)

    sf = _table(tables, "sales_forecast")
    sf = sf.assign(sku=_text(sf["sku"]), family=_text(sf["family"]),
                   location=_text(sf["location"]), period=_text(sf["period"]),
                   qty=_num(sf["qty"]))
    sf = sf[sf["period"].isin(window)]
    sku_rows = set(zip(*[sf.loc[sf["sku"] != "", c] for c in ROW_KEY], strict=True))
    fam = sf[(sf["sku"] == "") & (sf["family"] != "")]
    fam_rows = set(zip(fam["family"], fam["location"], fam["period"], strict=True))
    fam_has_active = products.groupby("family")["status"].apply(lambda s: (s != "phase_out").any())
    q["family_"] = q["sku"].map(products["family"]).fillna("")
    status = q["sku"].map(products["status"]).fillna("active")
    eligible = (status != "phase_out") | ~q["family_"].map(fam_has_active).fillna(False).astype(
        bool)
    q["has_sales"] = [
        (s, loc, per) in sku_rows or (e and (f, loc, per) in fam_rows)
        for s, loc, per, f, e in zip(q["sku"], q["location"], q["period"], q["family_"],
                                     eligible, strict=True)
    ]
    ov = _table(tables, "overrides")
    ov = pd.DataFrame({"sku": _text(ov["sku"]), "location": _text(ov["location"]),
                       "period": _text(ov["period"]), "ov": _num(ov["qty"]).clip(lower=0)})
    q = q.merge(ov.drop_duplicates(ROW_KEY, keep="last"), on=ROW_KEY, how="left")
    has_ov = q["ov"].notna()

    co = _table(tables, "customer_orders")
    co = pd.DataFrame({"sku": _text(co["sku"]), "location": _text(co["location"]),
                       "period": _text(co["period"]), "booked": _num(co["qty"]).clip(lower=0)})
    q = q.merge(co.groupby(ROW_KEY, as_index=False)["booked"].sum(), on=ROW_KEY, how="left")
    booked = q["booked_qty"] = q["booked"].fillna(0.0)

    cons = q["consensus_demand"]
    bad_ov = q[has_ov & ~_close(cons, q["ov"], tol)]
    if not bad_ov.empty:
        out.append(f"consensus_demand != override: {_sample(bad_ov, [*ROW_KEY, 'consensus_demand', 'ov'])}")  # noqa: E501
    fake_ov = q[~has_ov & (q["reason"] == "OVERRIDE")]
    if not fake_ov.empty:
        out.append(f"reason OVERRIDE without an override: {_sample(fake_ov, ROW_KEY)}")
    lo = np.minimum(q["pab"], q["sales_forecast"])
    hi = np.maximum(q["pab"], q["sales_forecast"])
    slack = tol * np.maximum(1.0, hi)
    # Booked customer orders above the bounds set consensus to the booked quantity.
    above = booked > np.where(q["has_sales"], hi, q["pab"]) + slack
    not_booked = q[~has_ov & above & ~_close(cons, booked, tol)]
    if not not_booked.empty:
        out.append("consensus_demand != booked customer orders where they exceed the consensus "
                   f"bounds: {_sample(not_booked, [*ROW_KEY, 'consensus_demand', 'booked_qty'])}")
    below = q[~has_ov & (cons < booked - slack)]
    if not below.empty:
        out.append("consensus_demand below booked customer orders: "
                   f"{_sample(below, [*ROW_KEY, 'consensus_demand', 'booked_qty'])}")
    between = q[~has_ov & ~above & q["has_sales"] & ((cons < lo - slack) | (cons > hi + slack))]
    if not between.empty:
        out.append("consensus_demand not between the promo-adjusted baseline and the sales "
                   f"number: {_sample(between, [*ROW_KEY, 'consensus_demand', 'pab', 'sales_forecast'])}")  # noqa: E501
    expect = np.maximum(q["pab"], booked)
    no_sales = q[~has_ov & ~above & ~q["has_sales"] & ~_close(cons, expect, tol)]
    if not no_sales.empty:
        out.append("consensus_demand != promo-adjusted baseline where sales submitted no number: "
                   f"{_sample(no_sales, [*ROW_KEY, 'consensus_demand', 'pab'])}")
    phantom = q[~q["has_sales"] & (q["sales_forecast"] > tol)]
    if not phantom.empty:
        out.append(f"sales_forecast > 0 where sales submitted no number: "
                   f"{_sample(phantom, [*ROW_KEY, 'sales_forecast'])}")
    # Family split keeps totals: what sales submitted per location x month is in the plan.
    want = sf.groupby(["location", "period"])["qty"].sum()
    got = p.groupby(["location", "period"])["sales_forecast"].sum()
    both = pd.concat([want.rename("submitted"), got.rename("planned")], axis=1).fillna(0.0)
    off = both[~_close(both["submitted"], both["planned"], tol * 10)].reset_index()
    if not off.empty:
        out.append("sales_forecast totals per location x month differ from the submissions: "
                   f"{_sample(off, ['location', 'period', 'submitted', 'planned'])}")
    return out
