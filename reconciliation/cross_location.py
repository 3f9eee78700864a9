"""What a location's plan needs from other locations, gathered location group by location group.

Almost all of build_plan works per SKU x location, and the capacity LP per warehouse, so a
catalogue can be planned one group of locations at a time with only that group's rows in
memory. Two inputs cross locations:

* trust weights, fitted per sales team on its past submissions, and a team can sell in many
  locations (reconciliation/trust.py);
* the plausibility check of planned promotions, which compares an uplift with what the
  SKU's (or its family's) past promotions delivered in any location
  (reconciliation/promotions.py);
* the capacity LP's cost weights, relative to the catalogue's largest unit, holding and
  overtime cost, and each warehouse's share of the lot-sizing time budget
  (reconciliation/capacity.py, CostScales).

Both are built from per-series pieces (each past submission's reference, each past
promotion's realised uplift) that one pass over the location groups collects: a few columns
per past submission and per past promotion, not the history. `collect` builds a group's pieces,
`combine` joins the groups' pieces in the order one catalogue-wide call would have produced
them, so the plan of every group is the same number for number as the plan of the whole.
"""

from dataclasses import dataclass

import pandas as pd

from data_contracts.periods import horizon_periods
from reconciliation.capacity import CostScales, combine_scales, planned_cost_scales
from reconciliation.inputs import get_table, products_frame
from reconciliation.promotions import clean_promotions, realised_uplifts
from reconciliation.scope import planned_keys
from reconciliation.settings import PlanSettings
from reconciliation.trust import combine_trust_observations, trust_observations


@dataclass(frozen=True)
class CrossLocation:
    """Per-series evidence of every location: past submissions with their reference and actual
    (trust), past promotions with the uplift they delivered (promotion check)."""

    trust_observations: pd.DataFrame
    realised_uplifts: pd.DataFrame
    scales: CostScales | None = None  # None: built without the plan's tables (no horizon)


def collect(tables: dict[str, pd.DataFrame], cycle: str, settings: PlanSettings | None = None,
            months: tuple[str, str] | None = None, horizon: int | None = None) -> CrossLocation:
    """The pieces of one location group (or of the whole catalogue): `tables` hold its rows;
    `months` are the whole history's first and last month before `cycle` (trust_observations).
    With `horizon`, also the capacity LP's cost scales of the group's planned SKU-locations
    (`tables` then hold every plan input: build_plan's).
    """
    settings = settings or PlanSettings()
    sh = get_table(tables, "sales_history")
    history = sh[["sku", "location", "period"]].assign(qty=sh["qty"].fillna(0.0))
    history = history[history["period"] < cycle]
    promos = clean_promotions(tables)
    scales = None
    if horizon is not None:
        scales = planned_cost_scales(planned_keys(tables, cycle, horizon), tables,
                                     products_frame(tables), horizon_periods(cycle, horizon),
                                     settings)
    return CrossLocation(
        trust_observations=trust_observations(tables, cycle, settings, months),
        realised_uplifts=realised_uplifts(promos, history, cycle, settings),
        scales=scales,
    )


def combine(parts: list[CrossLocation]) -> CrossLocation:
    """The pieces of several disjoint location groups as one catalogue-wide `collect` gives."""
    uplifts = [p.realised_uplifts for p in parts if not p.realised_uplifts.empty]
    return CrossLocation(
        trust_observations=combine_trust_observations([p.trust_observations for p in parts]),
        # Only min, max and count per SKU and family are read: the order does not matter.
        realised_uplifts=pd.concat(uplifts, ignore_index=True) if uplifts
        else parts[0].realised_uplifts if parts else pd.DataFrame(),
        scales=combine_scales([p.scales for p in parts if p.scales is not None])
        if parts and all(p.scales is not None for p in parts) else None,
    )
