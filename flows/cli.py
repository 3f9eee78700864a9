"""The `sop` command line: parse options, call a flow or the core, map failures to exit codes.

Exit codes (SPEC): 0 success, 2 wrong usage, 3 data contract breached, 1 any other failure.

Only Typer, Rich and pydantic load at start, so `sop --help` and a wrong argument answer at
once. Folders, files, the config and a scenario are checked (flows/preflight.py) before the
flows, and with them Prefect, are imported; a mistake there is one line and exit 2.
"""

import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from data_contracts.month import MAX_FORECAST_HORIZON, MAX_HORIZON, is_month

EXIT_USAGE = 2
EXIT_CONTRACT = 3
EXIT_FAILURE = 1
DEMO_CYCLE = "2026-12"
# The demo's run configuration (written next to its inputs, so it can be read and reused).
DEMO_CONFIG = """\
# sop demo's run configuration (see the README's Configuration section).
reconciliation:
  # Frozen time fence: receipts last cycle planned for the next 3 months are firm.
  frozen_months: 3
"""
T = TypeVar("T")

if TYPE_CHECKING:
    from flows.pipeline import RunResult


@dataclass
class _Options:
    """Global options, set by the app's callback before any command runs."""

    debug: bool = False


OPTIONS = _Options()


class _App(typer.Typer):
    """The Typer app, with a last net: an unexpected error is one line (exit 1), its traceback
    only with --debug."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:  # anything the commands did not turn into an exit code
            _report_failure(f"failed, nothing published: {type(exc).__name__}: {exc}", exc)
            sys.exit(EXIT_FAILURE)


app = _App(
    help="S&OP consensus pipeline: data contracts, statistical baselines, consensus and "
    "capacity planning, versioned publishing.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out_console = Console()
err_console = Console(stderr=True)


@app.callback()
def main(
    debug: Annotated[bool, typer.Option(
        "--debug", help="Show Prefect's INFO lines and the Python traceback of a failure")
    ] = False,
) -> None:
    """S&OP consensus pipeline: data contracts, statistical baselines, consensus and capacity
    planning, versioned publishing."""
    OPTIONS.debug = debug
    if "prefect" not in sys.modules:  # Prefect reads its settings once, at import
        from flows.prefect_env import quiet_prefect

        quiet_prefect(debug=debug)


def _cycle(value: str | None) -> str | None:
    if value is not None and not is_month(value):
        raise typer.BadParameter(f"{value!r} is not a month in YYYY-MM form")
    return value


CycleOpt = Annotated[str, typer.Option(help="First month planned, YYYY-MM", callback=_cycle)]
JobsOpt = Annotated[
    int | None,
    typer.Option("--jobs", "--n-jobs", min=1, max=4096,
                 help="Processes fitting baselines; default: every core this process may use"),
]


def _report_failure(message: str, exc: BaseException | None = None) -> None:
    err_console.print(message, markup=False, highlight=False, soft_wrap=True)
    if exc is not None and OPTIONS.debug:
        traceback.print_exception(exc, file=sys.stderr)


def _fail(message: str, code: int, exc: BaseException | None = None) -> NoReturn:
    _report_failure(message, exc)
    raise typer.Exit(code)


def _check(work: Callable[[], T]) -> T:
    """Run an argument check (flows/preflight.py): a UsageError is exit 2, one line."""
    from flows.preflight import UsageError

    try:
        return work()
    except UsageError as exc:
        _fail(f"wrong usage: {exc}", EXIT_USAGE, exc)


def _prefect_loaded() -> None:
    """Call after importing a module that imports Prefect: its console lines lose their
    tracebacks unless --debug (the command prints the error itself)."""
    from flows.prefect_env import hide_tracebacks, tie_temporary_server_to_this_process

    tie_temporary_server_to_this_process()
    if not OPTIONS.debug:
        hide_tracebacks()


def _run_guarded(work: Callable[[], T]) -> T:
    """Run `work()` and turn known failures into SPEC exit codes."""
    from data_contracts import ContractBreach
    from flows.config import ConfigError
    from flows.io import InputsNotFound

    try:
        return work()
    except Exception as exc:
        cause = getattr(exc, "cause", exc)  # a StageFailed wraps the stage's own error
        if isinstance(cause, ContractBreach):
            _fail(str(cause), EXIT_CONTRACT, exc)
        if isinstance(cause, ConfigError | ValidationError | InputsNotFound):
            _fail(f"wrong usage: {cause}", EXIT_USAGE, exc)
        hint = "" if OPTIONS.debug else " (run with --debug for the traceback)"
        _fail(f"failed, nothing published: {exc}{hint}", EXIT_FAILURE, exc)
    raise AssertionError("unreachable")


@contextmanager
def _stage_bars() -> Iterator[None]:
    """A bar per stage on stderr while the run goes, when stderr is a terminal (a person
    watching); nothing in a pipe or a log file."""
    if not err_console.is_terminal:
        yield
        return
    from flows import progress

    with progress.ConsoleProgress(err_console) as bars, progress.listening(bars):
        yield


def _print_run(result: "RunResult") -> None:
    table = Table(title=f"S&OP plan {result.cycle} version {result.plan_version}")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for stage, seconds in result.seconds.items():
        table.add_row(stage, f"{seconds:.1f}")
    out_console.print(table)
    out_console.print(f"published: {result.path}")
    out_console.print(f"report:    {Path(result.path) / 'report.html'}")
    out_console.print(f"store:     {result.store}")


def _execute_run(
    inputs: str, cycle: str, out: str, horizon: int, store: str | None, config: str | None,
    engine: Literal["local", "dask"] = "local", dask_address: str | None = None,
    jobs: int | None = None,
) -> None:
    from flows import preflight

    _check(lambda: preflight.check_inputs(inputs))
    _check(lambda: preflight.check_config(config))
    _check(lambda: preflight.check_store(store))
    from flows.params import RunParams

    try:
        params = RunParams(
            inputs=inputs, out=out, cycle=cycle, horizon=horizon, store=store, config=config,
            engine=engine, dask_address=dask_address, jobs=jobs, settings=None,
        )
        if dask_address and engine != "dask":
            raise ValueError("--dask-address needs --engine dask")
    except ValueError as exc:  # pydantic's ValidationError is one
        _fail(f"wrong usage: {exc}", EXIT_USAGE, exc)
    from flows.pipeline import monthly_sop

    _prefect_loaded()
    started = time.perf_counter()
    with _stage_bars():
        result = _run_guarded(lambda: monthly_sop(**params.flow_parameters()))
    _print_run(result)
    out_console.print(f"total:     {time.perf_counter() - started:.1f} s")


@app.command()
def run(
    inputs: Annotated[str, typer.Option(help="Folder or fsspec URL with the input tables")],
    cycle: CycleOpt,
    out: Annotated[str, typer.Option(help="Output folder (versions, store, working files)")],
    horizon: Annotated[int, typer.Option(min=1, max=MAX_HORIZON, help="Months planned")] = 18,
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
    jobs: JobsOpt = None,
) -> None:
    """Run the monthly S&OP flow and publish a new plan version."""
    _execute_run(inputs, cycle, out, horizon, store, config, engine, dask_address, jobs)


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
    horizon: Annotated[int, typer.Option(min=1, max=MAX_HORIZON, help="Months planned")] = 18,
    jobs: JobsOpt = None,
) -> None:
    """Write a realistic sample data set to OUT/inputs and run the monthly flow on it.

    Two consecutive cycles are published into OUT, the month before CYCLE first (its inputs
    in OUT/inputs-YYYY-MM, as the world looked then), with the frozen time fence on
    (OUT/demo-config.yaml): CYCLE's report then shows what changed since the month before,
    the receipts the fence kept, and forecast value added with real numbers."""
    from data_contracts.periods import add_months
    from flows.io import write_inputs
    from sample_data import generate_world, tables_a_month_earlier

    world = generate_world(n_skus=skus, cycle=cycle, horizon=horizon, seed=seed)
    earlier = add_months(cycle, -1)
    config = Path(out) / "demo-config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(DEMO_CONFIG)
    before = Path(out) / f"inputs-{earlier}"
    write_inputs(tables_a_month_earlier(world.tables, cycle, horizon), before, fmt="csv")
    inputs = Path(out) / "inputs"
    write_inputs(world.tables, inputs, fmt="csv")
    out_console.print(f"sample inputs written to {inputs} ({skus} SKUs, seed {seed}) and, as "
                      f"they were a month earlier, to {before}; run configuration {config}")
    _execute_run(str(before), earlier, out, horizon, None, str(config), jobs=jobs)
    _execute_run(str(inputs), cycle, out, horizon, None, str(config), jobs=jobs)


@app.command()
def validate(
    inputs: Annotated[str, typer.Option(help="Folder or fsspec URL with the input tables")],
    cycle: CycleOpt,
    out: Annotated[str, typer.Option(help="Where rejects and Data Docs are written")] = (
        "sop-validate"
    ),
    config: Annotated[str | None, typer.Option(help="YAML/JSON/TOML run configuration")] = None,
    horizon: Annotated[int, typer.Option(
        min=1, max=MAX_HORIZON,
        help="Months to be planned (sales numbers past them are reported)")] = 18,
) -> None:
    """Check the input tables against their data contracts only (exit 0 or 3)."""
    from flows import preflight

    _check(lambda: preflight.check_inputs(inputs))
    settings = _check(lambda: preflight.check_config(config))
    from flows.context import RunContext
    from flows.pipeline import validate_flow

    try:
        ctx = RunContext(inputs=inputs, cycle=cycle, horizon=horizon,
                         out=str(Path(out).resolve()), run_id=uuid.uuid4().hex[:12],
                         config=settings)
    except ValueError as exc:  # pydantic's ValidationError is one
        _fail(f"wrong usage: {exc}", EXIT_USAGE, exc)
    _prefect_loaded()
    summary = _run_guarded(lambda: validate_flow(ctx))
    table = Table(title=f"Data contracts for cycle {cycle}: passed")
    for col in ("table", "rows", "sha256"):
        table.add_column(col)
    for f in summary.inputs:
        table.add_row(f.table, str(f.rows), f.sha256[:12])
    out_console.print(table)
    if summary.findings:
        findings = Table(title="Findings (not blocking)")
        for col in ("severity", "table", "column", "rule", "rows"):
            findings.add_column(col)
        for finding in summary.findings:
            findings.add_row(finding.severity, finding.table, str(finding.column or ""),
                             finding.rule, str(finding.count))
        out_console.print(findings)
    if summary.data_docs:
        out_console.print(f"Data Docs: {summary.data_docs}")


@app.command()
def forecast(
    history: Annotated[Path, typer.Option(help="sales_history file (CSV or Parquet)")],
    horizon: Annotated[int, typer.Option(
        min=1, max=MAX_FORECAST_HORIZON, help="Months to forecast")],
    out: Annotated[Path, typer.Option(help="baseline_forecast file to write (.csv/.parquet)")],
    season_length: Annotated[int, typer.Option(min=1, help="Season length in months")] = 12,
    jobs: JobsOpt = None,
) -> None:
    """Statistical baselines only: sales_history in, baseline_forecast out."""
    from flows import preflight

    _check(lambda: preflight.check_file("--history", history))
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
            n_jobs=jobs,
        )
        write_table(result.forecast, out)
        out_console.print(
            f"{result.forecast[['sku', 'location']].drop_duplicates().shape[0]} series, "
            f"{len(result.forecast)} rows written to {out}"
        )

    _run_guarded(work)


def _require_server() -> None:
    """Deployments live on a server: refuse to register them into a temporary one."""
    from flows.prefect_env import NoServer, require_server

    try:
        require_server()
    except NoServer as exc:
        _fail(str(exc), EXIT_FAILURE, exc)


def _check_holidays(spec: str | None) -> None:
    """--holidays names a calendar we can build (before any server is asked): else exit 2."""
    if not spec:
        return
    from datetime import date

    from flows.schedule import HolidayCalendar, HolidayCalendarError

    try:
        HolidayCalendar.parse(spec).days_off([date.today().year])
    except HolidayCalendarError as exc:
        _fail(f"wrong usage: {exc}", EXIT_USAGE, exc)


def _build_deployments(inputs: str | None, out: str | None, timezone: str | None,
                       holidays: str | None) -> list[Any]:
    """The deployments; a holiday calendar that cannot be built is wrong usage (exit 2)."""
    from flows.deploy import build_deployments
    from flows.schedule import HolidayCalendarError

    try:
        return build_deployments(inputs=inputs, out=out, timezone=timezone, holidays=holidays)
    except HolidayCalendarError as exc:
        _fail(f"wrong usage: {exc}", EXIT_USAGE, exc)


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
    holidays: Annotated[str | None, typer.Option(
        help="Days the schedule skips besides weekends, e.g. FR or FR,2027-05-07 "
        "(default SOP_HOLIDAYS)")] = None,
) -> None:
    """Register the Prefect deployments (monthly schedule and one per stage).

    Needs a Prefect server: PREFECT_API_URL (or a Prefect profile) naming one that answers."""
    _check_holidays(holidays)
    _require_server()
    from flows.deploy import register, serve_deployments

    _prefect_loaded()
    deployments = _build_deployments(inputs, out, timezone, holidays)
    if serve:
        if pool:
            _fail("wrong usage: --serve executes runs here; --pool leaves them to a worker",
                  EXIT_USAGE)
        serve_deployments(deployments)
        return
    ids = _run_guarded(lambda: register(deployments, work_pool=pool))
    for name, dep_id in ids.items():
        out_console.print(f"registered {name}: {dep_id}")


@app.command(name="serve")
def serve_cmd(
    inputs: Annotated[str | None, typer.Option(help="Default inputs for scheduled runs")] = None,
    out: Annotated[str | None, typer.Option(help="Default output folder")] = None,
    timezone: Annotated[str | None, typer.Option(help="Timezone of the schedule")] = None,
    holidays: Annotated[str | None, typer.Option(
        help="Days the schedule skips besides weekends, e.g. FR or FR,2027-05-07 "
        "(default SOP_HOLIDAYS)")] = None,
) -> None:
    """Register the deployments and execute their runs in this process (Prefect serve)."""
    _check_holidays(holidays)
    _require_server()
    from flows.deploy import serve_deployments

    _prefect_loaded()
    serve_deployments(_build_deployments(inputs, out, timezone, holidays))


@app.command()
def notify(
    url: Annotated[str, typer.Option(help="Webhook URL that receives each event as a JSON POST")],
    header: Annotated[
        list[str] | None,
        typer.Option(help="Header sent with each call, `Name: value` (e.g. an Authorization "
                     "token); repeatable; stored as a secret"),
    ] = None,
    name: Annotated[str, typer.Option(help="Name of the automation and its Webhook block; "
                                      "registering a name again replaces it")] = "sop-plan-events",
) -> None:
    """Subscribe a webhook to `sop.plan.published` and `sop.plan.failed` (a Prefect automation).

    Needs a Prefect server: PREFECT_API_URL (or a Prefect profile) naming one that answers."""
    headers = {}
    for item in header or []:
        key, sep, value = item.partition(":")
        if not sep or not key.strip():
            _fail(f"wrong usage: --header {item!r}: expected `Name: value`", EXIT_USAGE)
        headers[key.strip()] = value.strip()
    if not url.startswith(("http://", "https://")):
        _fail(f"wrong usage: --url {url!r}: expected an http:// or https:// URL", EXIT_USAGE)
    _require_server()
    from flows.automations import register_plan_webhook

    _prefect_loaded()
    automation_id = _run_guarded(lambda: register_plan_webhook(url, name=name, headers=headers))
    out_console.print(f"automation {name}: {automation_id} posts sop.plan.published and "
                      f"sop.plan.failed to {url.split('?')[0]}")


def _print_scenarios(out: str) -> None:
    from flows.whatif_params import list_scenarios

    rows = list_scenarios(out)
    if not rows:
        typer.echo(f"no stored scenarios under {Path(out) / 'scenarios'}")
        return
    for r in rows:
        typer.echo(f"{r['cycle']}  {r['name']}  (base version {r['base_version']}, "
                   f"{r.get('created_at', '')})\n    {r['verdict']}\n    {r['path']}")


@app.command(name="whatif")
def whatif(
    out: Annotated[str, typer.Option(help="Output folder holding the published plans")],
    base: Annotated[str | None, typer.Option(
        help="Published plan to start from: CYCLE or CYCLE/VERSION (default: current version)")
    ] = None,
    scenario: Annotated[str | None, typer.Option(
        help="Scenario file (.yaml/.json): promotions, scale_sales, launches, capacity")] = None,
    name: Annotated[str | None, typer.Option(
        help="Name of the stored scenario (default: the file's name field or file name)")
    ] = None,
    config: Annotated[str | None, typer.Option(
        help="Run configuration for the plan settings (default: the base run's)")] = None,
    list_: Annotated[bool, typer.Option(
        "--list", help="List the stored scenarios under OUT and exit")] = False,
) -> None:
    """Impact of a promotion, a sales push, a launch or a capacity change on a published plan.

    Stores the scenario apart (OUT/scenarios/cycle=C/NAME/); the published plan is untouched.
    Exit codes: 0 done, 2 bad usage or scenario file, 3 scenario names unknown data.
    """
    if list_:
        _print_scenarios(out)
        return
    if not base or not scenario:
        _fail("wrong usage: give --base CYCLE[/VERSION] and --scenario FILE (or --list)",
              EXIT_USAGE)
    from flows import preflight
    from flows.output_tree import OutputTree
    from flows.whatif_params import (
        WhatIfParams,
        WhatIfUsageError,
        field_path,
        read_scenario,
        resolve_base,
    )

    try:
        params = WhatIfParams(base=base, scenario=scenario, out=out, name=name, config=config)
    except ValidationError as exc:
        _fail("wrong usage: " + "; ".join(
            f"--{field_path(e['loc'])}: {e['msg']}" for e in exc.errors()), EXIT_USAGE, exc)
    try:  # the same checks the flow makes, before Prefect starts
        read_scenario(params.scenario)
        resolve_base(OutputTree.local(params.out), *params.cycle_version())
    except WhatIfUsageError as exc:
        _fail(f"wrong usage: {exc}", EXIT_USAGE, exc)
    _check(lambda: preflight.check_config(config))
    from data_contracts import ContractBreach
    from flows.whatif import whatif_flow

    _prefect_loaded()
    try:
        result = whatif_flow(params)
    except WhatIfUsageError as exc:
        _fail(f"wrong usage: {exc}", EXIT_USAGE, exc)
    except ContractBreach as breach:
        _fail(str(breach), EXIT_CONTRACT, breach)
    except Exception as exc:  # any other failure: exit 1, nothing stored
        _fail(f"what-if failed, nothing stored: {type(exc).__name__}: {exc}", EXIT_FAILURE, exc)
    typer.echo(f"verdict:  {result['verdict']}")
    typer.echo(f"stored:   {result['path']}")
    typer.echo(f"report:   {Path(result['path']) / 'report.html'}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
