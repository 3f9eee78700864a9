"""Typed access to the validated input tables: optional tables and columns come back filled."""

import numpy as np
import pandas as pd

from data_contracts.tables import INPUT_COLUMNS


def get_table(tables: dict[str, pd.DataFrame], name: str) -> pd.DataFrame:
    """The table `name` with every SPEC column present (missing optional ones as NaN).

    Absent optional tables come back empty with the SPEC columns, so callers never branch on
    presence. The index is reset: `source_line` matters to contracts, not to the plan.
    """
    columns = INPUT_COLUMNS[name]
    df = tables.get(name)
    if df is None:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    df = df.reset_index(drop=True).copy()
    for c in columns:
        if c not in df.columns:
            df[c] = np.nan
    return df


def text(series: pd.Series) -> pd.Series:
    """Strings with NaN/None as "" and surrounding blanks removed (keys never become numbers).

    Cleans each distinct value once (keys repeat a lot: 180k plan rows, 10k SKUs).
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    clean = np.array([str(u).strip() for u in uniques] + [""], dtype=object)
    return pd.Series(clean[codes], index=series.index, name=series.name, dtype=object)


def number(series: pd.Series, default: float = 0.0) -> pd.Series:
    """Floats with NaN replaced by `default`."""
    return pd.to_numeric(series, errors="coerce").astype(float).fillna(default)


def products_frame(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """products indexed by sku with clean types: status defaults to 'active', ss/moq to 0."""
    p = get_table(tables, "products")
    out = pd.DataFrame(
        {
            "sku": text(p["sku"]),
            "family": text(p["family"]),
            "units_per_pallet": number(p["units_per_pallet"], 1.0),
            "lead_time_months": number(p["lead_time_months"]).round().astype(int),
            "unit_cost": number(p["unit_cost"]),
            "status": text(p["status"]).str.lower().replace("", "active"),
            "safety_stock_units": number(p["safety_stock_units"]),
            "min_order_qty": number(p["min_order_qty"]),
        }
    )
    # A zero or negative units_per_pallet is a contract breach; guard so the LP never divides by 0.
    out.loc[out["units_per_pallet"] <= 0, "units_per_pallet"] = 1.0
    return out.drop_duplicates("sku", keep="last").set_index("sku")
