"""Typed access to the validated input tables: the one place the core types its inputs."""

import numpy as np
import pandas as pd

from data_contracts.inputs import number_columns
from data_contracts.tables import INPUT_COLUMNS


def get_table(tables: dict[str, pd.DataFrame], name: str) -> pd.DataFrame:
    """The input table `name`, typed: see `typed_table`. Absent optional tables come back empty
    with the SPEC columns, so callers never branch on presence."""
    return typed_table(name, tables.get(name))


def typed_table(name: str, df: pd.DataFrame | None) -> pd.DataFrame:
    """Input table `name` with every SPEC column present and typed as its contract types it.

    Text columns are stripped str with "" where missing, numeric columns float64 with NaN where
    missing (a default is the caller's policy: `.fillna(default)`). Which columns are numbers
    comes from the table's pandera model. Extra columns are kept as they are. The index is
    reset: `source_line` matters to contracts, not to the plan. For tables that did not come
    through `get_table` (a function handed one table, a what-if changing one).
    """
    columns = INPUT_COLUMNS[name]
    numeric = number_columns(name)
    df = pd.DataFrame(columns=columns) if df is None else df.reset_index(drop=True)
    typed = {c: as_number(df[c]) if c in numeric else text(df[c])
             for c in columns if c in df.columns}
    missing = {c: pd.Series(np.nan if c in numeric else "", index=df.index,
                            dtype=float if c in numeric else object)
               for c in columns if c not in df.columns}
    return df.assign(**typed, **missing)


def text(series: pd.Series) -> pd.Series:
    """Strings with NaN/None as "" and surrounding blanks removed (keys never become numbers).

    Cleans each distinct value once (keys repeat a lot: 180k plan rows, 10k SKUs).
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    clean = np.array([str(u).strip() for u in uniques] + [""], dtype=object)
    return pd.Series(clean[codes], index=series.index, name=series.name, dtype=object)


def as_number(series: pd.Series) -> pd.Series:
    """float64, NaN where missing or not a number."""
    return pd.to_numeric(series, errors="coerce").astype(float)


def number(series: pd.Series, default: float = 0.0) -> pd.Series:
    """Floats with NaN replaced by `default`."""
    return as_number(series).fillna(default)


# products_frame's defaults for the optional (or missing) values of products.
PRODUCT_DEFAULTS: dict[str, float] = {
    "units_per_pallet": 1.0, "lead_time_months": 0.0, "unit_cost": 0.0,
    "safety_stock_units": 0.0, "min_order_qty": 0.0,
}


def products_frame(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """products indexed by sku: status defaults to 'active', ss/moq to 0."""
    p = get_table(tables, "products").fillna(PRODUCT_DEFAULTS)
    out = p[INPUT_COLUMNS["products"]].assign(
        lead_time_months=p["lead_time_months"].round().astype(int),
        status=p["status"].str.lower().replace("", "active"),
    )
    # A zero or negative units_per_pallet is a contract breach; guard so the LP never divides by 0.
    out.loc[out["units_per_pallet"] <= 0, "units_per_pallet"] = 1.0
    return out.drop_duplicates("sku", keep="last").set_index("sku")
