"""Which SKU x location pairs are planned (SPEC: "What is planned")."""

import pandas as pd

from data_contracts.periods import horizon_periods
from reconciliation.family_split import family_rows_of, family_targets
from reconciliation.inputs import get_table, products_frame

KEY = ["sku", "location"]


def _keys(df: pd.DataFrame) -> pd.DataFrame:
    return df[KEY]


def booked_orders(tables: dict[str, pd.DataFrame], cycle: str, horizon: int) -> pd.DataFrame:
    """customer_orders rows in the horizon with qty > 0: sku, location, period (text), qty."""
    periods = set(horizon_periods(cycle, horizon))
    co = get_table(tables, "customer_orders")[["sku", "location", "period", "qty"]]
    return co[co["period"].isin(periods) & (co["qty"] > 0)].reset_index(drop=True)


def base_keys(tables: dict[str, pd.DataFrame], cycle: str, horizon: int) -> pd.DataFrame:
    """(sku, location) named directly: history, SKU-level forecast rows, inventory, open orders
    and customer orders booked in the horizon."""
    periods = set(horizon_periods(cycle, horizon))
    forecast = get_table(tables, "sales_forecast")
    forecast = forecast[forecast["period"].isin(periods) & (forecast["sku"] != "")]
    base = pd.concat(
        [_keys(get_table(tables, name)) for name in ("sales_history", "inventory", "open_orders")]
        + [_keys(forecast), booked_orders(tables, cycle, horizon)[KEY]],
        ignore_index=True,
    ).drop_duplicates()
    return base[(base["sku"] != "") & (base["location"] != "")].reset_index(drop=True)


def split_targets(tables: dict[str, pd.DataFrame], cycle: str, horizon: int) -> pd.DataFrame:
    """(family, location, sku) that the horizon's family forecast rows are split over."""
    periods = set(horizon_periods(cycle, horizon))
    forecast = get_table(tables, "sales_forecast")
    fam_rows = family_rows_of(forecast[forecast["period"].isin(periods)])
    return family_targets(fam_rows, products_frame(tables), base_keys(tables, cycle, horizon))


def planned_keys(tables: dict[str, pd.DataFrame], cycle: str, horizon: int) -> pd.DataFrame:
    """The (sku, location) pairs to plan, sorted, plus the flags that put them there.

    Planned: every pair in sales_history, sales_forecast (family rows count for the SKUs they are
    split over, see `family_split`), inventory, open_orders or customer_orders (booked in the
    horizon) -- except phase_out SKUs with neither a sales number (a forecast qty > 0 in the
    horizon) nor stock (on hand or open orders) nor a booked customer order.
    Columns: sku, location, has_sales, has_stock, from_family.
    """
    periods = set(horizon_periods(cycle, horizon))
    products = products_frame(tables)
    forecast = get_table(tables, "sales_forecast")
    inventory = get_table(tables, "inventory")
    orders = get_table(tables, "open_orders")

    forecast = forecast[forecast["period"].isin(periods)]
    sku_rows = forecast[forecast["sku"] != ""]
    fam_rows = family_rows_of(forecast)

    base = base_keys(tables, cycle, horizon)
    targets = family_targets(fam_rows, products, base)
    keys = pd.concat([base, targets[KEY]], ignore_index=True).drop_duplicates()

    sales_pos = _keys(sku_rows[sku_rows["qty"] > 0])
    fam_pos = fam_rows[fam_rows["qty"] > 0][["family", "location"]].drop_duplicates()
    sales_pos = pd.concat(
        [sales_pos, targets.merge(fam_pos, on=["family", "location"])[KEY]], ignore_index=True
    ).drop_duplicates()
    stock = pd.concat(
        [_keys(inventory[inventory["on_hand"] > 0]),
         _keys(orders[orders["qty"] > 0])],
        ignore_index=True,
    ).drop_duplicates()

    keys = keys.merge(sales_pos.assign(has_sales=True), on=KEY, how="left")
    keys = keys.merge(stock.assign(has_stock=True), on=KEY, how="left")
    keys = keys.merge(targets[KEY].drop_duplicates().assign(from_family=True), on=KEY, how="left")
    for flag in ("has_sales", "has_stock", "from_family"):
        keys[flag] = keys[flag].astype("boolean").fillna(False).astype(bool)
    status = keys["sku"].map(products["status"]).fillna("active")
    booked = keys[KEY].merge(booked_orders(tables, cycle, horizon)[KEY].drop_duplicates(),
                             on=KEY, how="left", indicator=True)["_merge"].eq("both")
    keep = (status != "phase_out") | keys["has_sales"] | keys["has_stock"] | booked.to_numpy()
    return keys[keep].sort_values(KEY).reset_index(drop=True)
