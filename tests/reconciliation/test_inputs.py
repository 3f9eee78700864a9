"""get_table types every input table once, as its contract does; products_frame fills defaults."""

import numpy as np
import pandas as pd
import pytest

from data_contracts.inputs import INPUT_MODELS, number_columns
from data_contracts.tables import INPUT_COLUMNS
from reconciliation.inputs import get_table, products_frame


@pytest.mark.parametrize("table", list(INPUT_COLUMNS))
def test_absent_table_comes_back_empty_and_typed(table: str) -> None:
    df = get_table({}, table)
    assert list(df.columns) == INPUT_COLUMNS[table] and df.empty
    for c in INPUT_COLUMNS[table]:
        assert df[c].dtype == (np.float64 if c in number_columns(table) else object), c


def test_number_columns_come_from_the_contracts() -> None:
    assert number_columns("products") == {
        "units_per_pallet", "lead_time_months", "unit_cost", "safety_stock_units",
        "min_order_qty"}
    for table, model in INPUT_MODELS.items():
        assert number_columns(table) <= set(model.to_schema().columns)


def test_text_is_stripped_with_empty_for_missing_and_numbers_are_floats() -> None:
    raw = pd.DataFrame({"sku": [" A ", None, 1001], "family": ["F", np.nan, "F"],
                        "location": ["W1", "W1", "W2"], "period": ["2025-01"] * 3,
                        "qty": ["5", None, 2], "extra": [1, 2, 3]}, index=[7, 8, 9])
    df = get_table({"sales_forecast": raw}, "sales_forecast")
    assert df["sku"].tolist() == ["A", "", "1001"]
    assert df["family"].tolist() == ["F", "", "F"]
    assert df["submitted_by"].tolist() == ["", "", ""]  # an optional column left out
    assert df["qty"].dtype == np.float64 and df["qty"].isna().tolist() == [False, True, False]
    assert df["extra"].tolist() == [1, 2, 3] and list(df.index) == [0, 1, 2]
    assert raw["sku"].tolist() == [" A ", None, 1001]  # the caller's table is left as it was


def test_products_frame_fills_its_defaults() -> None:
    raw = pd.DataFrame({"sku": ["A", "B"], "family": ["F", "G"], "units_per_pallet": [np.nan, 0],
                        "lead_time_months": [2, np.nan], "unit_cost": [1.5, np.nan],
                        "status": ["New", None]})
    p = products_frame({"products": raw})
    assert p.loc["A", "units_per_pallet"] == 1.0 and p.loc["B", "units_per_pallet"] == 1.0
    assert p["lead_time_months"].tolist() == [2, 0] and p["unit_cost"].tolist() == [1.5, 0.0]
    assert p["status"].tolist() == ["new", "active"]
    assert p["safety_stock_units"].tolist() == [0.0, 0.0] and p["min_order_qty"].sum() == 0.0
