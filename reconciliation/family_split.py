"""Split family-level sales forecast rows over the family's SKUs.

Rule (documented in the README and relied on by `planned_keys`):

* Which SKUs get a share -- decided per family x location, the same for every month:
  the family's SKUs that are planned at that location for another reason (history, a SKU-level
  forecast, inventory, open orders), excluding phase_out SKUs; if there are none, all the
  family's non-phase_out SKUs. A family made only of phase_out SKUs falls back to all its SKUs,
  so that no sales number is ever dropped.
* How much -- shares are proportional to each target SKU's baseline forecast summed over the
  horizon at that location; where the baselines of all targets sum to zero the shares are equal.
  The mix is held constant across months so a family number does not jump between SKUs.
"""

import numpy as np
import pandas as pd

from reconciliation.inputs import number


def family_targets(
    family_rows: pd.DataFrame, products: pd.DataFrame, base_keys: pd.DataFrame
) -> pd.DataFrame:
    """(family, location, sku) receiving a share of each family x location forecast.

    `family_rows` has family and location; `products` is `products_frame` (indexed by sku);
    `base_keys` (sku, location) are the keys planned for reasons other than family rows.
    """
    cols = ["family", "location", "sku"]
    if family_rows.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in cols})
    fam_loc = family_rows[["family", "location"]].drop_duplicates()
    prod = products.reset_index()[["sku", "family", "status"]]
    has_active = prod.groupby("family")["status"].transform(lambda s: (s != "phase_out").any())
    eligible = prod[(prod["status"] != "phase_out") | ~has_active][["family", "sku"]]

    candidates = fam_loc.merge(eligible, on="family", how="inner")
    planned = candidates.merge(base_keys[["sku", "location"]].drop_duplicates(),
                               on=["sku", "location"], how="inner")
    planned_pairs = planned[["family", "location"]].drop_duplicates()
    # Family x location with no otherwise-planned SKU: every eligible SKU of the family.
    unplanned = fam_loc.merge(planned_pairs, how="left", indicator=True)
    unplanned = unplanned[unplanned["_merge"] == "left_only"].drop(columns="_merge")
    fallback = unplanned.merge(eligible, on="family", how="inner")
    out = pd.concat([planned[cols], fallback[cols]], ignore_index=True)
    return out.drop_duplicates().sort_values(cols).reset_index(drop=True)


def family_rows_of(sales_forecast: pd.DataFrame) -> pd.DataFrame:
    """The family-level rows (sku empty, family given) of sales_forecast from `get_table`."""
    sf = sales_forecast
    rows = sf[(sf["sku"] == "") & (sf["family"] != "")]
    return rows[["family", "location", "period"]].assign(
        qty=rows["qty"].fillna(0.0), submitted_by=rows["submitted_by"])


def split_family_forecast(
    family_rows: pd.DataFrame, targets: pd.DataFrame, baseline: pd.DataFrame
) -> pd.DataFrame:
    """SKU-level rows (sku, location, period, qty, submitted_by, family) from family rows.

    `baseline` gives (sku, location, forecast) over the horizon; the shares use its sum.
    """
    cols = ["sku", "location", "period", "qty", "submitted_by", "family"]
    if family_rows.empty or targets.empty:
        return pd.DataFrame({c: pd.Series(dtype="float" if c == "qty" else "object")
                             for c in cols})
    base_sum = (
        # The baseline is forecasting's output, not an input table that get_table typed.
        baseline.assign(forecast=number(baseline["forecast"]).clip(lower=0))
        .groupby(["sku", "location"], as_index=False)["forecast"].sum()
    )
    t = targets.merge(base_sum, on=["sku", "location"], how="left")
    t["forecast"] = t["forecast"].fillna(0.0)
    grp = t.groupby(["family", "location"])["forecast"]
    total = grp.transform("sum")
    count = grp.transform("size")
    t["share"] = np.where(total > 0, t["forecast"] / total.where(total > 0, 1.0), 1.0 / count)
    out = family_rows.merge(t[["family", "location", "sku", "share"]],
                            on=["family", "location"], how="inner")
    out["qty"] = out["qty"] * out["share"]
    return out[cols].reset_index(drop=True)
