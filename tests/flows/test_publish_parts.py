"""Publishing by partition of locations gives the files and store rows of a whole publish, and
a version stays invisible until its one commit even when a later partition fails."""

import contextlib
import json
import posixpath
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from data_contracts.periods import add_months
from flows.cli import DEMO_CONFIG, DEMO_CYCLE, app
from flows.context import RunContext
from flows.io import write_inputs
from flows.output_tree import OutputTree, Workspace
from flows.partitions import location_groups
from flows.pipeline import publish_stage
from flows.store import STORE_KEYS, STORE_TABLES, PlanStore
from sample_data import generate_world, tables_a_month_earlier
from tests.flows.sop_cli import run_sop
from tests.flows.test_publish import _frames


def _version(out: Path, cycle: str) -> Path:
    return out / f"cycle={cycle}" / "version=1"


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    """Rows in one order whatever the partitioning (every column a sort key, text as text)."""
    return df.sort_values(list(df.columns), key=lambda s: s.astype(str), kind="stable"
                          ).reset_index(drop=True)


def _stored(url: str, cycle: str) -> dict[str, pd.DataFrame]:
    store = PlanStore(url)
    try:
        with store.engine.connect() as conn:
            tables = {name: pd.read_sql(sa.text(
                f"SELECT * FROM {name} WHERE cycle = :c ORDER BY "
                + ", ".join(["plan_version", *STORE_KEYS[name]])), conn, params={"c": cycle})
                for name in STORE_TABLES}
            tables["plan_runs"] = pd.read_sql(sa.text(
                "SELECT cycle, plan_version, status, plan_rows, inputs_sha256 FROM plan_runs "
                "ORDER BY cycle, plan_version"), conn)
        return tables
    finally:
        store.dispose()


# A read of a plan's distinct values: (file, column), or ("store", cycle, version, column).
Read = tuple[str, ...]


@contextlib.contextmanager
def _counted_reads() -> Iterator[Counter[Read]]:
    """Every read of a plan's distinct values (months, locations) while the block runs."""
    reads: Counter[Read] = Counter()
    from_file, from_store = OutputTree.distinct_values, PlanStore.distinct_plan_values

    def file_values(tree: OutputTree, path: str, column: str) -> set[str]:
        reads[(path, column)] += 1
        return from_file(tree, path, column)

    def store_values(store: PlanStore, cycle: str, version: int, column: str) -> set[str]:
        reads[("store", cycle, str(version), column)] += 1
        return from_store(store, cycle, version, column)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(OutputTree, "distinct_values", file_values)
        patch.setattr(PlanStore, "distinct_plan_values", store_values)
        yield reads


def _partitioned_publish(base: Path, whole: Path, ctx: RunContext, target: Path,
                         size: int, store: str | None = None
                         ) -> tuple[RunContext, Counter[Read]]:
    """Publish the whole run's workspace again, by partitions of `size` locations, into a copy
    of the output folder as it was before that run (the earlier cycle published), and to
    `store` when given (a copy of the store as it was then); return the run and the reads of
    plans' distinct values the publish made."""
    shutil.copytree(base, target)
    workspace = Path(ctx.workspace.root)
    shutil.copytree(workspace, target / workspace.relative_to(whole))
    execution = ctx.config.execution.model_copy(update={"partition_size": size})
    parted = ctx.model_copy(update={
        "out": str(target.resolve()), **({"store": store} if store else {}),
        "config": ctx.config.model_copy(update={"execution": execution})})
    with _counted_reads() as reads:
        publish_stage(parted)
    return parted, reads


def _reads_once(parted: RunContext, earlier: str, elsewhere: bool) -> Counter[Read]:
    """What a partitioned publish reads of the plans' distinct values, each once: this plan's
    months (the workspace's file; the staged copy has its rows) and the months and locations
    of last cycle's one version - the previous plan, last cycle's and the only past one at
    once - from its version folder or (published `elsewhere`) from the store."""
    before = (("store", earlier, "1") if elsewhere else
              (posixpath.join(parted.tree.version_dir(earlier, 1), "consensus_plan.parquet"),))
    now = posixpath.join(parted.workspace.root, "plan", "consensus_plan.parquet")
    return Counter([(now, "period"), (*before, "period"), (*before, "location")])


