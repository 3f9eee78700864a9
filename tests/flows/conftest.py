"""Flow tests run against Prefect's test harness (a throwaway local API and database)."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.testing.utilities import prefect_test_harness

from flows.io import write_inputs
from sample_data import generate_world

CYCLE = "2026-12"


@pytest.fixture(scope="session", autouse=True)
def prefect_harness() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def small_world():
    return generate_world(
        n_skus=24, n_locations=3, history_months=48, cycle=CYCLE, horizon=12, seed=11
    )


@pytest.fixture
def inputs_dir(tmp_path: Path, small_world) -> Path:
    folder = tmp_path / "inputs"
    write_inputs(small_world.tables, folder, fmt="csv")
    return folder


@pytest.fixture(params=["duckdb", "postgresql"])
def store_url(request, tmp_path) -> str:
    """Each store test against the embedded default and the production store."""
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'sop.duckdb'}"
    return request.getfixturevalue("postgres_url")
