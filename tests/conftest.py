"""Shared fixtures: a PostgreSQL URL when one can be had (CI always has one)."""

import os
import uuid
from collections.abc import Iterator

import pytest


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A private schema in the test PostgreSQL, dropped afterwards.

    Skips only where no server is configured; under CI a missing server is a failure,
    because CI must prove the production store works.
    """
    base = os.environ.get("SOP_TEST_POSTGRES_URL")
    if not base:
        if os.environ.get("CI"):
            pytest.fail("CI must provide SOP_TEST_POSTGRES_URL (see .ci/run)")
        pytest.skip("no PostgreSQL: set SOP_TEST_POSTGRES_URL (see .ci/run)")
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()
