"""The what-if scenario file's schema refuses bad files, naming the offending field."""

import pytest
from pydantic import ValidationError

from data_contracts.scenario import Scenario


@pytest.mark.parametrize(("data", "field"), [
    ({"promotions": [{"promo_id": "P", "sku": "A", "location": "W1", "start_period": "2025-02",
                      "end_period": "2025-02", "uplift_pct": -5}]}, ("promotions", 0,
                                                                      "uplift_pct")),
    ({"promotions": [{"promo_id": "P", "sku": "A", "location": "W1", "start_period": "2025-2",
                      "end_period": "2025-02", "uplift_pct": 5}]}, ("promotions", 0,
                                                                   "start_period")),
    ({"scale_sales": [{"family": "F1", "from_period": "2025-02"}]}, ("scale_sales", 0, "factor")),
    ({"scale_sales": [{"factor": 2, "from_period": "2025-02"}]}, ("scale_sales", 0)),
    ({"capacity": [{"location": "W1", "from_period": "2025-03", "to_period": "2025-02",
                    "extra_shift_pct": 10}]}, ("capacity", 0)),
    ({"launches": [{"sku": "N", "family": "F1", "units_per_pallet": 0, "lead_time_months": 1,
                    "unit_cost": 1, "sales": [{"location": "W1", "period": "2025-02",
                                               "qty": 1}]}]}, ("launches", 0, "units_per_pallet")),
    ({"promotion": []}, ("promotion",)),
    ({}, ()),
])
def test_schema_names_the_bad_field(data: dict, field: tuple) -> None:
    with pytest.raises(ValidationError) as info:
        Scenario.model_validate(data)
    assert any(tuple(e["loc"])[: len(field)] == field for e in info.value.errors())


def test_a_range_lists_its_months_and_defaults_to_one() -> None:
    assert Scenario.model_validate({"capacity": [
        {"location": "W1", "from_period": "2025-11", "to_period": "2026-02", "extra_shift_pct": 10},
        {"location": "W1", "from_period": "2025-05", "extra_storage_pallets": 5},
    ]}).capacity[0].months() == ["2025-11", "2025-12", "2026-01", "2026-02"]
    only = Scenario.model_validate({"capacity": [
        {"location": "W1", "from_period": "2025-05", "extra_storage_pallets": 5}]}).capacity[0]
    assert (only.last, only.months()) == ("2025-05", ["2025-05"])
