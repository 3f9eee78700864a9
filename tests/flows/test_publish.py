"""Write-audit-publish: versions are immutable, atomic, and survive crashes and concurrency."""

import hashlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from flows.output_tree import OutputTree
from flows.publish import claim_version, promote
from flows.store import PlanStore


def _frames(qty: float) -> dict[str, pd.DataFrame]:
    plan = pd.DataFrame(
        {
            "cycle": ["2026-01"] * 2, "plan_version": [0, 0],
            "sku": ["A", "B"], "location": ["L", "L"], "period": ["2026-01", "2026-01"],
            "sales_forecast": [qty, qty], "baseline_forecast": [qty, qty],
            "consensus_demand": [qty, qty], "constrained_demand": [qty, qty],
            "shortfall": [0.0, 0.0], "planned_receipts": [qty, qty],
            "order_release_period": ["2026-01", "2026-01"], "projected_on_hand": [0.0, 0.0],
            "reason": ["BASELINE", "BASELINE"],
        }
    )
    baseline = pd.DataFrame(
        {"sku": ["A"], "location": ["L"], "period": ["2026-01"], "model": ["AutoETS"],
         "forecast": [qty], "lo_80": [qty], "hi_80": [qty], "lo_95": [qty], "hi_95": [qty],
         "demand_class": ["smooth"]}
    )
    capacity = pd.DataFrame(
        {"location": ["L"], "period": ["2026-01"], "inbound_pallets": [1.0],
         "inbound_capacity_pallets": [10.0], "storage_pallets": [0.0],
         "storage_capacity_pallets": [10.0], "outbound_units": [2 * qty],
         "outbound_capacity_units": [100.0], "overtime_pallets": [0.0], "overtime_units": [0.0],
         "overtime_cost": [0.0], "status": ["ok"], "lead_time_shortfall_units": [0.0]}
    )
    exceptions = pd.DataFrame(
        {"sku": [""], "location": ["L"], "period": [""], "type": ["t"], "severity": ["info"],
         "message": ["m"]}
    )
    return {"consensus_plan": plan, "baseline_forecast": baseline,
            "capacity_report": capacity, "exceptions": exceptions}


def publish_once(out: Path, store_url: str, qty: float, crash: bool = False,
                 at_step: Callable[[str], None] | None = None) -> int:
    """Publish one small version of 2026-01; `at_step` is called after each step ("claimed",
    "staged", then promote's)."""
    step = at_step or (lambda name: None)
    store = PlanStore(store_url)
    tree = OutputTree.local(out)
    version = claim_version(tree, "2026-01", store, run_id=None)
    step("claimed")
    frames = _frames(qty)
    frames["consensus_plan"]["plan_version"] = version
    staging = tree.stage_version("2026-01", version, frames, "<html></html>", {"v": version})
    step("staged")

    def boom(name: str) -> None:
        if name == "promoted":
            raise RuntimeError("crash between the folder and the store")

    promote(tree, staging, "2026-01", version, frames, store, "sha",
            at_step=boom if crash else step)
    store.dispose()
    return version


def _tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            digest.update(p.name.encode() + p.read_bytes())
    return digest.hexdigest()


def test_rerun_adds_a_version_and_never_touches_the_old_one(tmp_path, store_url) -> None:
    out = tmp_path / "out"
    assert publish_once(out, store_url, 5.0) == 1
    before = _tree_hash(out / "cycle=2026-01" / "version=1")
    assert publish_once(out, store_url, 7.0) == 2
    assert _tree_hash(out / "cycle=2026-01" / "version=1") == before
    current = PlanStore(store_url).read_current("2026-01")
    assert set(current["plan_version"]) == {2}
    assert current["consensus_demand"].tolist() == [7.0, 7.0]
    assert OutputTree.local(out).current("2026-01") == 2


def test_crash_before_store_keeps_previous_version_current(tmp_path, store_url) -> None:
    out = tmp_path / "out"
    publish_once(out, store_url, 5.0)
    with pytest.raises(RuntimeError, match="crash"):
        publish_once(out, store_url, 9.0, crash=True)
    store = PlanStore(store_url)
    current = store.read_current("2026-01")
    assert set(current["plan_version"]) == {1} and len(current) == 2
    assert OutputTree.local(out).current("2026-01") == 1
    # The orphaned folder is never reused: the next run gets version 3.
    assert publish_once(out, store_url, 6.0) == 3
    assert set(store.read_current("2026-01")["plan_version"]) == {3}


