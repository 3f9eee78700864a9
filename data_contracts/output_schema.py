"""Machine-readable contract of the published tables: JSON Schema built from the pandera models.

Downstream readers validate a published row (one record of a table) against
`$defs/<table>`, or a whole set of tables (`{table: [records]}`) against the document.
Usage: `python -m data_contracts.output_schema > contract.json`
"""

import json
from typing import Any, Final

import pandera.pandas as pa

from data_contracts.checks import ROW_CHECK_COLUMNS, describe_check
from data_contracts.outputs import OUTPUT_MODELS, TOLERANCE
from data_contracts.tables import CONTRACT_VERSION, OUTPUT_KEYS

JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"

# pandera dtype -> (JSON type, Arrow type of the published Parquet column)
_TYPES: Final[dict[str, tuple[str, str]]] = {
    "str": ("string", "string"),
    "float64": ("number", "double"),
    "int64": ("integer", "int64"),
}

# pandera check name -> JSON Schema keyword and the check statistic that holds its bound
_BOUNDS: Final[dict[str, tuple[str, str]]] = {
    "greater_than_or_equal_to": ("minimum", "min_value"),
    "greater_than": ("exclusiveMinimum", "min_value"),
    "less_than_or_equal_to": ("maximum", "max_value"),
    "less_than": ("exclusiveMaximum", "max_value"),
}

# An empty text cell is null or blank ("" or spaces), as validate_outputs reads it.
_EMPTY_TEXT: Final[dict[str, Any]] = {
    "anyOf": [{"type": "null"}, {"type": "string", "pattern": r"^\s*$"}]
}
# A required text cell has something besides spaces.
_NOT_BLANK: Final = r"\S"


def _number(value: Any) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def _value_schema(column: pa.Column) -> dict[str, Any]:
    """The rules of a non-empty cell of `column`."""
    json_type, _ = _TYPES[str(column.dtype)]
    schema: dict[str, Any] = {"type": json_type}
    for check in column.checks:
        stats = check.statistics or {}
        if check.name in _BOUNDS:
            keyword, stat = _BOUNDS[check.name]
            schema[keyword] = _number(stats[stat])
        elif check.name == "isin":
            schema["enum"] = list(stats["allowed_values"])
        elif check.name == "str_matches":
            schema["pattern"] = str(stats["pattern"])
        elif check.name == "finite":
            pass  # JSON numbers are always finite
        else:
            raise ValueError(f"no JSON Schema for check {check.name!r} of {column.name!r}")
    if json_type == "string" and "pattern" not in schema and "enum" not in schema:
        schema["pattern"] = _NOT_BLANK
    return schema


def column_schema(column: pa.Column) -> dict[str, Any]:
    """JSON Schema of one cell of a pandera `column`: type, range, allowed values, pattern."""
    json_type, arrow_type = _TYPES[str(column.dtype)]
    value = _value_schema(column)
    if not column.nullable:
        schema = value
    elif json_type == "string":
        schema = {"anyOf": [*_EMPTY_TEXT["anyOf"], value]}
    else:
        schema = {**value, "type": [json_type, "null"]}
    rules = [describe_check(c) for c in column.checks]
    return {
        "description": column.description or "",
        **schema,
        "x-arrow-type": arrow_type,
        "x-nullable": bool(column.nullable),
        "x-rules": rules,
    }


def table_schema(name: str, model: type[pa.DataFrameModel]) -> dict[str, Any]:
    """JSON Schema of one record (row) of the published table `name`."""
    schema = model.to_schema()
    row_rules = [
        f"({ROW_CHECK_COLUMNS.get(check.name, '')}) {describe_check(check)}"
        for check in schema.checks
    ]
    document: dict[str, Any] = {
        "title": name,
        "description": schema.description or "",
        "type": "object",
        "properties": {col: column_schema(c) for col, c in schema.columns.items()},
        "required": [col for col, c in schema.columns.items() if c.required],
        # SPEC lets outputs gain optional columns: readers must ignore what they do not know.
        "additionalProperties": True,
    }
    if name in OUTPUT_KEYS:
        document["x-primary-key"] = list(OUTPUT_KEYS[name])
    if row_rules:
        # Rules across a row's columns; JSON Schema cannot state them, readers may rely on them.
        document["x-row-rules"] = row_rules
    return document


def output_contract() -> dict[str, Any]:
    """The contract of every published table as one JSON Schema (draft 2020-12) document.

    `$defs` holds one record schema per table; the document itself validates an object that
    maps table names to lists of records. Keys a validator does not know (`x-…`) carry what
    JSON Schema cannot check: primary key, Arrow type, row rules.
    """
    defs = {name: table_schema(name, model) for name, model in OUTPUT_MODELS.items()}
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"urn:sop-consensus:output-contract:{CONTRACT_VERSION}",
        "title": "S&OP consensus pipeline: published tables",
        "description": (
            "One Parquet file per table in every OUT/cycle=YYYY-MM/version=N/ folder. "
            "Empty text is null or blank (\"\" or spaces). Equalities between float columns allow "
            f"a slack of {TOLERANCE:g} (relative, at least absolute)."
        ),
        "x-contract-version": CONTRACT_VERSION,
        "type": "object",
        "properties": {
            name: {"type": "array", "items": {"$ref": f"#/$defs/{name}"}} for name in defs
        },
        "additionalProperties": True,
        "$defs": defs,
    }


def render_output_contract() -> str:
    """output_contract() as indented JSON text, ending in a newline."""
    return json.dumps(output_contract(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render_output_contract(), end="")
