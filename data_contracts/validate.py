"""validate_inputs / validate_outputs: contracts, cross-table rules, quarantine and the verdict."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from data_contracts.coerce import VIOLATION_COLUMNS, as_number, cast_integers, type_table
from data_contracts.cross_table import reference_violations, uncovered_locations
from data_contracts.failures import schema_violations
from data_contracts.findings import (
    REJECT_COLUMNS,
    SAMPLE_ROWS,
    ContractBreach,
    Finding,
    QuarantinePolicy,
    empty_rejects,
    plural,
    row_dicts,
    rule_line,
    to_json,
)
from data_contracts.inputs import input_schema
from data_contracts.outputs import OUTPUT_MODELS
from data_contracts.periods import add_months, is_month
from data_contracts.tables import INPUT_COLUMNS, INPUT_TABLES, OPTIONAL_COLUMNS

LINE = "source_line"
# SPEC: a required table must have at least one data row (a header alone plans nothing).
MUST_HAVE_ROWS = tuple(t for t, required in INPUT_TABLES.items() if required)
# History of a month restated by more than this share vs the previous cycle's inputs -> warning.
RESTATEMENT_SHARE = 0.01


@dataclass
class ValidatedInputs:
    """Typed tables (bad rows removed only when quarantined), the quarantined rows, findings."""

    tables: dict[str, pd.DataFrame]
    rejects: pd.DataFrame
    findings: list[Finding] = field(default_factory=list)


@dataclass
class _Table:
    raw: pd.DataFrame  # as given, index = source line, column names stripped
    typed: pd.DataFrame | None = None  # None when a required column is missing
    violations: list[pd.DataFrame] = field(default_factory=list)


def _with_lines(frame: pd.DataFrame, label: str = LINE, first: int = 2) -> pd.DataFrame:
    """Index = line numbers. Frames not read by flows/io.py are numbered as CSV lines."""
    out = frame.copy(deep=False)
    out.columns = [str(c).strip() for c in out.columns]
    if out.index.name != label or not out.index.is_unique:
        out.index = pd.RangeIndex(first, first + len(out), name=label)
    return out


def _check_table(
    table: str, given: pd.DataFrame, cycle: str | None
) -> tuple[_Table, list[Finding]]:
    """One table against its own contract."""
    raw = _with_lines(given)
    state = _Table(raw)
    findings: list[Finding] = []
    expected = INPUT_COLUMNS[table]
    optional = OPTIONAL_COLUMNS.get(table, set())
    missing = [c for c in expected if c not in raw.columns and c not in optional]
    extra = [c for c in raw.columns if c not in expected]
    if extra:
        findings.append(
            Finding(
                table=table,
                column=", ".join(extra),
                rule="extra columns",
                severity="info",
                message=f"{table}: extra columns kept but not used: {', '.join(extra)}",
            )
        )
    for column in missing:
        findings.append(
            Finding(
                table=table,
                column=column,
                rule="missing column",
                message=f"{table}.{column}: required column is missing "
                f"(columns found: {', '.join(map(str, raw.columns)) or 'none'})",
            )
        )
    if missing:
        return state, findings

    full = raw.copy()
    for column in expected:
        if column not in full.columns:
            full[column] = np.nan
    schema = input_schema(table, cycle)
    typed = type_table(table, full, schema)
    state.violations = list(typed.violations)
    clean = cast_integers(typed.frame[~typed.untyped], schema)
    found, problems = schema_violations(table, schema, clean)
    state.violations.append(found)
    for problem in problems:
        findings.append(Finding(table=table, rule="check failed", message=f"{table}.{problem}"))
    state.typed = typed.frame
    return state, findings


def _violation_frame(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=VIOLATION_COLUMNS)
    out = pd.concat(parts, ignore_index=True)
    out["source_line"] = out["source_line"].astype("int64")
    return out


def _rule_findings(
    table: str, found: pd.DataFrame, raw: pd.DataFrame, severity: str, label: str = LINE
) -> list[Finding]:
    findings = []
    keys = found[["column", "rule"]].fillna({"column": ""})
    for (column, rule), group in found.groupby([keys["column"], keys["rule"]], sort=False):
        lines = group["source_line"].drop_duplicates()
        sample = row_dicts(raw, lines.iloc[:SAMPLE_ROWS], label)
        col = column or None
        findings.append(
            Finding(
                table=table,
                column=col,
                rule=rule,
                severity=severity,  # type: ignore[arg-type]
                count=len(lines),
                sample=sample,
                message=rule_line(table, col, rule, len(lines), sample, label),
            )
        )
    return findings


def _rejects(found: pd.DataFrame, states: Mapping[str, _Table]) -> pd.DataFrame:
    if not len(found):
        return empty_rejects()
    rows: dict[tuple[str, int], str] = {}
    for table, group in found.groupby("table"):
        raw = states[str(table)].raw
        lines = group["source_line"].drop_duplicates()
        records = raw.loc[lines].astype(object).where(raw.loc[lines].notna(), None)
        for line, record in zip(lines, records.to_dict("records"), strict=True):
            rows[(str(table), int(line))] = to_json(record)
    out = found.copy()
    out["row"] = [rows[(t, int(n))] for t, n in zip(out["table"], out["source_line"], strict=True)]
    out = out.sort_values(["table", "source_line"], kind="stable").reset_index(drop=True)
    return out[REJECT_COLUMNS]


def _quarantine_finding(
    table: str, lines: pd.Index, total: int, limit: float, found: pd.DataFrame, raw: pd.DataFrame
) -> Finding:
    counts = found.groupby(["column", "rule"], dropna=False)["source_line"].nunique()
    detail = "; ".join(
        f"{col + ': ' if isinstance(col, str) else ''}{rule} ({n})"
        for (col, rule), n in counts.items()
    )
    share = len(lines) / total
    return Finding(
        table=table,
        rule="quarantine",
        severity="warning",
        count=len(lines),
        sample=row_dicts(raw, lines[:SAMPLE_ROWS], LINE),
        message=f"{table}: {len(lines)} of {total} rows ({share:.1%}) quarantined, "
        f"within the allowed {limit:.1%}: {detail}. They are left out of the run and listed "
        "in rejects.",
    )


def previous_history_totals(before: pd.DataFrame) -> pd.Series:
    """The previous cycle's sales_history (raw or typed) as qty per period."""
    qty, _ = as_number(before["qty"])
    return qty.groupby(before["period"].astype(str).str.strip()).sum()


