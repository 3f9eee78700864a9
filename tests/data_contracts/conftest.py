"""A small valid world of input tables, shaped as flows/io.py delivers them (text, line index)."""

from collections.abc import Callable

import pandas as pd
import pytest

from data_contracts.periods import add_months

CYCLE = "2025-06"
SKUS = {"A1": "F1", "A2": "F1", "B1": "F2", "N1": "F2"}
LOCATIONS = ("DC-N", "DC-S")


def as_read(rows: list[dict]) -> pd.DataFrame:
    """Like the CSV reader: every column text, empty -> NaN, index = line in the file."""
    frame = pd.DataFrame(rows)
    frame = frame.astype(object).where(frame.notna(), None)
    frame = frame.map(lambda v: None if v is None or v == "" else str(v))
    frame.index = pd.RangeIndex(2, len(frame) + 2, name="source_line")
    return frame


def make_world(cycle: str = CYCLE, history_months: int = 12) -> dict[str, pd.DataFrame]:
    history = [
        {"sku": sku, "location": loc, "period": add_months(cycle, -m), "qty": 10 + i + m}
        for i, sku in enumerate(["A1", "A2", "B1"])
        for loc in LOCATIONS
        for m in range(history_months, 0, -1)
    ]
    forecast = [
        {
            "sku": sku,
            "family": "",
            "location": loc,
            "period": add_months(cycle, m),
            "qty": 12,
            "submitted_by": "alice",
        }
        for sku in ("A1", "B1")
        for loc in LOCATIONS
        for m in range(6)
    ] + [
        {
            "sku": "",
            "family": "F1",
            "location": "DC-N",
            "period": add_months(cycle, m),
            "qty": 30,
            "submitted_by": "bob",
        }
        for m in range(6)
    ]
    products = [
        {
            "sku": sku,
            "family": fam,
            "units_per_pallet": 40,
            "lead_time_months": 1,
            "unit_cost": 2.5,
            "status": "new" if sku == "N1" else "active",
            "safety_stock_units": 5,
            "min_order_qty": 0,
        }
        for sku, fam in SKUS.items()
    ]
    warehouses = [
        {
            "location": loc,
            "period": "",
            "storage_pallets": 500,
            "inbound_pallets": 200,
            "outbound_units": 9000,
            "overtime_pct": 0.2,
            "overtime_cost_per_pallet": 3,
        }
        for loc in LOCATIONS
    ] + [
        {
            "location": "DC-N",
            "period": add_months(cycle, 2),
            "storage_pallets": 300,
            "inbound_pallets": 100,
            "outbound_units": 5000,
            "overtime_pct": 0.1,
            "overtime_cost_per_pallet": 4,
        }
    ]
    inventory = [
        {"sku": sku, "location": loc, "on_hand": 50}
        for sku in ("A1", "A2", "B1", "N1")
        for loc in LOCATIONS
    ]
    open_orders = [{"sku": "A1", "location": "DC-N", "period": cycle, "qty": 80}]
    promotions = [
        {
            "promo_id": "P1",
            "sku": "A1",
            "location": "DC-S",
            "start_period": add_months(cycle, 1),
            "end_period": add_months(cycle, 2),
            "uplift_pct": 25,
        },
        {
            "promo_id": "P0",
            "sku": "B1",
            "location": "DC-S",
            "start_period": add_months(cycle, -5),
            "end_period": add_months(cycle, -5),
            "uplift_pct": 10,
        },
    ]
    forecast_history = [
        {
            "cycle": add_months(cycle, -1),
            "sku": "A1",
            "location": "DC-N",
            "period": add_months(cycle, m - 1),
            "qty": 11,
            "submitted_by": "alice",
        }
        for m in range(3)
    ]
    overrides = [
        {
            "sku": "B1",
            "location": "DC-N",
            "period": add_months(cycle, 1),
            "qty": 20,
            "reason": "tender won",
            "approved_by": "S&OP 2025-05",
        }
    ]
    return {
        "sales_history": as_read(history),
        "sales_forecast": as_read(forecast),
        "products": as_read(products),
        "warehouses": as_read(warehouses),
        "inventory": as_read(inventory),
        "open_orders": as_read(open_orders),
        "promotions": as_read(promotions),
        "forecast_history": as_read(forecast_history),
        "overrides": as_read(overrides),
    }


@pytest.fixture
def world() -> dict[str, pd.DataFrame]:
    """A fresh valid world for cycle CYCLE (2025-06)."""
    return make_world()


@pytest.fixture(name="make_world")
def make_world_fixture() -> Callable[..., dict[str, pd.DataFrame]]:
    return make_world


@pytest.fixture(name="as_read")
def as_read_fixture() -> Callable[[list[dict]], pd.DataFrame]:
    return as_read
