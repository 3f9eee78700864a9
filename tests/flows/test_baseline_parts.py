"""The baselines stage by partition of locations leaves the frames of the whole catalogue's fit."""

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from data_contracts import validate_inputs
from data_contracts.run_records import CheckResult, InputRecord
from flows.baseline_parts import FRAMES, partition_keys
from flows.cli import DEMO_CYCLE
from flows.config import RunConfig
from flows.context import RunContext
from flows.io import write_inputs
from flows.output_tree import Workspace
from flows.partitions import location_groups, planned_locations
from flows.stages import baselines_stage
from reconciliation import planned_keys
from sample_data import generate_world
from tests.flows.sop_cli import run_sop
from tests.forecasting.test_partitioned_fit import cold_start_world

CYCLE = "2026-12"
HORIZON = 12
KEY = ["sku", "location"]


def _context(out: Path, tables: dict[str, pd.DataFrame], cycle: str, horizon: int,
             size: int | None, run_id: str = "t", engine: str = "local",
             **forecasting: Any) -> RunContext:
    """A run whose contracts stage is done: the checked tables and its record in the
    workspace (the input hashes stand in for the files')."""
    config = RunConfig.model_validate({"execution": {"partition_size": size},
                                       "forecasting": forecasting})
    ctx = RunContext(cycle=cycle, horizon=horizon, inputs=str(out / "inputs"), out=str(out),
                     run_id=run_id, config=config, jobs=1 if engine == "local" else 2,
                     engine=engine)
    checked = validate_inputs(tables, cycle, None, None, horizon=horizon)
    ctx.workspace.save_frames("check", checked.tables)
    ctx.workspace.save_result("check", CheckResult(inputs=[
        InputRecord(table=t, path=f"{t}.csv", sha256=f"sha-{t}", rows=len(df), format="csv")
        for t, df in tables.items()]))
    return ctx


def _frames(ctx: RunContext) -> dict[str, pd.DataFrame]:
    return ctx.workspace.load_frames("baseline", list(FRAMES))


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    by = [c for c in ("sku", "location", "period", "months", "rule") if c in df.columns]
    return df.sort_values(by, kind="stable").reset_index(drop=True)


def _assert_same_frames(whole: dict[str, pd.DataFrame], parted: dict[str, pd.DataFrame]
                        ) -> None:
    assert set(parted) == set(whole) == set(FRAMES)
    for name in FRAMES:
        pd.testing.assert_frame_equal(_sorted(whole[name]), _sorted(parted[name]),
                                      check_exact=True, obj=name)


def _same_baselines_for_partition_sizes(tmp_path: Path, tables: dict[str, pd.DataFrame],
                                        cycle: str, horizon: int) -> None:
    whole_ctx = _context(tmp_path / "whole", tables, cycle, horizon, None)
    whole = baselines_stage(whole_ctx)
    assert not whole.reused and whole.series > 0
    expected = _frames(whole_ctx)
    for size in (1, 2):
        ctx = _context(tmp_path / f"size{size}", tables, cycle, horizon, size)
        assert len(location_groups(planned_locations(ctx.workspace), size)) > 1
        parted = baselines_stage(ctx)
        assert not parted.reused
        assert (parted.cache_key, parted.series, parted.models) == (
            whole.cache_key, whole.series, whole.models)
        _assert_same_frames(expected, _frames(ctx))


def test_stage_by_partition_fits_the_catalogues_baselines(tmp_path: Path) -> None:
    _same_baselines_for_partition_sizes(tmp_path, cold_start_world(), CYCLE, HORIZON)


@pytest.mark.slow
def test_stage_by_partition_fits_the_catalogues_baselines_on_the_demo_world(
        tmp_path: Path) -> None:
    world = generate_world(n_skus=200, cycle=DEMO_CYCLE, horizon=18, seed=7)  # `sop demo`'s
    _same_baselines_for_partition_sizes(tmp_path, world.tables, DEMO_CYCLE, 18)


@pytest.mark.slow
def test_stage_by_partition_on_dask_fits_what_the_local_engine_fits(tmp_path: Path) -> None:
    tables = cold_start_world()
    local_ctx = _context(tmp_path / "local", tables, CYCLE, HORIZON, 1)
    local = baselines_stage(local_ctx)
    dask_ctx = _context(tmp_path / "dask", tables, CYCLE, HORIZON, 1, engine="dask")
    dask = baselines_stage(dask_ctx)
    assert not dask.reused and dask.engine == "dask"
    assert (dask.cache_key, dask.series, dask.models) == (local.cache_key, local.series,
                                                          local.models)
    _assert_same_frames(_frames(local_ctx), _frames(dask_ctx))


