"""The SQL store procurement systems read: DuckDB embedded by default, PostgreSQL in production.

A version becomes visible in one transaction: its rows and its `plan_runs` row flip to
`published` together, and the `consensus_plan_current` view only shows published runs.
"""

import atexit
import gc
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from data_contracts.tables import OUTPUT_COLUMNS, SAFETY_STOCK_COLUMNS
from reconciliation.fva import FVA_COLUMNS

T = TypeVar("T")
# A table's rows for PlanStore.publish: one frame, or a function giving them part by part (a
# function, not an iterator, so that a retried transaction can read them again).
TableRows: TypeAlias = pd.DataFrame | Callable[[], Iterable[pd.DataFrame]]

_TEXT = {
    "cycle", "sku", "location", "period", "order_release_period", "reason", "model",
    "demand_class", "status", "type", "severity", "message", "level", "key", "step",
    "change", "previous_cycle", "order_release_period_before", "order_release_period_after",
    "source", "error_method",
    "kind", "first_period", "last_period", "submitted_by", "submission_cycle",
}
_INT = {"plan_version", "previous_version", "lead_time_months", "months_protected", "step_no",
        "overlap_months"}

def _release_duckdb_types() -> None:
    """Drop the references the process still holds to DuckDB's type objects, at exit.

    After a Prefect flow run in the process, the interpreter's teardown does not clear them
    before DuckDB's nanobind bindings check for live objects, and every run then ended with
    ~40 lines of `nanobind: leaked ... DuckDBPyType`. They are DuckDB's module constants
    (`duckdb.sqltypes.VARCHAR`, ...) and SQLAlchemy's result-processor caches, keyed by the
    type codes of DuckDB cursors. Nothing reads either once the process exits."""
    def is_duckdb_type(value: object) -> bool:
        return type(value).__name__ == "DuckDBPyType"

    for name, module in list(sys.modules.items()):
        if module is not None and name.startswith(("duckdb", "_duckdb")):
            for attr, value in list(vars(module).items()):
                if is_duckdb_type(value):
                    delattr(module, attr)
    for obj in gc.get_objects():
        if type(obj) is dict and obj and any(is_duckdb_type(k) for k in list(obj)):
            for key in [k for k in list(obj) if is_duckdb_type(k)]:
                obj.pop(key, None)


atexit.register(_release_duckdb_types)

# The embedded DuckDB store's memory limit (DuckDB's syntax), overridable by the environment.
DUCKDB_MEMORY_LIMIT = "1GB"
DUCKDB_MEMORY_ENV = "SOP_DUCKDB_MEMORY_LIMIT"
INSERT_CHUNK_ROWS = 100_000  # rows converted to Python objects at a time (PostgreSQL COPY)
# Stored beyond SPEC's tables: forecast value added, so its history can be queried per cycle,
# and the safety stock each version held (given or computed, with its inputs).
EXTRA_COLUMNS = {"fva": FVA_COLUMNS, "safety_stock": SAFETY_STOCK_COLUMNS}
STORE_TABLES = (*OUTPUT_COLUMNS, *EXTRA_COLUMNS)
# The published plan_stability file repeats earlier cycles' rows (the trend, for the report);
# the store keeps each version's own row, its history being the other versions' rows.
OWN_CYCLE_ONLY = {"plan_stability"}


# Primary key of every stored table after (cycle, plan_version); exceptions have no natural key,
# so the store numbers them within the version.
STORE_KEYS: dict[str, list[str]] = {
    "consensus_plan": ["sku", "location", "period"],
    "baseline_forecast": ["sku", "location", "period"],
    "capacity_report": ["location", "period"],
    "exceptions": ["exception_no"],
    "plan_changes": ["sku", "location", "period"],
    "fva": ["level", "key", "step"],
    "safety_stock": ["sku", "location"],
    "plan_waterfall": ["level", "key", "step"],
    "plan_stability": ["level", "key"],  # cycle, plan_version: the run's
    "sales_bias": ["submitted_by", "submission_cycle"],
}
_INT |= {"exception_no"}
RUN_COMMENTS = {
    "cycle": "cycle (first month planned, YYYY-MM) of the run that published the row",
    "plan_version": "published version of that cycle, from 1 (see plan_runs)",
    "exception_no": "row number of the exception within its version",
}


