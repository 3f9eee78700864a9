"""All file I/O of the pipeline: reading input tables, writing tables and sample data sets."""

import csv
import hashlib
import io
import json
from collections.abc import Iterator, Sequence
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


# How every input CSV is read, whole (parse_table) or in batches (TableStream), so both read
# a file alike: every column as text, only an empty field missing (a code such as "NA" or
# "null" stays text), spaces kept for the contracts to judge.
CSV_OPTIONS: dict[str, Any] = {"dtype": str, "keep_default_na": False, "na_values": [""],
                               "skipinitialspace": False}


def csv_header(line: str) -> list[str]:
    """The column names of a CSV header line, trimmed (as the readers trim them)."""
    return [c.strip() for c in next(csv.reader(io.StringIO(line)), [])]


def other_separator(columns: Sequence[Any]) -> bool:
    """One column whose name holds a `;`, tab or `|`: a file separated by something else
    than commas, read as one column."""
    return len(columns) == 1 and any(sep in str(columns[0]) for sep in (";", "\t", "|"))


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
        df = pd.read_csv(io.StringIO(text), **CSV_OPTIONS)
    except pd.errors.ParserError as exc:
        raise TableReadError(table, path, f"not a well-formed CSV ({exc})") from exc
    except pd.errors.EmptyDataError as exc:
        raise TableReadError(table, path, "the file has no header line") from exc
    # pandas renames a repeated header to `qty.1`: which of the two is the quantity?
    header = csv_header(text.split("\n", 1)[0])
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise TableReadError(table, path, f"column {', '.join(map(repr, repeated))} appears "
                             "more than once in the header; keep one")
    df.columns = [str(c).strip() for c in df.columns]
    if other_separator(df.columns):
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


class _Hashing(io.RawIOBase):
    """A binary file that feeds what is read through it to a digest."""

    def __init__(self, handle: Any, digest: Any) -> None:
        self.handle = handle
        self.digest = digest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.handle.read(len(buffer))
        self.digest.update(data)
        buffer[: len(data)] = data
        return len(data)

    def drain(self) -> None:
        for chunk in iter(lambda: self.handle.read(1 << 20), b""):
            self.digest.update(chunk)


class TableStream:
    """One input table read in batches of rows (text columns, index = source line, as
    `parse_table` gives the whole file), so that no reader holds the whole table.

    After the batches are consumed, `record` says where the table came from (hash of the file,
    rows). A file `parse_table` would refuse (not UTF-8, malformed, repeated header...) is
    refused with parse_table's own message: the stream then reads the file whole once, to say
    the same thing in the same words."""

    def __init__(self, table: str, url: str, fmt: str, batch_rows: int = 200_000) -> None:
        self.table, self.url, self.fmt, self.batch_rows = table, url, fmt, batch_rows
        self.record: InputFile | None = None

    def __iter__(self) -> Iterator[pd.DataFrame]:
        try:
            yield from (self._parquet() if self.fmt == "parquet" else self._csv())
        except FileNotFoundError:
            raise
        except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError,
                ValueError, OSError) as exc:
            # pyarrow reports an unreadable Parquet file as OSError or ArrowInvalid (a
            # ValueError); parse_table words each case.
            raise self._refusal(exc) from exc

    def _refusal(self, exc: Exception) -> TableReadError:
        with fsspec.open(self.url, "rb") as handle:
            raw = handle.read()
        try:
            parse_table(self.table, self.url, raw, self.fmt)
        except TableReadError as refused:
            return refused
        return TableReadError(self.table, self.url, str(exc))

    def _csv(self) -> Iterator[pd.DataFrame]:
        digest = hashlib.sha256()
        with fsspec.open(self.url, "rb") as handle:
            first = handle.readline(1 << 20)
            header_line = first.decode("utf-8-sig").split("\n", 1)[0]
            header = csv_header(header_line)
            if len(set(header)) < len(header):
                raise _Refused("repeated header")
            handle.seek(0)
            source = _Hashing(handle, digest)
            text = io.TextIOWrapper(io.BufferedReader(source), encoding="utf-8-sig", newline="")
            rows = 0
            reader = pd.read_csv(text, chunksize=self.batch_rows, **CSV_OPTIONS)
            for chunk in reader:
                chunk.columns = [str(c).strip() for c in chunk.columns]
                if other_separator(chunk.columns):
                    raise _Refused("one column")
                chunk.index = pd.RangeIndex(rows + 2, rows + 2 + len(chunk), name="source_line")
                rows += len(chunk)
                yield chunk
            if rows == 0:  # a header alone: one empty batch carries the columns
                empty = pd.DataFrame({c: pd.Series(dtype=object) for c in header})
                if other_separator(empty.columns):
                    raise _Refused("one column")
                empty.index = pd.RangeIndex(2, 2, name="source_line")
                yield empty
            source.drain()
        self.record = InputFile(self.table, self.url, digest.hexdigest(), rows, "csv")

    def _parquet(self) -> Iterator[pd.DataFrame]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        digest = hashlib.sha256()
        with fsspec.open(self.url, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        rows = 0
        with fsspec.open(self.url, "rb") as handle:
            parquet = pq.ParquetFile(handle)
            batches = parquet.iter_batches(batch_size=self.batch_rows)
            first = True
            for batch in batches:
                df = pa.Table.from_batches([batch]).to_pandas()
                df.index = pd.RangeIndex(rows + 1, rows + 1 + len(df), name="source_line")
                rows += len(df)
                first = False
                yield df
            if first:
                df = parquet.schema_arrow.empty_table().to_pandas()
                df.index = pd.RangeIndex(1, 1, name="source_line")
                yield df
        self.record = InputFile(self.table, self.url, digest.hexdigest(), rows, "parquet")


class _Refused(ValueError):
    """A CSV file the streaming reader leaves to parse_table to explain."""
