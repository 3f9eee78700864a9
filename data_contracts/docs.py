"""Markdown reference of every contract, generated from the schemas.

Usage: `python -m data_contracts.docs > docs/contracts.md`
"""

import pandera.pandas as pa

from data_contracts.checks import ROW_CHECK_COLUMNS, describe_check
from data_contracts.inputs import CYCLE_RULES, INPUT_MODELS
from data_contracts.outputs import OUTPUT_MODELS, TOLERANCE
from data_contracts.quality import QualitySettings
from data_contracts.tables import CONTRACT_VERSION, INPUT_TABLES
from data_contracts.validate import MUST_HAVE_ROWS, RESTATEMENT_SHARE

TYPES = {"str": "text", "float64": "number", "int64": "whole number"}

INTRO = """\
# Data contracts

Generated from the pandera schemas in `data_contracts/` by
`python -m data_contracts.docs > docs/contracts.md`; do not edit by hand.

Every input table is checked right after it is read (`validate_inputs`), every published
table right before it is written (`validate_outputs`). Structure and row rules are pandera
`DataFrameModel`s (`data_contracts/inputs.py`, `data_contracts/outputs.py`); rules across
tables are in `data_contracts/cross_table.py`; data-quality suites across tables and runs
are great-expectations suites (`data_contracts/quality.py`, run by `flows/quality_run.py`)
with Data Docs as the human view.

## How inputs are read and typed

- Files arrive as text (CSV: every column a string, an empty cell is empty). The index is the
  line number in the file (header = line 1, first row = line 2; Parquet: row number from 1).
  Frames that were not read from a file are numbered as if they were CSV (first row = 2).
- Text is trimmed; a cell that is empty or only spaces is *empty*.
- Keys (`sku`, `location`, `family`, `promo_id`, `submitted_by`, `reason`, `approved_by`) stay
  text, also when a Parquet file stores them as numbers (`1001.0` becomes `1001`). Months stay
  `YYYY-MM` text. Quantities become float64; `lead_time_months` int64.
- Optional columns that are absent are added, empty, so later stages can rely on them.
  Optional tables that are absent stay absent.
- Extra columns are allowed: kept, not used, and reported as an `info` finding. Tables with
  names outside the spec are ignored with an `info` finding.
- A cell that cannot be typed ("12,5", "abc") is reported on its own line and its row is
  not checked further, so one bad cell does not hide the others.

## When a contract is breached

Any breached rule stops the run (`sop` exits with code 3; nothing is published) with a
message that names table, column, rule, the number of rows and up to three of them:

```
Data contract breached: 2 rules, 3 rows.
- sales_history.qty: must be >= 0 (2 rows), e.g. line 5: sku=A1 location=DC-N qty=-4; ...
- overrides.reason: must not be empty (1 row), e.g. line 2: sku=B1 reason=<empty> ...
Offending rows written to OUT/.../rejects.csv
```

Rules over several columns are written `table (col_a, col_b): rule`. The offending rows are in
`ContractBreach.rejects` (columns `table, source_line, column, rule, value, row`, where `row`
is the original row as JSON); the flow writes them and sets `rejects_path`.

**Quarantine.** `QuarantinePolicy(max_share={"sales_history": 0.01})` lets up to that share
of a table's rows be left out instead: they are removed, listed in `rejects`, and a `warning`
finding (rule `quarantine`) carries them into `exceptions`. Above the share the run stops and
the message says `N of M rows (x%) break the contract, more than the y% that may be
quarantined`. Rows that break cross-table rules are quarantined the same way; when a
`products` or `warehouses` row is quarantined, the rows that need it are rejected too (rule
`sku is only in rejected products rows`) and count against their own table's share.
Table-level problems (a missing table or column, an empty `products`/`warehouses`, a
location without capacity for every month) are never quarantined.
"""


def _column_rules(column: pa.Column) -> str:
    rules = [describe_check(c) for c in column.checks]
    if column.unique:
        rules.append("unique")
    return "; ".join(rules) or "—"


