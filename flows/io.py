"""All file I/O of the pipeline: reading input tables, writing tables and sample data sets."""

import csv
import hashlib
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import fsspec
import pandas as pd

from data_contracts.tables import INPUT_TABLES

FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class InputFile:
    """Where one input table came from: recorded in the manifest."""

    table: str
    path: str
    sha256: str
    rows: int
    format: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class TableReadError(Exception):
    """An input file exists but cannot be read as a table (encoding, delimiter, empty...)."""

    def __init__(self, table: str, path: str, problem: str) -> None:
        super().__init__(f"{table}: cannot read {path}: {problem}")
        self.table = table
        self.path = path
        self.problem = problem


class InputsNotFound(FileNotFoundError):
    """The inputs folder does not exist: wrong usage (exit 2), not a breached contract."""

    def __init__(self, source: str) -> None:
        super().__init__(
            f"inputs folder not found: {source} (give --inputs, the `inputs` parameter or "
            "SOP_INPUTS)"
        )
        self.source = source


def _join(root: str, name: str) -> str:
    return root.rstrip("/") + "/" + name


def find_input_files(source: str) -> dict[str, tuple[str, str]]:
    """Map table name -> (url, format) for the SPEC tables present under `source`.

    A table present both as CSV and as Parquet is ambiguous and refused, so that
    nobody wonders which of the two files the plan was made from.
    """
    fs, root = fsspec.core.url_to_fs(source)
    if not fs.isdir(root):
        raise InputsNotFound(source)
    entries = {Path(e["name"]).name: e for e in fs.ls(root, detail=True)}
    # Matched case-insensitively: an `OPEN_ORDERS.CSV` exported from another system is the
    # table, not a file to ignore without a word.
    by_lower: dict[str, list[str]] = {}
    for name in entries:
        by_lower.setdefault(name.lower(), []).append(name)
    found: dict[str, tuple[str, str]] = {}
    for table in INPUT_TABLES:
        present = [(fmt, name) for fmt in FORMATS for name in by_lower.get(f"{table}.{fmt}", [])]
        if len(present) > 1:
            shown = " and ".join(sorted(name for _, name in present))
            raise TableReadError(table, source, f"both {shown} exist; keep one")
        if present:
            fmt, name = present[0]
            if entries[name].get("type") != "file":
                # A folder or a FIFO named like a table would crash or hang the reader.
                raise TableReadError(table, _join(source, name), "not a regular file")
            found[table] = (_join(source, name), fmt)
    return found


def parse_table(table: str, path: str, raw: bytes, fmt: str) -> pd.DataFrame:
    """Bytes -> DataFrame with every column as text and the source line as index.

    Reading as text keeps keys such as "007" intact and lets the contracts, not the
    reader, decide what a bad number is (and report its line).
    """
    if not raw.strip():
        raise TableReadError(table, path, "the file is empty (not even a header line)")
    if fmt == "parquet":
        try:
            df = pd.read_parquet(io.BytesIO(raw))
        except Exception as exc:  # pyarrow raises several unrelated types
            raise TableReadError(table, path, f"not a readable Parquet file ({exc})") from exc
        df.index = pd.RangeIndex(1, len(df) + 1, name="source_line")
        return df
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TableReadError(
            table, path, f"not UTF-8 text (byte {exc.start}: {raw[exc.start:exc.start + 4]!r});"
            " save the file as UTF-8 CSV"
        ) from exc
    try:
        df = pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""],
            skipinitialspace=False,
        )
    except pd.errors.ParserError as exc:
        raise TableReadError(table, path, f"not a well-formed CSV ({exc})") from exc
    except pd.errors.EmptyDataError as exc:
        raise TableReadError(table, path, "the file has no header line") from exc
    # pandas renames a repeated header to `qty.1`: which of the two is the quantity?
    header = [c.strip() for c in next(csv.reader(io.StringIO(text.split("\n", 1)[0])), [])]
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise TableReadError(table, path, f"column {', '.join(map(repr, repeated))} appears "
                             "more than once in the header; keep one")
    df.columns = [str(c).strip() for c in df.columns]
    if len(df.columns) == 1 and any(sep in df.columns[0] for sep in (";", "\t", "|")):
        raise TableReadError(
            table, path,
            f"only one column {df.columns[0]!r}: the file is not comma-separated",
        )
    # Line numbers as a person sees them in an editor: header is line 1.
    df.index = pd.RangeIndex(2, len(df) + 2, name="source_line")
    return df


def read_inputs(source: str) -> tuple[dict[str, pd.DataFrame], list[InputFile]]:
    """Read every SPEC input table found under `source` (folder or fsspec URL)."""
    tables: dict[str, pd.DataFrame] = {}
    files: list[InputFile] = []
    for table, (url, fmt) in find_input_files(source).items():
        with fsspec.open(url, "rb") as handle:
            raw = handle.read()
        df = parse_table(table, url, raw, fmt)
        tables[table] = df
        files.append(InputFile(table, url, hashlib.sha256(raw).hexdigest(), len(df), fmt))
    return tables, files


def read_table_file(path: str, table: str = "sales_history") -> tuple[pd.DataFrame, InputFile]:
    """Read one table file (CSV or Parquet by extension)."""
    fmt = "parquet" if str(path).endswith(".parquet") else "csv"
    try:
        with fsspec.open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError as exc:
        raise TableReadError(table, str(path), "file not found") from exc
    df = parse_table(table, str(path), raw, fmt)
    return df, InputFile(table, str(path), hashlib.sha256(raw).hexdigest(), len(df), fmt)


def write_table(df: pd.DataFrame, path: str | Path) -> None:
    """Write a table as Parquet or CSV according to the file extension."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        df.to_parquet(path, index=False)
    else:
        df.to_csv(path, index=False)


def write_inputs(tables: dict[str, pd.DataFrame], folder: str | Path, fmt: str = "csv") -> None:
    """Write a set of input tables as `folder/NAME.fmt` (the layout `read_inputs` reads)."""
    for name, df in tables.items():
        write_table(df, Path(folder) / f"{name}.{fmt}")


def write_json(obj: Any, path: str | Path) -> None:
    Path(path).write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
