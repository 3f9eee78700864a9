"""Plan stability per cycle: the share of last cycle's volume this cycle's plan changed.

For a cycle c and its previous cycle (the month before, as SPEC's plan_changes compares with),
over the months both plans cover and every sku x location either has (absent = 0 units):

    changed_share = sum |consensus_c - consensus_previous| / sum consensus_previous

0 means the plan kept every unit where it was; 0.1 means a tenth of the volume moved (a unit
moved from one month to the next counts twice: once gone, once new - as procurement has to
act on both). NaN where the previous plan had no volume in the overlap. Computed per family and
in total for every cycle whose previous cycle is among the given plans.

The sums are taken per location first (location_sums), then over locations in location order
(stability_from_sums): a publish that reads one group of locations at a time adds the same
numbers in the same order as one over the whole plans, so both give the same table to the bit.
The months each pair of plans shares are the whole plans' - the one thing crossing locations.
"""

from collections.abc import Collection, Mapping

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


def cycle_periods(plans: pd.DataFrame) -> dict[str, set[str]]:
    """cycle -> the months its plan covers (in `plans`: each cycle's current version)."""
    return {str(c): set(g.astype(str)) for c, g in plans.groupby("cycle")["period"]}


def overlaps(periods: Mapping[str, Collection[str]]) -> dict[str, list[str]]:
    """cycle -> the months its plan shares with the previous cycle's, for every cycle whose
    previous cycle is among `periods` (cycle -> the months its plan covers)."""
    return {cycle: sorted({str(p) for p in months} & {str(p) for p in periods[previous]})
            for cycle, months in periods.items()
            if (previous := add_months(cycle, -1)) in periods}


def _joined(plan: pd.DataFrame, previous: pd.DataFrame, both: Collection[str]) -> pd.DataFrame:
    """Per sku x location x period of `both` either plan has: location, family, the units."""
    months = {str(p) for p in both}
    cols = [*KEY, "consensus_demand", "family"]

    def side(df: pd.DataFrame) -> pd.DataFrame:
        df = df[df["period"].astype(str).isin(months)]
        return pd.DataFrame({
            **{c: df[c].astype(str) for c in KEY},
            "consensus_demand": pd.to_numeric(df["consensus_demand"], errors="coerce")
            .fillna(0.0).astype(float),
            "family": df["family"].fillna("").astype(str) if "family" in df
            else pd.Series("", index=df.index),
        })[cols]

    rows = side(previous).merge(side(plan), on=KEY, how="outer", suffixes=("_prev", "_now"),
                                validate="one_to_one")
    before = rows["consensus_demand_prev"].fillna(0.0)
    after = rows["consensus_demand_now"].fillna(0.0)
    family = rows["family_now"].where(rows["family_now"].notna(), rows["family_prev"])
    return pd.DataFrame({
        "location": rows["location"],
        "family": family.fillna("").replace("", UNKNOWN_FAMILY),
        "previous_units": before, "current_units": after, "changed_units": (after - before).abs(),
    })


MEASURES = ["previous_units", "current_units", "changed_units"]


def _pair_sums(plan: pd.DataFrame, previous: pd.DataFrame, both: Collection[str]) -> pd.DataFrame:
    """MEASURES per location and family of one pair of plans over the months `both`."""
    rows = _joined(plan, previous, both)
    # Within a location the join's rows are in (sku, location, period) order whatever other
    # locations are present: each partial adds the same numbers in the same order.
    return rows.groupby(["location", "family"], sort=True)[MEASURES].sum().reset_index()


def _from_sums(sums: pd.DataFrame, overlap_months: int) -> pd.DataFrame:
    """Per family and total, from one pair's _pair_sums of every location (STABILITY_COLUMNS
    from `level` on)."""
    sums = sums.sort_values(["location", "family"], kind="stable")
    total = sums[MEASURES].sum().to_frame().T.assign(level="total", key=TOTAL_KEY)
    by_family = sums.groupby("family")[MEASURES].sum().reset_index().rename(
        columns={"family": "key"}).assign(level="family")
    out = pd.concat([total, by_family], ignore_index=True)
    prev_units = out["previous_units"].to_numpy(float)
    out["changed_share"] = np.divide(out["changed_units"].to_numpy(float), prev_units,
                                     out=np.full(len(out), np.nan), where=prev_units > 0)
    out["overlap_months"] = overlap_months
    return out[STABILITY_COLUMNS[4:]]


def compare_plans(plan: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """Stability of `plan` against `previous` (consensus_plan rows), per family and total.

    Columns level, key, overlap_months, previous_units, current_units, changed_units,
    changed_share; no rows when the plans share no month.
    """
    both = sorted(set(plan["period"].astype(str)) & set(previous["period"].astype(str)))
    if not both:
        return pd.DataFrame(columns=STABILITY_COLUMNS[4:])
    return _from_sums(_pair_sums(plan, previous, both), len(both))


def location_sums(plans: pd.DataFrame, overlap: Mapping[str, Collection[str]]) -> pd.DataFrame:
    """MEASURES per cycle of `overlap` (overlaps(): the whole plans' months, when `plans` holds
    some locations' rows), location and family: columns cycle, location, family, MEASURES.
    `plans`: consensus_plan rows of several cycles, one version each."""
    by_cycle = {str(c): g for c, g in plans.groupby("cycle")}
    none = plans.iloc[0:0]
    frames = [_pair_sums(by_cycle.get(cycle, none), by_cycle.get(add_months(cycle, -1), none),
                         both).assign(cycle=cycle)
              for cycle, both in sorted(overlap.items()) if both]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=["cycle", "location", "family", *MEASURES])
    return pd.concat(frames, ignore_index=True)


def stability_from_sums(sums: pd.DataFrame, overlap: Mapping[str, Collection[str]],
                        versions: Mapping[str, int]) -> pd.DataFrame:
    """The stability table from location_sums of every location (in any order of parts);
    `versions`: cycle -> the plan version compared (each cycle's current one)."""
    frames = []
    for cycle in sorted(overlap):
        part = sums[sums["cycle"].astype(str) == cycle]
        if part.empty:
            continue
        previous = add_months(cycle, -1)
        frames.append(_from_sums(part, len(overlap[cycle])).assign(
            cycle=cycle, plan_version=int(versions[cycle]), previous_cycle=previous,
            previous_version=int(versions[previous])))
    if not frames:
        return empty_stability()
    out = pd.concat(frames, ignore_index=True)[STABILITY_COLUMNS]
    return out.astype(empty_stability().dtypes.to_dict())


def compute_stability(plans: pd.DataFrame | None) -> pd.DataFrame:
    """Stability of every cycle in `plans` against its previous cycle (STABILITY_COLUMNS).

    `plans` holds consensus_plan rows of several cycles (cycle, plan_version, sku, location,
    period, consensus_demand; family optional); only each cycle's highest version counts.
    """
    if plans is None or plans.empty:
        return empty_stability()
    plans = _latest_versions(plans)
    versions = {str(c): int(v) for c, v in pd.to_numeric(plans["plan_version"])
                .groupby(plans["cycle"]).max().items()}
    overlap = overlaps(cycle_periods(plans))
    return stability_from_sums(location_sums(plans, overlap), overlap, versions)
