"""Reconcile by partition of locations publishes the plan of the whole catalogue, row for row."""

import shutil
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.partitions import stand_in_baseline
from data_contracts import validate_inputs
from flows.cli import DEMO_CYCLE
from flows.io import write_inputs
from flows.output_tree import OutputTree, Workspace
from flows.partitions import (
    join_trust,
    location_groups,
    planned_locations,
    reconcile_by_partition,
)
from flows.stages import PAST_PLAN_COLUMNS
from reconciliation import PlanSettings, planned_keys
from sample_data import generate_world
from tests.flows.sop_cli import run_sop

# Every table of a version, SPEC's and the extra views.
TABLES = ("consensus_plan", "baseline_forecast", "capacity_report", "exceptions",
          "plan_changes", "family_plan", "trust", "promotion_load", "fva", "safety_stock",
          "sales_bias", "plan_waterfall", "plan_stability")


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    """Rows in one order whatever the partitioning (every column as sort key, text as text)."""
    cols = list(df.columns)
    return df.sort_values(cols, key=lambda s: s.astype(str), kind="stable"
                          ).reset_index(drop=True)


def _assert_same_version(whole: Path, parted: Path) -> None:
    for table in TABLES:
        a = pd.read_parquet(whole / f"{table}.parquet")
        b = pd.read_parquet(parted / f"{table}.parquet")
        # A first cycle changes nothing and has no last cycle's plan to explain.
        assert len(a) or table in ("plan_changes", "plan_waterfall", "plan_stability"), table
        pd.testing.assert_frame_equal(_sorted(a), _sorted(b), check_exact=True, obj=table)


def _same_plan_for_partition_sizes(tables: dict[str, pd.DataFrame], tmp_path: Path,
                                   cycle: str, horizon: int) -> None:
    inputs = tmp_path / "inputs"
    write_inputs(tables, inputs, fmt="csv")
    whole = run_sop(inputs, tmp_path / "whole", cycle, horizon)
    for size in (1, 2):
        out = tmp_path / f"size{size}"
        # The same baselines (fitting is not what is tested): the cache of the first run.
        shutil.copytree(tmp_path / "whole" / "cache", out / "cache")
        _assert_same_version(whole, run_sop(inputs, out, cycle, horizon, partition_size=size))


def test_partitioned_plan_equals_the_whole_on_a_generated_world(tmp_path: Path) -> None:
    # Five locations: groups of 1 and 2 (2+2+1) both split sales teams and families.
    world = generate_world(n_skus=40, n_locations=5, history_months=48, cycle="2026-12",
                           horizon=12, seed=5)
    _same_plan_for_partition_sizes(world.tables, tmp_path, "2026-12", 12)


@pytest.mark.slow
def test_partitioned_plan_equals_the_whole_on_the_demo_world(tmp_path: Path) -> None:
    world = generate_world(n_skus=200, cycle=DEMO_CYCLE, horizon=18, seed=7)  # `sop demo`'s
    _same_plan_for_partition_sizes(world.tables, tmp_path, DEMO_CYCLE, 18)


def test_location_groups_are_consecutive_sorted_and_cover_every_location() -> None:
    assert location_groups(["C", "A", "B", "A"], None) == [["A", "B", "C"]]
    assert location_groups(["C", "A", "B"], 2) == [["A", "B"], ["C"]]
    assert location_groups(["C", "A", "B"], 5) == [["A", "B", "C"]]


def test_join_trust_keeps_each_team_once_in_estimate_trusts_order() -> None:
    def rows(*teams: str) -> pd.DataFrame:
        return pd.DataFrame([{"submitted_by": t, "direction": d, "weight": 0.5}
                             for t in teams for d in ("up", "down")])
    joined = join_trust([rows("b", "a"), rows("a", "c")])
    assert list(zip(joined["submitted_by"], joined["direction"], strict=True)) == [
        ("a", "up"), ("a", "down"), ("b", "up"), ("b", "down"), ("c", "up"), ("c", "down")]


def _workspace(tmp_path: Path, tables: dict[str, pd.DataFrame]) -> Workspace:
    """A run's workspace after ingest and baselines (a stand-in baseline: fitting is not
    what is tested)."""
    checked = validate_inputs(tables, "2026-12", None, None, horizon=18)
    ws = OutputTree.local(tmp_path / "out").workspace("2026-12", "t")
    ws.save_frames("check", checked.tables)
    keys = planned_keys(checked.tables, "2026-12", 18)
    ws.save_frames("baseline", {"baseline_forecast": stand_in_baseline(
        checked.tables["sales_history"], keys)})
    return ws


@pytest.mark.slow
def test_partitions_run_on_dask_workers_with_the_plan_of_the_local_engine(
    tmp_path: Path,
) -> None:
    world = generate_world(n_skus=30, n_locations=3, history_months=36, cycle="2026-12",
                           horizon=18, seed=3)
    ws = _workspace(tmp_path, world.tables)
    groups = location_groups(planned_locations(ws), 1)
    assert len(groups) == 3
    runs = {}
    for engine in ("local", "dask"):
        parted = reconcile_by_partition(ws, groups, "2026-12", 18, PlanSettings(),
                                        PAST_PLAN_COLUMNS, engine, workers=2)
        plan = ws.load_frames("plan", ["consensus_plan"])["consensus_plan"]
        runs[engine] = (parted, plan)
    (local, local_plan), (dask, dask_plan) = runs["local"], runs["dask"]
    pd.testing.assert_frame_equal(local_plan, dask_plan, check_exact=True)
    assert local.rows == dask.rows == len(local_plan) > 0
    for name, frame in local.frames.items():
        pd.testing.assert_frame_equal(frame, dask.frames[name], check_exact=True, obj=name)
    assert set(local_plan["location"]) == {loc for g in groups for loc in g}
