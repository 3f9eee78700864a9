"""Custom pandera checks of the contracts and the plain-words name of every check they use."""

from typing import Any

import numpy as np
import pandas as pd
import pandera.extensions as extensions
import pandera.pandas as pa

from data_contracts.periods import FIRST_YEAR, LAST_YEAR, MONTH_PATTERN, OUTPUT_MONTH_PATTERN

MONTH_REGEX = MONTH_PATTERN.pattern
OUTPUT_MONTH_REGEX = OUTPUT_MONTH_PATTERN.pattern
# Physical bounds (issue: 1e308 passed and overflowed sums at publish): no warehouse moves or
# sells 10^12 units of one SKU a month, and no lead time runs longer than ten years.
MAX_UNITS = 1e12
MAX_LEAD_TIME_MONTHS = 120
# Smallest warehouse capacity taken as meant (issue: 1e-9 pallets of inbound capacity gave a
# published plan over its inbound limit): below a hundredth of a pallet or one unit a month a
# limit is a unit mistake, and the planner's float tolerances are as large as the limit.
MIN_CAPACITY_PALLETS = 0.01
MIN_CAPACITY_UNITS = 1.0


if not hasattr(pa.Check, "finite"):  # registration is global; tolerate a second import

    @extensions.register_check_method(statistics=["enabled"], check_type="vectorized")
    def finite(pandas_obj: pd.Series, *, enabled: bool) -> pd.Series:
        """Field(finite=True): no inf/-inf (NaN is handled by `nullable`)."""
        if not enabled:
            return pd.Series(True, index=pandas_obj.index)
        values = pd.to_numeric(pandas_obj, errors="coerce")
        return pd.Series(~np.isinf(values.to_numpy(dtype="float64")), index=pandas_obj.index)


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def describe_check(check: pa.Check) -> str:
    """A short, readable rule for a pandera check, e.g. 'must be >= 0'."""
    stats = check.statistics or {}
    name = check.name
    if name == "greater_than_or_equal_to":
        return f"must be >= {_fmt(stats['min_value'])}"
    if name == "greater_than":
        return f"must be > {_fmt(stats['min_value'])}"
    if name == "less_than_or_equal_to":
        return f"must be <= {_fmt(stats['max_value'])}"
    if name == "less_than":
        return f"must be < {_fmt(stats['max_value'])}"
    if name == "isin":
        return "must be one of " + ", ".join(map(str, stats["allowed_values"]))
    if name == "str_matches":
        pattern = str(stats["pattern"])
        if pattern == MONTH_REGEX:
            return f"must be a month YYYY-MM in {FIRST_YEAR}..{LAST_YEAR}"
        return (
            "must be a month YYYY-MM" if pattern == OUTPUT_MONTH_REGEX else f"must match {pattern}"
        )
    if name == "finite":
        return "must be a finite number"
    # custom checks carry their rule in `error`
    return str(check.error or name)


# Columns a row-level (dataframe) check looks at, for messages: check name -> columns.
ROW_CHECK_COLUMNS: dict[str, str] = {
    "sku_or_family": "sku, family",
    "unique_forecast_key": "sku/family, location, period",
    "start_not_after_end": "start_period, end_period",
    "constrained_le_consensus": "constrained_demand, consensus_demand",
    "shortfall_balance": "shortfall, consensus_demand, constrained_demand",
    "intervals_nested": "lo_95, lo_80, forecast, hi_80, hi_95",
    "change_agrees_with_receipts": "change, planned_receipts_before, planned_receipts_after, "
    "order_release_period_before, order_release_period_after",
    "one_previous_plan": "previous_cycle, previous_version",
}
