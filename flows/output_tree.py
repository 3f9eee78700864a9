"""The output folder's layout and every reader and writer of it: the one module that spells it.

    OUT/sop.duckdb                       the embedded default store
    OUT/cycle=C/version=N/               a version folder, never rewritten; published only
                                         once it holds `_PUBLISHED` (see below)
    OUT/cycle=C/version=N/_PUBLISHED     the publication mark, written after the store commit
    OUT/cycle=C/CURRENT                  the current version for folder readers
    OUT/.staging/cycle=C-version=N-X/    a version being written (private until promoted)
    OUT/.quarantine/cycle=C-version=N-X/ a version folder whose publication failed (recovery)
    OUT/runs/cycle=C/run=ID/             a run's workspace: the files its stages hand over
    OUT/cache/baselines/KEY/             fitted baselines, complete or absent
    OUT/scenarios/cycle=C/NAME/          stored what-if scenarios
    OUT/quality/validations/             great-expectations' results of every run (history)

One class over an fsspec file system: `OutputTree.local(path)` on disk (renames are atomic on
one file system, which publishing and the cache rely on) and `OutputTree.in_memory()` for
tests of the layout and its readers. Great-expectations and DuckDB need a local folder, so
a run publishes to a local tree; the in-memory tree serves the readers and writers here.

Every reader here honours the publication mark, like Spark's `_SUCCESS`: a version folder
without `_PUBLISHED` (renamed into place by a run killed before or during its store commit)
is never read as a version; `version_folders` alone lists every folder, for claiming numbers
and for recovery (flows/publish.py).
"""

import json
import posixpath
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem
from pydantic import BaseModel

from data_contracts.month import MONTH_PATTERN
from data_contracts.output_schema import render_output_contract
from data_contracts.run_records import Manifest

M = TypeVar("M", bound=BaseModel)

_VERSION = re.compile(r"^version=([1-9]\d*)$")
_CYCLE = re.compile(r"^cycle=(.+)$")
_STAGED = re.compile(r"^cycle=(.+)-version=([1-9]\d*)-[0-9a-f]+$")
MANIFEST = "manifest.json"
PUBLISHED_MARK = "_PUBLISHED"  # written into a version folder once the store has published it
CONTRACT_FILE = "contract.json"  # the published tables' JSON Schema, for downstream readers
STORE_FILE = "sop.duckdb"


