"""Why the plan moved: last cycle's consensus -> this cycle's, step by step, per family and total.

Compared are the months both plans cover (the overlap). Each plan row's consensus is rebuilt
from its published parts, as reconciliation.consensus composes it:

    x = P + w * (S - P),  P = B * (1 + u / 100)    (baseline B, promo uplift u, sales S, weight w)
    y = max(x, O)                                  (O: booked customer orders)
    c = V where an override V applies, else y

The waterfall is a sequential attribution: starting from the previous plan's parts, one group
of parts at a time is switched to this plan's, in a fixed order, and each step is the change
of the rebuilt consensus that switch causes:

    previous_consensus  sum of last cycle's consensus_demand
    + baseline          B (new actuals refit the baseline)
    + promotions        u
    + sales             S and w together (the trust weight depends on the sales number)
    + overrides         V
    + customer_orders   O
    + other             what the parts do not explain (see below)
    = consensus         sum of this cycle's consensus_demand
    + capacity          constrained_demand - consensus_demand of this plan
    = constrained_demand

The steps sum to the totals by construction: `other` is the closing difference, so it holds
whatever the published parts do not rebuild - a previous plan published before `booked_qty`
and `override_qty` were kept (its overrides and order floors then land in `other` and come
back in the overrides / customer_orders steps), or a rule added to the plan later. A key that
only one plan has counts as all-zero parts in the other. The order of the steps matters (a
sequential attribution is not symmetric); this one follows the order the consensus is built in.

The sums are taken per location first (location_sums), then over locations in location order
(waterfall_from_sums): a publish that goes one group of locations at a time adds the same
numbers in the same order as one over the whole plan, so both give the same table to the bit.
The months compared (the overlap) are the whole plans' - the one thing that crosses locations.
"""

from collections.abc import Collection, Mapping

import numpy as np
import pandas as pd

from data_contracts.tables import PLAN_WATERFALL_COLUMNS, WATERFALL_STEPS

KEY = ["sku", "location", "period"]
TOTAL_KEY = "ALL"
UNKNOWN_FAMILY = "(no family)"
# A `total` row holds a level, a `change` row what the step adds to it.
TOTALS = {"previous_consensus", "consensus", "constrained_demand"}
STEPS: tuple[tuple[str, str], ...] = tuple(
    (s, "total" if s in TOTALS else "change") for s in WATERFALL_STEPS)
STEP_NAMES: tuple[str, ...] = WATERFALL_STEPS
WATERFALL_COLUMNS = PLAN_WATERFALL_COLUMNS
# The parts of a plan row the consensus is rebuilt from; absent columns count as "no effect".
PARTS = ["baseline_forecast", "promo_uplift_pct", "sales_forecast", "sales_weight",
         "booked_qty", "override_qty"]


def empty_waterfall() -> pd.DataFrame:
    """The waterfall table with its columns and dtypes and no rows."""
    dtypes = {"step_no": "int64", "units": "float64", "previous_version": "int64"}
    return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "object")) for c in WATERFALL_COLUMNS})


def _num(df: pd.DataFrame, column: str, fill: float) -> np.ndarray:
    if column not in df.columns:
        return np.full(len(df), fill)
    return pd.to_numeric(df[column], errors="coerce").to_numpy(float)


