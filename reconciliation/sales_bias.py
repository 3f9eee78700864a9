"""Each sales team's bias per past cycle, next to the trust weight its numbers were given.

For a team and a past cycle c (column `submission_cycle`), over the team's points of c
(reconciliation.fva.past_points: submissions of cycle c, from forecast_history or c's
published plan, for months whose actuals are known before the current cycle):

    sales_bias     = (sum sales - sum actual) / sum actual      (+0.2: 20% over-forecast)
    consensus_bias = the same for the published consensus of those points that have one

`sales_weight` is the mean trust weight (consensus_plan's sales_weight) of the team's rows in
cycle c's published plan, over rows with a sales number (NaN where that plan is not known or
predates the column). The current cycle gets a row too: its weight, no bias yet. Read down a
team's rows, a weight that falls while the bias stays large (or rises while it shrinks) is
the trust model doing its job; FVA (reconciliation.fva) has the same points pooled over cycles.

Both are sums over points of one SKU-location each: `bias_sums` and `weight_sums` keep them
per location, `bias_from_sums` adds them up in location order, so a catalogue reconciled
location group by location group (flows/partitions.py) gets the whole catalogue's table.
"""

import pandas as pd

from data_contracts.tables import SALES_BIAS_COLUMNS
from reconciliation.fva import past_points

BIAS_COLUMNS = SALES_BIAS_COLUMNS


def empty_bias() -> pd.DataFrame:
    """The sales bias table with its columns and dtypes and no rows."""
    text = {"submitted_by", "submission_cycle"}
    return pd.DataFrame({
        c: pd.Series(dtype="object" if c in text else "int64" if c == "n_obs" else "float64")
        for c in BIAS_COLUMNS})


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    return (num / den.where(den > 0)).astype(float)


_POINT_SUMS = ["n_obs", "sales_units", "actual_units", "cons", "cons_actual", "n_cons"]
BIAS_SUM_COLUMNS = ["location", "submitted_by", "cycle", *_POINT_SUMS]
WEIGHT_SUM_COLUMNS = ["location", "cycle", "submitted_by", "w_sum", "w_count"]
# What weight_sums reads of this cycle's consensus_plan rows (with the cycle assigned).
PLAN_WEIGHT_COLUMNS = ["sku", "location", "period", "submitted_by", "sales_weight"]


def weight_sums(plans: pd.DataFrame | None) -> pd.DataFrame:
    """The trust weights' partial sums per location x cycle x team (WEIGHT_SUM_COLUMNS): the sum and
    count of sales_weight over plan rows with a sales number, highest version of each cycle."""
    if plans is None or plans.empty or not {"submitted_by", "sales_weight"} <= set(plans):
        return pd.DataFrame({c: pd.Series(dtype=float if c == "w_sum" else "int64"
                                          if c == "w_count" else "object")
                             for c in WEIGHT_SUM_COLUMNS})
    # The plan being built has no version yet (0): it is the only plan of its cycle.
    version = pd.to_numeric(plans["plan_version"], errors="coerce").fillna(0) \
        if "plan_version" in plans else pd.Series(0, index=plans.index)
    latest = version == version.groupby(plans["cycle"]).transform("max")
    team = plans["submitted_by"].fillna("").astype(str)
    # The plan leaves submitted_by empty where sales submitted nothing (weight 0 there).
    rows = plans[latest & (team != "")]
    weight = pd.to_numeric(rows["sales_weight"], errors="coerce")
    return (pd.DataFrame({"location": rows["location"].astype(str),
                          "cycle": rows["cycle"].astype(str),
                          "submitted_by": rows["submitted_by"].astype(str), "w": weight})
            .groupby(["location", "cycle", "submitted_by"], as_index=False)
            .agg(w_sum=("w", "sum"), w_count=("w", "count")))[WEIGHT_SUM_COLUMNS]


