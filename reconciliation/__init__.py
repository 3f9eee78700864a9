"""Consensus and capacity planning: pure functions on DataFrames."""

from reconciliation.plan import PlanResult, build_plan
from reconciliation.scope import planned_keys
from reconciliation.settings import PlanSettings

__all__ = ["PlanResult", "PlanSettings", "build_plan", "planned_keys"]
