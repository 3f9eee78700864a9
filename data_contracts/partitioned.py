"""validate_inputs location group by location group: the same verdict from one group at a time.

Every key of a location-keyed table includes `location` (data_contracts/tables.py INPUT_KEYS),
so a group of locations holds every row its duplicate-key rule can compare; products and
warehouses are small and checked whole. What crosses groups is small: the products and
warehouses rows each group resolves its references against, per table the violations (only
the bad rows, with their raw text), row counts, the planned locations, and the few numbers of
the rows read past on purpose and of the history restatement. `check_whole` checks products
and warehouses, `check_group` one group's rows of the other tables, and `merge_verdict` turns
the groups' parts into validate_inputs' findings, rejects and breach, in its order.

Pure: no file access; flows/check_parts.py reads the groups and writes the checked tables.
"""

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from data_contracts.coerce import NOT_EMPTY, as_text, cast_integers
from data_contracts.cross_table import (
    LOCATION_TABLES,
    PLANNED_TABLES,
    reference_violations,
    uncovered_locations,
)
from data_contracts.findings import (
    SAMPLE_ROWS,
    ContractBreach,
    Finding,
    QuarantinePolicy,
    empty_rejects,
)
from data_contracts.inputs import input_schema
from data_contracts.periods import is_month
from data_contracts.quality import PAIR_TABLES, forecast_totals
from data_contracts.tables import INPUT_COLUMNS, INPUT_TABLES
from data_contracts.validate import (
    MUST_HAVE_ROWS,
    _check_table,
    _coverage_findings,
    _quarantine_finding,
    _rejects,
    _rule_findings,
    _Table,
    _unused_rows_findings,
    _violation_frame,
    restatement_findings,
    unused_rows_finding,
)

# Tables split by location group; the others (products, warehouses) are checked whole.
SPLIT_TABLES: tuple[str, ...] = tuple(t for t in INPUT_TABLES if t in LOCATION_TABLES)
WHOLE_TABLES: tuple[str, ...] = tuple(t for t in INPUT_TABLES if t not in LOCATION_TABLES)


def location_keys(values: pd.Series) -> pd.Series:
    """A location column as the contracts compare it (stripped text, one Unicode spelling);
    NaN where empty. The split by group uses it, so that rows the contracts take for one
    location are in one group."""
    text = as_text(values)
    present = text.notna()
    text[present] = text[present].astype(str).map(lambda v: unicodedata.normalize("NFC", v))
    return text


@dataclass
class WholeCheck:
    """products and warehouses checked whole: what every group resolves references against."""

    states: dict[str, _Table]
    findings: dict[str, list[Finding]]  # table -> its own table-level findings
    violations: dict[str, pd.DataFrame]
    rows: dict[str, int]

    @property
    def typed(self) -> dict[str, pd.DataFrame]:
        """The typed tables references resolve against (as validate_inputs' `typed`)."""
        return {t: s.typed for t, s in self.states.items() if s.typed is not None and len(s.raw)}

    def dropped(self, policy: QuarantinePolicy) -> dict[str, pd.Index]:
        """Lines of products/warehouses left out of the run when within the quarantine share."""
        out = {}
        for table, found in self.violations.items():
            lines = pd.Index(found["source_line"].unique())
            if len(lines) and len(lines) / self.rows[table] <= policy.allowed(table):
                out[table] = lines
        return out

    def kept(self, policy: QuarantinePolicy, cycle: str) -> dict[str, pd.DataFrame]:
        """The typed tables without their broken rows (every one quarantined when the merged
        verdict lets the run go on), as validate_inputs returns them."""
        out = {}
        for table, state in self.states.items():
            if state.typed is not None:
                lines = pd.Index(self.violations[table]["source_line"].unique())
                out[table] = cast_integers(state.typed.drop(lines), input_schema(table, cycle))
        return out

    def locations(self) -> list[str]:
        """Every location the warehouses table names (its bad rows too): the groups' keys."""
        state = self.states.get("warehouses")
        if state is None or state.typed is None:
            return []
        return sorted(set(state.typed["location"].dropna().astype(str)))


