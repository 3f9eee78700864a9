"""The publish stage on its own: the audit is the last gate, and the store gets the files."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.context import RunContext
from flows.output_tree import OutputTree, Workspace
from flows.pipeline import PlanAuditError, publish_stage
from flows.publish import claim_version, staging_lease
from flows.store import PlanStore, plan_runs

CYCLE = "2026-12"


def _published(out: Path, version: int) -> Path:
    return out / f"cycle={CYCLE}" / f"version={version}"


def test_a_plan_breaking_a_rule_is_refused_and_a_sound_one_lands_as_written(
    inputs_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = CliRunner().invoke(app, ["run", "--inputs", str(inputs_dir), "--cycle", CYCLE,
                                     "--out", str(out), "--horizon", "12"])
    assert first.exit_code == 0, first.output
    workspace = json.loads((_published(out, 1) / "manifest.json").read_text())["workspace"]
    tree = OutputTree.local(out)
    # The stage re-run from the UI: the run's own context, kept in its workspace.
    ctx = Workspace(tree, workspace).load_result("context", RunContext)
    assert (ctx.cycle, ctx.horizon, ctx.out) == (CYCLE, 12, str(out.resolve()))
    plan_file = Path(workspace) / "plan" / "consensus_plan.parquet"
    sound = pd.read_parquet(plan_file)

    broken = sound.copy()
    # Passes every output contract, breaks SPEC's stock balance: only the audit can tell.
    broken.loc[broken.index[0], "projected_on_hand"] += 100.0
    broken.to_parquet(plan_file, index=True)
    with pytest.raises(PlanAuditError, match="stock balance broken"):
        publish_stage(ctx)
    assert not _published(out, 2).exists()
    assert tree.current(CYCLE) == 1
    store = PlanStore(tree.default_store_url())
    runs = store.runs().set_index("plan_version")
    # Each version names the monthly run and each stage's flow run (their logs in the UI).
    stages = json.loads(runs.loc[1, "stage_run_ids"])
    assert list(stages) == ["baselines", "ingest_and_check", "publish", "reconcile"]
    assert len(set(stages.values())) == 4 and runs.loc[1, "run_id"] not in stages.values()
    assert runs.loc[1, "run_id"] == ctx.run_id
    assert runs.loc[2, "status"] == "failed"
    assert "stock balance broken" in runs.loc[2, "message"]

    # A run killed hours ago right after renaming its folder into place: the next publish
    # recovers first (its claim failed, its unmarked folder quarantined), then claims.
    killed = claim_version(tree, CYCLE, store, run_id=None)
    staging = tree.stage_version(CYCLE, killed, {"consensus_plan": sound}, "", {"v": killed})
    tree.promote(staging, CYCLE, killed)
    with store.engine.begin() as conn:
        conn.execute(plan_runs.update().where(plan_runs.c.plan_version == killed)
                     .values(created_at=datetime.now(UTC) - staging_lease() - timedelta(hours=1)))
    sound.to_parquet(plan_file, index=True)
    result = publish_stage(ctx)
    assert (killed, result.plan_version) == (3, 4)
    assert tree.current(CYCLE) == 4 and tree.version_folders(CYCLE) == [1, 4]
    assert len(list((out / ".quarantine").iterdir())) == 1
    assert store.runs().set_index("plan_version").loc[3, "status"] == "failed"
    files = {v: pd.read_parquet(_published(out, v) / "consensus_plan.parquet") for v in (1, 4)}
    pd.testing.assert_frame_equal(files[1].drop(columns="plan_version"),
                                  files[4].drop(columns="plan_version"))
    # Readers of the store get what the audited file holds.
    stored = store.read_current(CYCLE)
    store.dispose()
    key = ["sku", "location", "period"]
    got = stored.sort_values(key).reset_index(drop=True)
    want = files[4].sort_values(key).reset_index(drop=True)
    assert set(got["plan_version"]) == {4}
    columns = [c for c in want.columns if c in got.columns]
    assert "consensus_demand" in columns and "projected_on_hand" in columns
    pd.testing.assert_frame_equal(got[columns], want[columns], check_dtype=False)