def test_cache_entries_serve_either_way_and_the_driver_reads_one_group_at_a_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tables = cold_start_world()
    out = tmp_path / "out"
    calls: list[tuple[str, list[str] | None, list[str] | None]] = []
    load = Workspace.load_frames

    def spy(self: Workspace, stage: str, names: list[str] | None = None,
            locations: list[str] | None = None) -> dict[str, pd.DataFrame]:
        calls.append((stage, names, locations))
        return load(self, stage, names, locations)

    monkeypatch.setattr(Workspace, "load_frames", spy)
    first_ctx = _context(out, tables, CYCLE, HORIZON, 1, run_id="first")
    first = baselines_stage(first_ctx)
    assert not first.reused
    groups = location_groups(planned_locations(first_ctx.workspace), 1)
    check = [(names, locations) for stage, names, locations in calls if stage == "check"]
    # Only warehouses (the list of locations) and products (no location) are read whole:
    # products once, for every partition.
    whole = [names for names, locations in check if locations is None]
    assert set(map(tuple, whole)) <= {("warehouses",), ("products",)}
    assert whole.count(["products"]) == 1
    history_reads = [locations for names, locations in check
                     if names is not None and "sales_history" in names]
    # Keys then fit: each group read on its own, twice, in order.
    assert history_reads == groups + groups
    monkeypatch.undo()
    parted = _frames(first_ctx)

    # A partitioned run of other sizes and a whole run reuse that entry: same frames.
    again_ctx = _context(out, tables, CYCLE, HORIZON, 2, run_id="again")
    again = baselines_stage(again_ctx)
    assert again.reused and again.cache_key == first.cache_key
    _assert_same_frames(parted, _frames(again_ctx))
    whole_ctx = _context(out, tables, CYCLE, HORIZON, None, run_id="whole")
    whole = baselines_stage(whole_ctx)
    assert whole.reused and whole.cache_key == first.cache_key
    assert (whole.series, whole.models) == (first.series, first.models)
    _assert_same_frames(parted, _frames(whole_ctx))
    assert not list((out / "cache" / "baselines").glob(".tmp-*"))


def test_mint_shrink_fits_the_catalogue_whole_even_with_partitions(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Its total and family aggregates sum every location: no partition could reconcile."""
    tables = dict(generate_world(n_skus=8, n_locations=2, history_months=36, cycle=CYCLE,
                                 horizon=6, seed=2).tables)

    def refuse(*args: object) -> None:
        raise AssertionError("fitted by partition")

    monkeypatch.setattr("flows.stages.fit_by_partition", refuse)
    whole_ctx = _context(tmp_path / "whole", tables, CYCLE, 6, None, hierarchy="mint_shrink")
    baselines_stage(whole_ctx)
    ctx = _context(tmp_path / "parted", tables, CYCLE, 6, 1, hierarchy="mint_shrink")
    assert len(location_groups(planned_locations(ctx.workspace), 1)) == 2
    with caplog.at_level("INFO"):
        baselines_stage(ctx)
    assert "hierarchy mint_shrink: baselines fitted for all 2 locations at once" in caplog.text
    _assert_same_frames(_frames(whole_ctx), _frames(ctx))


def test_planned_keys_of_each_location_group_are_the_catalogues(tmp_path: Path) -> None:
    """Checked on the demo world, whose sales forecast has family rows: they are split over
    the family's SKUs per location, so each group finds the keys the catalogue does."""
    world = generate_world(n_skus=200, cycle=DEMO_CYCLE, horizon=18, seed=7)
    ctx = _context(tmp_path, world.tables, DEMO_CYCLE, 18, None)
    tables = ctx.workspace.load_frames("check")
    whole = planned_keys(tables, DEMO_CYCLE, 18)
    assert whole["from_family"].any()  # the family rows matter here
    assert tables["sales_forecast"]["sku"].fillna("").eq("").any()
    for size in (1, 2):
        groups = location_groups(planned_locations(ctx.workspace), size)
        assert len(groups) > 1
        parted = pd.concat(partition_keys(ctx.workspace, groups, DEMO_CYCLE, 18),
                           ignore_index=True)
        pd.testing.assert_frame_equal(_sorted(parted), _sorted(whole[KEY]), check_exact=True)


@pytest.mark.slow
def test_sop_run_fitting_by_partition_publishes_the_whole_runs_version(tmp_path: Path) -> None:
    """Fitted, not reused: each run has its own cache (tests/flows/test_partitions.py shares
    one, to test reconcile alone)."""
    inputs = tmp_path / "inputs"
    write_inputs(cold_start_world(), inputs, fmt="csv")
    whole = run_sop(inputs, tmp_path / "whole", CYCLE, HORIZON)
    parted = run_sop(inputs, tmp_path / "parted", CYCLE, HORIZON, partition_size=1)
    for table in ("consensus_plan", "baseline_forecast", "capacity_report", "exceptions",
                  "safety_stock"):
        a = pd.read_parquet(whole / f"{table}.parquet")
        b = pd.read_parquet(parted / f"{table}.parquet")
        assert len(a), table
        cols = list(a.columns)
        pd.testing.assert_frame_equal(
            a.sort_values(cols, key=lambda c: c.astype(str), kind="stable").reset_index(drop=True),
            b.sort_values(cols, key=lambda c: c.astype(str), kind="stable").reset_index(drop=True),
            check_exact=True, obj=table)
