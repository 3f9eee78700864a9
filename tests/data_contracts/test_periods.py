"""Month helpers shared by forecasting and reconciliation."""

import numpy as np
import pandas as pd

from data_contracts.periods import (
    LAST_YEAR,
    MAX_FORECAST_HORIZON,
    MAX_HORIZON,
    OUTPUT_MONTH_PATTERN,
    add_months,
    expand_month_ranges,
    month_numbers,
    periods_of_numbers,
)


def test_month_numbers_round_trip_and_reject_non_months() -> None:
    nums = month_numbers(pd.Series(["2025-12", "2026-01", "2026-13", "x", "2026-01"]))
    assert nums.tolist() == [2025 * 12 + 11, 2026 * 12, -1, -1, 2026 * 12]
    assert periods_of_numbers(nums[:2]).tolist() == ["2025-12", "2026-01"]


def test_expand_month_ranges_spans_years_and_skips_inverted() -> None:
    pos, months = expand_month_ranges(
        pd.Series(["2025-11", "2026-03", "2026-05"]), pd.Series(["2026-02", "2026-02", "2026-05"])
    )
    assert pos.tolist() == [0, 0, 0, 0, 2]
    assert periods_of_numbers(months).tolist() == [
        "2025-11", "2025-12", "2026-01", "2026-02", "2026-05"
    ]
    assert isinstance(months, np.ndarray)


def test_the_longest_horizon_of_the_last_cycle_is_still_a_publishable_month() -> None:
    assert 1 <= MAX_HORIZON <= MAX_FORECAST_HORIZON
    last = add_months(f"{LAST_YEAR}-12", MAX_FORECAST_HORIZON - 1)
    assert OUTPUT_MONTH_PATTERN.match(last), last
