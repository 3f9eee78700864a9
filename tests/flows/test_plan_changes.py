"""plan_changes end to end: each published version lists what differs from the plan before it,
the same rows in its Parquet file and in the store."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from data_contracts.tables import PLAN_CHANGES_COLUMNS
from flows.output_tree import OutputTree
from flows.previous_plan import previous_plan_version
from flows.publish import claim_version
from flows.store import PlanStore

CYCLE = "2026-12"
KEY = ["sku", "location", "period"]


def _run(inputs: Path, out: Path) -> None:
    # Each run in its own `sop` process, as a scheduler would start them (two runs in one
    # process through CliRunner would share Prefect's logging across swapped stdio).
    result = subprocess.run(
        [sys.executable, "-c", "from flows.cli import app; app()", "run", "--inputs",
         str(inputs), "--cycle", CYCLE, "--out", str(out), "--horizon", "12"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _version(out: Path, version: int) -> Path:
    return out / f"cycle={CYCLE}" / f"version={version}"


def _stored_changes(out: Path, version: int) -> pd.DataFrame:
    store = PlanStore(OutputTree.local(out).default_store_url())
    try:
        with store.engine.connect() as conn:
            return pd.read_sql(
                sa.text("SELECT * FROM plan_changes WHERE cycle = :c AND plan_version = :v"),
                conn, params={"c": CYCLE, "v": version},
            )
    finally:
        store.dispose()


def test_a_rerun_with_an_override_lists_the_change_in_file_and_store(
    inputs_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    _run(inputs_dir, out)
    first = pd.read_parquet(_version(out, 1) / "plan_changes.parquet")
    assert first.empty and list(first.columns) == PLAN_CHANGES_COLUMNS
    assert str(first["previous_version"].dtype) == "int64"
    assert str(first["planned_receipts_after"].dtype) == "float64"
    manifest = json.loads((_version(out, 1) / "manifest.json").read_text())
    assert manifest["plan_changes"] == {"previous_cycle": None, "previous_version": None,
                                        "by_change": {}}
    assert _stored_changes(out, 1).empty

    # The S&OP meeting raises one month of one series well above the plan.
    plan = pd.read_parquet(_version(out, 1) / "consensus_plan.parquet")
    ordered = plan[(plan["planned_receipts"] > 0) & (plan["period"] > "2027-06")]
    target = ordered.sort_values(KEY).iloc[0]
    qty = float(round(target["consensus_demand"] * 3 + 100))
    overrides = pd.read_csv(inputs_dir / "overrides.csv", dtype=str)
    overrides = overrides[~((overrides["sku"] == target["sku"])
                            & (overrides["location"] == target["location"])
                            & (overrides["period"] == target["period"]))]
    extra = {"sku": target["sku"], "location": target["location"], "period": target["period"],
             "qty": str(qty), "reason": "key account launch", "approved_by": "S&OP lead"}
    pd.concat([overrides, pd.DataFrame([extra])]).to_csv(inputs_dir / "overrides.csv",
                                                        index=False)
    _run(inputs_dir, out)

    changes = pd.read_parquet(_version(out, 2) / "plan_changes.parquet")
    assert list(changes.columns) == PLAN_CHANGES_COLUMNS
    assert (changes["previous_cycle"] == CYCLE).all() and (changes["previous_version"] == 1).all()
    row = changes.set_index(KEY).loc[(target["sku"], target["location"], target["period"])]
    assert row["change"] in ("increased", "new")
    assert row["consensus_demand_before"] == target["consensus_demand"]
    assert row["consensus_demand_after"] == qty
    assert row["planned_receipts_after"] > row["planned_receipts_before"]
    # Only rows that differ, and their "after" side is the published plan.
    new_plan = pd.read_parquet(_version(out, 2) / "consensus_plan.parquet")
    after = changes.merge(new_plan, on=KEY)
    assert len(after) == len(changes)
    assert (after["consensus_demand_after"] == after["consensus_demand"]).all()
    assert (after["planned_receipts_after"] == after["planned_receipts"]).all()
    manifest = json.loads((_version(out, 2) / "manifest.json").read_text())
    assert manifest["plan_changes"]["previous_version"] == 1
    # One run id everywhere: the run folder, the manifest and the store's plan_runs.
    assert Path(manifest["workspace"]).name == f"run={manifest['run_id']}"
    store = PlanStore(OutputTree.local(out).default_store_url())
    runs = store.runs()
    store.dispose()
    assert runs.set_index("plan_version").loc[2, "run_id"] == manifest["run_id"]
    assert Path(runs.set_index("plan_version").loc[2, "output_path"]).is_absolute()
    assert sum(manifest["plan_changes"]["by_change"].values()) == len(changes)

    # A procurement system that keeps version 1 and reads only the change feed rebuilds
    # version 2's demand, receipts and release months.
    old_plan = plan.set_index(KEY)[["consensus_demand", "planned_receipts",
                                    "order_release_period"]].copy()
    for r in changes.itertuples(index=False):
        old_plan.loc[(r.sku, r.location, r.period)] = [
            r.consensus_demand_after, r.planned_receipts_after, r.order_release_period_after]
    want = new_plan.set_index(KEY)[old_plan.columns].sort_index()
    got_plan = old_plan.sort_index()
    pd.testing.assert_frame_equal(got_plan[["consensus_demand", "planned_receipts"]].astype(float),
                                  want[["consensus_demand", "planned_receipts"]].astype(float),
                                  rtol=1e-9)
    release = got_plan["order_release_period"].fillna("")
    assert (release == want["order_release_period"].fillna("")).all()

    stored = _stored_changes(out, 2)
    assert set(stored["plan_version"]) == {2} and set(stored["cycle"]) == {CYCLE}
    got = stored[PLAN_CHANGES_COLUMNS].sort_values(KEY).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, changes, check_dtype=False)


def _publish_empty(store: PlanStore, out: Path, cycle: str, publish: bool = True) -> int:
    version = claim_version(OutputTree.local(out), cycle, store, run_id=None)
    if publish:
        plan = pd.DataFrame(columns=["sku", "location", "period"])
        store.publish(cycle, version, {"consensus_plan": plan}, str(out), "sha")
    else:
        store.mark_failed(cycle, version, "audit failed")
    return version


def test_the_previous_plan_is_the_latest_published_version_else_last_months_current(
    tmp_path: Path, store_url: str
) -> None:
    out = tmp_path / "out"
    store = PlanStore(store_url)
    try:
        assert _publish_empty(store, out, "2026-11") == 1
        assert _publish_empty(store, out, "2026-11") == 2
        assert _publish_empty(store, out, "2026-12", publish=False) == 1
        # No published version of the cycle yet: the month before, its current version.
        assert previous_plan_version(store, "2026-12", 2) == ("2026-11", 2)
        assert _publish_empty(store, out, "2026-12") == 2
        assert _publish_empty(store, out, "2026-12", publish=False) == 3
        # Failed versions were never visible: not compared with.
        assert previous_plan_version(store, "2026-12", 4) == ("2026-12", 2)
        # Only the month before counts, not any earlier cycle.
        assert previous_plan_version(store, "2027-02", 1) is None
        assert previous_plan_version(store, "2026-11", 1) is None
    finally:
        store.dispose()
