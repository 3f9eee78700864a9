"""The monthly flow publishing to a real PostgreSQL, read back as a procurement system would."""

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from flows.io import write_inputs
from sample_data import generate_world

pytestmark = pytest.mark.integration

CYCLE = "2026-12"
SOP = str(Path(sys.executable).with_name("sop"))


def _sop_run(inputs: Path, out: Path, store: str,
             config: Path | None = None) -> subprocess.CompletedProcess:
    # As in production: the URL without its password, which comes from the environment.
    url = sa.engine.make_url(store)
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "SOP_STORE_PASSWORD": url.password or ""}
    return subprocess.run(
        [SOP, "run", "--inputs", str(inputs), "--cycle", CYCLE, "--out", str(out),
         "--horizon", "6", "--store",
         url._replace(password=None).render_as_string(hide_password=False),
         *(["--config", str(config)] if config else [])],
        capture_output=True, text=True, timeout=600, env=env,
    )


READER_SQL = Path(__file__).parents[2] / "docs" / "sql" / "reader_role.sql"
KEY = ["sku", "location", "period"]


def _psql_script(path: Path, **variables: str) -> list[str]:
    """The file's statements with psql's `:"name"` (identifier) and `:'name'` (literal)
    variables filled in as `psql -v name=value` would."""
    def ident(m: re.Match) -> str:
        return '"' + variables[m[1]].replace('"', '""') + '"'

    def literal(m: re.Match) -> str:
        return "'" + variables[m[1]].replace("'", "''") + "'"

    text = "\n".join(line for line in path.read_text().splitlines()
                     if not line.lstrip().startswith("--"))
    text = re.sub(r":'(\w+)'", literal, re.sub(r':"(\w+)"', ident, text))
    return [stmt.strip() for stmt in text.split(";") if stmt.strip()]


def _raise_one_month(inputs: Path, plan: pd.DataFrame) -> None:
    """The S&OP meeting overrides one planned month well above the plan: a change to list."""
    target = plan[plan["planned_receipts"] > 0].sort_values(KEY).iloc[-1]
    overrides = pd.read_csv(inputs / "overrides.csv", dtype=str)
    overrides = overrides[~((overrides["sku"] == target["sku"])
                            & (overrides["location"] == target["location"])
                            & (overrides["period"] == target["period"]))]
    extra = {"sku": target["sku"], "location": target["location"], "period": target["period"],
             "qty": str(float(round(target["consensus_demand"] * 3 + 100))),
             "reason": "key account launch", "approved_by": "S&OP lead"}
    pd.concat([overrides, pd.DataFrame([extra])]).to_csv(inputs / "overrides.csv", index=False)


def _read_as_reader(engine: sa.Engine) -> dict[str, pd.DataFrame]:
    with engine.connect() as conn:
        return {
            "current": pd.read_sql(
                sa.text("SELECT * FROM consensus_plan_current WHERE cycle = :c"), conn,
                params={"c": CYCLE}),
            "runs": pd.read_sql(sa.text("SELECT * FROM plan_runs ORDER BY plan_version"), conn),
            "changes": pd.read_sql(
                sa.text("SELECT * FROM plan_changes WHERE cycle = :c AND plan_version = 2"),
                conn, params={"c": CYCLE}),
        }


WRITES = [
    "INSERT INTO plan_runs (cycle, plan_version, status) VALUES ('2099-01', 1, 'published')",
    "UPDATE plan_runs SET status = 'failed'",
    "DELETE FROM consensus_plan",
    "UPDATE plan_changes SET change = 'new'",
    "DELETE FROM plan_changes",
]


@pytest.mark.parametrize("partition_size", [None, 1], ids=["whole", "by-location"])
def test_run_publishes_to_postgres_and_a_reader_role_sees_the_current_plan(
    postgres_url: str, tmp_path: Path, partition_size: int | None
) -> None:
    """docs/sql/reader_role.sql, run before the pipeline ever wrote: the tables it creates
    later are readable (default privileges) and nothing can be written. The same for a run
    that publishes one warehouse at a time (`execution: {partition_size: 1}`): its rows reach
    the store in several inserts, which readers must still see as one version."""
    world = generate_world(n_skus=20, n_locations=2, history_months=36, cycle=CYCLE, horizon=6,
                           seed=5)
    inputs = tmp_path / "inputs"
    write_inputs(world.tables, inputs)
    out = tmp_path / "out"
    config = None
    if partition_size:
        config = tmp_path / "by-location.yaml"
        config.write_text(f"execution:\n  partition_size: {partition_size}\n")

    url = sa.engine.make_url(postgres_url)
    schema = url.query["options"].split("=")[-1]
    reader, secret = f"reader_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin = sa.create_engine(postgres_url)  # the role the pipeline writes with
    with admin.begin() as conn:
        for statement in _psql_script(READER_SQL, reader=reader, password=secret,
                                      schema=schema):
            conn.exec_driver_sql(statement)
    reader_engine = sa.create_engine(url.set(username=reader, password=secret))
    try:
        result = _sop_run(inputs, out, postgres_url, config)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "version 1" in result.stdout
        _raise_one_month(inputs, pd.read_parquet(
            out / f"cycle={CYCLE}" / "version=1" / "consensus_plan.parquet"))
        result = _sop_run(inputs, out, postgres_url, config)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "version 2" in result.stdout

        read = _read_as_reader(reader_engine)
        for statement in WRITES:
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"), \
                    reader_engine.begin() as conn:
                conn.exec_driver_sql(statement)
    finally:
        reader_engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
                                 f"REVOKE SELECT ON TABLES FROM {reader}"))
            conn.execute(sa.text(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {reader}"))
            conn.execute(sa.text(f"REVOKE USAGE ON SCHEMA {schema} FROM {reader}"))
            conn.execute(sa.text(f"DROP ROLE {reader}"))
        admin.dispose()
    # The password never reaches the manifest.
    manifest = (out / f"cycle={CYCLE}" / "version=2" / "manifest.json").read_text()
    password = url.password
    assert password and f":{password}@" not in manifest and ":***@" in manifest

    # The run took the path asked for (the workspace's plan record counts the groups).
    records = list((out / "runs").glob("cycle=*/run=*/plan/result.json"))
    assert len(records) == 2
    assert {json.loads(r.read_text())["partitions"] for r in records} == {
        2 if partition_size else 1}
    version = out / f"cycle={CYCLE}" / "version=2"
    assert read["runs"]["status"].tolist() == ["published", "published"]
    current = read["current"]
    assert set(current["plan_version"]) == {2}
    plan = pd.read_parquet(version / "consensus_plan.parquet")
    assert len(current) == len(plan)
    merged = current.merge(plan, on=KEY, suffixes=("_db", "_file"))
    assert len(merged) == len(plan)
    for column in ("consensus_demand", "constrained_demand", "planned_receipts"):
        assert (merged[f"{column}_db"] - merged[f"{column}_file"]).abs().max() < 1e-9, column
    # The override is a change the reader sees exactly as the version's Parquet file lists it.
    changes, changes_file = read["changes"], pd.read_parquet(version / "plan_changes.parquet")
    assert not changes_file.empty
    assert list(changes.columns[2:]) == list(changes_file.columns)
    pd.testing.assert_frame_equal(
        changes[changes_file.columns].sort_values(KEY).reset_index(drop=True),
        changes_file.sort_values(KEY).reset_index(drop=True), check_dtype=False)