def _table(name: str, schema: pa.DataFrameSchema, optional_table: bool | None) -> list[str]:
    heading = f"### `{name}`"
    if optional_table is not None:
        heading += " (required)" if not optional_table else " (optional table)"
    lines = [heading, ""]
    if schema.description:
        lines += [schema.description, ""]
    if schema.unique:
        lines += [f"Key: {', '.join(schema.unique)} (unique).", ""]
    lines += [
        "| column | type | column required | empty allowed | rules | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for col_name, column in schema.columns.items():
        lines.append(
            f"| `{col_name}` | {TYPES.get(str(column.dtype), str(column.dtype))} "
            f"| {'yes' if column.required else 'no'} | {'yes' if column.nullable else 'no'} "
            f"| {_column_rules(column)} | {column.description or ''} |"
        )
    extra = [
        f"- ({ROW_CHECK_COLUMNS.get(check.name, '')}): {describe_check(check)}"
        for check in schema.checks
    ]
    extra += [
        f"- `{column}`: {rule.format(cycle='CYCLE')}"
        for column, (_, rule) in CYCLE_RULES.get(name, {}).items()
    ]
    if extra:
        lines += ["", "Row rules:", "", *extra]
    return [*lines, ""]


def _cross_table() -> list[str]:
    return [
        "## Rules across tables",
        "",
        "- Every `sku` in any table exists in `products` (rule `sku not in products`).",
        "- Every `location` in any table exists in `warehouses` (`location not in warehouses`).",
        "- A `family` named in `sales_forecast` exists in `products` (`family not in products`).",
        "- Every location that is planned (appears in sales_history, sales_forecast, inventory, "
        "open_orders or customer_orders) has an every-month `warehouses` row (empty `period`). "
        "When the caller passes the horizon (`validate_inputs(..., horizon=N)`), dated rows for "
        "every month of the horizon are accepted instead. A dated row overrides the every-month "
        "row.",
        f"- {', '.join(MUST_HAVE_ROWS)} must have rows; the other tables may be empty.",
        "- With the previous cycle's inputs (`previous=`), months of `sales_history` whose "
        f"total changed by more than {RESTATEMENT_SHARE:.0%} give a `warning` "
        "(`history restated`).",
        "",
    ]


def _quality() -> list[str]:
    s = QualitySettings()
    return [
        "## Data-quality suites (great-expectations)",
        "",
        "The suites are defined in `data_contracts/quality.py` (what is checked, thresholds, "
        "severities) and committed as great-expectations 1.x ExpectationSuite JSON in "
        "`data_contracts/suites/` (regenerate with `python -m data_contracts.quality`; a test "
        "checks they match the code). Each expectation carries GX's own `severity`: "
        "`critical` for our `error`. `flows.quality_run.run_quality_suites(tables, cycle, "
        "docs_dir, previous=None, baseline=None, settings=None)` runs them on the validated "
        "tables in one ephemeral GX context, a Checkpoint per suite whose "
        "`UpdateDataDocsAction` writes Data Docs into `docs_dir` (`index.html`). `warning` "
        "results become findings for the S&OP meeting; `critical` results stop the run "
        "(ContractBreach, exit 3). Thresholds and severities are `QualitySettings`:",
        "",
        "| suite | expectation | default |",
        "|---|---|---|",
        "| `freshness` | history reaches the month before the cycle "
        f"(min months before the cycle ≤ 1) | {s.freshness_severity} |",
        "| `freshness` | history is not stale: ends less than "
        f"{s.stale_error_months} months before the cycle | error |",
        "| `freshness_by_location` | every location's history reaches the month before "
        f"the cycle | {s.freshness_severity} |",
        "| `completeness` | at least "
        f"{s.completeness_min_share:.0%} of active SKU × locations (status active or empty, "
        f"planned in any table) have history | {s.completeness_severity} |",
        "| `forecast_drift_total` | with `previous`: total sales forecast over the months both "
        f"cycles cover is up at most {s.max_total_increase_pct:g}% | {s.drift_severity} |",
        "| `forecast_drift_family` | with `previous`: no family's forecast volume grows "
        f"×{s.family_max_ratio:g} or more (same months) | {s.drift_severity} |",
        "| `forecast_vs_baseline` | with `baseline`: each SKU sales number ≤ "
        f"{s.baseline_far_factor:g} × hi_95 and ≥ lo_95 / {s.baseline_far_factor:g} "
        f"| {s.baseline_severity} |",
        "",
    ]


def _machine_readable() -> list[str]:
    return [
        "## Machine-readable contract",
        "",
        f"Contract version **{CONTRACT_VERSION}** (`data_contracts.CONTRACT_VERSION`, semver: "
        "major when a reader may break, minor when something is added). "
        "`python -m data_contracts.output_schema` prints the output tables above as one JSON "
        "Schema (draft 2020-12) document, built from the same pandera models "
        "(`data_contracts.output_schema.output_contract()`). `$defs/<table>` is the schema of "
        "one record: columns, types, what may be empty (null, or blank text), ranges, allowed "
        "values and month patterns; `x-primary-key`, `x-arrow-type` and `x-row-rules` carry "
        "what JSON Schema cannot check. Every version's `manifest.json` names the "
        "`contract_version` its tables keep; the document itself is meant to be published "
        "with every version as `contract.json`.",
        "",
    ]


def render_contracts() -> str:
    """The whole reference as Markdown."""
    lines = [INTRO, "## Input tables", ""]
    for name, model in INPUT_MODELS.items():
        lines += _table(name, model.to_schema(), not INPUT_TABLES[name])
    lines += _cross_table()
    lines += _quality()
    lines += [
        "## Output tables",
        "",
        "Checked by `validate_outputs` right before publishing; rows are cited by their "
        "position (`row 1` is the first). SPEC columns are required, added columns are "
        f"allowed. Equalities between float columns allow a slack of {TOLERANCE:g} "
        "(relative, at least absolute).",
        "",
    ]
    for name, output in OUTPUT_MODELS.items():
        lines += _table(name, output.to_schema(), None)
    lines += _machine_readable()
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(render_contracts(), end="")