def check_whole(tables: Mapping[str, pd.DataFrame], cycle: str) -> WholeCheck:
    """products and warehouses (those given, as read) against their own contracts."""
    states: dict[str, _Table] = {}
    findings: dict[str, list[Finding]] = {}
    for table in WHOLE_TABLES:
        if table in tables:
            states[table], findings[table] = _check_table(table, tables[table], cycle)
    return WholeCheck(
        states=states, findings=findings,
        violations={t: _violation_frame(s.violations) for t, s in states.items()},
        rows={t: len(s.raw) for t, s in states.items()},
    )


@dataclass
class TablePart:
    """One group's share of one table: small, whatever the group's size."""

    rows: int
    findings: list[Finding]  # about the table itself (columns): the same in every group
    violations: pd.DataFrame  # VIOLATION_COLUMNS, in validate_inputs' order within the group
    bad_rows: pd.DataFrame  # the raw rows of the violated lines (index = source line)


@dataclass
class GroupCheck:
    """What one group tells the merge; its checked rows are in `checked` until written."""

    tables: dict[str, TablePart]
    planned_locations: set[str]
    unused: list[Finding]  # rows read past on purpose, among the rows the group keeps
    history_totals: pd.Series | None  # kept sales_history qty per period
    summary: dict[str, pd.DataFrame] = field(default_factory=dict)  # for the quality suites
    checked: dict[str, pd.DataFrame] = field(default_factory=dict)  # without its violations


def check_group(
    tables: Mapping[str, pd.DataFrame],
    whole: WholeCheck,
    policy: QuarantinePolicy,
    cycle: str,
    horizon: int | None = None,
) -> GroupCheck:
    """One group's rows of the location-keyed tables (as read, index = source line) against
    their contracts and against products and warehouses (checked whole in `whole`).

    `checked` holds the group's typed rows without the rows that break a rule: the rows the
    run keeps, should the merge find every breach within the quarantine share."""
    states: dict[str, _Table] = {}
    findings: dict[str, list[Finding]] = {}
    for table in SPLIT_TABLES:
        if table in tables:
            states[table], findings[table] = _check_table(table, tables[table], cycle)
    own = {t: _violation_frame(s.violations) for t, s in states.items()}
    typed = {t: s.typed for t, s in states.items() if s.typed is not None and len(s.raw)}
    for part in reference_violations({**typed, **whole.typed}, whole.dropped(policy)):
        table = str(part["table"].iloc[0])
        own[table] = _violation_frame([own[table], part])
    parts: dict[str, TablePart] = {}
    checked: dict[str, pd.DataFrame] = {}
    for table, state in states.items():
        lines = pd.Index(own[table]["source_line"].unique())
        parts[table] = TablePart(len(state.raw), findings[table], own[table],
                                 state.raw.loc[lines])
        if state.typed is not None:
            checked[table] = cast_integers(state.typed.drop(lines), input_schema(table, cycle))
    planned: set[str] = set()
    for table in PLANNED_TABLES:
        if table in typed:
            planned |= set(typed[table]["location"].dropna().astype(str))
    history = checked.get("sales_history")
    return GroupCheck(
        tables=parts, planned_locations=planned,
        unused=_unused_rows_findings(checked, cycle, horizon),
        history_totals=history.groupby("period")["qty"].sum() if history is not None else None,
        summary=quality_summary(checked),
        checked=checked,
    )


