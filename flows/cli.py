"""The `sop` command line: parse options, call a flow or the core, map failures to exit codes.

Exit codes (SPEC): 0 success, 2 wrong usage, 3 data contract breached, 1 any other failure.
"""

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from data_contracts.periods import is_month

EXIT_USAGE = 2
EXIT_CONTRACT = 3
EXIT_FAILURE = 1
DEMO_CYCLE = "2026-12"
T = TypeVar("T")

app = typer.Typer(
    help="S&OP consensus pipeline: data contracts, statistical baselines, consensus and "
    "capacity planning, versioned publishing.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out_console = Console()
err_console = Console(stderr=True)


def _cycle(value: str | None) -> str | None:
    if value is not None and not is_month(value):
        raise typer.BadParameter(f"{value!r} is not a month in YYYY-MM form")
    return value


CycleOpt = Annotated[str, typer.Option(help="First month planned, YYYY-MM", callback=_cycle)]


def _fail(message: str, code: int) -> NoReturn:
    err_console.print(message, markup=False, highlight=False)
    raise typer.Exit(code)


def _run_guarded(work: Callable[[], T]) -> T:
    """Run `work()` and turn known failures into SPEC exit codes."""
    from data_contracts import ContractBreach
    from flows.io import InputsNotFound

    try:
        return work()
    except Exception as exc:
        cause = getattr(exc, "cause", exc)  # a StageFailed wraps the stage's own error
        if isinstance(cause, ContractBreach):
            _fail(str(cause), EXIT_CONTRACT)
        if isinstance(cause, InputsNotFound):
            _fail(f"wrong usage: {cause}", EXIT_USAGE)
        if isinstance(cause, ValidationError):
            _fail(f"wrong usage: {cause}", EXIT_USAGE)
        _fail(f"failed, nothing published: {exc}", EXIT_FAILURE)
    raise AssertionError("unreachable")


def _print_run(result: dict) -> None:
    table = Table(title=f"S&OP plan {result['cycle']} version {result['plan_version']}")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for stage, seconds in result["seconds"].items():
        table.add_row(stage, f"{seconds:.1f}")
    out_console.print(table)
    out_console.print(f"published: {result['path']}")
    out_console.print(f"report:    {Path(result['path']) / 'report.html'}")
    out_console.print(f"store:     {result['store']}")


def _quiet_prefect() -> None:
    # Prefect's INFO logs drown the summary on a terminal; engineers can raise them back.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    # No telemetry from a planning run: these machines may have no route out.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def _execute_run(
    inputs: str, cycle: str, out: str, horizon: int, store: str | None, config: str | None,
    engine: str = "local", dask_address: str | None = None,
) -> None:
    _quiet_prefect()
    from flows.config import load_config
    from flows.params import RunParams
    from flows.pipeline import monthly_sop

    try:
        params = RunParams(
            inputs=inputs, out=out, cycle=cycle, horizon=horizon, store=store, config=config,
            engine=engine, dask_address=dask_address,
        )
        if dask_address and engine != "dask":
            raise ValueError("--dask-address needs --engine dask")
        load_config(config)  # refuse a bad config before any work starts
    except (ValidationError, ValueError, FileNotFoundError) as exc:
        _fail(f"wrong usage: {exc}", EXIT_USAGE)
    started = time.perf_counter()
    result = _run_guarded(lambda: monthly_sop(**params.flow_parameters()))
    _print_run(result)
    out_console.print(f"total:     {time.perf_counter() - started:.1f} s")


@app.command()
def run(
    inputs: Annotated[str, typer.Option(help="Folder or fsspec URL with the input tables")],
    cycle: CycleOpt,
    out: Annotated[str, typer.Option(help="Output folder (versions, store, working files)")],
    horizon: Annotated[int, typer.Option(min=1, max=60, help="Months planned")] = 18,
    store: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL; default duckdb:///OUT/sop.duckdb")
    ] = None,
    config: Annotated[str | None, typer.Option(help="YAML/JSON/TOML run configuration")] = None,
    engine: Annotated[
        Literal["local", "dask"], typer.Option(help="Where baselines are fitted")
    ] = "local",
    dask_address: Annotated[
        str | None,
        typer.Option(help="Dask scheduler (tcp://host:8786); default with dask: a local cluster"),
    ] = None,
) -> None:
    """Run the monthly S&OP flow and publish a new plan version."""
    _execute_run(inputs, cycle, out, horizon, store, config, engine, dask_address)


@app.command()
def demo(
    out: Annotated[str, typer.Option(help="Folder for the sample inputs and the outputs")] = (
        "sop-demo"
    ),
    cycle: Annotated[str, typer.Option(help="Cycle of the sample world", callback=_cycle)] = (
        DEMO_CYCLE
    ),
    skus: Annotated[int, typer.Option(min=5, help="Number of SKUs in the sample world")] = 200,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data)")] = 7,
    horizon: Annotated[int, typer.Option(min=1, max=60, help="Months planned")] = 18,
) -> None:
    """Write a realistic sample data set to OUT/inputs and run the monthly flow on it."""
    from flows.io import write_inputs
    from sample_data import generate_world

    world = generate_world(n_skus=skus, cycle=cycle, horizon=horizon, seed=seed)
    inputs = Path(out) / "inputs"
    write_inputs(world.tables, inputs, fmt="csv")
    out_console.print(f"sample inputs written to {inputs} ({skus} SKUs, seed {seed})")
    _execute_run(str(inputs), cycle, out, horizon, None, None)


