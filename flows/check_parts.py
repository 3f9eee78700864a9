"""Ingest and check the inputs location group by location group, so memory follows a group.

With `execution.partition_size: N` and more than one group of N warehouses locations
(flows/partitions.py `location_groups`), the contracts stage never holds a location-keyed
table whole:

1. products and warehouses (small: one row per SKU, per location and month) are read and
   checked whole; the locations warehouses names make the groups;
2. each location-keyed table is read once in batches (flows/io.py `TableStream`, source line
   numbers as the whole-file reader gives them) and its rows are written to one file per
   group in the workspace (`check_split/TABLE/NNNNN.parquet`). Rows whose location is not a
   warehouses location, or is empty, go to one more group that is always checked: they are
   found and reported as today (data_contracts/partitioned.py);
3. each group is checked (pandera contracts, row rules, references to products and
   warehouses); its kept rows go to a part file, the small rest (violations with their raw
   rows, counts, key sets) comes back. With `--engine dask` the groups run on the cluster's
   workers, with the local engine one after the other;
4. the verdict is merged: the same findings, rejects and exit 3 as the whole-table check.
   After the quality suites (5.) pass, the kept rows are streamed into `check/TABLE.parquet`
   group after group (`OutputTree.append_frames`, source_line kept as the index): within
   a table, rows are ordered by group (locations sorted), then by source line; the whole-table
   check keeps source-line order. The rows themselves (values, types, source_line index) are
   the same;
5. the great-expectations suites run once, on per-table aggregates the groups return
   (data_contracts/quality.py `summarize`): freshness on each SKU x location's last month of
   history (the suite checks the minimum gap to the cycle, which the last months give
   exactly, so its verdict and observed value are today's; only the count of rows GX reports
   differs), completeness on the planned SKU x locations in today's order, drift on the
   forecast's qty per SKU, family and month (sums of the groups' sums: the same totals up to
   float rounding). Drift against the previous cycle reads the previous inputs in batches, the
   columns it needs only. One set of Data Docs per run, as today.
"""

import hashlib
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from data_contracts.findings import QuarantinePolicy
from data_contracts.partitioned import (
    SPLIT_TABLES,
    WHOLE_TABLES,
    GroupCheck,
    MergedCheck,
    WholeCheck,
    check_group,
    check_whole,
    location_keys,
    merge_verdict,
)
from data_contracts.quality import QualitySettings, forecast_totals
from data_contracts.validate import previous_history_totals
from flows.io import InputFile, TableReadError, TableStream, find_input_files, parse_table
from flows.output_tree import OutputTree, Workspace
from flows.partitions import _bind, location_groups, run_groups
from flows.quality_run import QualityResult, run_quality_summary

SPLIT = "check_split"  # workspace stage: each group's raw rows of the location-keyed tables
KEPT = "check_kept"  # workspace stage: each group's checked rows, until merged into check/
BATCH_ROWS = 200_000  # rows read at a time from an input file


@dataclass
class CheckPlan:
    """What the partitioned check starts from: the files, products and warehouses checked
    whole, and the location groups."""

    files: dict[str, tuple[str, str]]  # table -> (url, format)
    whole: WholeCheck
    records: dict[str, InputFile]
    groups: list[list[str]]


def plan_check(inputs: str, cycle: str, size: int | None) -> CheckPlan | None:
    """Read products and warehouses and group the locations; None when the check runs whole
    (no partition size, or a single group). Raises TableReadError for a products or
    warehouses file the reader refuses: reported before any large table is read."""
    if not size:
        return None
    raw: dict[str, pd.DataFrame] = {}
    records: dict[str, InputFile] = {}
    files = find_input_files(inputs)
    for table in WHOLE_TABLES:
        if table in files:
            raw[table], records[table] = _read_whole(table, *files[table])
    whole = check_whole(raw, cycle)
    groups = location_groups(whole.locations(), size)
    if len(groups) < 2:
        return None
    return CheckPlan(files, whole, records, groups)


