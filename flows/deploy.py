"""Prefect deployments: the monthly S&OP run on a schedule, and one deployment per stage.

Kept apart from the pipeline so importing the flows never touches a Prefect server.
"""

import argparse
import importlib
from datetime import datetime
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import prefect
import yaml
from prefect import serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig
from prefect.client.schemas.schedules import RRuleSchedule
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.schedules import RRule, Schedule

from flows.config import SopSettings
from flows.pipeline import (
    baselines_stage,
    ingest_and_check,
    monthly_sop,
    publish_stage,
    reconcile_stage,
    validate_flow,
)
from flows.schedule import HolidayCalendar, first_working_day_rrule
from flows.whatif import whatif_flow

MONTHLY = "sop-monthly/monthly"
MONTHLY_CONCURRENCY = ConcurrencyLimitConfig(limit=1, collision_strategy="ENQUEUE")
DEFAULT_POOL = "sop-process"
# Resolved by `prefect deploy` from the deploying shell, like `sop deploy` reads SOP_TIMEZONE.
TIMEZONE_FROM_ENV = "{{ $SOP_TIMEZONE }}"


def first_working_day_schedules(timezone: str, hour: int = 6, holidays: str | None = None,
                                start_year: int | None = None) -> list[Schedule]:
    """06:00 on the first working day of each month: Monday to Friday, and not a holiday of
    `holidays` (SOP_HOLIDAYS' form: country codes and ISO dates, e.g. "FR,2027-05-07").

    One RRule (flows/schedule.py): Cron cannot skip a holiday. Holidays are resolved for
    `start_year` (default: this year in `timezone`) and the years after it."""
    calendar = HolidayCalendar.parse(holidays)
    year = start_year or datetime.now(ZoneInfo(timezone)).year
    return [RRule(first_working_day_rrule(calendar, year, hour=hour), timezone=timezone)]


def build_deployments(
    inputs: str | None = None, out: str | None = None, timezone: str | None = None,
    holidays: str | None = None,
) -> list[RunnerDeployment]:
    """The monthly deployment on its schedule, and one on-demand deployment per stage.

    `inputs` and `out` become the monthly run's defaults when given; left empty, a run takes
    SOP_INPUTS and SOP_OUT from the worker's environment when it starts. `timezone` and
    `holidays` default to SOP_TIMEZONE and SOP_HOLIDAYS ("" = weekends only)."""
    settings = SopSettings()
    tz = timezone or settings.timezone
    holidays = settings.holidays if holidays is None else holidays
    defaults = {name: value for name, value in (("inputs", inputs), ("out", out)) if value}
    monthly = cast(RunnerDeployment, monthly_sop.to_deployment(
        name="monthly",
        schedules=first_working_day_schedules(tz, holidays=holidays),
        parameters=defaults,
        description="Monthly S&OP consensus plan; the cycle defaults to the run's month.",
        tags=["sop"],
        # Module path, not file path: runs work from any folder where the package is installed.
        entrypoint_type=EntrypointType.MODULE_PATH,
        # Two monthly runs at once (a retry from the UI while the schedule fires) would plan
        # the same cycle twice: the second waits for the first instead of racing it.
        concurrency_limit=MONTHLY_CONCURRENCY,
    ))
    # Called from sync code, to_deployment returns the deployment (typed as maybe a coroutine).
    stages = [
        cast(RunnerDeployment, stage.to_deployment(
            name="on-demand", tags=["sop", "stage"], entrypoint_type=EntrypointType.MODULE_PATH
        ))
        for stage in (validate_flow, ingest_and_check, baselines_stage, reconcile_stage,
                      publish_stage, whatif_flow)
    ]
    return [monthly, *stages]


PROCESS_POOL_TYPE = "process"


