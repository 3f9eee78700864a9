"""Write-audit-publish of one plan version: staging folder, audit, marked publication, recovery.

The guarantee: after a kill at any instant, once the next run's `recover` has run, every
reader agrees on the published versions of a cycle — folder readers (flows/output_tree.py),
`CURRENT` readers and SQL readers (`consensus_plan_current`, `plan_runs`) — and `CURRENT`
names the highest of them. At every instant, even before recovery, no reader sees a version
the store has not published.

The design: the store transaction is the one commit point, and a folder is a version only
once it carries the publication mark `_PUBLISHED`, written after that commit (like Spark's
`_SUCCESS`); every reader of the tree honours the mark. Order of a publication, and why:
1. claim version N in the store (`plan_runs` row `staging`; its primary key arbitrates
   concurrent runs);
2. write every file into a private staging folder (`OUT/.staging/`);
3. audit: read the staged files back and check the output contracts and SPEC's rules;
4. rename the staging folder to `cycle=C/version=N` (atomic on one file system), unmarked:
   not yet a version for anyone;
5. insert the rows and flip `plan_runs` to `published` in one transaction: the commit point;
6. write `cycle=C/version=N/_PUBLISHED`;
7. point `cycle=C/CURRENT` at N (atomic replace; only ever at a marked version).
A kill before 5 leaves the previous version current everywhere, plus debris: a `staging`
row, a staging folder, an unmarked version folder. A kill between 5 and 7 leaves the store
one version ahead of the folder readers, which still see the previous version whole.
`recover`, called by every publish before it claims, finishes the job: `staging` rows older
than the lease become `failed`; unmarked folders the store published are marked (rolled
forward) and the others moved to `OUT/.quarantine/`; abandoned staging folders are removed;
`CURRENT` is moved up to the highest marked version. The lease keeps it off a live run:
only claims older than the run timeout (`staging_lease`) are taken for dead, and a claim
taken for dead can no longer be published (the store refuses). Failed claims are never
reused.
The layout itself (folder names, staging, mark, CURRENT) belongs to flows/output_tree.py.
"""

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd

from flows.config import SopSettings
from flows.output_tree import OutputTree
from flows.store import PlanStore, TableRows


def staging_lease() -> timedelta:
    """How long a claim may stay `staging` before recovery takes its run for dead: the run
    timeout (SOP_RUN_TIMEOUT_HOURS), after which Prefect fails a run that is still going."""
    return timedelta(hours=SopSettings().run_timeout_hours)


@dataclass(frozen=True)
class Publication:
    cycle: str
    version: int
    path: str
    store_url: str


@dataclass(frozen=True)
class Recovery:
    """What `recover` repaired: (cycle, version) pairs and the folders it moved or removed."""

    failed: tuple[tuple[str, int], ...] = ()  # staging claims past the lease, now failed
    rolled_forward: tuple[tuple[str, int], ...] = ()  # published in the store, now marked
    quarantined: tuple[str, ...] = ()  # unpublished version folders, moved to .quarantine/
    removed_staging: tuple[str, ...] = ()  # abandoned staging folders, deleted
    current: tuple[tuple[str, int], ...] = ()  # cycles whose CURRENT was moved up

    def __bool__(self) -> bool:
        return any((self.failed, self.rolled_forward, self.quarantined, self.removed_staging,
                    self.current))

    def describe(self) -> str:
        def runs(pairs: tuple[tuple[str, int], ...]) -> str:
            return ", ".join(f"{c}/{v}" for c, v in pairs) or "none"

        return (f"claims failed: {runs(self.failed)}; rolled forward: "
                f"{runs(self.rolled_forward)}; quarantined: {', '.join(self.quarantined) or 'none'}"
                f"; staging removed: {len(self.removed_staging)}; CURRENT moved: "
                f"{runs(self.current)}")


