"""Typed parameters of the flows: the Prefect UI renders them as forms and refuses bad values."""

from datetime import UTC, date, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, StringConstraints

from data_contracts.month import MONTH_PATTERN
from flows.config import RunConfig

# Anchored pattern: a cycle becomes part of paths and SQL, so nothing else may pass.
Cycle = Annotated[str, StringConstraints(pattern=MONTH_PATTERN.pattern)]


def cycle_for(run_date: date) -> str:
    """The cycle a run on `run_date` plans: the run's own month (the schedule runs on the 1st)."""
    return f"{run_date.year:04d}-{run_date.month:02d}"


def local_run_date(instant: datetime, timezone: str) -> date:
    """The calendar day of `instant` in the schedule's time zone.

    A 06:00 Asia/Tokyo run on the 1st is still the previous day in UTC: the cycle must come
    from the schedule's zone, not from the worker's clock."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(ZoneInfo(timezone)).date()



class RunParams(BaseModel):
    """Parameters of the monthly S&OP flow."""

    inputs: str = Field(
        "inputs", description="Folder or fsspec URL holding the input tables (NAME.csv/.parquet)"
    )
    out: str = Field("sop-out", description="Output folder: versions, store, working files")
    cycle: Cycle | None = Field(
        None, description="First month planned, YYYY-MM; empty = the month of the run date"
    )
    horizon: int = Field(18, ge=1, le=60, description="Months planned from the cycle month")
    store: str | None = Field(
        None,
        description=(
            "SQLAlchemy URL of the plan store (password from the environment, not here); "
            "empty = SOP_STORE_URL or DuckDB in the output folder"
        ),
    )
    config: str | None = Field(None, description="YAML/JSON/TOML run configuration file")
    settings: RunConfig | None = Field(
        None, description="Policy settings (contracts, forecasting, reconciliation); "
        "when given they replace the config file"
    )
    engine: Literal["local", "dask"] = Field(
        "local", description="Where baselines are fitted: this process, or a Dask cluster"
    )
    dask_address: str | None = Field(
        None,
        description="Dask scheduler, e.g. tcp://scheduler:8786; empty with engine 'dask' = a "
        "local cluster started for the run",
    )

    def resolved_cycle(self, today: date | None = None) -> str:
        return self.cycle or cycle_for(today or date.today())


class ValidateParams(BaseModel):
    """Parameters of the contracts-only flow."""

    inputs: str = Field("inputs", description="Folder or fsspec URL holding the input tables")
    cycle: Cycle = Field(..., description="First month planned, YYYY-MM")
    config: str | None = Field(None, description="YAML/JSON/TOML run configuration file")
