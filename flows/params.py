"""Typed parameters of the flows: the Prefect UI renders them as forms and refuses bad values."""

import inspect
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from data_contracts.month import MAX_HORIZON, MONTH_PATTERN
from flows.config import RunConfig, SopSettings
from forecasting.engines import EngineName

F = TypeVar("F", bound=Callable[..., Any])

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


def refuse_password(url: str) -> str:
    """A store URL given as a parameter must not carry a password.

    Parameters are kept by the Prefect server and shown in the UI; the password joins the
    URL only in memory at run time (`resolve_store_url`). The message never repeats the URL.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ValueError(f"store is not a SQLAlchemy URL ({exc.__class__.__name__})") from None
    if parsed.password:
        raise ValueError(
            "the store URL carries a password; give the URL without it and put the password "
            "in SOP_STORE_PASSWORD (or a Prefect Secret block named by SOP_STORE_PASSWORD_BLOCK)"
        )
    return url


Horizon = Annotated[int, Field(ge=1, le=MAX_HORIZON)]
# Far above any machine, far below a typo that would fork a million processes.
Jobs = Annotated[int, Field(ge=1, le=4096)]
# No "user:password@" in the URL, as a JSON Schema pattern: a deployment's form carries it, so
# the Prefect server refuses such a run before it stores (and shows) its parameters. In
# Python the validator refuses it with the message that says where the password goes.
NO_PASSWORD_PATTERN = r"^(?![^/]*//[^/@]*:[^/@]*@)"
StoreUrl = Annotated[str, AfterValidator(refuse_password),
                     WithJsonSchema({"type": "string", "pattern": NO_PASSWORD_PATTERN})]


class RunParams(BaseModel):
    """Parameters of the monthly S&OP flow, one field per flow parameter.

    The flow takes every field as a top-level parameter (a flat form in the Prefect UI, and a
    partial set such as `{"cycle": "2026-12"}` is a valid run); empty inputs, out and store
    fall back at run time to SOP_INPUTS, SOP_OUT and SOP_STORE_URL.
    """

    # A refused store URL must not be echoed back (it carries a password).
    model_config = ConfigDict(hide_input_in_errors=True)

    inputs: str | None = Field(
        None, description="Folder or fsspec URL holding the input tables (NAME.csv/.parquet); "
        "empty = SOP_INPUTS"
    )
    out: str | None = Field(
        None, description="Output folder: versions, store, working files; empty = SOP_OUT"
    )
    cycle: Cycle | None = Field(
        None, description="First month planned, YYYY-MM; empty = the month of the run date"
    )
    horizon: Horizon = Field(
        18, description=f"Months planned from the cycle month (1-{MAX_HORIZON})")
    store: StoreUrl | None = Field(
        None,
        description=(
            "SQLAlchemy URL of the plan store, without password (SOP_STORE_PASSWORD holds it); "
            "empty = SOP_STORE_URL or DuckDB in the output folder"
        ),
    )
    config: str | None = Field(None, description="YAML/JSON/TOML run configuration file")
    settings: RunConfig | None = Field(
        None, description="Policy settings (contracts, forecasting, reconciliation); "
        "when given they replace the config file"
    )
    engine: EngineName = Field(
        "local", description="Where baselines are fitted: this process, or a Dask cluster"
    )
    dask_address: str | None = Field(
        None,
        description="Dask scheduler, e.g. tcp://scheduler:8786; empty with engine 'dask' = a "
        "local cluster started for the run",
    )
    jobs: Jobs | None = Field(
        None, description="Processes fitting baselines (or local Dask workers); empty = the "
        "config's execution.jobs, else every core the worker may use"
    )

    def resolved_cycle(self, today: date | None = None) -> str:
        return self.cycle or cycle_for(today or date.today())

    def with_environment(self, settings: SopSettings | None = None) -> "RunParams":
        """Empty inputs and out filled from SOP_INPUTS and SOP_OUT.

        An empty store stays empty: the publish stage reads SOP_STORE_URL itself, so a URL
        from the environment never becomes a (stored, displayed) parameter of a sub-flow."""
        settings = settings or SopSettings()
        return self.model_copy(update={
            "inputs": self.inputs or settings.inputs,
            "out": self.out or settings.out,
        })

    def flow_parameters(self) -> dict[str, Any]:
        """The fields as keyword arguments of the flow (models kept as models)."""
        return {name: getattr(self, name) for name in type(self).model_fields}


def documented_by(model: type[BaseModel]) -> Callable[[F], F]:
    """Append an `Args:` section made of `model`'s field descriptions to a flow's docstring.

    Prefect takes a parameter's help text in the UI form from the docstring (it drops Field
    metadata on parameters), so the model stays the one definition of those texts."""

    def document(fn: F) -> F:
        lines = [f"    {name}: {field.description}" for name, field in model.model_fields.items()]
        fn.__doc__ = f"{inspect.cleandoc(fn.__doc__ or '')}\n\nArgs:\n" + "\n".join(lines)
        return fn

    return document