def _read_whole(table: str, url: str, fmt: str) -> tuple[pd.DataFrame, InputFile]:
    with fsspec.open(url, "rb") as handle:
        data = handle.read()
    df = parse_table(table, url, data, fmt)
    return df, InputFile(table, url, hashlib.sha256(data).hexdigest(), len(df), fmt)


def split_inputs(ws: Workspace, plan: CheckPlan, batch_rows: int | None = None
                 ) -> list[InputFile]:
    """Write each location-keyed table's rows into one file per group (the last group: rows
    of no warehouses location); returns every input file's record, in the input order."""
    group_of = {loc: i for i, g in enumerate(plan.groups) for loc in g}
    others = len(plan.groups)
    records = dict(plan.records)
    for table in SPLIT_TABLES:
        if table not in plan.files:
            continue
        url, fmt = plan.files[table]
        stream = TableStream(table, url, fmt, batch_rows or BATCH_ROWS)
        writers: dict[int, pq.ParquetWriter] = {}
        handles: dict[int, Any] = {}
        schema: pa.Schema | None = None
        try:
            for batch in stream:
                if schema is None:
                    schema = _schema(batch)
                column = next((c for c in batch.columns if str(c).strip() == "location"), None)
                if column is None:
                    index = pd.Series(others, index=batch.index)
                else:
                    keys = location_keys(batch[column])
                    index = keys.map(group_of).fillna(others).astype(int)
                for i, rows in batch.groupby(index.to_numpy(), sort=True):
                    if i not in writers:
                        handles[i] = _open(ws, SPLIT, table, int(i))
                        writers[i] = pq.ParquetWriter(handles[i], schema)
                    writers[i].write_table(pa.Table.from_pandas(rows, schema=schema,
                                                                preserve_index=True))
        finally:
            for i, writer in writers.items():
                writer.close()
                handles[i].close()
        assert schema is not None and stream.record is not None
        for i in range(others + 1):  # every group has the table, empty or not
            if i not in writers:
                with _open(ws, SPLIT, table, i) as f:
                    pq.write_table(schema.empty_table(), f)
        records[table] = stream.record
    return [records[t] for t in plan.files]


def _schema(batch: pd.DataFrame) -> pa.Schema:
    schema = pa.Schema.from_pandas(batch, preserve_index=True)
    for i, f in enumerate(schema):
        if pa.types.is_null(f.type):  # a column empty in the first batch: text, as read
            schema = schema.set(i, pa.field(f.name, pa.string()))
    return schema


def _path(ws: Workspace, stage: str, table: str, index: int) -> str:
    return posixpath.join(ws.root, stage, table, f"{index:05d}.parquet")


def _open(ws: Workspace, stage: str, table: str, index: int) -> Any:
    path = _path(ws, stage, table, index)
    ws.tree.makedirs(posixpath.dirname(path))
    return ws.tree.fs.open(path, "wb")


def read_group(ws: Workspace, stage: str, tables: list[str], index: int
               ) -> dict[str, pd.DataFrame]:
    """One group's rows of `tables` (index = source line)."""
    out = {}
    for table in tables:
        with ws.tree.fs.open(_path(ws, stage, table, index), "rb") as f:
            out[table] = pd.read_parquet(f)
    return out


def check_one_group(ws: Workspace, index: int, tables: list[str], whole: WholeCheck,
                    policy: QuarantinePolicy, cycle: str, horizon: int | None) -> GroupCheck:
    """Check group `index`; its kept rows go to the workspace, the small rest comes back."""
    result = check_group(read_group(ws, SPLIT, tables, index), whole, policy, cycle, horizon)
    for table, frame in result.checked.items():
        with _open(ws, KEPT, table, index) as f:
            frame.to_parquet(f, index=True)
    result.checked = {}
    return result


