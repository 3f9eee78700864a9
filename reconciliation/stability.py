"""Plan stability per cycle: the share of last cycle's volume this cycle's plan changed.

For a cycle c and its previous cycle (the month before, as SPEC's plan_changes compares with),
over the months both plans cover and every sku x location either has (absent = 0 units):

    changed_share = sum |consensus_c - consensus_previous| / sum consensus_previous

0 means the plan kept every unit where it was; 0.1 means a tenth of the volume moved (a unit
moved from one month to the next counts twice: once gone, once new - as procurement has to
act on both). NaN where the previous plan had no volume in the overlap. Computed per family and
in total for every cycle whose previous cycle is among the given plans.
"""

import numpy as np
import pandas as pd

from data_contracts.periods import add_months
from data_contracts.tables import PLAN_STABILITY_COLUMNS

KEY = ["sku", "location", "period"]
TOTAL_KEY = "ALL"
UNKNOWN_FAMILY = "(no family)"
STABILITY_COLUMNS = PLAN_STABILITY_COLUMNS


def empty_stability() -> pd.DataFrame:
    """The stability table with its columns and dtypes and no rows."""
    ints = {"plan_version", "previous_version", "overlap_months"}
    floats = {"previous_units", "current_units", "changed_units", "changed_share"}
    return pd.DataFrame({
        c: pd.Series(dtype="int64" if c in ints else "float64" if c in floats else "object")
        for c in STABILITY_COLUMNS})


def _latest_versions(plans: pd.DataFrame) -> pd.DataFrame:
    """Only the highest plan_version of each cycle (a cycle's current plan)."""
    version = pd.to_numeric(plans["plan_version"], errors="coerce")
    return plans[version == version.groupby(plans["cycle"]).transform("max")]


def compare_plans(plan: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """Stability of `plan` against `previous` (consensus_plan rows), per family and total.

    Columns level, key, overlap_months, previous_units, current_units, changed_units,
    changed_share; no rows when the plans share no month.
    """
    both = set(plan["period"].astype(str)) & set(previous["period"].astype(str))
    cols = [*KEY, "consensus_demand", "family"]

    def side(df: pd.DataFrame) -> pd.DataFrame:
        df = df[df["period"].astype(str).isin(both)]
        return pd.DataFrame({
            **{c: df[c].astype(str) for c in KEY},
            "consensus_demand": pd.to_numeric(df["consensus_demand"], errors="coerce")
            .fillna(0.0).astype(float),
            "family": df["family"].fillna("").astype(str) if "family" in df
            else pd.Series("", index=df.index),
        })[cols]

    rows = side(previous).merge(side(plan), on=KEY, how="outer", suffixes=("_prev", "_now"),
                                validate="one_to_one")
    if rows.empty:
        return pd.DataFrame(columns=STABILITY_COLUMNS[4:])
    before = rows["consensus_demand_prev"].fillna(0.0)
    after = rows["consensus_demand_now"].fillna(0.0)
    family = rows["family_now"].where(rows["family_now"].notna(), rows["family_prev"])
    rows = pd.DataFrame({
        "family": family.fillna("").replace("", UNKNOWN_FAMILY),
        "previous_units": before, "current_units": after, "changed_units": (after - before).abs(),
    })
    measures = ["previous_units", "current_units", "changed_units"]
    total = rows[measures].sum().to_frame().T.assign(level="total", key=TOTAL_KEY)
    by_family = rows.groupby("family")[measures].sum().reset_index().rename(
        columns={"family": "key"}).assign(level="family")
    out = pd.concat([total, by_family], ignore_index=True)
    prev_units = out["previous_units"].to_numpy(float)
    out["changed_share"] = np.divide(out["changed_units"].to_numpy(float), prev_units,
                                     out=np.full(len(out), np.nan), where=prev_units > 0)
    out["overlap_months"] = len(both)
    return out[STABILITY_COLUMNS[4:]]


def compute_stability(plans: pd.DataFrame | None) -> pd.DataFrame:
    """Stability of every cycle in `plans` against its previous cycle (STABILITY_COLUMNS).

    `plans` holds consensus_plan rows of several cycles (cycle, plan_version, sku, location,
    period, consensus_demand; family optional); only each cycle's highest version counts.
    """
    if plans is None or plans.empty:
        return empty_stability()
    plans = _latest_versions(plans)
    by_cycle = {str(c): g for c, g in plans.groupby("cycle")}
    frames = []
    for cycle in sorted(by_cycle):
        previous = by_cycle.get(add_months(cycle, -1))
        if previous is None:
            continue
        compared = compare_plans(by_cycle[cycle], previous)
        if compared.empty:
            continue
        frames.append(compared.assign(
            cycle=cycle, plan_version=int(by_cycle[cycle]["plan_version"].max()),
            previous_cycle=add_months(cycle, -1),
            previous_version=int(previous["plan_version"].max())))
    if not frames:
        return empty_stability()
    out = pd.concat(frames, ignore_index=True)[STABILITY_COLUMNS]
    return out.astype(empty_stability().dtypes.to_dict())