def _restatements(history: pd.DataFrame, previous: Mapping[str, pd.DataFrame]) -> list[Finding]:
    """Warn when months of history changed since the previous cycle's inputs."""
    before = previous.get("sales_history")
    if before is None or not {"period", "qty"} <= set(before.columns):
        return []
    return restatement_findings(history.groupby("period")["qty"].sum(),
                                previous_history_totals(before))


def restatement_findings(new: pd.Series, old: pd.Series) -> list[Finding]:
    """Months whose history total (`new`, qty per period) moved from `old` by more than
    RESTATEMENT_SHARE: one warning."""
    both = old.index.intersection(new.index)
    change = (new[both] - old[both]).abs()
    restated = change[change > RESTATEMENT_SHARE * old[both].abs().clip(lower=1.0)]
    if restated.empty:
        return []
    sample = [
        {"period": p, "previous_qty": float(old[p]), "qty": float(new[p])}
        for p in restated.index[:SAMPLE_ROWS]
    ]
    shown = ", ".join(f"{s['period']}: {s['previous_qty']:g} -> {s['qty']:g}" for s in sample[:3])
    return [
        Finding(
            table="sales_history",
            column="qty",
            rule="history restated",
            severity="warning",
            count=len(restated),
            sample=sample,
            message=f"sales_history.qty: {len(restated)} months differ from the previous cycle's "
            f"history by more than {RESTATEMENT_SHARE:.0%}, e.g. {shown}",
        )
    ]


def _coverage_findings(uncovered: pd.DataFrame, horizon: int | None) -> list[Finding]:
    if uncovered.empty:
        return []
    rule = "location needs an every-month row (empty period)"
    if horizon:
        rule += f" or rows for all {horizon} months of the horizon"
    shown = "; ".join(
        f"{r.location} has only {r.periods or 'no valid rows'}"
        for r in uncovered.head(3).itertuples()
    )
    count = plural(len(uncovered), "location")
    return [
        Finding(
            table="warehouses",
            column="period",
            rule=rule,
            count=len(uncovered),
            sample=uncovered.head(SAMPLE_ROWS).to_dict("records"),
            message=f"warehouses.period: {rule} ({count}), e.g. {shown}",
        )
    ]