def test_concurrent_runs_get_distinct_complete_versions(tmp_path, store_url) -> None:
    out = tmp_path / "out"
    PlanStore(store_url).ensure_schema()
    # Separate processes, as two scheduled or UI-triggered runs would be.
    script = Path(__file__).with_name("publish_worker.py")
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(out), store_url, str(q)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for q in (1, 2, 3)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), results
    versions = [int(stdout.strip().splitlines()[-1]) for stdout, _ in results]
    assert sorted(versions) == [1, 2, 3]
    runs = PlanStore(store_url).runs()
    assert (runs["status"] == "published").all()
    current = PlanStore(store_url).read_current("2026-01")
    assert set(current["plan_version"]) == {3} and len(current) == 2
    for v in versions:
        assert (out / "cycle=2026-01" / f"version={v}" / "manifest.json").exists()


def test_crash_inside_the_store_transaction_leaves_no_partial_version(
    tmp_path, store_url, monkeypatch
) -> None:
    out = tmp_path / "out"
    publish_once(out, store_url, 5.0)
    original = PlanStore._insert

    def failing_insert(self, conn, name, *args):  # type: ignore[no-untyped-def]
        if name == "capacity_report":
            raise RuntimeError("connection lost mid-publish")
        return original(self, conn, name, *args)

    monkeypatch.setattr(PlanStore, "_insert", failing_insert)
    with pytest.raises(RuntimeError, match="mid-publish"):
        publish_once(out, store_url, 9.0)
    monkeypatch.setattr(PlanStore, "_insert", original)
    store = PlanStore(store_url)
    import sqlalchemy as sa

    with store.engine.connect() as conn:
        versions = conn.execute(
            sa.text("SELECT DISTINCT plan_version FROM consensus_plan")
        ).scalars().all()
    assert versions == [1]  # the rows of version 2 were rolled back with the transaction
    assert set(store.read_current("2026-01")["plan_version"]) == {1}


def test_store_gets_every_row_once_with_the_run_columns_set(
    tmp_path, store_url, monkeypatch
) -> None:
    """Inserts go in chunks (PostgreSQL) or straight from the frame (DuckDB); either way the
    store holds exactly the frame's rows, with cycle and plan_version of the run."""
    import sqlalchemy as sa

    import flows.store

    monkeypatch.setattr(flows.store, "INSERT_CHUNK_ROWS", 3)
    frames = _frames(4.0)
    plan = pd.concat([frames["consensus_plan"]] * 4, ignore_index=True)
    plan["sku"] = [f"S{i}" for i in range(len(plan))]
    plan["consensus_demand"] = range(len(plan))
    plan["plan_version"] = 0  # stale on purpose: the store writes the claimed version
    frames["consensus_plan"] = plan
    store = PlanStore(store_url)
    version = claim_version(OutputTree.local(tmp_path / "out"), "2026-01", store, run_id=None)
    store.publish("2026-01", version, frames, str(tmp_path / "out"), "sha")
    with store.engine.connect() as conn:
        stored = pd.read_sql(
            sa.text("SELECT * FROM consensus_plan WHERE cycle = '2026-01'"), conn
        )
        fva_rows = conn.execute(sa.text("SELECT count(*) FROM fva")).scalar()
    store.dispose()
    assert sorted(stored["sku"]) == sorted(plan["sku"])
    assert set(stored["plan_version"]) == {version}
    got = stored.set_index("sku")["consensus_demand"].sort_index()
    want = plan.set_index("sku")["consensus_demand"].astype(float).sort_index()
    pd.testing.assert_series_equal(got, want, check_dtype=False, check_names=False)
    assert fva_rows == 0  # absent optional table: nothing inserted