def ensure_process_pool(name: str) -> bool:
    """Create the process work pool `name` unless it exists; True when it was created.

    An existing pool is left as it is (its type, template and concurrency are the
    operator's), so registering again never resets what was tuned in the UI."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
    from prefect.workers.process import ProcessWorker

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
            return False
        except ObjectNotFound:
            pass
        try:
            client.create_work_pool(
                WorkPoolCreate(
                    name=name,
                    type=PROCESS_POOL_TYPE,
                    base_job_template=ProcessWorker.get_default_base_job_template(),
                )
            )
        except ObjectAlreadyExists:  # created meanwhile by another `sop deploy`
            return False
    return True


def register(
    deployments: list[RunnerDeployment], work_pool: str | None = None
) -> dict[str, str]:
    """Create or update the deployments on the configured Prefect server.

    With `work_pool` (default: SOP_WORK_POOL) the deployments are bound to that process
    pool, created if missing, and a `prefect worker start --pool NAME` executes their runs;
    without, only `sop serve` can execute them."""
    work_pool = work_pool or SopSettings().work_pool
    if work_pool:
        ensure_process_pool(work_pool)
    return {d.full_name: str(d.apply(work_pool_name=work_pool)) for d in deployments}


def serve_deployments(deployments: list[RunnerDeployment]) -> None:
    """Register and execute runs in this process until interrupted (Prefect's serve)."""
    serve(*deployments)


YAML_HEADER = """\
# Generated from flows/deploy.py (the deployments `sop deploy` registers); do not edit:
#   python -m flows.deploy --write-yaml prefect.yaml
# For teams that deploy with `prefect deploy --all` to a process work pool:
#   prefect work-pool create {pool} --type process
#   SOP_HOME=$PWD SOP_TIMEZONE=Europe/Paris prefect deploy --all   (package installed)
#   prefect worker start --pool {pool}      (with SOP_INPUTS, SOP_OUT, SOP_STORE_URL set)
# `sop deploy --pool {pool}` registers the same deployments without this file.
"""


def _flow_description(entrypoint: str) -> str | None:
    module, name = entrypoint.rsplit(".", 1)
    return getattr(importlib.import_module(module), name).description


def prefect_yaml_spec(
    deployments: list[RunnerDeployment], work_pool: str = DEFAULT_POOL,
    timezone: str = TIMEZONE_FROM_ENV,
) -> dict[str, Any]:
    """prefect.yaml's content for `deployments`: the same entrypoints, tags, parameters and
    schedules, bound to `work_pool`, the schedules in `timezone` (default: SOP_TIMEZONE)."""
    entries = []
    for d in deployments:
        if d.entrypoint is None:
            raise ValueError(f"deployment {d.full_name} has no entrypoint")
        entry: dict[str, Any] = {"name": d.name, "entrypoint": d.entrypoint}
        # A flow's docstring is its deployment's description anyway: repeat only others.
        if d.description and d.description != _flow_description(d.entrypoint):
            entry["description"] = d.description
        entry["tags"] = list(d.tags)
        entry["work_pool"] = {"name": work_pool}
        entry["parameters"] = dict(d.parameters)
        if d.concurrency_limit is not None:
            options = d.concurrency_options
            entry["concurrency_limit"] = {
                "limit": d.concurrency_limit,
                **({"collision_strategy": str(options.collision_strategy.value)}
                   if options is not None else {}),
            }
        rrules = [s.schedule for s in d.schedules or () if isinstance(s.schedule, RRuleSchedule)]
        if rrules:
            entry["schedules"] = [{"rrule": r.rrule, "timezone": timezone} for r in rrules]
        entries.append(entry)
    return {
        "name": "sop-consensus",
        "prefect-version": prefect.__version__,
        "pull": [{"prefect.deployments.steps.set_working_directory": {
            "directory": "{{ $SOP_HOME }}"}}],
        "deployments": entries,
    }


class _YamlDumper(yaml.SafeDumper):
    """Multi-line strings (an rrule set) as literal blocks, one line per rule."""


_YamlDumper.add_representer(
    str, lambda dumper, value: dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None))


def render_prefect_yaml(work_pool: str = DEFAULT_POOL, timezone: str = TIMEZONE_FROM_ENV,
                        holidays: str = "") -> str:
    """prefect.yaml as committed: built from `build_deployments()` with no folder defaults
    (a run takes SOP_INPUTS and SOP_OUT from the worker's environment) and, unless
    `holidays` is given, a schedule that skips weekends only (the committed file must not
    depend on the year or on SOP_HOLIDAYS when it is generated)."""
    # Any zone builds the schedules; the file names `timezone` in its place.
    spec = prefect_yaml_spec(build_deployments(timezone="UTC", holidays=holidays),
                             work_pool, timezone)
    body = yaml.dump(spec, Dumper=_YamlDumper, sort_keys=False, width=100,
                     allow_unicode=True)
    return YAML_HEADER.format(pool=work_pool) + body


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write-yaml", type=Path, required=True, metavar="FILE",
                        help="write the prefect.yaml for `prefect deploy --all` to FILE")
    parser.add_argument("--pool", default=DEFAULT_POOL, help="process work pool name")
    parser.add_argument("--timezone", default=TIMEZONE_FROM_ENV,
                        help="time zone of the schedule (default: SOP_TIMEZONE at deploy time)")
    parser.add_argument("--holidays", default="", metavar="SPEC",
                        help="holidays the schedule skips, as SOP_HOLIDAYS (e.g. FR or "
                        "FR,2027-05-07); resolved for this year and the next nine")
    args = parser.parse_args(argv)
    args.write_yaml.write_text(render_prefect_yaml(args.pool, args.timezone, args.holidays))


if __name__ == "__main__":  # pragma: no cover
    main()