def _comments(table: str) -> dict[str, str]:
    """Column descriptions from the output contracts, so the store documents itself."""
    from data_contracts.outputs import OUTPUT_MODELS

    model = OUTPUT_MODELS.get(table)
    described = {name: col.description or "" for name, col in
                 model.to_schema().columns.items()} if model is not None else {}
    return {**described, **RUN_COMMENTS}


def _column(name: str, comment: str | None) -> sa.Column:
    if name in _INT:
        return sa.Column(name, sa.Integer, nullable=False, comment=comment)
    if name in _TEXT:
        return sa.Column(name, sa.Text, comment=comment)
    # Double precision (not the 32-bit REAL sa.Float gives DuckDB), so the store equals Parquet.
    return sa.Column(name, sa.Double, comment=comment)


def _store_columns(table: str) -> list[str]:
    cols = OUTPUT_COLUMNS[table] if table in OUTPUT_COLUMNS else EXTRA_COLUMNS[table]
    # Every stored table carries its run so old versions stay readable side by side.
    cols = cols if "plan_version" in cols else ["cycle", "plan_version", *cols]
    return [*cols, *[k for k in STORE_KEYS.get(table, []) if k not in cols]]


def build_metadata(with_keys: bool) -> tuple[sa.MetaData, sa.Table, dict[str, sa.Table]]:
    """The store's tables; primary keys on the plan tables only `with_keys`.

    Both stores are built with keys: a reader of the store gets one row per key even against
    a bug or a hand-made insert, not only because the output contracts checked it. In DuckDB
    the key index makes inserting a 1.8M-row plan 2.4x slower (2.0 -> 4.7 s) and the file
    4.7x larger (benchmarks/store_keys.py, docs/benchmarks.md): a few seconds per monthly run;
    catalogues where the file size matters belong in PostgreSQL anyway.
    """
    md = sa.MetaData()
    runs = sa.Table(
        "plan_runs",
        md,
        sa.Column("cycle", sa.Text, primary_key=True, comment=RUN_COMMENTS["cycle"]),
        sa.Column("plan_version", sa.Integer, primary_key=True,
                  comment=RUN_COMMENTS["plan_version"]),
        sa.Column("status", sa.Text, nullable=False,
                  comment="staging | published | failed"),
        # Instants, stored with their zone: a reader in Tokyo and one in Paris see the same moment.
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  comment="version claimed"),
        sa.Column("published_at", sa.DateTime(timezone=True), comment="version published"),
        sa.Column("run_id", sa.Text, comment="Prefect flow run of the monthly run"),
        sa.Column("stage_run_ids", sa.Text,
                  comment="Prefect flow runs of its stages, JSON: stage -> flow run id"),
        sa.Column("output_path", sa.Text, comment="absolute path of the version's folder"),
        sa.Column("inputs_sha256", sa.Text, comment="hash of the input files"),
        sa.Column("plan_rows", sa.Integer, comment="rows of consensus_plan"),
        sa.Column("message", sa.Text, comment="why a version failed"),
    )
    data = {}
    for name in STORE_TABLES:
        comments = _comments(name)
        cols = [_column(c, comments.get(c)) for c in _store_columns(name)]
        extra: list[Any] = [sa.Index(f"ix_{name}_run", "cycle", "plan_version")]
        if with_keys:
            extra.append(sa.PrimaryKeyConstraint("cycle", "plan_version", *STORE_KEYS[name],
                                                 name=f"pk_{name}"))
        data[name] = sa.Table(name, md, *cols, *extra)
    return md, runs, data


metadata, plan_runs, DATA_TABLES = build_metadata(with_keys=True)

CURRENT_VIEW_SQL = """
CREATE OR REPLACE VIEW consensus_plan_current AS
SELECT p.*
FROM consensus_plan p
JOIN (
    SELECT cycle, MAX(plan_version) AS plan_version
    FROM plan_runs
    WHERE status = 'published'
    GROUP BY cycle
) cur ON p.cycle = cur.cycle AND p.plan_version = cur.plan_version
"""


