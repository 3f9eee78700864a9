"""The lists derived from SPEC's tables keep the order SPEC gives them."""

from typing import get_args

from data_contracts.findings import Severity
from data_contracts.tables import (
    OUTPUT_COLUMNS,
    PLAN_ROW_COLUMNS,
    PLAN_STAMP_COLUMNS,
    SEVERITIES,
    SEVERITY_ORDER,
)


def test_severity_order_puts_errors_first_and_knows_every_severity() -> None:
    assert SEVERITY_ORDER == {"error": 0, "warning": 1, "info": 2}
    assert set(SEVERITY_ORDER) == set(SEVERITIES)


def test_a_findings_severity_is_an_exceptions_severity() -> None:
    """`Severity` must stay a Literal for type checkers; this keeps it in step with SEVERITIES."""
    assert get_args(Severity) == SEVERITIES


def test_a_published_plan_is_the_stamp_then_the_planned_row() -> None:
    assert OUTPUT_COLUMNS["consensus_plan"] == [*PLAN_STAMP_COLUMNS, *PLAN_ROW_COLUMNS]
    assert PLAN_ROW_COLUMNS[:3] == ["sku", "location", "period"]