def _assert_published_alike(whole: Path, parted: Path, cycle: str,
                            groups: list[list[str]], stores: tuple[str, str]) -> None:
    """`stores`: the URLs of the whole publish's store and of the partitioned one's."""
    a_dir, b_dir = _version(whole, cycle), _version(parted, cycle)
    files = sorted(p.relative_to(a_dir) for p in a_dir.rglob("*.parquet")
                   if "data_docs" not in p.parts)
    assert files == sorted(p.relative_to(b_dir) for p in b_dir.rglob("*.parquet")
                           if "data_docs" not in p.parts)
    for name in files:
        a, b = pd.read_parquet(a_dir / name), pd.read_parquet(b_dir / name)
        pd.testing.assert_frame_equal(_sorted(a), _sorted(b), check_exact=True, obj=str(name))
    plan = pd.read_parquet(a_dir / "consensus_plan.parquet")
    assert len(plan) and len(pd.read_parquet(a_dir / "plan_changes.parquet"))
    assert len(pd.read_parquet(a_dir / "plan_waterfall.parquet"))
    # The meeting pack is the same document.
    assert (a_dir / "report.html").read_text() == (b_dir / "report.html").read_text()
    manifests = [json.loads((d / "manifest.json").read_text()) for d in (a_dir, b_dir)]
    for key in ("rows", "plan_changes", "contracts", "inputs", "inputs_sha256", "supply_plan"):
        assert manifests[0][key] == manifests[1][key], key
    # One row group or more per partition, each within one partition's locations: a reader
    # filtering on location skips the others by the row groups' statistics.
    for table in ("consensus_plan", "baseline_forecast", "plan_changes"):
        meta = pq.ParquetFile(b_dir / f"{table}.parquet").metadata
        assert meta.num_row_groups >= len(groups), table
        column = meta.schema.names.index("location")
        for i in range(meta.num_row_groups):
            stats = meta.row_group(i).column(column).statistics
            if meta.row_group(i).num_rows:
                assert any(stats.min in g and stats.max in g for g in groups), (table, i)
    # The store holds the same rows, and the version is published with its plan's row count.
    stored_a, stored_b = _stored(stores[0], cycle), _stored(stores[1], cycle)
    for name, a in stored_a.items():
        pd.testing.assert_frame_equal(_sorted(a), _sorted(stored_b[name]), check_exact=True,
                                      obj=f"store {name}")
    assert stored_b["plan_runs"].set_index("cycle").loc[cycle, "plan_rows"] == len(plan)


def _same_publication_for_partition_sizes(tables: dict[str, pd.DataFrame], tmp_path: Path,
                                          cycle: str, horizon: int,
                                          closed: str | None = None,
                                          elsewhere: bool = False) -> None:
    """`closed`: a location last cycle's plan has and this cycle's inputs no longer have.
    `elsewhere`: last cycle was published to the same store from another output folder, so
    this one has no folder of it."""
    earlier = add_months(cycle, -1)
    config = tmp_path / "config.yaml"
    config.write_text(DEMO_CONFIG)  # the time fence on: firm receipts in plan and report
    write_inputs(tables_a_month_earlier(tables, cycle, horizon), tmp_path / "before", fmt="csv")
    if closed is not None:
        tables = {name: df[df["location"].astype(str) != closed] if "location" in df else df
                  for name, df in tables.items()}
    write_inputs(tables, tmp_path / "inputs", fmt="csv")
    whole = tmp_path / "whole"
    # Elsewhere: one DuckDB store given to both runs, copied as it was before this cycle's.
    store = f"duckdb:///{tmp_path / 'sop.duckdb'}" if elsewhere else None
    run_sop(tmp_path / "before", tmp_path / "other" if elsewhere else whole, earlier, horizon,
            config=config, store=store)
    base = tmp_path / "base"
    if elsewhere:
        base.mkdir()
        shutil.copyfile(tmp_path / "sop.duckdb", tmp_path / "base.duckdb")
    else:
        shutil.copytree(whole, base)
    run_sop(tmp_path / "inputs", whole, cycle, horizon, config=config, store=store)
    manifest = json.loads((_version(whole, cycle) / "manifest.json").read_text())
    ctx = Workspace(OutputTree.local(whole), manifest["workspace"]).load_result(
        "context", RunContext)
    locations = sorted(set(tables["warehouses"]["location"].astype(str)))
    for size in (1, 2):
        groups = location_groups(locations, size)
        assert len(groups) > 1
        target = tmp_path / f"size{size}"
        parted_store = None
        if elsewhere:
            shutil.copyfile(tmp_path / "base.duckdb", tmp_path / f"size{size}.duckdb")
            parted_store = f"duckdb:///{tmp_path / f'size{size}.duckdb'}"
        parted, reads = _partitioned_publish(base, whole, ctx, target, size, parted_store)
        # The closed location's removed rows are a partition of their own.
        _assert_published_alike(whole, target, cycle, [*groups, *([[closed]] if closed else [])],
                                (ctx.store_url(), parted.store_url()))
        assert reads == _reads_once(parted, earlier, elsewhere)


