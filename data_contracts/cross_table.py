"""Rules across tables: SKUs, families and locations must exist; every location needs capacity."""

import pandas as pd

from data_contracts.coerce import violations
from data_contracts.periods import horizon_periods

# Tables whose rows name a SKU / a location (products and warehouses define them).
SKU_TABLES = (
    "sales_history",
    "sales_forecast",
    "inventory",
    "open_orders",
    "promotions",
    "forecast_history",
    "overrides",
    "customer_orders",
)
LOCATION_TABLES = SKU_TABLES
# Tables whose SKU × locations are planned (SPEC "What is planned").
PLANNED_TABLES = ("sales_history", "sales_forecast", "inventory", "open_orders", "customer_orders")


def _reference(
    table: str,
    frame: pd.DataFrame,
    column: str,
    good: set[str],
    known: set[str],
    owner: str,
) -> list[pd.DataFrame]:
    values = frame[column]
    unknown = values.notna() & ~values.isin(good)
    if not unknown.any():
        return []
    rejected = unknown & values.isin(known)
    out = []
    if (unknown & ~rejected).any():
        mask = unknown & ~rejected
        out.append(
            violations(table, frame.index[mask], column, f"{column} not in {owner}", values[mask])
        )
    if rejected.any():
        rule = f"{column} is only in rejected {owner} rows"
        out.append(violations(table, frame.index[rejected], column, rule, values[rejected]))
    return out


def _family_mismatch(forecast: pd.DataFrame, products: pd.DataFrame) -> list[pd.DataFrame]:
    """A SKU row that also names a family must name the SKU's own family: which of the two
    numbers would the family split and the SKU plan otherwise believe?"""
    own = products.drop_duplicates("sku").set_index("sku")["family"]
    named = forecast["sku"].notna() & forecast["family"].notna()
    expected = forecast["sku"].map(own)
    bad = named & expected.notna() & (forecast["family"] != expected)
    if not bad.any():
        return []
    rule = "family differs from the sku's family in products"
    return [violations("sales_forecast", forecast.index[bad], "family", rule,
                       forecast["family"][bad])]


def reference_violations(
    typed: dict[str, pd.DataFrame], bad_lines: dict[str, pd.Index]
) -> list[pd.DataFrame]:
    """Rows naming a SKU, family or location that products/warehouses do not define.

    References resolve against the *good* rows of products and warehouses, so that when a
    products row is quarantined the rows that need it are quarantined too (named as such).
    """
    found: list[pd.DataFrame] = []
    products = typed.get("products")
    warehouses = typed.get("warehouses")
    if products is not None:
        good = products.drop(bad_lines.get("products", pd.Index([])), errors="ignore")
        skus, known_skus = set(good["sku"].dropna()), set(products["sku"].dropna())
        families, known_families = set(good["family"].dropna()), set(products["family"].dropna())
        for table in SKU_TABLES:
            if table in typed:
                found += _reference(table, typed[table], "sku", skus, known_skus, "products")
        if "sales_forecast" in typed:
            found += _reference(
                "sales_forecast",
                typed["sales_forecast"],
                "family",
                families,
                known_families,
                "products",
            )
        if "sales_forecast" in typed and "family" in typed["sales_forecast"].columns:
            found += _family_mismatch(typed["sales_forecast"], products)
    if warehouses is not None:
        good = warehouses.drop(bad_lines.get("warehouses", pd.Index([])), errors="ignore")
        locations, known = set(good["location"].dropna()), set(warehouses["location"].dropna())
        for table in LOCATION_TABLES:
            if table in typed:
                found += _reference(table, typed[table], "location", locations, known, "warehouses")
    return found


def uncovered_locations(
    typed: dict[str, pd.DataFrame],
    bad_lines: dict[str, pd.Index],
    cycle: str,
    horizon: int | None,
) -> pd.DataFrame:
    """Planned locations without capacity for every month: the good warehouses rows of them.

    A location is covered by an every-month row (empty period) or, when `horizon` is known,
    by dated rows for every month of the horizon. Returns one row per uncovered location with
    the months it does have (`periods`).
    """
    warehouses = typed.get("warehouses")
    if warehouses is None:
        return pd.DataFrame(columns=["location", "periods"])
    good = warehouses.drop(bad_lines.get("warehouses", pd.Index([])), errors="ignore")
    planned: set[str] = set()
    for table in PLANNED_TABLES:
        if table in typed:
            planned |= set(typed[table]["location"].dropna())
    needed = set(horizon_periods(cycle, horizon)) if horizon else None
    rows = []
    for location, group in good[good["location"].isin(planned)].groupby("location"):
        if group["period"].isna().any():
            continue
        periods = set(group["period"].dropna())
        if needed is not None and needed <= periods:
            continue
        rows.append({"location": location, "periods": ", ".join(sorted(periods))})
    return pd.DataFrame(rows, columns=["location", "periods"])