def quality_summary(checked: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """What the quality suites need of a group's kept rows (data_contracts/quality.py):
    per SKU x location its last month of history, the SKU x locations each planned table names
    with the table's rank and first line (completeness lists them in that order), and the
    sales forecast's qty per sku, family and period (drift)."""
    out: dict[str, pd.DataFrame] = {}
    history = checked.get("sales_history")
    if history is not None:
        out["history_last"] = (history.groupby(["sku", "location"], sort=False)["period"]
                               .max().reset_index())
    pairs = []
    for rank, table in enumerate(PAIR_TABLES):
        frame = checked.get(table)
        if frame is not None and len(frame):
            keys = frame[["sku", "location"]].dropna().drop_duplicates()
            pairs.append(keys.assign(rank=rank, line=keys.index.to_numpy()))
    out["pairs"] = pd.concat(pairs, ignore_index=True) if pairs else pd.DataFrame(
        columns=["sku", "location", "rank", "line"])
    forecast = checked.get("sales_forecast")
    if forecast is not None:
        out["forecast_totals"] = forecast_totals(forecast)
    return out


@dataclass
class MergedCheck:
    """The verdict of every group together: validate_inputs' findings and rejects, and the
    lines the run leaves out (quarantined), per table."""

    findings: list[Finding]
    rejects: pd.DataFrame
    quarantined: dict[str, int]


def merge_verdict(
    present: Sequence[str],
    whole: WholeCheck,
    groups: Sequence[GroupCheck],
    policy: QuarantinePolicy,
    cycle: str,
    horizon: int | None = None,
    previous_totals: pd.Series | None = None,
) -> MergedCheck:
    """validate_inputs' verdict from the groups' parts. `present`: the input tables given;
    `previous_totals`: the previous cycle's sales_history qty per period, when there is one.

    Findings come in validate_inputs' order; within a table, its rules in the order the
    whole table would report them (the groups' orders merged), each rule's rows by line.
    Raises ContractBreach with the same findings and rejects as validate_inputs."""
    if not is_month(cycle):
        raise ValueError(f"cycle must be a month YYYY-MM, got {cycle!r}")
    findings: list[Finding] = []
    states: dict[str, _Table] = {}
    found: dict[str, pd.DataFrame] = {}
    rows: dict[str, int] = {}
    for table, required in INPUT_TABLES.items():
        if table not in present:
            if required:
                findings.append(Finding(
                    table=table, rule="missing table",
                    message=f"{table}: required table is missing (expected {table}.csv "
                    f"or {table}.parquet with columns {', '.join(INPUT_COLUMNS[table])})"))
            continue
        if table in whole.states:
            states[table] = whole.states[table]
            findings += whole.findings[table]
            found[table] = whole.violations[table]
            rows[table] = whole.rows[table]
        else:
            parts = [g.tables[table] for g in groups if table in g.tables]
            findings += _table_findings([p.findings for p in parts])
            found[table] = _merge_violations(table, [p.violations for p in parts])
            bad = [p.bad_rows for p in parts if len(p.bad_rows)]
            raw = pd.concat(bad).sort_index() if bad else parts[0].bad_rows
            states[table] = _Table(raw)
            rows[table] = sum(p.rows for p in parts)
        if table in MUST_HAVE_ROWS and rows[table] == 0:
            findings.append(Finding(
                table=table, rule="empty table",
                message=f"{table}: has a header but no data rows; a required table "
                "needs at least one row"))

    quarantined: list[pd.DataFrame] = []
    breached: list[pd.DataFrame] = []
    counts: dict[str, int] = {}
    for table, state in states.items():
        table_found = found[table]
        lines = pd.Index(table_found["source_line"].unique())
        total = rows[table]
        limit = policy.allowed(table)
        if len(lines) and total and limit > 0 and len(lines) / total <= limit:
            quarantined.append(table_found)
            counts[table] = len(lines)
            findings.append(_quarantine_finding(table, lines, total, limit, table_found,
                                                state.raw))
        elif len(lines):
            breached.append(table_found)
            findings += _rule_findings(table, table_found, state.raw, "error")
            if limit > 0:
                findings.append(Finding(
                    table=table, rule="quarantine limit", count=len(lines),
                    message=f"{table}: {len(lines)} of {total} rows "
                    f"({len(lines) / total:.1%}) break the contract, more than the "
                    f"{limit:.1%} that may be quarantined"))

    planned: set[str] = set().union(*(g.planned_locations for g in groups)) if groups else set()
    coverage_input = {**whole.typed,
                      "sales_history": pd.DataFrame({"location": sorted(planned)})}
    uncovered = uncovered_locations(coverage_input, whole.dropped(policy), cycle, horizon)
    findings += _coverage_findings(uncovered, horizon)
    if any(f.severity == "error" for f in findings):
        everything = _violation_frame([*breached, *quarantined])
        raise ContractBreach(findings, _rejects(everything, states))
    findings += merge_unused([f for g in groups for f in g.unused])
    totals = [g.history_totals for g in groups if g.history_totals is not None]
    if previous_totals is not None and totals:
        findings += restatement_findings(pd.concat(totals).groupby(level=0).sum(),
                                         previous_totals)
    rejects = _rejects(_violation_frame(quarantined), states) if quarantined else empty_rejects()
    return MergedCheck(findings, rejects, counts)


def _table_findings(per_group: list[list[Finding]]) -> list[Finding]:
    """A table's own findings (columns, checks that could not run): every group sees the same
    header, so each finding once, in the first group's order."""
    out: list[Finding] = []
    seen: set[str] = set()
    for group in per_group:
        for f in group:
            if f.message not in seen:
                seen.add(f.message)
                out.append(f)
    return out


def _rule_rank(table: str, key: tuple[str, str]) -> tuple[int, int]:
    """Where validate_inputs reports a rule when two groups do not tell: cells that cannot be
    typed first, then the contract's checks, then the references to products/warehouses, each
    in column order."""
    column, rule = key
    columns = INPUT_COLUMNS[table]
    position = columns.index(column) if column in columns else len(columns)
    if rule in (NOT_EMPTY, "must be a number", "must be a whole number") or \
            rule.startswith("must not contain control characters"):
        stage = 0
    elif " not in products" in rule or " not in warehouses" in rule or \
            "is only in rejected" in rule or rule.startswith("family differs"):
        stage = 2
    else:
        stage = 1
    return stage, position


def _merge_orders(table: str, orders: list[list[tuple[str, str]]]) -> list[tuple[str, str]]:
    """One order of rules that keeps every group's order (each group reports its rules in the
    whole table's order, restricted to those it has)."""
    pending = [list(o) for o in orders if o]
    merged: list[tuple[str, str]] = []
    while pending:
        heads = {o[0] for o in pending}
        free = [h for h in heads if not any(h in o[1:] for o in pending)]
        pick = min(free or heads, key=lambda k: (_rule_rank(table, k), k))
        merged.append(pick)
        pending = [o for o in ([k for k in o if k != pick] for o in pending) if o]
    return merged


def _merge_violations(table: str, parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The groups' violations of one table in validate_inputs' order: rule by rule (in the
    merged order of rules), each rule's rows by line."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return _violation_frame([])
    def keys(frame: pd.DataFrame) -> list[tuple[str, str]]:
        pairs = zip(frame["column"].fillna("").astype(str), frame["rule"].astype(str),
                    strict=True)
        return list(dict.fromkeys(pairs))
    rank = {k: i for i, k in enumerate(_merge_orders(table, [keys(p) for p in parts]))}
    out = _violation_frame(parts)
    order = [rank[k] for k in zip(out["column"].fillna("").astype(str),
                                  out["rule"].astype(str), strict=True)]
    return (out.assign(_rank=order)
            .sort_values(["_rank", "source_line"], kind="stable")
            .drop(columns="_rank").reset_index(drop=True))


def merge_unused(findings: list[Finding]) -> list[Finding]:
    """The groups' notes of rows read past on purpose as the whole table's: counts added,
    the first rows by line as sample."""
    merged: dict[tuple[str, str | None, str], list[Finding]] = {}
    for f in findings:
        merged.setdefault((f.table, f.column, f.rule), []).append(f)
    out = []
    # validate_inputs notes sales_forecast before forecast_history.
    for (table, column, rule), group in sorted(
            merged.items(), key=lambda kv: list(INPUT_TABLES).index(kv[0][0])):
        sample = sorted((r for f in group for r in f.sample), key=lambda r: r["line"])
        out.append(unused_rows_finding(table, column or "", rule, sum(f.count for f in group),
                                       sample[:SAMPLE_ROWS]))
    return out
