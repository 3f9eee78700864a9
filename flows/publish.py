"""Write-audit-publish of one plan version: staging folder, audit, atomic promotion.

Order of a publication, and why:
1. claim version N in the store (`plan_runs` primary key arbitrates concurrent runs);
2. write every file into a private staging folder;
3. audit: read the staged files back and check the output contracts and SPEC's rules;
4. rename the staging folder to `cycle=C/version=N` (atomic on one file system);
5. insert the rows and flip `plan_runs` to `published` in one transaction;
6. point `cycle=C/CURRENT` at N (atomic replace).
A crash before 5 leaves the previous version current in the store; a crash before 4
leaves no folder at all. Failed claims are marked `failed`, never reused.
"""

import contextlib
import os
import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa

from flows.io import write_json
from flows.store import PlanStore

_VERSION_DIR = re.compile(r"^version=(\d+)$")


@dataclass(frozen=True)
class Publication:
    cycle: str
    version: int
    path: Path
    store_url: str


def cycle_dir(out: str | Path, cycle: str) -> Path:
    return Path(out) / f"cycle={cycle}"


def folder_versions(out: str | Path, cycle: str) -> list[int]:
    """Versions already present as folders (published or orphaned by a crash)."""
    folder = cycle_dir(out, cycle)
    if not folder.is_dir():
        return []
    return sorted(
        int(m.group(1)) for p in folder.iterdir() if (m := _VERSION_DIR.match(p.name))
    )


def claim_version(out: str | Path, cycle: str, store: PlanStore, run_id: str | None) -> int:
    """Reserve the next version of `cycle`, above every folder and every store row."""
    store.ensure_schema()
    at_least = max(folder_versions(out, cycle), default=0) + 1
    return store.claim_version(cycle, at_least=at_least, run_id=run_id)


def stage_version(
    out: str | Path,
    cycle: str,
    version: int,
    frames: dict[str, pd.DataFrame],
    report_html: str,
    manifest: dict,
    folders: dict[str, Path] | None = None,
) -> Path:
    """Write a complete version into a private staging folder; return that folder.

    `folders` are copied in whole under their names (e.g. the run's Data Docs).
    """
    staging = Path(out) / ".staging" / f"cycle={cycle}-version={version}-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    for name, df in frames.items():
        if name == "rejects" and df.empty:
            continue  # SPEC: rejects.parquet only when there are any
        target = staging / f"{name}.parquet"  # "inputs/x" names land in a sub-folder
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_parquet(df, target)
    for name, source in (folders or {}).items():
        shutil.copytree(source, staging / name)
    (staging / "report.html").write_text(report_html, encoding="utf-8")
    # The manifest is written last: a folder with a manifest is a complete folder.
    write_json(manifest, staging / "manifest.json")
    return staging


def _write_parquet(df: pd.DataFrame, target: Path) -> None:
    """Write `df`; a text column with no value (an empty table, an all-empty column) is stored
    as text, not as Parquet's null type, so readers of the file still see its type."""
    schema = pa.Schema.from_pandas(df, preserve_index=False)
    for i, field in enumerate(schema):
        if pa.types.is_null(field.type):
            schema = schema.set(i, pa.field(field.name, pa.string()))
    df.to_parquet(target, index=False, schema=schema)


def read_staged(staging: Path) -> dict[str, pd.DataFrame]:
    return {p.stem: pd.read_parquet(p) for p in sorted(staging.glob("*.parquet"))}


def promote(
    staging: Path,
    out: str | Path,
    cycle: str,
    version: int,
    frames: dict[str, pd.DataFrame],
    store: PlanStore,
    inputs_sha256: str,
    before_store: Callable[[], None] | None = None,
) -> Publication:
    """Move the audited staging folder into place and publish its rows in the store."""
    # Absolute: readers of plan_runs and the manifest do not share our working directory.
    final = (cycle_dir(out, cycle) / f"version={version}").resolve()
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        raise FileExistsError(f"{final} exists: versions are never rewritten")
    os.rename(staging, final)
    if before_store is not None:
        before_store()  # seam for fault-injection tests
    store.publish(cycle, version, frames, str(final), inputs_sha256)
    write_current_pointer(out, cycle, version)
    return Publication(cycle, version, final, store.safe_url)


def write_current_pointer(out: str | Path, cycle: str, version: int) -> None:
    folder = cycle_dir(out, cycle)
    current = folder_current(out, cycle)
    if current is not None and current > version:
        return  # a concurrent run already published a later version
    tmp = folder / f".CURRENT.{uuid.uuid4().hex[:8]}"
    tmp.write_text(f"{version}\n")
    os.replace(tmp, folder / "CURRENT")


def folder_current(out: str | Path, cycle: str) -> int | None:
    p = cycle_dir(out, cycle) / "CURRENT"
    try:
        return int(p.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def discard(staging: Path | None, store: PlanStore, cycle: str, version: int, why: str) -> None:
    """Clean up after a failed publication: the claimed version is marked failed."""
    if staging is not None and staging.exists():
        shutil.rmtree(staging, ignore_errors=True)
    # The original error matters more than a failure to record it.
    with contextlib.suppress(Exception):
        store.mark_failed(cycle, version, why)