def test_distinct_plan_values_are_one_versions_values_deduplicated_by_the_database(
    tmp_path, store_url
) -> None:
    """A version's months or locations without reading a row per plan row: the values of
    that version only, each once, and the query itself asks for distinct values."""
    import sqlalchemy as sa

    store = PlanStore(store_url)
    tree = OutputTree.local(tmp_path / "out")
    plans = {
        1: pd.DataFrame({"sku": ["A", "B", "A", "B"], "location": ["L1", "L1", "L2", "L2"],
                         "period": ["2026-01", "2026-01", "2026-02", "2026-02"]}),
        2: pd.DataFrame({"sku": ["A", "A", "A"], "location": ["L3", "L3", "L3"],
                         "period": ["2026-03", "2026-04", "2026-05"]}),
    }
    for version, plan in plans.items():
        frames = _frames(1.0)
        rows = frames["consensus_plan"].iloc[[0] * len(plan)].reset_index(drop=True)
        frames["consensus_plan"] = rows.assign(**plan)
        assert claim_version(tree, "2026-01", store, run_id=None) == version
        store.publish("2026-01", version, frames, str(tmp_path / "out"), "sha")
    statements: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute",
                    lambda conn, cursor, statement, *args: statements.append(statement))
    try:
        assert store.distinct_plan_values("2026-01", 1, "period") == {"2026-01", "2026-02"}
        assert store.distinct_plan_values("2026-01", 1, "location") == {"L1", "L2"}
        assert store.distinct_plan_values("2026-01", 2, "period") == {
            "2026-03", "2026-04", "2026-05"}
        assert store.distinct_plan_values("2026-01", 2, "sku") == {"A"}
        assert store.distinct_plan_values("2026-01", 3, "period") == set()  # no such version
        queries = [s for s in statements if "consensus_plan" in s]
        assert len(queries) == 5 and all("SELECT DISTINCT" in q.upper() for q in queries)
        for version in plans:  # the values read_plan's whole column holds
            whole = store.read_plan("2026-01", version, ["location"])
            assert store.distinct_plan_values("2026-01", version, "location") == set(
                whole["location"])
    finally:
        store.dispose()


def test_duckdb_store_keeps_quantities_exactly_as_parquet(tmp_path) -> None:
    """Quantities are double precision in the store (a 32-bit REAL would round 0.1, 1e7+0.3)."""
    import sqlalchemy as sa

    frames = _frames(0.1)
    plan = pd.concat([frames["consensus_plan"]] * 2, ignore_index=True)
    plan["sku"] = ["A", "B", "C", "D"]
    plan["consensus_demand"] = [0.1, 1e7 + 0.3, 123456.789, 1 / 3]
    frames["consensus_plan"] = plan
    parquet = tmp_path / "consensus_plan.parquet"
    plan.to_parquet(parquet)
    store = PlanStore(f"duckdb:///{tmp_path / 'sop.duckdb'}")
    version = claim_version(OutputTree.local(tmp_path / "out"), "2026-01", store, run_id=None)
    store.publish("2026-01", version, frames, str(tmp_path / "out"), "sha")
    with store.engine.connect() as conn:
        stored = pd.read_sql(sa.text("SELECT * FROM consensus_plan ORDER BY sku"), conn)
    store.dispose()
    want = pd.read_parquet(parquet).sort_values("sku").reset_index(drop=True)
    for col in ("consensus_demand", "planned_receipts", "projected_on_hand"):
        assert stored[col].tolist() == want[col].tolist(), col


def test_a_store_from_an_older_version_gets_the_new_columns(tmp_path) -> None:
    """An older release created capacity_report without lead_time_shortfall_units: the next
    publish adds the column (old rows read NULL) instead of failing."""
    import sqlalchemy as sa

    url = f"duckdb:///{tmp_path / 'sop.duckdb'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE capacity_report (cycle TEXT, plan_version INTEGER, "
                             "location TEXT, period TEXT, status TEXT)"))
        conn.execute(sa.text("INSERT INTO capacity_report VALUES ('2025-12', 1, 'L', "
                             "'2025-12', 'ok')"))
        # plan_runs as released before it named the stages' flow runs.
        conn.execute(sa.text(
            "CREATE TABLE plan_runs (cycle TEXT, plan_version INTEGER, status TEXT NOT NULL, "
            "created_at TIMESTAMPTZ NOT NULL, published_at TIMESTAMPTZ, run_id TEXT, "
            "output_path TEXT, inputs_sha256 TEXT, plan_rows INTEGER, message TEXT, "
            "PRIMARY KEY (cycle, plan_version))"))
    engine.dispose()
    store = PlanStore(url)
    version = claim_version(OutputTree.local(tmp_path / "out"), "2026-01", store, run_id="r",
                            stage_run_ids={"publish": "p1"})
    store.publish("2026-01", version, _frames(1.0), str(tmp_path / "out"), "sha")
    assert store.runs().set_index("plan_version").loc[version, "stage_run_ids"] == (
        '{"publish": "p1"}')
    with store.engine.connect() as conn:
        rows = pd.read_sql(sa.text("SELECT cycle, status, lead_time_shortfall_units "
                                   "FROM capacity_report ORDER BY cycle"), conn)
    assert rows["cycle"].tolist() == ["2025-12", "2026-01"]
    assert rows["lead_time_shortfall_units"].isna().tolist() == [True, False]
    # ... and the key it was created without: a second row of one key is refused.
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO capacity_report (cycle, plan_version, location, "
                             "period, status) VALUES ('2025-12', 1, 'L', '2025-12', 'ok')"))
    store.dispose()