def previous_summary(tree: OutputTree, cycle: str, batch_rows: int | None = None
                     ) -> dict[str, Any] | None:
    """What drift and restatement need of the previous cycle's inputs, read in batches: its
    products, its sales_forecast (sku, family, period, qty) summed per sku, family and period,
    its sales_history qty per period. None without a previous cycle's inputs."""
    for earlier in reversed([c for c in tree.cycles() if c < cycle]):
        version = tree.current(earlier)
        if version is None:
            continue
        folder = posixpath.join(tree.version_dir(earlier, version), "inputs")
        paths = {posixpath.basename(str(p)).removesuffix(".parquet"): str(p)
                 for p in tree.fs.glob(posixpath.join(folder, "*.parquet"))}
        if not paths:
            continue
        out: dict[str, Any] = {}
        if "products" in paths:
            out["products"] = tree.read_frame(paths["products"])
        history = _summed(tree, paths.get("sales_history"), ["period", "qty"], batch_rows,
                          lambda df: previous_history_totals(df))
        if history is not None:
            out["history_totals"] = history.groupby(level=0).sum()
        forecast = _summed(tree, paths.get("sales_forecast"), ["sku", "family", "period", "qty"],
                           batch_rows, forecast_totals)
        if forecast is not None:
            out["forecast_totals"] = forecast.groupby(
                ["sku", "family", "period"], dropna=False, sort=False)["qty"].sum().reset_index()
        return out
    return None


def _summed(tree: OutputTree, path: str | None, columns: list[str], batch_rows: int | None,
            summarize: Any) -> Any:
    if path is None:
        return None
    parts = []
    with tree.fs.open(path, "rb") as f:
        parquet = pq.ParquetFile(f)
        names = [c for c in columns if c in parquet.schema_arrow.names]
        if not {"period", "qty"} <= set(names):
            return None
        for batch in parquet.iter_batches(batch_size=batch_rows or BATCH_ROWS, columns=names):
            parts.append(summarize(batch.to_pandas()))
    if not parts:
        return None
    if isinstance(parts[0], pd.Series):
        return pd.concat(parts)
    return pd.concat(parts, ignore_index=True)


@dataclass
class PartitionedCheck:
    """The partitioned check's outcome: the verdict, the quality suites', the input files."""

    checked: MergedCheck
    quality: QualityResult
    files: list[InputFile]


def check_by_partition(
    ws: Workspace, tree: OutputTree, plan: CheckPlan, cycle: str, horizon: int,
    policy: QuarantinePolicy, docs: Path, settings: QualitySettings,
    history_dir: str | None = None, engine: str = "local", dask_address: str | None = None,
    workers: int | None = None, batch_rows: int | None = None,
) -> PartitionedCheck:
    """Steps 2-5 of the module docstring; the checked tables end in the workspace's check/.

    Raises TableReadError for a file that cannot be read (before anything is checked) and
    ContractBreach as validate_inputs / run_quality_suites do."""
    try:
        files = split_inputs(ws, plan, batch_rows)
    except TableReadError:
        tree.remove(posixpath.join(ws.root, SPLIT))
        raise
    present = [t for t in SPLIT_TABLES if t in plan.files]
    groups = run_groups(engine, dask_address, workers, [
        _bind(check_one_group, ws, i, present, plan.whole, policy, cycle, horizon)
        for i in range(len(plan.groups) + 1)])
    tree.remove(posixpath.join(ws.root, SPLIT))
    previous = previous_summary(tree, cycle, batch_rows)
    whole = plan.whole.kept(policy, cycle)
    try:
        merged = merge_verdict(list(plan.files), plan.whole, groups, policy, cycle, horizon,
                               previous.get("history_totals") if previous else None)
        quality = run_quality_summary(
            [g.summary for g in groups], whole.get("products"), cycle, docs, previous=previous,
            settings=settings, history_dir=history_dir)
        for table in present:
            tree.append_frames(ws.path("check", f"{table}.parquet"),
                               _kept(ws, table, len(groups)), index=True)
    finally:  # a breach keeps no checked rows, as the whole-table check keeps none
        tree.remove(posixpath.join(ws.root, KEPT))
    ws.save_frames("check", {**whole, "rejects": merged.rejects})
    return PartitionedCheck(merged, quality, files)


def _kept(ws: Workspace, table: str, groups: int) -> Iterator[pd.DataFrame]:
    for i in range(groups):
        yield read_group(ws, KEPT, [table], i)[table]
