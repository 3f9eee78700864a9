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
The layout itself (folder names, staging, CURRENT) belongs to flows/output_tree.py.
"""

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from flows.output_tree import OutputTree
from flows.store import PlanStore


@dataclass(frozen=True)
class Publication:
    cycle: str
    version: int
    path: str
    store_url: str


def claim_version(tree: OutputTree, cycle: str, store: PlanStore, run_id: str | None,
                  stage_run_ids: dict[str, str] | None = None) -> int:
    """Reserve the next version of `cycle`, above every folder and every store row."""
    store.ensure_schema()
    at_least = max(tree.versions(cycle), default=0) + 1
    return store.claim_version(cycle, at_least=at_least, run_id=run_id,
                               stage_run_ids=stage_run_ids)


def promote(
    tree: OutputTree,
    staging: str,
    cycle: str,
    version: int,
    frames: dict[str, pd.DataFrame],
    store: PlanStore,
    inputs_sha256: str,
    before_store: Callable[[], None] | None = None,
) -> Publication:
    """Move the audited staging folder into place and publish its rows in the store."""
    final = tree.promote(staging, cycle, version)
    if before_store is not None:
        before_store()  # seam for fault-injection tests
    store.publish(cycle, version, frames, final, inputs_sha256)
    tree.set_current(cycle, version)
    return Publication(cycle, version, final, store.safe_url)


def discard(tree: OutputTree, staging: str | None, store: PlanStore, cycle: str, version: int,
            why: str) -> None:
    """Clean up after a failed publication: the claimed version is marked failed."""
    if staging is not None:
        with contextlib.suppress(OSError):
            tree.remove(staging)
    # The original error matters more than a failure to record it.
    with contextlib.suppress(Exception):
        store.mark_failed(cycle, version, why)
