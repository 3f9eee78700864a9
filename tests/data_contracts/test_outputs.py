"""Output contracts: valid outputs pass, each broken output is an 'Output contract' breach."""

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from data_contracts import ContractBreach, validate_outputs

Outputs = dict[str, pd.DataFrame]


def valid_outputs() -> Outputs:
    periods = ["2025-06", "2025-07", "2025-08"]
    plan = pd.DataFrame(
        {
            "cycle": "2025-06",
            "plan_version": 1,
            "sku": "A1",
            "location": "DC-N",
            "period": periods,
            "sales_forecast": [12.0, 12.0, 0.0],
            "baseline_forecast": [10.0, 11.0, 9.0],
            "consensus_demand": [12.0, 11.5, 9.0],
            "constrained_demand": [12.0, 10.0, 9.0],
            "shortfall": [0.0, 1.5, 0.0],
            "planned_receipts": [0.0, 20.0, 0.0],
            "order_release_period": [None, "2025-06", None],
            "projected_on_hand": [38.0, 48.0, 39.0],
            "reason": ["SALES_ACCEPTED", "CAPACITY_SHORTFALL", "BASELINE"],
        }
    )
    baseline = pd.DataFrame(
        {
            "sku": "A1",
            "location": "DC-N",
            "period": periods,
            "model": "AutoETS",
            "forecast": [10.0, 11.0, 9.0],
            "lo_80": [8.0, 9.0, 7.0],
            "hi_80": [12.0, 13.0, 11.0],
            "lo_95": [6.0, 7.0, 5.0],
            "hi_95": [14.0, 15.0, 13.0],
            "demand_class": "smooth",
        }
    )
    capacity = pd.DataFrame(
        {
            "location": "DC-N",
            "period": periods,
            "inbound_pallets": [0.0, 0.5, 0.0],
            "inbound_capacity_pallets": 200.0,
            "storage_pallets": [1.0, 1.2, 1.0],
            "storage_capacity_pallets": 500.0,
            "outbound_units": [12.0, 10.0, 9.0],
            "outbound_capacity_units": 9000.0,
            "overtime_pallets": 0.0,
            "overtime_units": 0.0,
            "overtime_cost": 0.0,
            "status": ["ok", "ok", "ok"],
            "lead_time_shortfall_units": 0.0,
        }
    )
    exceptions = pd.DataFrame(
        {
            "sku": ["A1", None],
            "location": ["DC-N", None],
            "period": ["2025-07", None],
            "type": ["capacity_shortfall", "data_contract:quarantine"],
            "severity": ["warning", "info"],
            "message": ["1.5 units short", "2 rows quarantined"],
        }
    )
    changes = pd.DataFrame(
        {
            "sku": ["A1", "A1", "B2"],
            "location": "DC-N",
            "period": ["2025-07", "2025-08", "2025-07"],
            "change": ["new", "cancelled", "decreased"],
            "previous_cycle": "2025-05",
            "previous_version": 2,
            "consensus_demand_before": [11.0, 9.0, np.nan],
            "consensus_demand_after": [11.5, 9.0, 4.0],
            "planned_receipts_before": [0.0, 30.0, np.nan],
            "planned_receipts_after": [20.0, 0.0, 0.0],
            "order_release_period_before": [None, "2025-07", None],
            "order_release_period_after": ["2025-06", None, None],
        }
    )
    return {
        "consensus_plan": plan,
        "baseline_forecast": baseline,
        "capacity_report": capacity,
        "exceptions": exceptions,
        "plan_changes": changes,
    }


def setv(table: str, row: int, column: str, value: object) -> Callable[[Outputs], None]:
    def mutate(outputs: Outputs) -> None:
        outputs[table].loc[row, column] = value

    return mutate


def dup(table: str) -> Callable[[Outputs], None]:
    def mutate(outputs: Outputs) -> None:
        outputs[table] = pd.concat([outputs[table], outputs[table].iloc[[0]]], ignore_index=True)

    return mutate


def drop(table: str, column: str) -> Callable[[Outputs], None]:
    def mutate(outputs: Outputs) -> None:
        outputs[table] = outputs[table].drop(columns=[column])

    return mutate


def more_constrained(outputs: Outputs) -> None:
    plan = outputs["consensus_plan"]
    plan.loc[0, "constrained_demand"] = 13.0
    plan.loc[0, "shortfall"] = -1.0