@dataclass(frozen=True)
class OutputTree:
    """The output folder `root` on file system `fs`."""

    root: str
    fs: fsspec.AbstractFileSystem

    @classmethod
    def local(cls, out: str | Path) -> "OutputTree":
        # Absolute: plan_runs, the manifest and great-expectations need paths that do not
        # depend on the reader's working directory.
        return cls(str(Path(out).resolve()), LocalFileSystem())

    @classmethod
    def in_memory(cls) -> "OutputTree":
        return cls(f"/sop-{uuid.uuid4().hex[:12]}", fsspec.filesystem("memory"))

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    # ------------------------------------------------------------ layout

    def path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    def cycle_dir(self, cycle: str) -> str:
        return self.path(f"cycle={cycle}")

    def version_dir(self, cycle: str, version: int) -> str:
        return self.path(f"cycle={cycle}", f"version={version}")

    def new_staging_dir(self, cycle: str, version: int) -> str:
        return self.path(".staging", f"cycle={cycle}-version={version}-{uuid.uuid4().hex[:8]}")

    def quarantine_dir(self, cycle: str, version: int) -> str:
        return self.path(".quarantine",
                         f"cycle={cycle}-version={version}-{uuid.uuid4().hex[:8]}")

    def run_dir(self, cycle: str, run_id: str) -> str:
        return self.path("runs", f"cycle={cycle}", f"run={run_id}")

    def cache_dir(self, kind: str, key: str) -> str:
        return self.path("cache", kind, key)

    def quality_history_dir(self) -> str:
        """great-expectations' validation results of every run (Data Docs list them all)."""
        return self.path("quality", "validations")

    def scenario_dir(self, cycle: str, name: str) -> str:
        return self.path("scenarios", f"cycle={cycle}", name)

    def default_store_url(self) -> str:
        """DuckDB inside the output folder (SPEC: `duckdb:///OUT/sop.duckdb`)."""
        if not self.is_local:
            return "duckdb:///:memory:"
        return f"duckdb:///{self.path(STORE_FILE)}"

    # ------------------------------------------------------------ small file operations

    def exists(self, path: str) -> bool:
        return bool(self.fs.exists(path))

    def makedirs(self, path: str) -> None:
        self.fs.makedirs(path, exist_ok=True)

    def write_text(self, path: str, text: str) -> None:
        self.makedirs(posixpath.dirname(path))
        with self.fs.open(path, "w", encoding="utf-8") as f:
            f.write(text)

    def read_text(self, path: str) -> str:
        with self.fs.open(path, "r", encoding="utf-8") as f:
            return str(f.read())

    def write_json(self, path: str, obj: Any) -> None:
        self.write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")

    def read_json(self, path: str) -> Any:
        return json.loads(self.read_text(path))

    def write_frame(self, path: str, df: pd.DataFrame, index: bool = False) -> None:
        """Parquet; a column with no value is stored as text, not as Parquet's null type, so
        readers of an empty table still see its columns' types."""
        self.makedirs(posixpath.dirname(path))
        schema = pa.Schema.from_pandas(df, preserve_index=index)
        for i, field in enumerate(schema):
            if pa.types.is_null(field.type):
                schema = schema.set(i, pa.field(field.name, pa.string()))
        with self.fs.open(path, "wb") as f:
            df.to_parquet(f, index=index, schema=schema)

    def read_frame(self, path: str, columns: list[str] | None = None,
                   locations: list[str] | None = None) -> pd.DataFrame:
        """A Parquet file; with `locations`, only the rows of those locations where the table
        has a `location` column (filtered while reading: the other rows never reach pandas)."""
        with self.fs.open(path, "rb") as f:
            if locations is None or "location" not in pq.read_schema(f).names:
                f.seek(0)
                return pd.read_parquet(f, columns=columns)
            f.seek(0)
            return pd.read_parquet(f, columns=columns,
                                   filters=[("location", "in", list(locations))])

    def frames_in(self, folder: str, names: list[str] | None = None,
                  locations: list[str] | None = None) -> dict[str, pd.DataFrame]:
        """Every `NAME.parquet` directly in `folder` (or only `names`), by name; with
        `locations`, only those locations' rows (see read_frame)."""
        out = {}
        for path in sorted(self.fs.glob(posixpath.join(folder, "*.parquet"))):
            stem = posixpath.basename(str(path)).removesuffix(".parquet")
            if names is None or stem in names:
                out[stem] = self.read_frame(str(path), locations=locations)
        return out

    def append_frames(self, path: str, parts: Iterator[pd.DataFrame], index: bool = False
                      ) -> int:
        """Write the frames of `parts` one after the other into one Parquet file (a row group
        or more each), holding one part at a time; returns the rows written.

        The file's column types are the first part's (a column with no value there stored as
        text, as write_frame does); later parts are cast to them. With `index`, the frames'
        index is kept too (as write_frame(..., index=True) keeps it)."""
        with self.open_appender(path, index) as appender:
            for df in parts:
                appender.write(df)
        return appender.rows

    def open_appender(self, path: str, index: bool = False) -> "ParquetAppender":
        """A Parquet file written part by part (see append_frames); use it as a context
        manager, several may be open at once."""
        self.makedirs(posixpath.dirname(path))
        return ParquetAppender(self.fs.open(path, "wb"), index)

    def parquet_rows(self, path: str) -> int:
        """Rows of a Parquet file, from its footer."""
        with self.fs.open(path, "rb") as f:
            return int(pq.ParquetFile(f).metadata.num_rows)

    def distinct_values(self, path: str, column: str) -> set[str]:
        """The distinct values of one text column of a Parquet file, read in row-group
        batches (e.g. a plan's months without loading the plan)."""
        values: set[str] = set()
        with self.fs.open(path, "rb") as f:
            for batch in pq.ParquetFile(f).iter_batches(columns=[column]):
                values.update(str(v) for v in pc.unique(batch.column(0)).to_pylist())
        return values

    def copy_local_folder(self, source: Path, target: str) -> None:
        """Copy a folder of this machine (e.g. Data Docs) into the tree."""
        for file in sorted(p for p in source.rglob("*") if p.is_file()):
            dest = posixpath.join(target, file.relative_to(source).as_posix())
            self.makedirs(posixpath.dirname(dest))
            self.fs.put_file(str(file), dest)

    def remove(self, path: str) -> None:
        if self.exists(path):
            self.fs.rm(path, recursive=True)

    def rename(self, source: str, target: str) -> None:
        """Move a folder or file into place; on a local tree one atomic rename(2)."""
        if self.is_local:
            Path(source).rename(target)
        else:
            self.fs.mv(source, target, recursive=True)

    def _children(self, folder: str) -> Iterator[str]:
        if not self.fs.isdir(folder):
            return
        for entry in self.fs.ls(folder, detail=False):
            yield posixpath.basename(str(entry).rstrip("/"))

    # ------------------------------------------------------------ published versions

    def cycles(self) -> list[str]:
        """Cycles with a folder, oldest first (published or not)."""
        names = (m.group(1) for name in self._children(self.root) if (m := _CYCLE.match(name)))
        return sorted(c for c in names if MONTH_PATTERN.match(c))

    def version_folders(self, cycle: str) -> list[int]:
        """Versions present as folders: published, or left unmarked by a crash."""
        return sorted(int(m.group(1)) for name in self._children(self.cycle_dir(cycle))
                      if (m := _VERSION.match(name)))

    def versions(self, cycle: str) -> list[int]:
        """Published versions: folders carrying the publication mark."""
        return [v for v in self.version_folders(cycle) if self.is_published(cycle, v)]

    def is_published(self, cycle: str, version: int) -> bool:
        """The folder carries `_PUBLISHED`, written only after the store committed it."""
        return self.exists(posixpath.join(self.version_dir(cycle, version), PUBLISHED_MARK))

    def mark_published(self, cycle: str, version: int) -> None:
        """Mark a promoted folder published; call only once the store has committed it."""
        self.write_text(posixpath.join(self.version_dir(cycle, version), PUBLISHED_MARK),
                        f"{version}\n")

    def current(self, cycle: str) -> int | None:
        """The published version `CURRENT` names for folder readers, None when none does."""
        try:
            named = int(self.read_text(posixpath.join(self.cycle_dir(cycle), "CURRENT")).strip())
        except (FileNotFoundError, ValueError):
            return None
        return named if self.is_published(cycle, named) else None

    def set_current(self, cycle: str, version: int) -> None:
        """Point `CURRENT` at published `version` by an atomic replace; never back to an older
        one (a concurrent run may have published a later version meanwhile)."""
        if not self.is_published(cycle, version):
            raise ValueError(f"{self.version_dir(cycle, version)} is not published: "
                             "CURRENT names published versions only")
        now = self.current(cycle)
        if now is not None and now > version:
            return
        folder = self.cycle_dir(cycle)
        tmp = posixpath.join(folder, f".CURRENT.{uuid.uuid4().hex[:8]}")
        self.write_text(tmp, f"{version}\n")
        if self.is_local:
            Path(tmp).replace(posixpath.join(folder, "CURRENT"))
        else:
            self.fs.mv(tmp, posixpath.join(folder, "CURRENT"))

    def is_complete(self, cycle: str, version: int) -> bool:
        """A version folder with its manifest (written last) is complete."""
        return self.exists(posixpath.join(self.version_dir(cycle, version), MANIFEST))

    def resolve_version(self, cycle: str, version: int | None = None) -> int | None:
        """`version` if published and complete; else the current one, else the highest
        published complete folder."""
        if version is not None:
            return (version if self.is_published(cycle, version)
                    and self.is_complete(cycle, version) else None)
        current = self.current(cycle)
        if current is not None and self.is_complete(cycle, current):
            return current
        complete = [v for v in self.versions(cycle) if self.is_complete(cycle, v)]
        return max(complete) if complete else None

    def read_manifest(self, cycle: str, version: int) -> Manifest:
        return Manifest.model_validate_json(
            self.read_text(posixpath.join(self.version_dir(cycle, version), MANIFEST)))

    def read_version_table(self, cycle: str, version: int, table: str,
                           columns: list[str] | None = None,
                           locations: list[str] | None = None) -> pd.DataFrame | None:
        path = posixpath.join(self.version_dir(cycle, version), f"{table}.parquet")
        return self.read_frame(path, columns, locations) if self.exists(path) else None

    def read_version_columns(self, cycle: str, version: int, table: str, columns: list[str],
                             optional: tuple[str, ...] = (),
                             locations: list[str] | None = None) -> pd.DataFrame | None:
        """`columns` of a version's table plus those of `optional` it has (a version published
        before an optional column was added lacks it); with `locations`, only their rows; None
        without the table."""
        path = posixpath.join(self.version_dir(cycle, version), f"{table}.parquet")
        if not self.exists(path):
            return None
        return self.read_columns(path, columns, optional, locations)

    def read_columns(self, path: str, columns: list[str], optional: tuple[str, ...] = (),
                     locations: list[str] | None = None) -> pd.DataFrame:
        """`columns` of a Parquet file plus those of `optional` it has; with `locations`, only
        their rows."""
        with self.fs.open(path, "rb") as f:
            names = set(pq.read_schema(f).names)
        return self.read_frame(path, list(dict.fromkeys(
            [*columns, *(c for c in optional if c in names)])), locations)

    def past_plans(self, before: str, columns: list[str], optional: tuple[str, ...] = (),
                   locations: list[str] | None = None) -> pd.DataFrame | None:
        """The current version of every cycle before `before` (what readers were given):
        `columns`, and those of `optional` a version has (NaN in versions without them); with
        `locations`, only their rows."""
        frames = [self.read_version_columns(cycle, version, "consensus_plan", columns,
                                            optional, locations)
                  for cycle, version in self.past_versions(before)]
        return pd.concat(frames, ignore_index=True) if frames else None

    def past_versions(self, before: str) -> list[tuple[str, int]]:
        """(cycle, current version) of every cycle before `before` whose current version has
        a consensus_plan file, oldest first: the plans past_plans reads."""
        found = []
        for cycle in self.cycles():
            version = self.current(cycle) if cycle < before else None
            if version is not None and self.exists(posixpath.join(
                    self.version_dir(cycle, version), "consensus_plan.parquet")):
                found.append((cycle, version))
        return found

    def previous_inputs(self, cycle: str) -> dict[str, pd.DataFrame] | None:
        """The inputs snapshot of the current version of the latest earlier cycle having one."""
        for earlier in reversed([c for c in self.cycles() if c < cycle]):
            version = self.current(earlier)
            if version is None:
                continue
            frames = self.frames_in(posixpath.join(self.version_dir(earlier, version), "inputs"))
            if frames:
                return frames
        return None

    # ------------------------------------------------------------ publishing a version

    def stage_version(
        self, cycle: str, version: int, frames: Mapping[str, pd.DataFrame], report_html: str,
        manifest: Manifest | dict[str, Any], folders: Mapping[str, Path] | None = None,
        staging: str | None = None,
    ) -> str:
        """Write a complete version into a private staging folder; return that folder.

        Names like "inputs/x" land in a sub-folder; `folders` are local folders copied in
        whole under their names (e.g. the run's Data Docs). `staging`: a staging folder
        (new_staging_dir) already holding some of the files, written part by part."""
        staging = staging or self.new_staging_dir(cycle, version)
        self.makedirs(staging)
        for name, df in frames.items():
            if name == "rejects" and df.empty:
                continue  # SPEC: rejects.parquet only when there are any
            self.write_frame(posixpath.join(staging, f"{name}.parquet"), df)
        for name, source in (folders or {}).items():
            self.copy_local_folder(source, posixpath.join(staging, name))
        self.write_text(posixpath.join(staging, "report.html"), report_html)
        self.write_text(posixpath.join(staging, CONTRACT_FILE), render_output_contract())
        # The manifest last: a folder with a manifest is a complete folder.
        self.write_json(posixpath.join(staging, MANIFEST), manifest.model_dump(mode="json")
                        if isinstance(manifest, BaseModel) else manifest)
        return staging

    def read_staged(self, staging: str) -> dict[str, pd.DataFrame]:
        return self.frames_in(staging)

    def promote(self, staging: str, cycle: str, version: int) -> str:
        """Move an audited staging folder to `cycle=C/version=N`, not yet published (no mark);
        refuse to replace a folder."""
        final = self.version_dir(cycle, version)
        self.makedirs(self.cycle_dir(cycle))
        if self.exists(final):
            raise FileExistsError(f"{final} exists: versions are never rewritten")
        self.rename(staging, final)
        return final

    # ------------------------------------------------------------ recovery after a crash

    def staging_folders(self) -> list[tuple[str, str, int]]:
        """(path, cycle, version) of every staging folder, finished or abandoned."""
        folder = self.path(".staging")
        return [(posixpath.join(folder, name), m.group(1), int(m.group(2)))
                for name in sorted(self._children(folder)) if (m := _STAGED.match(name))]

    def modified_at(self, path: str) -> datetime | None:
        """When `path` was last modified, None when the file system does not say (or it is
        gone: renamed into place meanwhile)."""
        try:
            info = self.fs.info(path)
        except FileNotFoundError:
            return None
        stamp = info.get("mtime", info.get("created"))
        if isinstance(stamp, datetime):
            return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
        return None if stamp is None else datetime.fromtimestamp(float(stamp), UTC)

    def quarantine(self, cycle: str, version: int) -> str:
        """Move an unpublished version folder out of the cycle, under `.quarantine/`; return
        where it went (kept for inspection, never read as a version)."""
        target = self.quarantine_dir(cycle, version)
        self.makedirs(posixpath.dirname(target))
        self.rename(self.version_dir(cycle, version), target)
        return target

    # ------------------------------------------------------------ run workspaces

    def workspace(self, cycle: str, run_id: str | None = None) -> "Workspace":
        """A new (or, given its id, an existing) run workspace of `cycle`."""
        run_id = run_id or uuid.uuid4().hex[:12]
        root = self.run_dir(cycle, run_id)
        self.makedirs(root)
        return Workspace(self, root)

    def workspaces(self, cycle: str) -> list["Workspace"]:
        folder = self.path("runs", f"cycle={cycle}")
        return [Workspace(self, posixpath.join(folder, name))
                for name in sorted(self._children(folder)) if name.startswith("run=")]

    # ------------------------------------------------------------ cache

    def read_cache(self, kind: str, key: str) -> dict[str, pd.DataFrame] | None:
        """The cached frames of `key`, or None. A cache folder exists only complete."""
        folder = self.cache_dir(kind, key)
        return self.frames_in(folder) if self.exists(folder) else None

    def write_cache(self, kind: str, key: str, frames: Mapping[str, pd.DataFrame]) -> None:
        """Cache `frames` under `key` (see fill_cache)."""
        def write(tmp: str) -> None:
            for name, df in frames.items():
                self.write_frame(posixpath.join(tmp, f"{name}.parquet"), df)

        self.fill_cache(kind, key, write)

    def fill_cache(self, kind: str, key: str, write: Callable[[str], None]) -> None:
        """`write` the entry's files into a temporary folder, then rename it into place: a
        crash mid-write leaves no folder under the key, never a partial one that a later run
        would reuse."""
        folder = self.cache_dir(kind, key)
        tmp = self.path("cache", kind, f".tmp-{key}-{uuid.uuid4().hex[:8]}")
        try:
            self.makedirs(tmp)
            write(tmp)
            if self.exists(folder):  # written meanwhile by a concurrent run: same content
                self.remove(tmp)
                return
            self.rename(tmp, folder)
        except BaseException:
            self.remove(tmp)
            raise

    # ------------------------------------------------------------ what-if scenarios

    def replace_folder(self, target: str, write: Any) -> str:
        """Write a folder by `write(staging)` and swap it in for `target`: readers see the old
        or the new content, never a mix."""
        parent, name = posixpath.split(target)
        staging = posixpath.join(parent, f".staging-{name}-{uuid.uuid4().hex[:8]}")
        self.makedirs(staging)
        try:
            write(staging)
            old = None
            if self.exists(target):
                old = posixpath.join(parent, f".old-{name}-{uuid.uuid4().hex[:8]}")
                self.rename(target, old)
            self.rename(staging, target)
            if old is not None:
                self.remove(old)
        except BaseException:
            self.remove(staging)
            raise
        return target

    def scenarios(self) -> list[dict[str, Any]]:
        """Stored scenarios, newest first, from their summary.json files."""
        rows = []
        for cycle_folder in sorted(self._children(self.path("scenarios"))):
            folder = self.path("scenarios", cycle_folder)
            for name in sorted(self._children(folder)):
                summary = posixpath.join(folder, name, "summary.json")
                if self.exists(summary):
                    rows.append({**self.read_json(summary), "path": posixpath.dirname(summary)})
        return sorted(rows, key=lambda r: str(r.get("created_at", "")), reverse=True)


