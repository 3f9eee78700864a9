"""Dense series x month matrix of demand history, the working shape of the forecasting core."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from data_contracts.periods import add_months, month_numbers, periods_to_timestamps

KEY = ["sku", "location"]


def month_index(periods: pd.Series) -> np.ndarray:
    """`YYYY-MM` strings -> integer months since year 0 (vectorised)."""
    return month_numbers(periods)


@dataclass
class Panel:
    """History as a matrix: one row per series, one column per month up to the cycle.

    `values[i, t]` is NaN before series i's first non-zero month (the series does not exist
    yet) and the monthly quantity afterwards, absent months filled with 0.
    """

    keys: pd.DataFrame  # sku, location; row i of `values`
    first_month: str  # month of column 0
    values: np.ndarray  # shape (n_series, n_months), float

    @property
    def months(self) -> list[str]:
        return [add_months(self.first_month, t) for t in range(self.values.shape[1])]

    @property
    def span(self) -> np.ndarray:
        """Months from each series' first sale to the month before the cycle."""
        return np.sum(~np.isnan(self.values), axis=1)

    def to_long(self, rows: np.ndarray | None = None) -> pd.DataFrame:
        """Nixtla long format (unique_id = row number, ds month start, y) of `rows`.

        Integer ids: at 100k series x 60 months a string id per row costs ~370 MB here and
        again in every frame statsforecast returns; the numbers do not depend on the id."""
        rows = np.arange(len(self.keys)) if rows is None else rows
        sub = self.values[rows]
        r, t = np.nonzero(~np.isnan(sub))
        # Convert the few distinct months once, then index: 100k series x 10 years is 12M rows.
        stamps = periods_to_timestamps(pd.Series(self.months)).to_numpy()
        return pd.DataFrame({"unique_id": rows[r], "ds": stamps[t], "y": sub[r, t]})


def build_panel(history: pd.DataFrame, cycle: str, extra_keys: pd.DataFrame | None,
                first_month: str | None = None) -> Panel:
    """Aggregate `history` (sku, location, period, qty) into a Panel ending the month before
    `cycle`; `extra_keys` adds series without history (all-NaN rows). `first_month`: start
    the panel no later than that month (a partition's panel as wide as the catalogue's, so
    that whatever depends on the width, e.g. how many seasons a profile spans, is the same)."""
    keys = history[KEY].drop_duplicates()
    if extra_keys is not None and len(extra_keys):
        keys = pd.concat([keys, extra_keys[KEY]]).drop_duplicates()
    keys = keys.sort_values(KEY).reset_index(drop=True)
    cycle_idx = int(month_index(pd.Series([cycle]))[0])
    if len(history):
        hist_idx = month_index(history["period"])
        first_idx = int(hist_idx.min())
    else:
        hist_idx = np.empty(0, dtype=int)
        first_idx = cycle_idx - 1
    if first_month is not None:
        first_idx = min(first_idx, int(month_index(pd.Series([first_month]))[0]))
    n_months = max(cycle_idx - first_idx, 1)
    start = add_months(cycle, -n_months)
    values = np.zeros((len(keys), n_months))
    if len(history):
        lookup = pd.MultiIndex.from_frame(keys)
        rows = lookup.get_indexer(pd.MultiIndex.from_frame(history[KEY]))
        cols = hist_idx - (cycle_idx - n_months)
        np.add.at(values, (rows, cols), history["qty"].to_numpy(dtype=float))
    # A series starts at its first sale: earlier zeros are "not yet listed", not demand.
    started = np.cumsum(values > 0, axis=1) > 0
    values[~started] = np.nan
    return Panel(keys=keys, first_month=start, values=values)