BAD: list[tuple[str, Callable[[Outputs], None], str]] = [
    (
        "negative_on_hand",
        setv("consensus_plan", 1, "projected_on_hand", -1.0),
        r"consensus_plan\.projected_on_hand: must be >= 0 \(1 row\), e\.g\. row 2:",
    ),
    (
        "constrained_above_consensus",
        more_constrained,
        r"consensus_plan \(constrained_demand, consensus_demand\): constrained_demand must be <=",
    ),
    (
        "shortfall_mismatch",
        setv("consensus_plan", 1, "shortfall", 0.5),
        r"consensus_plan \(shortfall, consensus_demand, constrained_demand\): shortfall must equal",
    ),
    (
        "bad_reason",
        setv("consensus_plan", 0, "reason", "GUESS"),
        r"consensus_plan\.reason: must be one of BASELINE",
    ),
    (
        "nan_receipts",
        setv("consensus_plan", 0, "planned_receipts", np.nan),
        r"consensus_plan\.planned_receipts: must not be empty",
    ),
    (
        "inf_receipts",
        setv("consensus_plan", 0, "planned_receipts", np.inf),
        r"consensus_plan\.planned_receipts: must be a finite number",
    ),
    (
        "plan_duplicate_key",
        dup("consensus_plan"),
        r"consensus_plan \(cycle, plan_version, sku, location, period\): duplicate key",
    ),
    (
        "plan_bad_period",
        setv("consensus_plan", 2, "period", "2025-8"),
        r"consensus_plan\.period: must be a month YYYY-MM",
    ),
    (
        "plan_missing_column",
        drop("consensus_plan", "plan_version"),
        r"consensus_plan: required columns missing: plan_version",
    ),
    (
        "bad_demand_class",
        setv("baseline_forecast", 0, "demand_class", "spiky"),
        r"baseline_forecast\.demand_class: must be one of smooth",
    ),
    (
        "intervals_not_nested",
        setv("baseline_forecast", 0, "lo_80", 10.5),
        r"baseline_forecast \(lo_95, lo_80, forecast, hi_80, hi_95\): intervals must nest",
    ),
    (
        "negative_forecast",
        setv("baseline_forecast", 2, "forecast", -0.1),
        r"baseline_forecast\.forecast: must be >= 0",
    ),
    (
        "bad_capacity_status",
        setv("capacity_report", 0, "status", "full"),
        r"capacity_report\.status: must be one of ok, overtime, short",
    ),
    (
        "capacity_duplicate",
        dup("capacity_report"),
        r"capacity_report \(location, period\): duplicate key",
    ),
    (
        "bad_severity",
        setv("exceptions", 0, "severity", "fatal"),
        r"exceptions\.severity: must be one of info, warning, error",
    ),
    (
        "exception_without_message",
        setv("exceptions", 1, "message", None),
        r"exceptions\.message: must not be empty",
    ),
    (
        "unknown_change",
        setv("plan_changes", 0, "change", "changed"),
        r"plan_changes\.change: must be one of new, increased, decreased, cancelled, moved",
    ),
    (
        "new_without_receipts",
        setv("plan_changes", 0, "planned_receipts_after", 0.0),
        r"plan_changes \(change, planned_receipts_before, .*\): new needs receipts only after",
    ),
    (
        "moved_without_receipts_now",
        setv("plan_changes", 1, "change", "moved"),
        r"plan_changes \(change, .*\): new needs receipts",
    ),
    (
        "two_previous_plans",
        setv("plan_changes", 2, "previous_version", 3),
        r"plan_changes \(previous_cycle, previous_version\): every row must name the same",
    ),
    (
        "changes_duplicate_key",
        dup("plan_changes"),
        r"plan_changes \(sku, location, period\): duplicate key",
    ),
]


def test_valid_outputs_pass() -> None:
    validate_outputs(valid_outputs())


def test_empty_strings_count_as_empty() -> None:
    outputs = valid_outputs()
    outputs["exceptions"].loc[1, ["sku", "location", "period"]] = ""
    outputs["consensus_plan"].loc[0, "order_release_period"] = ""
    validate_outputs(outputs)
    outputs["exceptions"].loc[1, "message"] = " "
    with pytest.raises(ContractBreach, match=r"exceptions\.message: must not be empty"):
        validate_outputs(outputs)


def test_no_plan_changes_pass_as_the_empty_table() -> None:
    from reconciliation.plan_changes import no_plan_changes

    validate_outputs({"plan_changes": no_plan_changes()})


def test_added_optional_columns_are_allowed() -> None:
    outputs = valid_outputs()
    outputs["consensus_plan"]["family"] = "F1"
    validate_outputs(outputs)


@pytest.mark.parametrize(("mutate", "pattern"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_output_is_a_breach(mutate: Callable[[Outputs], None], pattern: str) -> None:
    outputs = valid_outputs()
    mutate(outputs)
    with pytest.raises(ContractBreach, match=pattern) as info:
        validate_outputs(outputs)
    assert str(info.value).startswith("Output contract breached: ")


def test_contracts_reference_is_up_to_date() -> None:
    """docs/contracts.md is generated: regenerate with `python -m data_contracts.docs`."""
    from pathlib import Path

    from data_contracts.docs import render_contracts

    path = Path(__file__).resolve().parents[2] / "docs" / "contracts.md"
    assert path.read_text() == render_contracts(), (
        "run: python -m data_contracts.docs > docs/contracts.md"
    )