def test_store_tables_have_keys_comments_and_absolute_paths(tmp_path, store_url) -> None:
    """Procurement reads the store directly: every table is keyed (both stores enforce the
    keys), columns are described, and plan_runs points at the version's folder from
    anywhere."""
    import sqlalchemy as sa

    out = tmp_path / "out"
    publish_once(out, store_url, 5.0)
    store = PlanStore(store_url)
    inspector = sa.inspect(store.engine)
    for table, key in (("consensus_plan", ["sku", "location", "period"]),
                       ("capacity_report", ["location", "period"]),
                       ("exceptions", ["exception_no"]),
                       ("plan_changes", ["sku", "location", "period"])):
        if store.dialect == "postgresql":
            pk = inspector.get_pk_constraint(table)["constrained_columns"]
            assert pk == ["cycle", "plan_version", *key], table
            comments = {c["name"]: c.get("comment") for c in inspector.get_columns(table)}
        else:
            with store.engine.connect() as conn:
                comments = dict(conn.execute(sa.text(
                    "SELECT column_name, comment FROM duckdb_columns() WHERE table_name = :t"),
                    {"t": table}).all())
                (pk,) = conn.execute(sa.text(
                    "SELECT constraint_column_names FROM duckdb_constraints() "
                    "WHERE table_name = :t AND constraint_type = 'PRIMARY KEY'"),
                    {"t": table}).one()
            assert list(pk) == ["cycle", "plan_version", *key], table
        assert comments["cycle"] and comments["period"], comments
    runs = store.runs()
    path = Path(runs["output_path"].iloc[0])
    assert path.is_absolute() and (path / "consensus_plan.parquet").exists()
    with store.engine.connect() as conn:
        numbers = conn.execute(sa.text("SELECT exception_no FROM exceptions")).scalars().all()
    assert numbers == [1]
    row = _frames(1.0)["consensus_plan"].iloc[:1].assign(cycle="2026-01", plan_version=1)
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
        row.to_sql("consensus_plan", conn, if_exists="append", index=False)
    store.dispose()


def test_plan_changes_land_in_the_store_as_written(tmp_path, store_url) -> None:
    """Empty sides stay empty (NULL), quantities stay double precision, the run is stamped."""
    import numpy as np
    import sqlalchemy as sa

    from data_contracts.tables import PLAN_CHANGES_COLUMNS

    changes = pd.DataFrame({
        "sku": ["A", "B", "C"], "location": "L", "period": "2026-02",
        "change": ["new", "cancelled", "increased"], "previous_cycle": "2026-01",
        "previous_version": 1,
        "consensus_demand_before": [np.nan, 1 / 3, 0.1],
        "consensus_demand_after": [1e7 + 0.3, np.nan, 0.2],
        "planned_receipts_before": [np.nan, 24.0, 0.0],
        "planned_receipts_after": [12.0, np.nan, 0.0],
        "order_release_period_before": [None, "2026-01", None],
        "order_release_period_after": ["2026-01", None, None],
    })[PLAN_CHANGES_COLUMNS]
    frames = {**_frames(1.0), "plan_changes": changes}
    store = PlanStore(store_url)
    version = claim_version(OutputTree.local(tmp_path / "out"), "2026-02", store, run_id=None)
    store.publish("2026-02", version, frames, str(tmp_path / "out"), "sha")
    with store.engine.connect() as conn:
        stored = pd.read_sql(sa.text("SELECT * FROM plan_changes ORDER BY sku"), conn)
    store.dispose()
    assert set(stored["cycle"]) == {"2026-02"} and set(stored["plan_version"]) == {version}
    pd.testing.assert_frame_equal(stored[PLAN_CHANGES_COLUMNS], changes, check_dtype=False)


