"""Data contracts: pandera schemas, cross-table rules and quality suites for every table.

Names are loaded on first use (PEP 562), so a light submodule such as `data_contracts.month`
can be imported without pandas, pandera and great-expectations (the command line checks
its arguments with it before anything heavy is loaded).
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from data_contracts.findings import ContractBreach, Finding, QuarantinePolicy, read_error
    from data_contracts.output_schema import output_contract
    from data_contracts.plan_rules import check_plan_rules
    from data_contracts.quality import QualitySettings
    from data_contracts.tables import CONTRACT_VERSION
    from data_contracts.validate import (
        ValidatedInputs,
        validate_history,
        validate_inputs,
        validate_outputs,
    )

_HOMES = {
    "CONTRACT_VERSION": "tables",
    "output_contract": "output_schema",
    "ContractBreach": "findings",
    "Finding": "findings",
    "QuarantinePolicy": "findings",
    "read_error": "findings",
    "QualitySettings": "quality",
    "ValidatedInputs": "validate",
    "validate_history": "validate",
    "validate_inputs": "validate",
    "validate_outputs": "validate",
    "check_plan_rules": "plan_rules",  # owned elsewhere
}

__all__ = [
    "CONTRACT_VERSION",
    "ContractBreach",
    "Finding",
    "QualitySettings",
    "QuarantinePolicy",
    "ValidatedInputs",
    "check_plan_rules",
    "output_contract",
    "read_error",
    "validate_history",
    "validate_inputs",
    "validate_outputs",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'data_contracts' has no attribute {name!r}")
    value = getattr(import_module(f"data_contracts.{home}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value
