"""One reason code per plan row, by a fixed precedence.

Precedence, first match wins (why: the code names the most decision-relevant fact of the row):
  1. OVERRIDE            the S&OP meeting decided the number
  2. CAPACITY_SHORTFALL  demand is cut where a capacity limit of the location-month is full
  3. LEAD_TIME_SHORTFALL demand is cut before the lead time allows a receipt (only stock on hand
                         and open orders can ship; no capacity would have served it)
  4. CAPACITY_PREBUILD   the row receives more than the month needs (stock built ahead of a
                         later capacity limit) -- row-specific, so it beats overtime, which the
                         capacity_report shows per location-month anyway
  5. CAPACITY_OVERTIME   the row receives or ships in a location-month that uses overtime
  6. NEW_ITEM            status 'new' or baseline demand_class 'new' (cold-start baseline)
  7. PROMO_UPLIFT        a promotion lifts the baseline this month
  8. SALES_ACCEPTED      sales' number taken as is (consensus = sales number)
  9. SALES_SHRUNK        sales' number moved toward the baseline (partly or fully)
 10. BASELINE            no sales number: the statistical baseline
"""

import numpy as np
import pandas as pd

from data_contracts.tables import REASON_CODES

PRECEDENCE: tuple[str, ...] = (
    "OVERRIDE", "CAPACITY_SHORTFALL", "LEAD_TIME_SHORTFALL", "CAPACITY_PREBUILD",
    "CAPACITY_OVERTIME", "NEW_ITEM", "PROMO_UPLIFT", "SALES_ACCEPTED", "SALES_SHRUNK", "BASELINE",
)
assert set(PRECEDENCE) == set(REASON_CODES)


def assign_reasons(rows: pd.DataFrame, tol: float = 1e-6) -> pd.Series:
    """Reason code per row from has_override, capacity_cut, lead_time_cut, overtime, prebuilt,
    is_new, promo_uplift_pct, has_sales, sales_forecast and consensus_demand."""
    accepted = (rows["consensus_demand"] - rows["sales_forecast"]).abs() <= tol * np.maximum(
        1.0, rows["sales_forecast"].abs())
    conditions = [
        rows["has_override"],
        rows["capacity_cut"],
        rows["lead_time_cut"],
        rows["prebuilt"],
        rows["overtime"],
        rows["is_new"],
        rows["promo_uplift_pct"] > 0,
        rows["has_sales"] & accepted,
        rows["has_sales"],
    ]
    codes = np.select([np.asarray(c, dtype=bool) for c in conditions], list(PRECEDENCE[:-1]),
                      default="BASELINE")
    return pd.Series(codes, index=rows.index, name="reason")
