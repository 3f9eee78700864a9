"""What-if scenarios: references are checked against the data, and apply_scenario changes
exactly what the scenario says (the file's schema: tests/data_contracts/test_scenario.py)."""

import pandas as pd
import pytest

from data_contracts import ContractBreach
from data_contracts.scenario import Scenario
from reconciliation import build_plan
from reconciliation.scenario import apply_scenario, extend_baseline, plan_scenario

CYCLE, HORIZON = "2025-01", 6


def scenario(**actions: object) -> Scenario:
    return Scenario.model_validate(actions)


@pytest.mark.parametrize(("actions", "column", "word"), [
    ({"promotions": [{"promo_id": "P", "sku": "ZZZ", "location": "W1",
                      "start_period": "2025-02", "end_period": "2025-02", "uplift_pct": 10}]},
     "promotions[0].sku", "ZZZ"),
    ({"promotions": [{"promo_id": "P", "family": "F1", "location": "W9",
                      "start_period": "2025-02", "end_period": "2025-02", "uplift_pct": 10}]},
     "promotions[0].location", "W9"),
    ({"scale_sales": [{"family": "F9", "factor": 2, "from_period": "2025-02"}]},
     "scale_sales[0].family", "F9"),
    ({"scale_sales": [{"submitted_by": "team-x", "factor": 2, "from_period": "2025-02"}]},
     "scale_sales[0].submitted_by", "team-x"),
    ({"capacity": [{"location": "W9", "from_period": "2025-02", "extra_shift_pct": 10}]},
     "capacity[0].location", "W9"),
    ({"launches": [{"sku": "A", "family": "F1", "units_per_pallet": 10, "lead_time_months": 0,
                    "unit_cost": 1, "sales": [{"location": "W1", "period": "2025-02",
                                               "qty": 5}]}]}, "launches[0].sku", "exists"),
    ({"scale_sales": [{"family": "F1", "factor": 2, "from_period": "2030-01"}]},
     "scale_sales[0].from_period", "horizon"),
    ({"promotions": [{"promo_id": "NEW", "sku": "A", "location": "W1", "uplift_pct": 10}]},
     "promotions[0].start_period", "needs"),
])
def test_unknown_references_are_a_contract_breach(whatif_world, actions: dict, column: str,
                                                  word: str) -> None:
    tables, _ = whatif_world()
    with pytest.raises(ContractBreach) as info:
        apply_scenario(tables, scenario(**actions), CYCLE, HORIZON)
    finding = info.value.findings[0]
    assert finding.table == "scenario" and finding.column == column
    assert word in str(info.value) and column in str(info.value)


def test_apply_leaves_the_inputs_alone(whatif_world) -> None:
    tables, _ = whatif_world()
    before = {k: v.copy() for k, v in tables.items()}
    apply_scenario(tables, scenario(
        scale_sales=[{"family": "F1", "factor": 2, "from_period": "2025-02"}],
        capacity=[{"location": "W2", "from_period": "2025-03", "extra_shift_pct": 50}],
        promotions=[{"promo_id": "P", "sku": "A", "location": "W1", "start_period": "2025-02",
                     "end_period": "2025-03", "uplift_pct": 30}],
    ), CYCLE, HORIZON)
    for k, v in before.items():
        pd.testing.assert_frame_equal(tables[k], v)


def test_scale_sales_by_team_and_period_range(whatif_world) -> None:
    tables, _ = whatif_world()
    out = apply_scenario(tables, scenario(scale_sales=[
        {"submitted_by": "team-b", "factor": 1.5, "from_period": "2025-03",
         "to_period": "2025-04"}]), CYCLE, HORIZON)
    old, new = tables["sales_forecast"], out["sales_forecast"]
    hit = (old["submitted_by"] == "team-b") & old["period"].isin(["2025-03", "2025-04"])
    assert (new.loc[hit, "qty"] == old.loc[hit, "qty"] * 1.5).all()
    assert (new.loc[~hit, "qty"] == old.loc[~hit, "qty"]).all()


