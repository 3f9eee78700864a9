"""Data contracts: pandera schemas, cross-table rules and quality suites for every table."""

from typing import Any

from data_contracts.findings import ContractBreach, Finding, QuarantinePolicy, read_error
from data_contracts.quality import QualityResult, QualitySettings, run_quality_suites
from data_contracts.validate import (
    ValidatedInputs,
    validate_history,
    validate_inputs,
    validate_outputs,
)

__all__ = [
    "ContractBreach",
    "Finding",
    "QualityResult",
    "QualitySettings",
    "QuarantinePolicy",
    "ValidatedInputs",
    "check_plan_rules",
    "read_error",
    "run_quality_suites",
    "validate_history",
    "validate_inputs",
    "validate_outputs",
]


def __getattr__(name: str) -> Any:
    # plan_rules is owned elsewhere and imported on first use only
    if name == "check_plan_rules":
        from data_contracts.plan_rules import check_plan_rules

        return check_plan_rules
    raise AttributeError(f"module 'data_contracts' has no attribute {name!r}")