def test_a_partitioned_publish_equals_the_whole_on_a_generated_world(tmp_path: Path) -> None:
    # Five locations: groups of 1 and 2 (2+2+1).
    world = generate_world(n_skus=30, n_locations=5, history_months=48, cycle="2026-12",
                           horizon=12, seed=5)
    _same_publication_for_partition_sizes(world.tables, tmp_path, "2026-12", 12)


def test_a_partitioned_publish_counts_a_warehouse_closed_since_last_cycle(
        tmp_path: Path) -> None:
    # The earlier plan's fifth location is in no partition of this cycle: the waterfall and
    # stability of the whole publish count its units as gone, and so must the partitioned one.
    world = generate_world(n_skus=30, n_locations=5, history_months=48, cycle="2026-12",
                           horizon=12, seed=5)
    closed = sorted(set(world.tables["warehouses"]["location"].astype(str)))[-1]
    _same_publication_for_partition_sizes(world.tables, tmp_path, "2026-12", 12, closed)
    version = _version(tmp_path / "whole", "2026-12")
    plan = pd.read_parquet(version / "consensus_plan.parquet")
    assert closed not in set(plan["location"].astype(str))
    before = pd.read_parquet(_version(tmp_path / "whole", "2026-11") / "consensus_plan.parquet")
    before = before[before["period"].isin(set(plan["period"]))]
    gone = float(before.loc[before["location"].astype(str) == closed, "consensus_demand"].sum())
    assert gone > 0
    # Last cycle's volume in the months both plans cover, the closed warehouse's included.
    stability = pd.read_parquet(version / "plan_stability.parquet")
    total = stability[(stability["cycle"] == "2026-12") & (stability["level"] == "total")]
    assert float(total["previous_units"].iloc[0]) == pytest.approx(
        before["consensus_demand"].sum())
    waterfall = pd.read_parquet(version / "plan_waterfall.parquet")
    start = waterfall[(waterfall["key"] == "ALL") & (waterfall["step"] == "previous_consensus")]
    assert float(start["units"].iloc[0]) == pytest.approx(before["consensus_demand"].sum())


def test_a_partitioned_publish_equals_the_whole_when_last_cycle_was_published_elsewhere(
        tmp_path: Path) -> None:
    # Last cycle's plan is in the store only: plan_changes, the waterfall and the closed
    # warehouse's partition take its rows, months and locations from there.
    world = generate_world(n_skus=30, n_locations=5, history_months=48, cycle="2026-12",
                           horizon=12, seed=5)
    closed = sorted(set(world.tables["warehouses"]["location"].astype(str)))[-1]
    _same_publication_for_partition_sizes(world.tables, tmp_path, "2026-12", 12, closed,
                                          elsewhere=True)
    assert not (tmp_path / "whole" / "cycle=2026-11").exists()
    changes = pd.read_parquet(_version(tmp_path / "whole", "2026-12") / "plan_changes.parquet")
    assert set(changes["previous_cycle"].dropna()) == {"2026-11"}
    assert "cancelled" in set(changes.loc[changes["location"].astype(str) == closed, "change"])


@pytest.mark.slow
def test_a_partitioned_publish_equals_the_whole_on_the_demo_world(tmp_path: Path) -> None:
    world = generate_world(n_skus=200, cycle=DEMO_CYCLE, horizon=18, seed=7)  # `sop demo`'s
    _same_publication_for_partition_sizes(world.tables, tmp_path, DEMO_CYCLE, 18)


# ------------------------------------------------------------ one transaction, all partitions

CYCLE = "2026-12"


def _plan_part(location: str, qty: float) -> pd.DataFrame:
    """Two plan rows of one location (a partition)."""
    return _frames(qty)["consensus_plan"].assign(cycle=CYCLE, period=CYCLE, location=location)


def _visible_rows(url: str, version: int | None = None) -> Any:
    """(rows of version 1 in consensus_plan, rows in consensus_plan_current), as another
    reader sees them; with `version`, only that version's rows in consensus_plan. Opened as
    PlanStore opens it: DuckDB refuses a second connection to a file in one process with
    another configuration (the store's memory limit)."""
    engine = PlanStore(url).engine
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT COUNT(*) FROM consensus_plan WHERE cycle = :c AND plan_version = :v"),
                {"c": CYCLE, "v": version or 1}).scalar()
            if version is not None:
                return int(rows or 0)
            current = conn.execute(sa.text("SELECT COUNT(*) FROM consensus_plan_current")
                                   ).scalar()
        return int(rows or 0), int(current or 0)
    finally:
        engine.dispose()