class ParquetAppender:
    """One Parquet file written a frame at a time (a row group or more each).

    The file's column types are the first non-empty frame's (a column with no value there
    stored as text, as OutputTree.write_frame does); later frames are cast to them. Empty
    frames before it are skipped: they have no values to type their columns (an empty
    partition's text column would otherwise fix the type of a number column). Only empty
    frames: the file is the first one, with its own types."""

    def __init__(self, file: Any, index: bool = False) -> None:
        self._file = file
        self._index = index  # keep the frames' index (as write_frame(..., index=True))
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._first_empty: pd.DataFrame | None = None
        self.rows = 0

    def write(self, df: pd.DataFrame) -> None:
        if self._schema is None:
            if df.empty:
                if self._first_empty is None:
                    self._first_empty = df
                return
            self._open(df)
        assert self._writer is not None and self._schema is not None
        extra = set(map(str, df.columns)) - set(self._schema.names)
        if extra:  # the schema would drop them without a word
            raise ValueError(f"a part has columns the file's first part lacks: {sorted(extra)}")
        self._writer.write_table(pa.Table.from_pandas(df, schema=self._schema,
                                                      preserve_index=self._index))
        self.rows += len(df)

    def _open(self, df: pd.DataFrame) -> None:
        schema = pa.Schema.from_pandas(df, preserve_index=self._index)
        for i, field in enumerate(schema):
            if pa.types.is_null(field.type):
                schema = schema.set(i, pa.field(field.name, pa.string()))
        self._schema = schema
        self._writer = pq.ParquetWriter(self._file, schema)

    def close(self) -> None:
        try:
            if self._writer is None and self._first_empty is not None:
                self._open(self._first_empty)
                self.write(self._first_empty)
            if self._writer is not None:
                self._writer.close()
        finally:
            self._file.close()

    def __enter__(self) -> "ParquetAppender":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Workspace:
    """One run's working folder: stage flows hand each other files, not in-memory frames.

    Passing paths keeps Prefect from serialising or hashing large frames, and lets an
    engineer re-run a single stage from the UI against the files an earlier stage left.
    Each stage leaves its frames and its typed result (`result.json`) in a folder of its own.
    """

    tree: OutputTree
    root: str

    def path(self, stage: str, name: str) -> str:
        path = posixpath.join(self.root, stage, name)
        self.tree.makedirs(posixpath.dirname(path))
        return path

    def save_frames(self, stage: str, frames: Mapping[str, pd.DataFrame]) -> None:
        for name, df in frames.items():
            self.tree.write_frame(self.path(stage, f"{name}.parquet"), df, index=True)

    def load_frames(self, stage: str, names: list[str] | None = None,
                    locations: list[str] | None = None) -> dict[str, pd.DataFrame]:
        """The stage's frames (or only `names`); with `locations`, only their rows."""
        return self.tree.frames_in(posixpath.join(self.root, stage), names, locations)

    def has_frame(self, stage: str, name: str) -> bool:
        return self.tree.exists(posixpath.join(self.root, stage, f"{name}.parquet"))

    def save_result(self, stage: str, result: BaseModel) -> None:
        self.tree.write_text(self.path(stage, "result.json"), result.model_dump_json(indent=2))

    def load_result(self, stage: str, model: type[M]) -> M:
        return model.model_validate_json(self.tree.read_text(
            posixpath.join(self.root, stage, "result.json")))

    def has_result(self, stage: str) -> bool:
        return self.tree.exists(posixpath.join(self.root, stage, "result.json"))
