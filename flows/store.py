"""The SQL store procurement systems read: DuckDB embedded by default, PostgreSQL in production.

A version becomes visible in one transaction: its rows and its `plan_runs` row flip to
`published` together, and the `consensus_plan_current` view only shows published runs.
"""

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from data_contracts.tables import OUTPUT_COLUMNS
from reconciliation.fva import FVA_COLUMNS

T = TypeVar("T")

_TEXT = {
    "cycle", "sku", "location", "period", "order_release_period", "reason", "model",
    "demand_class", "status", "type", "severity", "message", "level", "key", "step",
}
_INT = {"plan_version"}

INSERT_CHUNK_ROWS = 100_000  # rows converted to Python objects at a time (PostgreSQL COPY)
STORE_TABLES = ("consensus_plan", "baseline_forecast", "capacity_report", "exceptions", "fva")
# Stored beyond SPEC's tables: forecast value added, so its history can be queried per cycle.
EXTRA_COLUMNS = {"fva": FVA_COLUMNS}


def _column(name: str) -> sa.Column:
    if name in _INT:
        return sa.Column(name, sa.Integer, nullable=False)
    if name in _TEXT:
        return sa.Column(name, sa.Text)
    # Double precision (not the 32-bit REAL sa.Float gives DuckDB), so the store equals Parquet.
    return sa.Column(name, sa.Double)


def _store_columns(table: str) -> list[str]:
    cols = OUTPUT_COLUMNS[table] if table in OUTPUT_COLUMNS else EXTRA_COLUMNS[table]
    # Every stored table carries its run so old versions stay readable side by side.
    return cols if "plan_version" in cols else ["cycle", "plan_version", *cols]


metadata = sa.MetaData()
plan_runs = sa.Table(
    "plan_runs",
    metadata,
    sa.Column("cycle", sa.Text, primary_key=True),
    sa.Column("plan_version", sa.Integer, primary_key=True),
    sa.Column("status", sa.Text, nullable=False),  # staging | published | failed
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("published_at", sa.DateTime),
    sa.Column("run_id", sa.Text),
    sa.Column("output_path", sa.Text),
    sa.Column("inputs_sha256", sa.Text),
    sa.Column("plan_rows", sa.Integer),
    sa.Column("message", sa.Text),
)
DATA_TABLES = {
    name: sa.Table(
        name,
        metadata,
        *[_column(c) for c in _store_columns(name)],
        sa.Index(f"ix_{name}_run", "cycle", "plan_version"),
    )
    for name in STORE_TABLES
}

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


class StoreBusy(Exception):
    """The store could not be reached or locked within the retry budget."""


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text or "conflict" in text or "could not set lock" in text


class PlanStore:
    """Versioned plan tables behind a SQLAlchemy URL."""

    def __init__(self, url: str, retries: int = 20, retry_delay: float = 0.25) -> None:
        self.url = url
        # NullPool: DuckDB holds a file lock per open connection; closing after each
        # unit of work lets a concurrent run of the same cycle get its turn.
        self.engine: Engine = sa.create_engine(url, poolclass=NullPool)
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
            conn.execute(sa.text(CURRENT_VIEW_SQL))

        self._with_retry(work)

    def max_version(self, cycle: str) -> int:
        def work(conn: Connection) -> int:
            stmt = sa.select(sa.func.max(plan_runs.c.plan_version)).where(
                plan_runs.c.cycle == cycle
            )
            return int(conn.execute(stmt).scalar() or 0)

        return self._with_retry(work)

    def claim_version(self, cycle: str, at_least: int, run_id: str | None = None) -> int:
        """Reserve the next free version >= `at_least` for `cycle` (primary key arbitrates)."""
        version = max(at_least, self.max_version(cycle) + 1)
        for _ in range(50):
            try:
                now = datetime.now(UTC).replace(tzinfo=None)

                def work(conn: Connection, version: int = version, now: datetime = now) -> None:
                    conn.execute(
                        plan_runs.insert().values(
                            cycle=cycle, plan_version=version, status="staging",
                            created_at=now, run_id=run_id,
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
        frames: dict[str, pd.DataFrame],
        output_path: str,
        inputs_sha256: str,
    ) -> None:
        """Insert every table of the version and mark it published, in one transaction."""

        def work(conn: Connection) -> None:
            run = {"cycle": cycle, "plan_version": version}
            for name in STORE_TABLES:
                if name not in frames:
                    continue  # optional tables (fva) may be absent
                self._insert(conn, name, frames[name], _store_columns(name), run)
            conn.execute(
                plan_runs.update()
                .where(plan_runs.c.cycle == cycle, plan_runs.c.plan_version == version)
                .values(
                    status="published",
                    published_at=datetime.now(UTC).replace(tzinfo=None),
                    output_path=output_path,
                    inputs_sha256=inputs_sha256,
                    plan_rows=len(frames["consensus_plan"]),
                )
            )

        self._with_retry(work)

    def mark_failed(self, cycle: str, version: int, message: str) -> None:
        def work(conn: Connection) -> None:
            conn.execute(
                plan_runs.update()
                .where(
                    plan_runs.c.cycle == cycle,
                    plan_runs.c.plan_version == version,
                    plan_runs.c.status == "staging",
                )
                .values(status="failed", message=message[:2000])
            )

        self._with_retry(work)

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


def default_store_url(out_dir: str) -> str:
    """SPEC default: `duckdb:///OUT/sop.duckdb`."""
    from pathlib import Path

    return f"duckdb:///{Path(out_dir).resolve() / 'sop.duckdb'}"
