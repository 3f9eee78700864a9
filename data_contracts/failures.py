"""Run a pandera schema lazily and turn its failure cases into violation records."""

import warnings

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from data_contracts.checks import ROW_CHECK_COLUMNS, describe_check
from data_contracts.coerce import NOT_EMPTY, VIOLATION_COLUMNS


def _key_values(frame: pd.DataFrame, lines: pd.Index, columns: list[str]) -> pd.Series:
    rows = frame.loc[lines, columns].astype(str)
    text = rows.apply(lambda col: col.name + "=" + col)
    return text.agg(", ".join, axis=1)


def _frame_check_rule(schema: pa.DataFrameSchema, number: object) -> tuple[str, str | None]:
    check = schema.checks[int(number)]  # type: ignore[call-overload]
    return describe_check(check), ROW_CHECK_COLUMNS.get(check.name)


def _in_schema_order(schema: pa.DataFrameSchema, cases: pd.DataFrame) -> pd.DataFrame:
    """Failure cases in a fixed order: checks of the whole frame first, then column by column
    in the schema's order, check by check, rows by line. pandera sorts them with an unstable
    sort, which leaves rules and sample rows in an order that depends on the rest of the table:
    the same bad rows would be named differently when a table is checked in parts."""
    position = {name: i for i, name in enumerate(schema.columns)}
    keys = pd.DataFrame({
        "frame": (cases["schema_context"] != "DataFrameSchema").astype(int),
        "column": cases["column"].map(position).fillna(-1),
        "number": pd.to_numeric(cases["check_number"], errors="coerce").fillna(-1),
        "check": cases["check"].astype(str),
        "line": pd.to_numeric(cases["index"], errors="coerce"),
    })
    keys.index = pd.RangeIndex(len(keys))
    order = keys.sort_values(list(keys.columns), kind="stable").index
    return cases.iloc[order.to_numpy()]


def schema_violations(
    table: str, schema: pa.DataFrameSchema, frame: pd.DataFrame
) -> tuple[pd.DataFrame, list[str]]:
    """Validate `frame` (index = source line) with `schema`.

    Returns (violations: table, source_line, column, rule, value) and problems that concern the
    whole table rather than rows (e.g. a check that could not run), as readable strings.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return pd.DataFrame(columns=VIOLATION_COLUMNS), []

    found: list[pd.DataFrame] = []
    problems: list[str] = []
    whole = cases[cases["index"].isna()]
    for _, case in whole.drop_duplicates(["column", "check"]).iterrows():
        problems.append(f"{case['column']}: {case['check']} ({case['failure_case']})")
    cases = _in_schema_order(schema, cases[cases["index"].notna()])

    def add(lines: pd.Index, column: str | None, rule: str, values: pd.Series) -> None:
        found.append(
            pd.DataFrame(
                {
                    "table": table,
                    "source_line": lines.to_numpy(),
                    "column": column,
                    "rule": rule,
                    "value": values.astype(str).to_numpy(),
                }
            )
        )

    is_unique = cases["check"] == "multiple_fields_uniqueness"
    if is_unique.any():
        keys = list(schema.unique or [])
        lines = pd.Index(cases.loc[is_unique, "index"].drop_duplicates())
        add(lines, ", ".join(keys), "duplicate key", _key_values(frame, lines, keys))

    frame_level = (cases["schema_context"] == "DataFrameSchema") & ~is_unique
    for number, group in cases[frame_level].groupby("check_number", dropna=False):
        if pd.isna(number):
            for check, sub in group.groupby("check"):
                add(pd.Index(sub["index"].drop_duplicates()), None, str(check), sub["failure_case"])
            continue
        rule, columns = _frame_check_rule(schema, number)
        lines = pd.Index(group["index"].drop_duplicates())
        shown = [c for c in (columns or "").replace(" ", "").split(",") if c in frame.columns]
        values = _key_values(frame, lines, shown) if shown else pd.Series([""] * len(lines))
        add(lines, columns, rule, values)

    column_level = cases[cases["schema_context"] == "Column"]
    for (column, check, number), group in column_level.groupby(
        ["column", "check", "check_number"], dropna=False, sort=False
    ):
        if pd.notna(number):
            rule = describe_check(schema.columns[column].checks[int(number)])
        elif check == "not_nullable":
            rule = NOT_EMPTY
        else:
            rule = f"wrong type ({check})"
        add(pd.Index(group["index"]), str(column), rule, group["failure_case"])

    if not found:
        return pd.DataFrame(columns=VIOLATION_COLUMNS), problems
    return pd.concat(found, ignore_index=True), problems