def _weights_of(sums: pd.DataFrame) -> pd.DataFrame:
    """Mean weight per cycle x team from weight_sums of any set of locations (added in
    location order)."""
    ordered = sums.sort_values(["cycle", "submitted_by", "location"], kind="stable")
    g = ordered.groupby(["cycle", "submitted_by"], as_index=False)[["w_sum", "w_count"]].sum()
    g["sales_weight"] = (g["w_sum"] / g["w_count"].where(g["w_count"] > 0)).astype(float)
    return g[["cycle", "submitted_by", "sales_weight"]]


def bias_sums(
    history: pd.DataFrame,
    forecast_history: pd.DataFrame | None,
    cycle: str,
    past_plans: pd.DataFrame | None = None,
    months: tuple[str, str] | None = None,
) -> pd.DataFrame:
    """compute_sales_bias' partial sums per location x team x past cycle (BIAS_SUM_COLUMNS);
    `months`: the whole history's first and last month before `cycle` when `history` holds
    some locations only (a month before a location's first sale is a zero, SPEC)."""
    points = past_points(history, forecast_history, cycle, past_plans, months)
    points = points[points["sales"].notna()]
    if points.empty:
        return pd.DataFrame({c: pd.Series(dtype="object" if c in BIAS_SUM_COLUMNS[:3]
                                          else "int64" if c.startswith("n_") else float)
                             for c in BIAS_SUM_COLUMNS})
    with_consensus = points["consensus"].notna()
    return points.assign(
        cons=points["consensus"].where(with_consensus),
        cons_actual=points["actual"].where(with_consensus),
    ).groupby(["location", "submitted_by", "cycle"], as_index=False).agg(
        n_obs=("sales", "size"), sales_units=("sales", "sum"),
        actual_units=("actual", "sum"), cons=("cons", "sum"),
        cons_actual=("cons_actual", "sum"), n_cons=("cons", "count"))[BIAS_SUM_COLUMNS]


def compute_sales_bias(
    history: pd.DataFrame,
    forecast_history: pd.DataFrame | None,
    cycle: str,
    past_plans: pd.DataFrame | None = None,
    plan: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """BIAS_COLUMNS per team x cycle: past cycles with actuals, and `cycle` itself (weight only).
    `history` is sales_history, `forecast_history` the past submissions, `past_plans` earlier
    cycles' consensus_plan rows (as compute_fva takes them, plus submitted_by and sales_weight
    where known), `plan` this cycle's consensus_plan (its weights; optional).
    """
    now = None
    if plan is not None and not plan.empty:
        now = plan.assign(cycle=cycle)
    known = [p for p in (past_plans, now) if p is not None and not p.empty]
    return bias_from_sums(bias_sums(history, forecast_history, cycle, past_plans),
                          weight_sums(pd.concat(known, ignore_index=True) if known else None))


def bias_from_sums(sums: pd.DataFrame, weights: pd.DataFrame) -> pd.DataFrame:
    """The sales bias table from the partial sums of any set of locations (bias_sums and
    weight_sums, concatenated): each team x cycle's sums added in location order, so a catalogue
    summed location group by location group gets the whole catalogue's numbers."""
    bias = empty_bias().drop(columns="sales_weight").rename(
        columns={"submission_cycle": "cycle"})
    if not sums.empty:
        ordered = sums.sort_values(["submitted_by", "cycle", "location"], kind="stable")
        g = ordered.groupby(["submitted_by", "cycle"], as_index=False)[_POINT_SUMS].sum()
        g["sales_bias"] = _ratio(g["sales_units"] - g["actual_units"], g["actual_units"])
        g["consensus_bias"] = _ratio(g["cons"] - g["cons_actual"], g["cons_actual"]).where(
            g["n_cons"] > 0)
        bias = g[["submitted_by", "cycle", *BIAS_COLUMNS[2:-1]]]
    out = bias.merge(_weights_of(weights), on=["submitted_by", "cycle"], how="outer")
    if out.empty:
        return empty_bias()
    out["n_obs"] = out["n_obs"].fillna(0)
    out = out.sort_values(["submitted_by", "cycle"], kind="stable").reset_index(drop=True)
    # Named apart from the cycle of the run that publishes the table (the store's `cycle`).
    out = out.rename(columns={"cycle": "submission_cycle"})
    return out[BIAS_COLUMNS].astype(empty_bias().dtypes.to_dict())