@app.command()
def validate(
    inputs: Annotated[str, typer.Option(help="Folder or fsspec URL with the input tables")],
    cycle: CycleOpt,
    out: Annotated[str, typer.Option(help="Where rejects and Data Docs are written")] = (
        "sop-validate"
    ),
    config: Annotated[str | None, typer.Option(help="YAML/JSON/TOML run configuration")] = None,
) -> None:
    """Check the input tables against their data contracts only (exit 0 or 3)."""
    _quiet_prefect()
    from flows.pipeline import validate_flow
    from flows.workspace import Workspace

    ws = Workspace.new(out, cycle)
    summary = _run_guarded(lambda: validate_flow(inputs, cycle, str(ws.root), config))
    table = Table(title=f"Data contracts for cycle {cycle}: passed")
    for col in ("table", "rows", "sha256"):
        table.add_column(col)
    for f in summary["inputs"]:
        table.add_row(f["table"], str(f["rows"]), f["sha256"][:12])
    out_console.print(table)
    if summary["findings"]:
        findings = Table(title="Findings (not blocking)")
        for col in ("severity", "table", "column", "rule", "rows"):
            findings.add_column(col)
        for f in summary["findings"]:
            findings.add_row(f["severity"], f["table"], str(f["column"] or ""), f["rule"],
                             str(f["count"]))
        out_console.print(findings)
    if summary.get("data_docs"):
        out_console.print(f"Data Docs: {summary['data_docs']}")


@app.command()
def forecast(
    history: Annotated[Path, typer.Option(help="sales_history file (CSV or Parquet)")],
    horizon: Annotated[int, typer.Option(min=1, max=120, help="Months to forecast")],
    out: Annotated[Path, typer.Option(help="baseline_forecast file to write (.csv/.parquet)")],
    season_length: Annotated[int, typer.Option(min=1, help="Season length in months")] = 12,
    n_jobs: Annotated[int, typer.Option(help="Processes for model fitting (-1 = all)")] = 1,
) -> None:
    """Statistical baselines only: sales_history in, baseline_forecast out."""
    from data_contracts import read_error, validate_history
    from flows.io import TableReadError, read_table_file, write_table
    from forecasting import BaselineSettings, fit_baselines

    def work() -> None:
        try:
            raw, _ = read_table_file(str(history), "sales_history")
        except TableReadError as exc:
            raise read_error(exc.table, exc.path, exc.problem) from exc
        clean = validate_history(raw)
        result = fit_baselines(
            clean, horizon=horizon, settings=BaselineSettings(season_length=season_length),
            n_jobs=n_jobs,
        )
        write_table(result.forecast, out)
        out_console.print(
            f"{result.forecast[['sku', 'location']].drop_duplicates().shape[0]} series, "
            f"{len(result.forecast)} rows written to {out}"
        )

    _run_guarded(work)


@app.command()
def deploy(
    inputs: Annotated[str | None, typer.Option(help="Default inputs for scheduled runs")] = None,
    out: Annotated[str | None, typer.Option(help="Default output folder")] = None,
    timezone: Annotated[str | None, typer.Option(help="Timezone of the schedule")] = None,
    serve: Annotated[
        bool, typer.Option("--serve", help="Also execute scheduled and UI-triggered runs here")
    ] = False,
    pool: Annotated[
        str | None,
        typer.Option(help="Process work pool for the deployments, created if missing; "
                     "default SOP_WORK_POOL, none = runs need `sop serve`"),
    ] = None,
) -> None:
    """Register the Prefect deployments (monthly schedule and one per stage)."""
    from flows.deploy import build_deployments, register, serve_deployments

    deployments = build_deployments(inputs=inputs, out=out, timezone=timezone)
    if serve:
        if pool:
            _fail("wrong usage: --serve executes runs here; --pool leaves them to a worker",
                  EXIT_USAGE)
        serve_deployments(deployments)
        return
    ids = register(deployments, work_pool=pool)
    for name, dep_id in ids.items():
        out_console.print(f"registered {name}: {dep_id}")


@app.command(name="serve")
def serve_cmd(
    inputs: Annotated[str | None, typer.Option(help="Default inputs for scheduled runs")] = None,
    out: Annotated[str | None, typer.Option(help="Default output folder")] = None,
    timezone: Annotated[str | None, typer.Option(help="Timezone of the schedule")] = None,
) -> None:
    """Register the deployments and execute their runs in this process (Prefect serve)."""
    from flows.deploy import build_deployments, serve_deployments

    serve_deployments(build_deployments(inputs=inputs, out=out, timezone=timezone))


# What-if analyses (issue 9): command and flow live in flows/whatif.py.
from flows.whatif import whatif_command  # noqa: E402

app.command(name="whatif")(whatif_command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