def test_promotion_lifts_baseline_and_the_sales_number(whatif_world) -> None:
    tables, baseline = whatif_world()
    out = apply_scenario(tables, scenario(promotions=[
        {"promo_id": "P", "sku": "A", "location": "W1", "start_period": "2025-02",
         "end_period": "2025-03", "uplift_pct": 30}]), CYCLE, HORIZON)
    assert out["promotions"][["promo_id", "sku", "location", "uplift_pct"]].values.tolist() == \
        [["P", "A", "W1", 30.0]]
    sf = out["sales_forecast"]
    lifted = sf[(sf["sku"] == "A") & (sf["location"] == "W1")].set_index("period")["qty"]
    assert lifted["2025-02"] == pytest.approx(130) and lifted["2025-04"] == pytest.approx(100)
    plan = build_plan(out, baseline, CYCLE, HORIZON).consensus_plan
    a = plan[(plan["sku"] == "A") & (plan["location"] == "W1")].set_index("period")
    assert a.loc["2025-02", "consensus_demand"] == pytest.approx(130)
    assert a.loc["2025-02", "reason"] == "PROMO_UPLIFT"


def test_change_and_cancel_an_existing_promotion(whatif_world) -> None:
    tables, _ = whatif_world()
    tables["promotions"] = pd.DataFrame([["P1", "A", "W1", "2025-02", "2025-02", 20.0],
                                         ["P2", "B", "W1", "2025-03", "2025-03", 20.0]],
                                        columns=["promo_id", "sku", "location", "start_period",
                                                 "end_period", "uplift_pct"])
    out = apply_scenario(tables, scenario(promotions=[
        {"promo_id": "P1", "sku": "A", "location": "W1", "uplift_pct": 50},
        {"promo_id": "P2", "sku": "B", "location": "W1", "cancel": True}]), CYCLE, HORIZON)
    promos = out["promotions"]
    assert promos["promo_id"].tolist() == ["P1"] and promos["uplift_pct"].tolist() == [50.0]
    sf = out["sales_forecast"].set_index(["sku", "location", "period"])["qty"]
    assert sf[("A", "W1", "2025-02")] == pytest.approx(100 * 1.5 / 1.2)
    assert sf[("B", "W1", "2025-03")] == pytest.approx(50 / 1.2)


def test_family_promotion_covers_the_family_at_the_location(whatif_world) -> None:
    tables, _ = whatif_world()
    out = apply_scenario(tables, scenario(promotions=[
        {"promo_id": "FAM", "family": "F1", "location": "W2", "start_period": "2025-02",
         "end_period": "2025-02", "uplift_pct": 25}]), CYCLE, HORIZON)
    assert sorted(out["promotions"]["sku"]) == ["A", "B"]


def test_capacity_change_writes_dated_rows_for_its_months_only(whatif_world) -> None:
    tables, _ = whatif_world()
    out = apply_scenario(tables, scenario(capacity=[
        {"location": "W2", "from_period": "2025-03", "to_period": "2025-04",
         "extra_shift_pct": 25, "extra_storage_pallets": 10}]), CYCLE, HORIZON)
    w = out["warehouses"]
    dated = w[(w["location"] == "W2") & w["period"].notna()].set_index("period")
    assert sorted(dated.index) == ["2025-03", "2025-04"]
    assert (dated["inbound_pallets"] == 25.0).all() and (dated["storage_pallets"] == 15.0).all()
    assert (dated["outbound_units"] == 1.25e6).all() and (dated["overtime_pct"] == 0.2).all()
    assert len(w[w["period"].isna()]) == 2  # every-month rows untouched


def test_launch_gets_a_zero_cold_start_and_a_share_of_its_sales_number(whatif_world) -> None:
    tables, baseline = whatif_world()
    s = scenario(launches=[{"sku": "N", "family": "F1", "units_per_pallet": 10,
                            "lead_time_months": 0, "unit_cost": 4,
                            "sales": [{"location": "W1", "period": "2025-03", "qty": 100}]}])
    out = apply_scenario(tables, s, CYCLE, HORIZON)
    assert out["products"].set_index("sku").loc["N", "status"] == "new"
    ext = extend_baseline(baseline, out, CYCLE, HORIZON)
    new = ext[ext["sku"] == "N"]
    assert len(new) == HORIZON and (new["forecast"] == 0).all()
    assert (new["demand_class"] == "new").all()
    _, _, result = plan_scenario(tables, baseline, s, CYCLE, HORIZON)
    n = result.consensus_plan[result.consensus_plan["sku"] == "N"].set_index("period")
    assert n.loc["2025-03", "consensus_demand"] == pytest.approx(80)  # new_item_sales_weight
    assert n.loc["2025-03", "reason"] == "NEW_ITEM"
    s_all = s.model_copy(update={"demand": "as_submitted"})
    _, _, result = plan_scenario(tables, baseline, s_all, CYCLE, HORIZON)
    n = result.consensus_plan[result.consensus_plan["sku"] == "N"].set_index("period")
    assert n.loc["2025-03", "consensus_demand"] == pytest.approx(100)