def add_missing_columns(conn: Connection) -> list[str]:
    """Add columns a newer SPEC defines to tables an older version created; returns them.

    Additive only (old rows read NULL there), so a store keeps its history across upgrades
    instead of failing the first publish after one.
    """
    inspector = sa.inspect(conn)
    added = []
    for name, table in [*DATA_TABLES.items(), ("plan_runs", plan_runs)]:
        have = {c["name"] for c in inspector.get_columns(name)}
        for col in table.columns:
            if col.name not in have:
                kind = col.type.compile(dialect=conn.dialect)
                conn.execute(sa.text(f'ALTER TABLE {name} ADD COLUMN "{col.name}" {kind}'))
                added.append(f"{name}.{col.name}")
    return added


def add_missing_keys(conn: Connection) -> list[str]:
    """Give the plan tables of a DuckDB store made by an older release (without keys) their
    primary keys; returns the tables keyed now."""
    keyed = set(conn.execute(sa.text(
        "SELECT table_name FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'"
    )).scalars())
    added = []
    for name in DATA_TABLES:
        if name not in keyed:
            columns = ", ".join(["cycle", "plan_version", *STORE_KEYS[name]])
            conn.execute(sa.text(f"ALTER TABLE {name} ADD PRIMARY KEY ({columns})"))
            added.append(name)
    return added


TIMESTAMP_COLUMNS = ("created_at", "published_at")


def upgrade_timestamps(conn: Connection) -> list[str]:
    """Turn `plan_runs` timestamps an older version stored without zone into zoned ones.

    Those versions wrote UTC wall-clock times, so the old values are read as UTC."""
    rows = conn.execute(sa.text(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'plan_runs' AND table_schema = current_schema()"
    )).all()
    naive = [name for name, kind in rows
             if name in TIMESTAMP_COLUMNS and "with time zone" not in str(kind).lower()]
    to_zoned = "timezone('UTC', {c})" if conn.dialect.name == "duckdb" else "{c} AT TIME ZONE 'UTC'"
    for name in naive:
        conn.execute(sa.text(
            f"ALTER TABLE plan_runs ALTER COLUMN {name} TYPE TIMESTAMP WITH TIME ZONE "
            f"USING {to_zoned.format(c=name)}"
        ))
    return naive


class StoreBusy(Exception):
    """The store could not be reached or locked within the retry budget."""


class ClaimLost(Exception):
    """The version's claim is no longer `staging`: recovery took its run for dead."""


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text or "conflict" in text or "could not set lock" in text