def _parts(rows: pd.DataFrame, suffix: str) -> dict[str, np.ndarray]:
    """The parts of one side of the joined rows; a row absent from that side has none."""
    present = rows[f"_in{suffix}"].to_numpy(bool)

    def col(name: str, fill: float) -> np.ndarray:
        v = _num(rows, f"{name}{suffix}", fill)
        v = np.where(np.isnan(v), fill, v)
        return np.where(present, v, fill)

    uplift = col("promo_uplift_pct", np.nan)
    baseline = col("baseline_forecast", 0.0)
    if np.isnan(uplift).any():
        # A plan without promo_uplift_pct: its promo-adjusted baseline says the same thing.
        adjusted = col("promo_adjusted_baseline", np.nan)
        implied = np.divide(adjusted, baseline, out=np.ones_like(baseline),
                            where=baseline > 0) * 100.0 - 100.0
        uplift = np.where(np.isnan(uplift), np.nan_to_num(implied), uplift)
    override = _num(rows, f"override_qty{suffix}", np.nan)
    return {
        "baseline_forecast": baseline,
        "promo_uplift_pct": uplift,
        "sales_forecast": col("sales_forecast", 0.0),
        "sales_weight": col("sales_weight", 0.0),
        "booked_qty": col("booked_qty", 0.0),
        "override_qty": np.where(present, override, np.nan),
    }


def rebuild_consensus(parts: Mapping[str, np.ndarray]) -> np.ndarray:
    """Consensus per row from its parts, in reconciliation.consensus's order."""
    ref = parts["baseline_forecast"] * (1 + parts["promo_uplift_pct"] / 100.0)
    moved = ref + parts["sales_weight"] * (parts["sales_forecast"] - ref)
    floored = np.maximum(moved, parts["booked_qty"])
    override = parts["override_qty"]
    return np.where(np.isnan(override), floored, override)


# Which parts each step switches from the previous plan's to this plan's, in order.
SWITCHED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("baseline", ("baseline_forecast",)),
    ("promotions", ("promo_uplift_pct",)),
    ("sales", ("sales_forecast", "sales_weight")),
    ("overrides", ("override_qty",)),
    ("customer_orders", ("booked_qty",)),
)


def overlap(plan_periods: Collection[str], previous_periods: Collection[str]) -> list[str]:
    """The months both plans cover, sorted."""
    return sorted({str(p) for p in plan_periods} & {str(p) for p in previous_periods})


def row_steps(plan: pd.DataFrame, previous: pd.DataFrame,
              periods: Collection[str] | None = None) -> pd.DataFrame:
    """Per sku x location x period of the overlap: family, each step's units, and the levels.

    Columns: sku, location, period, family, previous_consensus, baseline, ..., customer_orders,
    consensus, constrained_demand (the `other` and `capacity` steps are taken on the sums).
    `periods`: the overlap (overlap()) of the whole plans when these are some locations' rows.
    """
    both = (sorted(periods) if periods is not None
            else overlap(plan["period"].astype(str), previous["period"].astype(str)))

    def side(df: pd.DataFrame, suffix: str) -> pd.DataFrame:
        # Every column suffixed, also those only one plan has (an older plan lacks some).
        df = df[df["period"].astype(str).isin(both)]
        keyed = pd.DataFrame({c: df[c].astype(str) for c in KEY})
        rest = df.drop(columns=KEY).add_suffix(suffix).assign(**{f"_in{suffix}": True})
        return pd.concat([keyed, rest], axis=1)

    rows = side(previous, "_prev").merge(side(plan, "_now"), on=KEY, how="outer",
                                         validate="one_to_one")
    for flag in ("_in_prev", "_in_now"):
        rows[flag] = rows[flag].astype("boolean").fillna(False).astype(bool)
    prev_parts, now_parts = _parts(rows, "_prev"), _parts(rows, "_now")
    state = dict(prev_parts)
    level = rebuild_consensus(state)
    out = pd.DataFrame({k: rows[k] for k in KEY})
    family_now = rows["family_now"] if "family_now" in rows else pd.Series("", index=rows.index)
    family_prev = rows["family_prev"] if "family_prev" in rows else pd.Series("", index=rows.index)
    family = family_now.where(rows["_in_now"], family_prev).fillna("").astype(str)
    out["family"] = family.replace("", UNKNOWN_FAMILY).to_numpy()
    out["previous_consensus"] = np.nan_to_num(_num(rows, "consensus_demand_prev", 0.0))
    for step, names in SWITCHED:
        for name in names:
            state[name] = now_parts[name]
        after = rebuild_consensus(state)
        out[step] = after - level
        level = after
    out["rebuilt_from"] = rebuild_consensus(prev_parts)
    out["consensus"] = np.nan_to_num(_num(rows, "consensus_demand_now", 0.0))
    out["constrained_demand"] = np.nan_to_num(_num(rows, "constrained_demand_now", 0.0))
    return out


