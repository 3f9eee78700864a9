"""Publishing is crash-consistent: kill -9 a publishing process at every step and at random
instants; after recovery every reader agrees on the published versions.

Readers: the tree's (`OutputTree.versions`, `resolve_version`, the what-if base), the
`CURRENT` file read as a plain file, and SQL (`plan_runs`, `consensus_plan_current`).
"""

import posixpath
import random
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from flows.output_tree import OutputTree
from flows.publish import claim_version, recover, staging_lease
from flows.store import ClaimLost, PlanStore
from flows.whatif_params import WhatIfUsageError, resolve_base
from tests.flows.test_publish import _frames

CYCLE = "2026-01"
WORKER = Path(__file__).with_name("publish_worker.py")
STEPS = ("claimed", "staged", "promoted", "stored", "marked", "current")
RANDOM_KILLS = 6  # per store; with the step kills, 24 trials over DuckDB and PostgreSQL


def _worker(out: Path, store_url: str, qty: float, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(WORKER), str(out), store_url, str(qty), mode],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _kill_at_step(out: Path, store_url: str, qty: float, step: str) -> None:
    proc = _worker(out, store_url, qty, step)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, err


def _kill_after(out: Path, store_url: str, qty: float, delay: float) -> dict[str, float]:
    """Start a publication, SIGKILL it `delay` seconds in; return the steps it finished, with
    their offsets in seconds."""
    proc = _worker(out, store_url, qty, "wait")
    assert proc.stdout is not None and proc.stdin is not None
    assert proc.stdout.readline().strip() == "ready"
    proc.stdin.write("go\n")
    proc.stdin.flush()
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
    stdout, err = proc.communicate(timeout=120)
    assert proc.returncode in (0, -signal.SIGKILL), err
    return {name: float(at) for _, name, at in
            (line.split() for line in stdout.splitlines() if line.startswith("step "))}


def _sql_published(store: PlanStore) -> list[int]:
    runs = store.runs()
    return sorted(int(v) for v, s in zip(runs["plan_version"], runs["status"], strict=True)
                  if s == "published")


def _current_file(tree: OutputTree) -> int | None:
    """`CURRENT` as a plain-file reader sees it (no mark checked)."""
    path = posixpath.join(tree.cycle_dir(CYCLE), "CURRENT")
    return int(tree.read_text(path)) if tree.exists(path) else None


def _base(tree: OutputTree) -> int | None:
    try:
        return resolve_base(tree, CYCLE, None)
    except WhatIfUsageError:
        return None


def never_ahead_of_the_store(tree: OutputTree, store: PlanStore) -> list[str]:
    """What must hold at every instant, before any recovery: no reader sees a version the
    store has not published, and SQL readers see it whole."""
    published = _sql_published(store)
    problems = [f"folder reader sees {v}, not published in the store"
                for v in tree.versions(CYCLE) if v not in published]
    if (named := _current_file(tree)) is not None and named not in published:
        problems.append(f"CURRENT names {named}, not published in the store")
    with store.engine.connect() as conn:
        stored = conn.execute(sa.text(
            "SELECT plan_version, COUNT(*) FROM consensus_plan GROUP BY plan_version")).all()
    problems += [f"store holds {n} rows of unpublished version {v}"
                 for v, n in stored if v not in published]
    problems += [f"version {v} has {n} rows, not 2" for v, n in stored if n != 2]
    return problems


def disagreements(tree: OutputTree, store: PlanStore,
                  folder_versions: list[int] | None = None) -> list[str]:
    """Every way the readers disagree after recovery (empty when they all agree).

    `folder_versions` replaces the tree's answer (to check that this check can fail)."""
    published = _sql_published(store)
    latest = published[-1] if published else None
    folders = tree.versions(CYCLE) if folder_versions is None else folder_versions
    problems = never_ahead_of_the_store(tree, store)
    if folders != published:
        problems.append(f"folder readers see {folders}, SQL readers {published}")
    current_sql = sorted(set(store.read_current(CYCLE)["plan_version"]))
    if current_sql != ([] if latest is None else [latest]):
        problems.append(f"consensus_plan_current shows {current_sql}, latest is {latest}")
    for name, seen in (("CURRENT file", _current_file(tree)),
                       ("OutputTree.current", tree.current(CYCLE)),
                       ("resolve_version", tree.resolve_version(CYCLE)),
                       ("what-if base", _base(tree))):
        if seen != latest:
            problems.append(f"{name} names {seen}, latest published is {latest}")
    if latest is not None:
        folder_plan = tree.read_version_table(CYCLE, latest, "consensus_plan")
        sql_plan = store.read_current(CYCLE)
        if folder_plan is None or sorted(folder_plan["consensus_demand"]) != sorted(
                sql_plan["consensus_demand"]):
            problems.append(f"version {latest}: folder and store rows differ")
    runs = store.runs()
    if (runs["status"] == "staging").any():
        problems.append(f"staging rows left: {runs[runs['status'] == 'staging']}")
    if (left := tree.version_folders(CYCLE)) != tree.versions(CYCLE):
        problems.append(f"unmarked version folders left: {left}")
    if staging := tree.staging_folders():
        problems.append(f"staging folders left: {staging}")
    return problems


def _recover_and_check(tree: OutputTree, store: PlanStore, trial: str) -> None:
    assert never_ahead_of_the_store(tree, store) == [], trial
    # The worker is dead: every claim it left is abandoned, whatever its age.
    recover(tree, store, older_than=timedelta(0))
    assert disagreements(tree, store) == [], trial


