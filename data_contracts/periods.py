"""Calendar-month helpers: the one place that knows how a `YYYY-MM` period maps to a timestamp."""

import numpy as np
import pandas as pd

from data_contracts.month import (  # noqa: F401  (re-exported: periods is the usual home)
    FIRST_YEAR,
    LAST_YEAR,
    MAX_FORECAST_HORIZON,
    MAX_HORIZON,
    MONTH_PATTERN,
    OUTPUT_MONTH_PATTERN,
    is_month,
)

# Month *starts*: pandas' "M" means month end and would shift every forecast by a bucket.
FREQ = "MS"


def add_months(period: str, n: int) -> str:
    """The month `n` months after `period` (negative n goes back)."""
    year, month = int(period[:4]), int(period[5:7])
    index = year * 12 + (month - 1) + n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_between(start: str, end: str) -> int:
    """Whole months from `start` to `end` (end - start)."""
    return (int(end[:4]) * 12 + int(end[5:7])) - (int(start[:4]) * 12 + int(start[5:7]))


def horizon_periods(cycle: str, horizon: int) -> list[str]:
    """The `horizon` months planned by `cycle`, starting with the cycle month itself."""
    return [add_months(cycle, i) for i in range(horizon)]


def periods_to_timestamps(periods: pd.Series) -> pd.Series:
    """Vectorised `YYYY-MM` -> month-start timestamps."""
    return pd.to_datetime(periods.astype(str) + "-01", format="%Y-%m-%d")


def month_numbers(periods: pd.Series) -> np.ndarray:
    """`YYYY-MM` -> year * 12 + month - 1 (int64; -1 where not a month), vectorised.

    Integer months make month arithmetic a subtraction; parsed once per distinct value.
    """
    codes, uniques = pd.factorize(pd.Series(periods).astype(str).str.strip())
    parsed = np.array([_month_number(u) for u in uniques] + [-1], dtype=np.int64)
    return parsed[codes]


def _month_number(value: str) -> int:
    if not MONTH_PATTERN.match(value):
        return -1
    return int(value[:4]) * 12 + int(value[5:7]) - 1


def periods_of_numbers(numbers: np.ndarray) -> np.ndarray:
    """Inverse of month_numbers: integer months -> `YYYY-MM` strings (object array)."""
    codes, uniques = pd.factorize(np.asarray(numbers, dtype=np.int64))
    text = np.array([f"{n // 12:04d}-{n % 12 + 1:02d}" for n in uniques], dtype=object)
    return text[codes]


def expand_month_ranges(start: pd.Series, end: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Every month of each start..end range (inclusive), vectorised.

    Returns (position of the range in the input, month number) per month; inverted or
    unparseable ranges give no months.
    """
    first, last = month_numbers(start), month_numbers(end)
    length = np.where((first >= 0) & (last >= 0), np.maximum(last - first + 1, 0), 0)
    position = np.repeat(np.arange(len(length)), length)
    offset = np.arange(position.size) - np.repeat(np.cumsum(length) - length, length)
    return position, first[position] + offset