# What location_sums adds up per location and family.
SUMS = ["previous_consensus", *(s for s, _ in SWITCHED), "rebuilt_from", "consensus",
        "constrained_demand"]


def location_sums(plan: pd.DataFrame, previous: pd.DataFrame,
                  periods: Collection[str] | None = None) -> pd.DataFrame:
    """The waterfall's sums per location and family over the overlap (`periods`: the whole
    plans' overlap when these are some locations' rows), with each location's first and last
    month: columns location, family, SUMS, first_period, last_period."""
    steps = row_steps(plan, previous, periods)
    keys = ["location", "family"]
    if steps.empty:
        return pd.DataFrame(columns=[*keys, *SUMS, "first_period", "last_period"])
    # Within a location the rows are in the join's (sku, location, period) order whatever
    # other locations are present, so each partial sum adds the same numbers in the same order.
    grouped = steps.groupby(keys, sort=True)
    out = grouped[SUMS].sum()
    out["first_period"] = grouped["period"].min()
    out["last_period"] = grouped["period"].max()
    return out.reset_index()


def waterfall_from_sums(sums: pd.DataFrame, previous_cycle: str,
                        previous_version: int) -> pd.DataFrame:
    """The waterfall table from location_sums of every location (in any order of parts)."""
    if sums.empty:
        return empty_waterfall()
    sums = sums.sort_values(["location", "family"], kind="stable").reset_index(drop=True)
    groups = [("total", sums.assign(family=TOTAL_KEY).groupby("family")[SUMS].sum()),
              ("family", sums.groupby("family")[SUMS].sum())]
    frames = []
    for level, g in groups:
        values = {name: g[name].to_numpy(float) for name in SUMS}
        explained = values["previous_consensus"] + sum(values[s] for s, _ in SWITCHED)
        # The closing difference: the previous plan's own unexplained part is in here too.
        values["other"] = values["consensus"] - explained
        values["capacity"] = values["constrained_demand"] - values["consensus"]
        for i, (step, kind) in enumerate(STEPS):
            frames.append(pd.DataFrame({
                "level": level, "key": g.index.astype(str), "step_no": i, "step": step,
                "kind": kind, "units": values[step],
            }))
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values(["level", "key", "step_no"], key=_total_first,
                          kind="stable").reset_index(drop=True)
    out["previous_cycle"] = previous_cycle
    out["previous_version"] = int(previous_version)
    out["first_period"] = sums["first_period"].astype(str).min()
    out["last_period"] = sums["last_period"].astype(str).max()
    return out[WATERFALL_COLUMNS].astype(empty_waterfall().dtypes.to_dict())


def compute_waterfall(
    plan: pd.DataFrame,
    previous: pd.DataFrame | None,
    previous_cycle: str | None = None,
    previous_version: int | None = None,
) -> pd.DataFrame:
    """The waterfall table (WATERFALL_COLUMNS): per family and in total (key "ALL"), one row
    per step of STEPS, over the months `plan` and `previous` (consensus_plan frames) share.

    Empty when there is no previous plan or the two plans share no month.
    """
    if previous is None or previous.empty or plan.empty:
        return empty_waterfall()
    if previous_cycle is None or previous_version is None:
        raise ValueError("a previous plan needs its cycle and version")
    return waterfall_from_sums(location_sums(plan, previous), previous_cycle, previous_version)


def _total_first(column: pd.Series) -> pd.Series:
    return column.map({"total": 0, "family": 1}) if column.name == "level" else column
