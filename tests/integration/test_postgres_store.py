"""The monthly flow publishing to a real PostgreSQL, read back as a procurement system would."""

import os
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


def _sop_run(inputs: Path, out: Path, store: str) -> subprocess.CompletedProcess:
    # As in production: the URL without its password, which comes from the environment.
    url = sa.engine.make_url(store)
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "SOP_STORE_PASSWORD": url.password or ""}
    return subprocess.run(
        [SOP, "run", "--inputs", str(inputs), "--cycle", CYCLE, "--out", str(out),
         "--horizon", "6", "--store",
         url._replace(password=None).render_as_string(hide_password=False)],
        capture_output=True, text=True, timeout=600, env=env,
    )


def test_run_publishes_to_postgres_and_a_reader_role_sees_the_current_plan(
    postgres_url: str, tmp_path: Path
) -> None:
    world = generate_world(n_skus=20, n_locations=2, history_months=36, cycle=CYCLE, horizon=6,
                           seed=5)
    inputs = tmp_path / "inputs"
    write_inputs(world.tables, inputs)
    out = tmp_path / "out"
    for expected_version in (1, 2):
        result = _sop_run(inputs, out, postgres_url)
        assert result.returncode == 0, result.stderr[-3000:]
        assert f"version {expected_version}" in result.stdout
    # The password never reaches the manifest.
    manifest = (out / f"cycle={CYCLE}" / "version=2" / "manifest.json").read_text()
    password = sa.engine.make_url(postgres_url).password
    assert password and f":{password}@" not in manifest and ":***@" in manifest

    # A procurement system: a role that may only read.
    url = sa.engine.make_url(postgres_url)
    schema = url.query["options"].split("=")[-1]
    reader, secret = f"reader_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin = sa.create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE ROLE {reader} LOGIN PASSWORD '{secret}'"))
        conn.execute(sa.text(f"GRANT USAGE ON SCHEMA {schema} TO {reader}"))
        conn.execute(sa.text(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {reader}"))
    reader_engine = sa.create_engine(url.set(username=reader, password=secret))
    try:
        with reader_engine.connect() as conn:
            current = pd.read_sql(
                sa.text("SELECT * FROM consensus_plan_current WHERE cycle = :c"), conn,
                params={"c": CYCLE},
            )
            runs = pd.read_sql(sa.text("SELECT * FROM plan_runs ORDER BY plan_version"), conn)
            changes = pd.read_sql(
                sa.text("SELECT * FROM plan_changes WHERE cycle = :c AND plan_version = 2"),
                conn, params={"c": CYCLE},
            )
        with pytest.raises(sa.exc.ProgrammingError), reader_engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM consensus_plan"))
    finally:
        reader_engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {reader}"))
            conn.execute(sa.text(f"REVOKE USAGE ON SCHEMA {schema} FROM {reader}"))
            conn.execute(sa.text(f"DROP ROLE {reader}"))
        admin.dispose()
    assert runs["status"].tolist() == ["published", "published"]
    assert set(current["plan_version"]) == {2}
    plan = pd.read_parquet(out / f"cycle={CYCLE}" / "version=2" / "consensus_plan.parquet")
    assert len(current) == len(plan)
    merged = current.merge(plan, on=["sku", "location", "period"], suffixes=("_db", "_file"))
    assert len(merged) == len(plan)
    assert (merged["constrained_demand_db"] - merged["constrained_demand_file"]).abs().max() < 1e-9
    # Same inputs twice: version 2 changes nothing against version 1, in the file and the store.
    changes_file = pd.read_parquet(out / f"cycle={CYCLE}" / "version=2" / "plan_changes.parquet")
    assert changes_file.empty and changes.empty
    assert list(changes.columns[2:]) == list(changes_file.columns)