def unused_rows_finding(
    table: str, column: str, rule: str, count: int, sample: list[dict[str, Any]]
) -> Finding:
    """The info finding of rows read past on purpose; `sample` are their first rows."""
    lines = ", ".join(str(r["line"]) for r in sample[:SAMPLE_ROWS])
    return Finding(
        table=table, column=column, rule=rule, severity="info", count=count, sample=sample,
        message=f"{table}.{column}: {rule} ({plural(count, 'row')}), e.g. line {lines}",
    )


def _unused_rows_findings(
    tables: Mapping[str, pd.DataFrame], cycle: str, horizon: int | None
) -> list[Finding]:
    """Rows the run reads past on purpose, said out loud (nothing is dropped silently):
    sales numbers after the horizon's last month, and submissions of a later cycle, which
    trust must not learn from (they were not known at this cycle)."""
    out: list[Finding] = []

    def finding(table: str, column: str, rows: pd.DataFrame, rule: str) -> None:
        sample = row_dicts(rows, rows.index[:SAMPLE_ROWS], "line")
        out.append(unused_rows_finding(table, column, rule, len(rows), sample))

    forecast = tables.get("sales_forecast")
    if horizon and forecast is not None and len(forecast):
        last = add_months(cycle, horizon - 1)
        after = forecast[forecast["period"].astype(str) > last]
        if len(after):
            finding("sales_forecast", "period", after,
                    f"after the horizon's last month {last}: not planned this cycle")
    history = tables.get("forecast_history")
    if history is not None and len(history):
        later = history[history["cycle"].astype(str) >= cycle]
        if len(later):
            finding("forecast_history", "cycle", later,
                    f"submission of cycle {cycle} or later: not used to judge trust")
    return out


def validate_inputs(
    tables: Mapping[str, pd.DataFrame],
    cycle: str,
    policy: QuarantinePolicy | None = None,
    previous: Mapping[str, pd.DataFrame] | None = None,
    *,
    horizon: int | None = None,
) -> ValidatedInputs:
    """Check the input tables of `cycle` against their contracts and each other.

    Takes tables as read (text columns, index = source line). Returns them typed (keys and
    months str, quantities float64, lead_time_months int64, optional columns present) with the
    quarantined rows removed, plus rejects and warnings. Raises ContractBreach otherwise.
    `horizon`, when given, lets dated warehouses rows cover a location instead of an
    every-month row.
    """
    if not is_month(cycle):
        raise ValueError(f"cycle must be a month YYYY-MM, got {cycle!r}")
    policy = policy or QuarantinePolicy()
    findings: list[Finding] = []
    states: dict[str, _Table] = {}
    for name in tables:
        if name not in INPUT_TABLES:
            findings.append(
                Finding(
                    table=name,
                    rule="unknown table",
                    severity="info",
                    message=f"{name}: not an input table of the spec; ignored",
                )
            )
    for table, required in INPUT_TABLES.items():
        if table not in tables:
            if required:
                findings.append(
                    Finding(
                        table=table,
                        rule="missing table",
                        message=f"{table}: required table is missing (expected {table}.csv "
                        f"or {table}.parquet with columns {', '.join(INPUT_COLUMNS[table])})",
                    )
                )
            continue
        states[table], table_findings = _check_table(table, tables[table], cycle)
        findings += table_findings
        if table in MUST_HAVE_ROWS and len(states[table].raw) == 0:
            findings.append(
                Finding(
                    table=table,
                    rule="empty table",
                    message=f"{table}: has a header but no data rows; a required table "
                    "needs at least one row",
                )
            )

    own = {t: _violation_frame(s.violations) for t, s in states.items()}
    bad_lines = {t: pd.Index(v["source_line"].unique()) for t, v in own.items()}
    typed = {t: s.typed for t, s in states.items() if s.typed is not None and len(s.raw)}
    # References resolve against the rows that stay in the run: when products or warehouses
    # rows are quarantined, rows needing them go too. When those tables stop the run anyway,
    # resolve against all their rows so the message names the cause, not its echoes.
    dropped = {
        t: lines
        for t, lines in bad_lines.items()
        if len(lines) and len(lines) / len(states[t].raw) <= policy.allowed(t)
    }
    for part in reference_violations(typed, dropped):
        table = str(part["table"].iloc[0])
        own[table] = _violation_frame([own[table], part])
    quarantined: list[pd.DataFrame] = []
    breached: list[pd.DataFrame] = []
    out_tables: dict[str, pd.DataFrame] = {}
    for table, state in states.items():
        found = own[table]
        lines = pd.Index(found["source_line"].unique())
        total = len(state.raw)
        limit = policy.allowed(table)
        if len(lines) and total and limit > 0 and len(lines) / total <= limit:
            quarantined.append(found)
            findings.append(_quarantine_finding(table, lines, total, limit, found, state.raw))
        elif len(lines):
            breached.append(found)
            findings += _rule_findings(table, found, state.raw, "error")
            if limit > 0:
                findings.append(
                    Finding(
                        table=table,
                        rule="quarantine limit",
                        count=len(lines),
                        message=f"{table}: {len(lines)} of {total} rows "
                        f"({len(lines) / total:.1%}) break the contract, more than the "
                        f"{limit:.1%} that may be quarantined",
                    )
                )
        if state.typed is not None:
            schema = input_schema(table, cycle)
            out_tables[table] = cast_integers(state.typed.drop(lines), schema)

    findings += _coverage_findings(uncovered_locations(typed, dropped, cycle, horizon), horizon)
    if any(f.severity == "error" for f in findings):
        everything = _violation_frame([*breached, *quarantined])
        raise ContractBreach(findings, _rejects(everything, states))
    findings += _unused_rows_findings(out_tables, cycle, horizon)
    if previous is not None and "sales_history" in out_tables:
        findings += _restatements(out_tables["sales_history"], previous)
    rejects = _rejects(_violation_frame(quarantined), states)
    return ValidatedInputs(out_tables, rejects, findings)