def claim_version(tree: OutputTree, cycle: str, store: PlanStore, run_id: str | None,
                  stage_run_ids: dict[str, str] | None = None) -> int:
    """Reserve the next version of `cycle`, above every folder (marked or not) and store row."""
    store.ensure_schema()
    at_least = max(tree.version_folders(cycle), default=0) + 1
    return store.claim_version(cycle, at_least=at_least, run_id=run_id,
                               stage_run_ids=stage_run_ids)


def promote(
    tree: OutputTree,
    staging: str,
    cycle: str,
    version: int,
    frames: Mapping[str, TableRows],
    store: PlanStore,
    inputs_sha256: str,
    at_step: Callable[[str], None] | None = None,
) -> Publication:
    """Move the audited staging folder into place, publish its rows in the store, then mark
    the folder published and point CURRENT at it.

    `at_step` (fault-injection tests) is called after each step: "promoted", "stored",
    "marked", "current". A table in `frames` may be a function giving its rows part by part
    (flows/publish_parts.py), read from the version's folder."""
    step = at_step or (lambda name: None)
    final = tree.promote(staging, cycle, version)
    step("promoted")
    store.publish(cycle, version, frames, final, inputs_sha256)
    step("stored")
    tree.mark_published(cycle, version)
    step("marked")
    tree.set_current(cycle, version)
    step("current")
    return Publication(cycle, version, final, store.safe_url)


def discard(tree: OutputTree, staging: str | None, store: PlanStore, cycle: str, version: int,
            why: str) -> None:
    """Clean up after a failed publication: the claimed version is marked failed (a folder
    already renamed into place stays unmarked, for the next run's `recover`)."""
    if staging is not None:
        with contextlib.suppress(OSError):
            tree.remove(staging)
    # The original error matters more than a failure to record it.
    with contextlib.suppress(Exception):
        store.mark_failed(cycle, version, why)


def recover(tree: OutputTree, store: PlanStore, older_than: timedelta | None = None,
            now: datetime | None = None) -> Recovery:
    """Repair what killed publications left in `tree` and `store`; return what was repaired.

    Claims younger than `older_than` (default: `staging_lease()`), and folders of runs not in
    the store yet, belong to live runs and are left alone."""
    older_than = staging_lease() if older_than is None else older_than
    store.ensure_schema()
    cutoff = (now or datetime.now(UTC)) - older_than
    runs = store.runs()
    claimed = pd.to_datetime(runs["created_at"], utc=True)
    status, failed = {}, []
    for cycle, version, state, at in zip(runs["cycle"], runs["plan_version"], runs["status"],
                                         claimed, strict=True):
        run = (str(cycle), int(version))
        # mark_failed says whether it flipped the row: a run may publish meanwhile.
        if state == "staging" and at < cutoff and store.mark_failed(
                *run, f"abandoned: still staging {older_than} after its claim (the run died); "
                "recovered by a later run"):
            state = "failed"
            failed.append(run)
        status[run] = str(state)

    rolled, quarantined, moved = [], [], []
    for cycle in tree.cycles():
        for version in tree.version_folders(cycle):
            if tree.is_published(cycle, version):
                continue
            state = status.get((cycle, version))
            if state == "published":
                tree.mark_published(cycle, version)
                rolled.append((cycle, version))
            elif state == "failed":
                # A concurrent recovery may have moved it first.
                with contextlib.suppress(FileNotFoundError):
                    quarantined.append(tree.quarantine(cycle, version))
        published = tree.versions(cycle)
        current = tree.current(cycle)
        if published and (current is None or current < published[-1]):
            tree.set_current(cycle, published[-1])
            moved.append((cycle, published[-1]))

    removed = []
    for path, cycle, version in tree.staging_folders():
        state = status.get((cycle, version))
        if state == "staging":
            continue  # a live run's
        if state is None:  # claimed after `runs` was read, or by another store: by age only
            modified = tree.modified_at(path)
            if modified is None or modified >= cutoff:
                continue
        with contextlib.suppress(FileNotFoundError):  # removed by a concurrent recovery
            tree.remove(path)
            removed.append(path)
    return Recovery(tuple(failed), tuple(rolled), tuple(quarantined), tuple(removed),
                    tuple(moved))