def test_readers_agree_after_a_kill_at_every_step_and_at_random_instants(
    tmp_path: Path, store_url: str
) -> None:
    out = tmp_path / "out"
    tree, store = OutputTree.local(out), PlanStore(store_url)
    store.ensure_schema()
    # A clean publication first: the version a kill must leave current, and the time a
    # publication takes (claim to CURRENT), over which the random kills are spread.
    steps = _kill_after(out, store_url, 1.0, delay=120)
    assert _sql_published(store) == [1] and tree.versions(CYCLE) == [1]
    qty = 1.0
    for step in STEPS:
        qty += 1
        _kill_at_step(out, store_url, qty, step)
        _recover_and_check(tree, store, f"killed after {step}")
    rng = random.Random(20261203)
    for trial in range(RANDOM_KILLS):
        qty += 1
        # Every other kill between the claim and CURRENT, where the debris is left; the
        # others anywhere, the store's schema check and the claim included.
        first = steps["claimed"] * 0.9 if trial % 2 else 0.0
        delay = rng.uniform(first, steps["current"] * 1.05)
        done = _kill_after(out, store_url, qty, delay)
        _recover_and_check(tree, store, f"random kill {trial} after {delay:.3f}s: {done}")
    # Whatever was killed, the next publication gets a fresh version and becomes current.
    claimed = int(store.runs()["plan_version"].max())
    proc = _worker(out, store_url, 99.0, "none")
    stdout, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    fresh = int(stdout.strip().splitlines()[-1])
    assert fresh == claimed + 1
    assert disagreements(tree, store) == [] and tree.current(CYCLE) == fresh
    assert store.read_current(CYCLE)["consensus_demand"].tolist() == [99.0, 99.0]
    # Killed after their store commit, these were rolled forward, not lost.
    assert {2 + STEPS.index("stored"), 2 + STEPS.index("marked")} <= set(_sql_published(store))
    store.dispose()


def test_the_check_catches_a_folder_the_store_never_published(
    tmp_path: Path, store_url: str
) -> None:
    """The proof the fault test can fail: before the mark, a folder reader took every
    `version=N` folder for a version, and a kill after the rename made it disagree with SQL."""
    out = tmp_path / "out"
    tree, store = OutputTree.local(out), PlanStore(store_url)
    _kill_at_step(out, store_url, 1.0, "promoted")
    unmarked_reader = tree.version_folders(CYCLE)  # what OutputTree.versions used to answer
    assert unmarked_reader == [1] and _sql_published(store) == []
    assert any("folder readers see [1], SQL readers []" in p
               for p in disagreements(tree, store, folder_versions=unmarked_reader))
    # Recovery quarantines that folder, and the next run's publication is version 2.
    found = recover(tree, store, older_than=timedelta(0))
    assert found.failed == ((CYCLE, 1),) and len(found.quarantined) == 1
    assert tree.version_folders(CYCLE) == [] and Path(found.quarantined[0]).is_dir()
    assert disagreements(tree, store) == []
    store.dispose()


def test_recovery_leaves_a_live_run_alone(tmp_path: Path, store_url: str) -> None:
    """Within the lease a `staging` claim, its staging folder and its unmarked version folder
    belong to a run that may still be going: recovery touches none of them."""
    out = tmp_path / "out"
    tree, store = OutputTree.local(out), PlanStore(store_url)
    _kill_at_step(out, store_url, 1.0, "promoted")
    _kill_at_step(out, store_url, 2.0, "staged")
    assert not recover(tree, store)  # the default lease: the run timeout, hours
    assert tree.version_folders(CYCLE) == [1] and len(tree.staging_folders()) == 1
    assert (store.runs()["status"] == "staging").all()
    # A claim that recovery took for dead can no longer be published.
    recover(tree, store, older_than=timedelta(0))
    frames = {"consensus_plan": pd.DataFrame({"sku": [], "location": [], "period": []})}
    with pytest.raises(ClaimLost, match="no longer staging"):
        store.publish(CYCLE, 2, frames, "x", "sha")
    assert _sql_published(store) == [] and store.read_current(CYCLE).empty
    store.dispose()


def test_recovery_rolls_forward_and_ages_unknown_staging_folders(
    tmp_path: Path, store_url: str
) -> None:
    """In-process: a folder the store published but never marked (e.g. published before the
    mark existed) is rolled forward; a staging folder no claim explains is removed only once
    older than the lease."""
    tree, store = OutputTree.local(tmp_path / "out"), PlanStore(store_url)
    version = claim_version(tree, CYCLE, store, run_id=None)
    frames = _frames(4.0)
    staging = tree.stage_version(CYCLE, version, frames, "", {"v": version})
    store.publish(CYCLE, version, frames, tree.promote(staging, CYCLE, version), "sha")
    stray = tree.path(".staging", f"cycle={CYCLE}-version=9-0123abcd")
    tree.makedirs(stray)
    assert tree.versions(CYCLE) == [] and tree.current(CYCLE) is None
    found = recover(tree, store)
    assert (found.rolled_forward, found.current, found.removed_staging) == (
        ((CYCLE, 1),), ((CYCLE, 1),), ())
    assert disagreements(tree, store) == [f"staging folders left: {[(stray, CYCLE, 9)]}"]
    later = datetime.now(UTC) + staging_lease() + timedelta(minutes=1)
    assert recover(tree, store, now=later).removed_staging == (stray,)
    assert disagreements(tree, store) == []
    store.dispose()