def validate_history(history: pd.DataFrame, cycle: str | None = None) -> pd.DataFrame:
    """`sales_history` alone (e.g. `sop forecast`): typed rows, or ContractBreach.

    Without `cycle` the "before the cycle" rule is skipped; no cross-table rules apply.
    """
    state, findings = _check_table("sales_history", history, cycle)
    found = _violation_frame(state.violations)
    if len(found):
        findings += _rule_findings("sales_history", found, state.raw, "error")
    if any(f.severity == "error" for f in findings) or state.typed is None:
        raise ContractBreach(findings, _rejects(found, {"sales_history": state}))
    return state.typed


def validate_outputs(outputs: Mapping[str, pd.DataFrame],
                     first_rows: Mapping[str, int] | None = None) -> None:
    """Check the tables about to be published (those given) against their contracts.

    Rows are cited by their 1-based position in the published file: `first_rows` gives a
    table's first row's position when the frame is a later part of it (a partition's rows).
    Raises ContractBreach ("Output contract").
    """
    findings: list[Finding] = []
    parts: list[pd.DataFrame] = []
    raws: dict[str, _Table] = {}
    for table, frame in outputs.items():
        model = OUTPUT_MODELS.get(table)
        if model is None:
            continue
        schema = model.to_schema()
        data = frame.reset_index(drop=True)
        first = (first_rows or {}).get(table, 1)
        data.index = pd.RangeIndex(first, first + len(data), name="row")
        for column in data.select_dtypes(include="object").columns:
            # "" and NaN both mean empty (e.g. exceptions without a sku or period)
            blank = data[column].astype(str).str.strip().eq("")
            if blank.any():
                data[column] = data[column].mask(blank)
        raws[table] = _Table(data)
        missing = [c for c in schema.columns if c not in data.columns]
        if missing:
            findings.append(
                Finding(
                    table=table,
                    column=", ".join(missing),
                    rule="missing column",
                    message=f"{table}: required columns missing: {', '.join(missing)}",
                )
            )
            continue
        found, problems = schema_violations(table, schema, data)
        findings += [
            Finding(table=table, rule="check failed", message=f"{table}.{p}") for p in problems
        ]
        if len(found):
            found = _violation_frame([found])
            parts.append(found)
            findings += _rule_findings(table, found, data, "error", label="row")
    if findings:
        rejects = _rejects(_violation_frame(parts), raws)
        raise ContractBreach(findings, rejects, kind="Output contract")
