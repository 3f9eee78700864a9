"""One reason code per plan row, by a fixed precedence.

Precedence, first match wins (why: the code names the most decision-relevant fact of the row):
  1. OVERRIDE            the S&OP meeting decided the number
  2. CAPACITY_SHORTFALL  demand is cut (capacity, or lead time before the first possible receipt)
  3. CAPACITY_PREBUILD   the row receives more than the month needs (stock built ahead of a
                         later capacity limit) -- row-specific, so it beats overtime, which the
                         capacity_report shows per location-month anyway
  4. CAPACITY_OVERTIME   the row receives or ships in a location-month that uses overtime
  5. NEW_ITEM            status 'new' or baseline demand_class 'new' (cold-start baseline)
  6. PROMO_UPLIFT        a promotion lifts the baseline this month
  7. SALES_ACCEPTED      sales' number taken as is (consensus = sales number)
  8. SALES_SHRUNK        sales' number moved toward the baseline (partly or fully)
  9. BASELINE            no sales number: the statistical baseline
"""

import numpy as np
import pandas as pd

from data_contracts.tables import REASON_CODES

PRECEDENCE: tuple[str, ...] = (
    "OVERRIDE", "CAPACITY_SHORTFALL", "CAPACITY_PREBUILD", "CAPACITY_OVERTIME", "NEW_ITEM",
    "PROMO_UPLIFT", "SALES_ACCEPTED", "SALES_SHRUNK", "BASELINE",
)
assert set(PRECEDENCE) == set(REASON_CODES)


def assign_reasons(rows: pd.DataFrame, tol: float = 1e-6) -> pd.Series:
    """Reason code per row from has_override, shortfall, overtime, prebuilt, is_new,
    promo_uplift_pct, has_sales, sales_forecast and consensus_demand."""
    accepted = (rows["consensus_demand"] - rows["sales_forecast"]).abs() <= tol * np.maximum(
        1.0, rows["sales_forecast"].abs())
    conditions = [
        rows["has_override"],
        rows["shortfall"] > tol,
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
