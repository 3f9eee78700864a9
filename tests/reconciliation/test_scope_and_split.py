"""planned_keys and the family split."""

import numpy as np
import pandas as pd

from reconciliation import planned_keys
from reconciliation.family_split import split_family_forecast

CYCLE, H = "2025-01", 3


def tables(**extra: pd.DataFrame) -> dict[str, pd.DataFrame]:
    base = {
        "sales_history": pd.DataFrame({"sku": ["A", "D"], "location": ["L1", "L1"],
                                       "period": ["2024-12", "2024-12"], "qty": [5.0, 5.0]}),
        "sales_forecast": pd.DataFrame({"sku": [np.nan], "family": ["F"], "location": ["L2"],
                                        "period": ["2025-01"], "qty": [90.0],
                                        "submitted_by": ["north"]}),
        "products": pd.DataFrame({
            "sku": ["A", "B", "C", "D"], "family": ["F", "F", "F", "G"],
            "units_per_pallet": 10.0, "lead_time_months": 0, "unit_cost": 1.0,
            "status": ["active", "active", "phase_out", "phase_out"],
        }),
        "warehouses": pd.DataFrame({"location": ["L1", "L2"], "period": [np.nan, np.nan],
                                    "storage_pallets": 10.0, "inbound_pallets": 10.0,
                                    "outbound_units": 10.0, "overtime_pct": 0.0}),
        "inventory": pd.DataFrame({"sku": ["B"], "location": ["L1"], "on_hand": [3.0]}),
    }
    base.update(extra)
    return base


def keyset(df: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(df["sku"], df["location"], strict=True))


def test_phase_out_without_sales_or_stock_is_not_planned() -> None:
    keys = planned_keys(tables(), CYCLE, H)
    assert ("D", "L1") not in keyset(keys)        # phase_out, history only
    assert {("A", "L1"), ("B", "L1")} <= keyset(keys)


def test_phase_out_with_stock_is_planned() -> None:
    inv = pd.DataFrame({"sku": ["D"], "location": ["L1"], "on_hand": [1.0]})
    assert ("D", "L1") in keyset(planned_keys(tables(inventory=inv), CYCLE, H))


def test_family_row_falls_back_to_all_non_phase_out_skus() -> None:
    keys = planned_keys(tables(), CYCLE, H)
    at_l2 = keys[keys["location"] == "L2"]
    assert set(at_l2["sku"]) == {"A", "B"}          # C is phase_out, nothing else at L2
    assert at_l2["from_family"].all()


def test_family_row_goes_to_skus_planned_at_the_location() -> None:
    sf = pd.DataFrame({"sku": [np.nan], "family": ["F"], "location": ["L1"],
                       "period": ["2025-02"], "qty": [10.0], "submitted_by": [np.nan]})
    hist = pd.DataFrame({"sku": ["A"], "location": ["L1"], "period": ["2024-12"],
                         "qty": [5.0]})
    keys = planned_keys(tables(sales_forecast=sf, sales_history=hist,
                               inventory=pd.DataFrame(columns=["sku", "location", "on_hand"])),
                        CYCLE, H)
    assert keyset(keys) == {("A", "L1")}


def test_split_shares_follow_baseline_and_are_equal_when_zero() -> None:
    fam = pd.DataFrame({"family": ["F", "F"], "location": ["L1", "L2"],
                        "period": ["2025-01", "2025-01"], "qty": [100.0, 60.0],
                        "submitted_by": ["n", "n"]})
    targets = pd.DataFrame({"family": ["F", "F", "F", "F"], "location": ["L1", "L1", "L2", "L2"],
                            "sku": ["A", "B", "A", "B"]})
    baseline = pd.DataFrame({"sku": ["A", "B", "A", "B"], "location": ["L1", "L1", "L2", "L2"],
                             "period": ["2025-01"] * 4, "forecast": [30.0, 10.0, 0.0, 0.0]})
    out = split_family_forecast(fam, targets, baseline).set_index(["sku", "location"])["qty"]
    assert out[("A", "L1")] == 75.0 and out[("B", "L1")] == 25.0
    assert out[("A", "L2")] == 30.0 and out[("B", "L2")] == 30.0
    assert out.sum() == 160.0
