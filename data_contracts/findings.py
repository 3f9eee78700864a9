"""Findings, the breach exception and the human message: how a broken contract is reported."""

import json
import math
from collections.abc import Iterable
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import BaseModel, Field

Severity = Literal["info", "warning", "error"]
REJECT_COLUMNS = ["table", "source_line", "column", "rule", "value", "row"]
SAMPLE_ROWS = 5  # rows kept in Finding.sample
MESSAGE_ROWS = 3  # rows quoted in the human message


class Finding(BaseModel):
    """One rule that some rows (or a whole table) break."""

    table: str
    column: str | None = None
    rule: str
    severity: Severity = "error"
    count: int = 0
    sample: list[dict[str, Any]] = Field(default_factory=list)
    message: str


class QuarantinePolicy(BaseModel):
    """Share (0..1) of a table's rows that may be left out instead of stopping the run."""

    max_share: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(default_factory=dict)

    def allowed(self, table: str) -> float:
        """The share of `table` that may be quarantined (0 when not configured)."""
        return float(self.max_share.get(table, 0.0))


class ContractBreach(Exception):
    """A data contract was breached; `str(exc)` says what to fix (the CLI exits with code 3)."""

    def __init__(
        self,
        findings: list[Finding],
        rejects: pd.DataFrame | None = None,
        kind: str = "Data contract",
        notes: list[str] | None = None,
    ) -> None:
        self.findings = findings
        self.notes = list(notes or [])
        self.rejects = rejects if rejects is not None else empty_rejects()
        self.kind = kind
        self.rejects_path: str | None = None
        super().__init__(self.message)

    def with_rejects_path(self, path: str) -> "ContractBreach":
        """Record where the flow wrote `rejects`, so the message points there."""
        self.rejects_path = str(path)
        self.args = (self.message,)
        return self

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def message(self) -> str:
        errors = self.errors
        rules = [f for f in errors if f.rule != "quarantine limit"]
        rejects = self.rejects
        rows = len(rejects.drop_duplicates(["table", "source_line"])) if len(rejects) else 0
        head = f"{self.kind} breached: {plural(len(rules), 'rule')}"
        head += f", {plural(rows, 'row')}." if rows else "."
        lines = [head, *(f"- {f.message}" for f in errors)]
        lines += self.notes
        if self.rejects_path:
            lines.append(f"Offending rows written to {self.rejects_path}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.message


def read_error(table: str, path: str, problem: str) -> ContractBreach:
    """A breach for a file that cannot be read, in the same format as every other breach."""
    finding = Finding(
        table=table,
        rule="unreadable file",
        message=f"{table}: cannot read {path}: {problem}",
    )
    return ContractBreach([finding])


def empty_rejects() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in REJECT_COLUMNS})


def quarantined_rows(rejects: pd.DataFrame) -> dict[str, int]:
    """Input rows set aside per table: a row breaking several rules is one row (rejects has a
    line per broken rule)."""
    if rejects.empty:
        return {}
    rows = rejects.drop_duplicates(["table", "source_line"]).groupby("table").size()
    return {str(t): int(n) for t, n in rows.items()}


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


MAX_VALUE_CHARS = 80


def clean_value(value: Any) -> Any:
    """JSON-friendly scalar: NaN/NA -> None, numpy scalars -> Python."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        # A 4 MB one-line file must not become a 4-million-character message.
        return f"{value[:MAX_VALUE_CHARS]}... ({len(value):,} characters)"
    return value


def row_dicts(raw: pd.DataFrame, lines: Iterable[Any], label: str) -> list[dict[str, Any]]:
    """The original rows at `lines`, each as a dict starting with its line number."""
    out = []
    for line in lines:
        values = raw.loc[line]
        if isinstance(values, pd.DataFrame):  # duplicated index: take the first
            values = values.iloc[0]
        row = {label: clean_value(line)}
        row.update({str(k): clean_value(v) for k, v in values.items()})
        out.append(row)
    return out


def describe_row(row: dict[str, Any], label: str, focus: str | None = None) -> str:
    """'line 14: sku=A1 location=DC-N qty=-4' (empty cells shown only for the focus column)."""
    focus_cols = set((focus or "").replace(" ", "").split(","))
    parts = []
    for key, value in row.items():
        if key == label:
            continue
        if value is None:
            if key in focus_cols:
                parts.append(f"{key}=<empty>")
            continue
        text = str(value)
        parts.append(f"{key}={text!r}" if text != text.strip() or not text else f"{key}={text}")
    shown = "line" if label == "source_line" else label
    return f"{shown} {row[label]}: " + " ".join(parts)


def rule_line(
    table: str,
    column: str | None,
    rule: str,
    count: int,
    sample: list[dict[str, Any]],
    label: str,
    noun: str = "row",
) -> str:
    """'sales_history.qty: must be >= 0 (3 rows), e.g. line 14: ...; line 20: ...'."""
    where = (
        table
        if not column
        else (f"{table}.{column}" if "," not in column else f"{table} ({column})")
    )
    text = f"{where}: {rule} ({plural(count, noun)})"
    if sample:
        quoted = "; ".join(describe_row(r, label, column) for r in sample[:MESSAGE_ROWS])
        text += f", e.g. {quoted}"
    return text


def to_json(row: dict[str, Any]) -> str:
    return json.dumps(row, default=str, ensure_ascii=False)


def findings_to_exceptions(findings: Iterable[Finding]) -> pd.DataFrame:
    """Non-blocking findings as `exceptions` rows (type `data_contract:RULE`), so the meeting
    sees what the contracts tolerated next to what the plan raised."""
    from data_contracts.tables import OUTPUT_COLUMNS

    rows = [{"sku": "", "location": "", "period": "", "type": f"data_contract:{f.rule}",
             "severity": f.severity, "message": f.message} for f in findings]
    return pd.DataFrame(rows, columns=OUTPUT_COLUMNS["exceptions"])