class PlanStore:
    """Versioned plan tables behind a SQLAlchemy URL."""

    def __init__(self, url: str, retries: int = 20, retry_delay: float = 0.25,
                 read_only: bool = False) -> None:
        """`read_only`: a reader that never writes (the time fence's look back): an embedded
        DuckDB file is then opened read-only, shared with other readers (procurement's)
        instead of locking them out, and never created."""
        self.url = url
        parsed = sa.engine.make_url(url)
        args: dict[str, object] = {}
        self.absent = False  # a read-only DuckDB store whose file does not exist yet
        if parsed.get_backend_name() == "duckdb":
            # Embedded in the run's process: DuckDB's buffer pool would otherwise keep what a
            # version's one transaction writes (80 % of RAM by default), so the driver's
            # memory would grow with the catalogue; past the limit it writes pages out.
            args = {"config": {"memory_limit": os.environ.get(DUCKDB_MEMORY_ENV,
                                                              DUCKDB_MEMORY_LIMIT)}}
        if read_only and parsed.get_backend_name() == "duckdb":
            database = parsed.database or ""
            self.absent = database not in ("", ":memory:") and not Path(database).exists()
            args["read_only"] = True
        # NullPool: DuckDB holds a file lock per open connection; closing after each
        # unit of work lets a concurrent run of the same cycle get its turn.
        self.engine: Engine = sa.create_engine(url, poolclass=NullPool, connect_args=args)
        self.dialect = self.engine.dialect.name
        self.retries = retries
        self.retry_delay = retry_delay

    def _with_retry(self, work: Callable[[Connection], T]) -> T:
        last: Exception | None = None
        for attempt in range(self.retries):
            try:
                with self.engine.begin() as conn:
                    return work(conn)
            except sa.exc.IntegrityError:
                raise
            except (sa.exc.OperationalError, sa.exc.DBAPIError) as exc:
                # DuckDB refuses a second writer process with an IO/lock error: wait our turn.
                if not _is_lock_error(exc):
                    raise
                last = exc
                time.sleep(self.retry_delay * (1 + attempt))
        raise StoreBusy(f"store {self.safe_url} stayed locked: {last}")

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for logs and manifests."""
        return self.engine.url.render_as_string(hide_password=True)

    def ensure_schema(self) -> None:
        def work(conn: Connection) -> None:
            metadata.create_all(conn, checkfirst=True)
            add_missing_columns(conn)
            if self.dialect == "duckdb":
                add_missing_keys(conn)
            upgrade_timestamps(conn)
            conn.execute(sa.text(CURRENT_VIEW_SQL))

        self._with_retry(work)

    def max_version(self, cycle: str) -> int:
        def work(conn: Connection) -> int:
            stmt = sa.select(sa.func.max(plan_runs.c.plan_version)).where(
                plan_runs.c.cycle == cycle
            )
            return int(conn.execute(stmt).scalar() or 0)

        return self._with_retry(work)

    def latest_published(self, cycle: str, below: int | None = None) -> int | None:
        """The highest published version of `cycle` (below `below` when given), or None.

        Published is what the store says: a folder orphaned by a crash never was. A store
        nothing was published to yet (no file, no tables) has none."""
        if self.absent:
            return None

        def work(conn: Connection) -> int | None:
            if not sa.inspect(conn).has_table(plan_runs.name):
                return None
            stmt = sa.select(sa.func.max(plan_runs.c.plan_version)).where(
                plan_runs.c.cycle == cycle, plan_runs.c.status == "published"
            )
            if below is not None:
                stmt = stmt.where(plan_runs.c.plan_version < below)
            found = conn.execute(stmt).scalar()
            return None if found is None else int(found)

        return self._with_retry(work)

    def read_plan(self, cycle: str, version: int, columns: list[str],
                  locations: list[str] | None = None) -> pd.DataFrame:
        """`columns` of one version's consensus_plan rows (only `locations`' when given)."""
        table = DATA_TABLES["consensus_plan"]
        stmt = sa.select(*[table.c[c] for c in columns]).where(
            table.c.cycle == cycle, table.c.plan_version == version
        )
        if locations is not None:
            stmt = stmt.where(table.c.location.in_(list(locations)))
        return self._with_retry(lambda conn: pd.read_sql(stmt, conn))

    def distinct_plan_values(self, cycle: str, version: int, column: str) -> set[str]:
        """The distinct values of one column of a version's consensus_plan, as text (e.g. the
        months it covers). The database deduplicates (SELECT DISTINCT): one row per value
        crosses the connection instead of one per plan row."""
        table = DATA_TABLES["consensus_plan"]
        stmt = sa.select(table.c[column]).distinct().where(
            table.c.cycle == cycle, table.c.plan_version == version
        )
        return self._with_retry(lambda conn: {str(v) for v in conn.execute(stmt).scalars()})

    def claim_version(self, cycle: str, at_least: int, run_id: str | None = None,
                      stage_run_ids: dict[str, str] | None = None) -> int:
        """Reserve the next free version >= `at_least` for `cycle` (primary key arbitrates).

        `run_id` is the monthly run's id, `stage_run_ids` its stages' flow runs: a planner
        finds each stage's logs in the UI from the version."""
        stages = json.dumps(stage_run_ids, sort_keys=True) if stage_run_ids else None
        version = max(at_least, self.max_version(cycle) + 1)
        for _ in range(50):
            try:
                now = datetime.now(UTC)

                def work(conn: Connection, version: int = version, now: datetime = now) -> None:
                    conn.execute(
                        plan_runs.insert().values(
                            cycle=cycle, plan_version=version, status="staging",
                            created_at=now, run_id=run_id, stage_run_ids=stages,
                        )
                    )

                self._with_retry(work)
                return version
            except sa.exc.IntegrityError:
                version += 1
        raise StoreBusy(f"could not claim a version for cycle {cycle}")

    def publish(
        self,
        cycle: str,
        version: int,
        frames: Mapping[str, TableRows],
        output_path: str,
        inputs_sha256: str,
    ) -> None:
        """Insert every table of the version and mark it published, in one transaction;
        refused when the claim is no longer `staging` (recovery took the run for dead).

        A table given as a function is inserted part by part (flows/publish_parts.py: one
        partition of locations at a time), still inside the one transaction: readers see
        none of its rows before the commit, and a failure in any part rolls back them all."""

        def work(conn: Connection) -> None:
            run = {"cycle": cycle, "plan_version": version}
            plan_rows = 0
            for name in STORE_TABLES:
                if name not in frames:
                    continue  # optional tables (fva, ...) may be absent
                rows = frames[name]
                parts = [rows] if isinstance(rows, pd.DataFrame) else rows()
                numbered = 0
                for df in parts:
                    if name in OWN_CYCLE_ONLY:
                        df = df[df["cycle"] == cycle]
                    if "exception_no" in STORE_KEYS[name]:
                        # small: a copy is fine
                        df = df.assign(exception_no=range(numbered + 1, numbered + len(df) + 1))
                    numbered += len(df)
                    self._insert(conn, name, df, _store_columns(name), run)
                if name == "consensus_plan":
                    plan_rows = numbered
            flipped = conn.execute(
                plan_runs.update()
                .where(plan_runs.c.cycle == cycle, plan_runs.c.plan_version == version,
                       plan_runs.c.status == "staging")
                .values(
                    status="published",
                    published_at=datetime.now(UTC),
                    output_path=output_path,
                    inputs_sha256=inputs_sha256,
                    plan_rows=plan_rows,
                )
            )
            if flipped.rowcount != 1:  # raising rolls the rows back with the transaction
                raise ClaimLost(f"{cycle} version {version} is no longer staging: not published")

        self._with_retry(work)

    def mark_failed(self, cycle: str, version: int, message: str) -> bool:
        """Flip a `staging` claim to `failed`; True when this call did."""

        def work(conn: Connection) -> bool:
            return conn.execute(
                plan_runs.update()
                .where(
                    plan_runs.c.cycle == cycle,
                    plan_runs.c.plan_version == version,
                    plan_runs.c.status == "staging",
                )
                .values(status="failed", message=message[:2000])
            ).rowcount == 1

        return self._with_retry(work)

    def _insert(
        self, conn: Connection, name: str, df: pd.DataFrame, columns: list[str],
        run: dict[str, Any],
    ) -> None:
        """Insert `columns` of `df`, the `run` columns (cycle, plan_version) set to its values.

        Neither path copies the whole frame: at 100k SKU-locations the plan is ~1.8M rows,
        and a copy (or an object-dtype copy for COPY) would set the stage's memory peak.
        """
        if df.empty:
            return
        cols = ", ".join(columns)
        if self.dialect == "duckdb":
            # Columnar insert straight from the DataFrame: row-by-row would dominate publish.
            raw = conn.connection.driver_connection
            assert raw is not None  # an open connection has its driver's
            view = f"_sop_insert_{name}"
            raw.register(view, df)
            try:
                select = ", ".join("?" if c in run else c for c in columns)
                params = [run[c] for c in columns if c in run]
                raw.execute(f"INSERT INTO {name} ({cols}) SELECT {select} FROM {view}", params)
            finally:
                raw.unregister(view)
            return
        for first in range(0, len(df), INSERT_CHUNK_ROWS):
            chunk = df.iloc[first:first + INSERT_CHUNK_ROWS].assign(**run)[columns]
            if self.dialect == "postgresql":
                records = chunk.astype(object).where(chunk.notna(), None).itertuples(index=False)
                raw = conn.connection.driver_connection
                assert raw is not None
                with raw.cursor() as cur, cur.copy(f"COPY {name} ({cols}) FROM STDIN") as copy:
                    for row in records:
                        copy.write_row(row)
            else:
                chunk.to_sql(name, conn, if_exists="append", index=False, chunksize=10_000)

    def read_current(self, cycle: str | None = None) -> pd.DataFrame:
        sql = "SELECT * FROM consensus_plan_current"
        params: dict[str, str] = {}
        if cycle is not None:
            sql += " WHERE cycle = :cycle"
            params["cycle"] = cycle
        return self._with_retry(lambda conn: pd.read_sql(sa.text(sql), conn, params=params))

    def runs(self) -> pd.DataFrame:
        return self._with_retry(
            lambda conn: pd.read_sql(sa.select(plan_runs).order_by("cycle", "plan_version"), conn)
        )

    def dispose(self) -> None:
        self.engine.dispose()