def test_a_failing_partition_rolls_back_the_ones_before_and_nothing_was_ever_visible(
    store_url: str,
) -> None:
    store = PlanStore(store_url)
    store.ensure_schema()
    assert store.claim_version(CYCLE, at_least=1) == 1
    seen_between: list[tuple[int, int]] = []

    def parts() -> Iterator[pd.DataFrame]:
        yield _plan_part("L1", 1.0)
        # The first partition is inserted, the transaction still open: another reader sees
        # nothing of it.
        seen_between.append(_visible_rows(store_url))
        raise RuntimeError("disk gone while reading the second partition")

    with pytest.raises(RuntimeError, match="second partition"):
        store.publish(CYCLE, 1, {"consensus_plan": parts}, "/nowhere", "sha")
    assert seen_between == [(0, 0)]
    assert _visible_rows(store_url) == (0, 0)
    runs = store.runs()
    assert list(runs["status"]) == ["staging"]  # publish_stage's discard marks it failed

    def good() -> Iterator[pd.DataFrame]:
        yield _plan_part("L1", 1.0)
        yield _plan_part("L2", 2.0)

    assert store.claim_version(CYCLE, at_least=1) == 2
    exceptions = _frames(1.0)["exceptions"]

    def exception_parts() -> Iterator[pd.DataFrame]:
        yield exceptions
        yield exceptions

    store.publish(CYCLE, 2, {"consensus_plan": good, "exceptions": exception_parts},
                  "/somewhere", "sha")
    current = store.read_current(CYCLE).sort_values(["location", "sku"])
    assert list(zip(current["location"], current["consensus_demand"], strict=True)) == [
        ("L1", 1.0), ("L1", 1.0), ("L2", 2.0), ("L2", 2.0)]
    runs = store.runs().set_index("plan_version")
    assert runs.loc[2, "status"] == "published" and runs.loc[2, "plan_rows"] == 4
    with store.engine.connect() as conn:  # numbered across parts: the key stays unique
        numbers = conn.execute(sa.text("SELECT exception_no FROM exceptions ORDER BY 1")
                               ).scalars().all()
    assert numbers == [1, 2]
    store.dispose()


def test_a_publish_failing_in_its_second_partition_publishes_nothing(
    inputs_dir: Path, tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "out"
    # As in production: the URL without its password, which comes from the environment.
    url = sa.engine.make_url(store_url)
    monkeypatch.setenv("SOP_STORE_PASSWORD", url.password or "")
    given = url._replace(password=None).render_as_string(hide_password=False)
    first = CliRunner().invoke(app, ["run", "--inputs", str(inputs_dir), "--cycle", CYCLE,
                                     "--out", str(out), "--horizon", "12", "--store", given])
    assert first.exit_code == 0, first.output
    manifest = json.loads((_version(out, CYCLE) / "manifest.json").read_text())
    tree = OutputTree.local(out)
    ctx = Workspace(tree, manifest["workspace"]).load_result("context", RunContext)
    execution = ctx.config.execution.model_copy(update={"partition_size": 1})
    ctx = ctx.model_copy(update={"config": ctx.config.model_copy(
        update={"execution": execution})})
    assert ctx.store == given
    inserted: list[int] = []
    real_insert = PlanStore._insert

    def insert(self: PlanStore, conn: Any, name: str, df: pd.DataFrame, *args: Any) -> None:
        if name == "consensus_plan":
            inserted.append(len(df))
            if len(inserted) == 2:
                # Partition 1's rows are in the transaction; another reader sees none of them.
                assert _visible_rows(store_url, version=2) == 0
                raise RuntimeError("store connection lost in partition 2")
        real_insert(self, conn, name, df, *args)

    monkeypatch.setattr(PlanStore, "_insert", insert)
    with pytest.raises(RuntimeError, match="partition 2"):
        publish_stage(ctx)
    assert inserted[0] > 0 and len(inserted) == 2
    store = PlanStore(store_url)
    runs = store.runs().set_index("plan_version")
    assert runs.loc[2, "status"] == "failed" and "partition 2" in runs.loc[2, "message"]
    assert _visible_rows(store_url, version=2) == 0
    assert set(store.read_current(CYCLE)["plan_version"]) == {1}
    # Folder readers: the unmarked folder is no version; CURRENT stays at 1.
    assert tree.versions(CYCLE) == [1] and tree.current(CYCLE) == 1

    monkeypatch.setattr(PlanStore, "_insert", real_insert)
    result = publish_stage(ctx)  # recovers (quarantines the failed folder), then publishes
    assert result.plan_version == 3 and tree.versions(CYCLE) == [1, 3]
    assert tree.current(CYCLE) == 3
    current = store.read_current(CYCLE)
    store.dispose()
    assert set(current["plan_version"]) == {3}
    assert len(current) == len(pd.read_parquet(_version(out, CYCLE) / "consensus_plan.parquet"))
