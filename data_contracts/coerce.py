"""Typing of text columns (CSV arrives as text): keys and months to str, quantities to float.

Cells that cannot be typed are reported as violations instead of failing the whole column,
so one bad cell does not hide the other problems of the table.
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pandera.pandas as pa

VIOLATION_COLUMNS = ["table", "source_line", "column", "rule", "value"]
NOT_EMPTY = "must not be empty"
CONTROL_CHARS = r"[\x00-\x1f\x7f]"


@dataclass
class Typed:
    """A table with its columns typed, and the cells that could not be."""

    frame: pd.DataFrame
    untyped: pd.Series  # rows with a cell that could not be typed (or is missing)
    violations: list[pd.DataFrame] = field(default_factory=list)


def violations(
    table: str, lines: pd.Index, column: str, rule: str, values: pd.Series
) -> pd.DataFrame:
    """Violation records (one per line) in the common layout."""
    return pd.DataFrame(
        {
            "table": table,
            "source_line": np.asarray(lines),
            "column": column,
            "rule": rule,
            "value": values.astype(object).where(values.notna(), None).astype(str).to_numpy(),
        }
    )


def as_text(series: pd.Series) -> pd.Series:
    """Values as stripped strings; empty -> NaN; 1001.0 from Parquet -> '1001'."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.dt.strftime("%Y-%m").where(series.notna())
    if pd.api.types.is_float_dtype(series):
        values = series.to_numpy(dtype="float64")
        integral = np.isfinite(values) & (np.floor(values) == values)
        text = series.astype(str)
        text[integral] = series[integral].astype("int64").astype(str)
        return text.where(series.notna())
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return series.astype(str).where(series.notna())
    text = series.where(series.isna(), series.astype(str).str.strip())
    return text.mask(text == "").astype(object)


def as_number(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(float64 values, mask of cells that are present but not numbers)."""
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.astype("float64")
        return values, pd.Series(False, index=series.index)
    text = as_text(series)
    values = pd.to_numeric(text, errors="coerce").astype("float64")
    return values, text.notna() & values.isna()


def is_number(column: pa.Column) -> bool:
    """Whether the contract types `column` as a number (float or int); else it is text."""
    return str(column.dtype).startswith(("float", "int"))


def type_table(table: str, raw: pd.DataFrame, schema: pa.DataFrameSchema) -> Typed:
    """Type every schema column of `raw` (which has them all); report what cannot be typed."""
    frame = raw.copy()
    found: list[pd.DataFrame] = []
    bad_rows = pd.Series(False, index=raw.index)
    for name, column in schema.columns.items():
        dtype = str(column.dtype)
        series = raw[name]
        if is_number(column):
            values, not_number = as_number(series)
            if not_number.any():
                found.append(
                    violations(
                        table, raw.index[not_number], name, "must be a number", series[not_number]
                    )
                )
            if dtype.startswith("int"):
                whole = values.isna() | (np.isfinite(values) & (np.floor(values) == values))
                if (~whole).any():
                    found.append(
                        violations(
                            table, raw.index[~whole], name, "must be a whole number", series[~whole]
                        )
                    )
                not_number |= ~whole
            bad_rows |= not_number
            missing = values.isna() & ~not_number
        else:
            # One spelling per key: "é" typed as one code point or as e + accent is one SKU.
            values = as_text(series)
            present = values.notna()
            # On the distinct values only: keys repeat (100k SKUs over millions of rows).
            distinct = pd.Series(pd.unique(values[present].astype(str)), dtype=object)
            nfc = dict(zip(distinct, distinct.str.normalize("NFC"), strict=True))
            if any(k != v for k, v in nfc.items()):
                values[present] = values[present].map(nfc)
            has_control = set(distinct[distinct.str.contains(CONTROL_CHARS, regex=True)])
            control = present & values.isin(has_control) if has_control else present & False
            if control.any():
                found.append(violations(table, raw.index[control], name,
                                        "must not contain control characters (NUL, tab...)",
                                        series[control]))
                bad_rows |= control
            missing = values.isna()
        if not column.nullable and missing.any():
            found.append(violations(table, raw.index[missing], name, NOT_EMPTY, series[missing]))
            bad_rows |= missing
        frame[name] = values
    return Typed(frame, bad_rows, found)


def cast_integers(frame: pd.DataFrame, schema: pa.DataFrameSchema) -> pd.DataFrame:
    """Integer columns to int64 (call on rows that passed typing: no NaN left)."""
    out = frame.copy()
    for name, column in schema.columns.items():
        if str(column.dtype).startswith("int"):
            out[name] = out[name].astype("int64")
    return out