def test_plan_runs_timestamps_carry_their_zone(tmp_path, store_url) -> None:
    from datetime import UTC, datetime, timedelta

    store = PlanStore(store_url)
    before = datetime.now(UTC)
    version = claim_version(OutputTree.local(tmp_path / "out"), "2026-01", store, run_id="run-1")
    store.publish("2026-01", version, _frames(1.0), str(tmp_path / "out"), "sha")
    runs = store.runs()
    store.dispose()
    for column in ("created_at", "published_at"):
        instant = runs[column].iloc[0].to_pydatetime()
        assert instant.tzinfo is not None, column
        assert before - timedelta(seconds=1) <= instant <= datetime.now(UTC), column
    assert runs["run_id"].tolist() == ["run-1"]


def test_an_older_store_gets_zoned_timestamps_read_as_utc(store_url) -> None:
    """Older releases stored naive UTC times: the upgrade keeps the instants."""
    import sqlalchemy as sa

    url = store_url
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE TABLE plan_runs (cycle TEXT, plan_version INTEGER, status TEXT NOT NULL, "
            "created_at TIMESTAMP NOT NULL, published_at TIMESTAMP, run_id TEXT, "
            "output_path TEXT, inputs_sha256 TEXT, plan_rows INTEGER, message TEXT, "
            "PRIMARY KEY (cycle, plan_version))"))
        conn.execute(sa.text("INSERT INTO plan_runs (cycle, plan_version, status, created_at) "
                             "VALUES ('2025-12', 1, 'published', TIMESTAMP '2025-12-01 06:00')"))
    engine.dispose()
    store = PlanStore(url)
    store.ensure_schema()
    runs = store.runs()
    store.dispose()
    old = runs["created_at"].iloc[0]
    assert old.tzinfo is not None and old.tz_convert("UTC").hour == 6


def test_a_read_only_look_back_shares_the_store_with_readers_and_never_creates_it(
    tmp_path: Path,
) -> None:
    """The time fence looks back at last cycle's version in reconcile: it opens an embedded
    DuckDB store read-only, next to a procurement reader holding the file (a read-write open
    waits, then fails), and leaves a store nothing was published to uncreated."""
    import time

    from flows.store import StoreBusy

    url = f"duckdb:///{tmp_path / 'sop.duckdb'}"
    assert PlanStore(url, read_only=True).latest_published("2026-01") is None
    assert not (tmp_path / "sop.duckdb").exists()
    store = PlanStore(url)
    store.ensure_schema()
    version = claim_version(OutputTree.local(tmp_path / "out"), "2026-01", store, run_id=None)
    store.publish("2026-01", version, _frames(1.0), str(tmp_path / "out"), "sha")
    store.dispose()
    reader = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], "
         "read_only=True); print('open', flush=True); time.sleep(60)",
         str(tmp_path / "sop.duckdb")], stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "open"
        assert PlanStore(url, read_only=True).latest_published("2026-01") == version
        start = time.monotonic()
        with pytest.raises(StoreBusy):
            PlanStore(url, retries=2, retry_delay=0.05).latest_published("2026-01")
        assert time.monotonic() - start < 30
    finally:
        reader.kill()
        reader.wait()


def test_the_embedded_store_bounds_its_memory_and_a_reader_still_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB runs inside the run's process: without a limit its buffer pool keeps what the
    version's one transaction writes (up to 80 % of RAM), so the driver would grow with the
    catalogue. Writer and read-only look back open the file with the same limit."""
    import sqlalchemy as sa

    from flows.store import DUCKDB_MEMORY_ENV

    def limit(store: PlanStore) -> str:
        with store.engine.connect() as conn:
            return str(conn.execute(sa.text("SELECT current_setting('memory_limit')")).scalar())

    url = f"duckdb:///{tmp_path / 'sop.duckdb'}"
    store = PlanStore(url)
    store.ensure_schema()
    version = claim_version(OutputTree.local(tmp_path / "out"), "2026-01", store, run_id=None)
    store.publish("2026-01", version, _frames(1.0), str(tmp_path / "out"), "sha")
    assert limit(store) == "953.6 MiB"  # DuckDB's rendering of "1GB"
    store.dispose()
    monkeypatch.setenv(DUCKDB_MEMORY_ENV, "2GB")
    reader = PlanStore(url, read_only=True)
    assert limit(reader) == "1.8 GiB"
    assert reader.latest_published("2026-01") == version
    reader.dispose()
