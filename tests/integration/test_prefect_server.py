"""A real Prefect server on loopback: deploy, trigger as the UI does, execute with `sop serve`."""

import asyncio
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pandas as pd
import pytest

from flows.io import write_inputs
from sample_data import generate_world

pytestmark = pytest.mark.integration

CYCLE = "2026-12"
ROOT = Path(__file__).parents[2]
SOP = str(Path(sys.executable).with_name("sop"))
PREFECT = str(Path(sys.executable).with_name("prefect"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prefect server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise TimeoutError("prefect server did not become healthy")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@contextmanager
def _running_server(home: Path) -> Iterator[dict[str, str]]:
    """A `prefect server start` with its own home and port; the environment that reaches it."""
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        # Subprocesses (sop, workers, flow runs) import this checkout, not another install.
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
        "PREFECT_LOGGING_LEVEL": "INFO",
        # The server's own scheduler, on a short loop so its runs appear within seconds.
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
    }
    log = open(home / "server.log", "w")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        _wait_healthy(api, proc)
        yield env
    finally:
        _stop(proc)
        log.close()


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory) -> Iterator[dict[str, str]]:
    with _running_server(tmp_path_factory.mktemp("prefect-home")) as env:
        yield env


@pytest.fixture
def fresh_prefect_server(tmp_path_factory) -> Iterator[dict[str, str]]:
    """A server no other test has deployed to: its scheduler knows only this test's schedule
    (on a shared server, a loop that read an earlier schedule can still insert its runs
    after the redeploy has deleted them)."""
    with _running_server(tmp_path_factory.mktemp("prefect-home-fresh")) as env:
        yield env


async def _until_final(client: Any, run_id: Any, timeout: float) -> Any:
    """The flow run once it is in a final state, or as it is when `timeout` runs out."""
    deadline = time.monotonic() + timeout
    run = await client.read_flow_run(run_id)
    while time.monotonic() < deadline and not (run.state is not None and run.state.is_final()):
        await asyncio.sleep(1)
        run = await client.read_flow_run(run_id)
    return run


async def _trigger_and_wait(env: dict[str, str], params: dict, timeout: float) -> dict:
    """Trigger the monthly deployment through the API, as the UI's Run button does."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async with get_client() as client:
        deployment = await client.read_deployment_by_name("sop-monthly/monthly")
        run = await client.create_flow_run_from_deployment(
            deployment.id, parameters=params
        )
        run = await _until_final(client, run.id, timeout)
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
        )
        return {
            "state": run.state.type.value if run.state else None,
            "message": run.state.message if run.state else None,
            "schedules": [s.schedule.rrule for s in deployment.schedules],
            "parameters": deployment.parameters,
            "artifacts": [a.type for a in artifacts],
            "parameter_schema": deployment.parameter_openapi_schema,
        }


def test_deploy_trigger_and_serve_on_a_real_server(prefect_server, tmp_path: Path) -> None:
    env = prefect_server
    world = generate_world(n_skus=20, n_locations=2, history_months=36, cycle=CYCLE, horizon=6,
                           seed=3)
    inputs = tmp_path / "inputs"
    write_inputs(world.tables, inputs)
    out = tmp_path / "out"

    deployed = subprocess.run(
        [SOP, "deploy", "--inputs", str(inputs), "--out", str(out), "--timezone", "UTC"],
        env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert deployed.returncode == 0, deployed.stderr
    assert "sop-monthly/monthly" in deployed.stdout

    serve_log = open(tmp_path / "serve.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [SOP, "serve", "--inputs", str(inputs), "--out", str(out), "--timezone", "UTC"],
        env=env, stdout=serve_log, stderr=subprocess.STDOUT, cwd=tmp_path,
        start_new_session=True,
    )
    try:
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: env["PREFECT_API_URL"]}):
            result = asyncio.run(
                _trigger_and_wait(
                    env,
                    {"inputs": str(inputs), "out": str(out), "cycle": CYCLE, "horizon": 6},
                    timeout=400,
                )
            )
    finally:
        _stop(server)
        serve_log.close()
    log = (tmp_path / "serve.log").read_text()
    assert result["state"] == "COMPLETED", f"{result['message']}\n{log[-3000:]}"
    [rrule] = result["schedules"]
    assert "RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1;BYHOUR=6" in rrule
    assert result["parameters"] == {"inputs": str(inputs), "out": str(out)}
    assert {"inputs", "out", "cycle", "horizon", "store"} <= set(
        result["parameter_schema"]["properties"])
    assert {"markdown", "table"} <= set(result["artifacts"])
    assert (out / f"cycle={CYCLE}" / "version=1" / "consensus_plan.parquet").exists()


def test_the_server_refuses_a_store_password_before_storing_the_run(prefect_server,
                                                                    tmp_path: Path) -> None:
    """A password typed into the form's store field never reaches the server's database: the
    deployment's parameter schema refuses the run when it is created."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
    from prefect.settings import PREFECT_API_URL, temporary_settings

    env = prefect_server
    deployed = subprocess.run([SOP, "deploy", "--timezone", "UTC"], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    secret = "s3cret-" + tmp_path.name
    with temporary_settings({PREFECT_API_URL: env["PREFECT_API_URL"]}), \
            get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("sop-monthly/monthly")
        assert deployment.enforce_parameter_schema
        with pytest.raises(Exception, match=r"(?i)validation|422|pattern"):
            client.create_flow_run_from_deployment(deployment.id, parameters={
                "cycle": CYCLE, "store": f"postgresql+psycopg://planner:{secret}@db:5432/sop"})
        allowed = client.create_flow_run_from_deployment(deployment.id, parameters={
            "cycle": CYCLE, "store": "postgresql+psycopg://planner@db:5432/sop"})
        client.delete_flow_run(allowed.id)  # created, never run: no worker polls for it
        runs = client.read_flow_runs(deployment_filter=DeploymentFilter(
            name=DeploymentFilterName(any_=["monthly"])))
    assert all(secret not in json.dumps(r.parameters, default=str) for r in runs)


def _first_working_days(tz: str, after: datetime, count: int, days_off: set[date]
                        ) -> list[datetime]:
    """06:00 on the first Monday-to-Friday day not in `days_off` of each month after
    `after`, in `tz`."""
    zone = ZoneInfo(tz)
    local = after.astimezone(zone)
    year, month, out = local.year, local.month, []
    while len(out) < count:
        day = datetime(year, month, 1, 6, 0, tzinfo=zone)
        while day.weekday() >= 5 or day.date() in days_off:
            day += timedelta(days=1)
        if day > after:
            out.append(day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


async def _scheduled_runs(deployment: str, wanted: int, timeout: float) -> list[datetime]:
    """Wait until the server's scheduler has created `wanted` runs; their start times."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    async with get_client() as client:
        dep = await client.read_deployment_by_name(deployment)
        deadline = time.monotonic() + timeout
        runs: list = []
        while time.monotonic() < deadline:
            runs = await client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep.id])))
            runs = [r for r in runs if r.state is not None and r.state.is_scheduled()
                    and r.auto_scheduled]
            if len(runs) >= wanted:
                break
            await asyncio.sleep(2)
        return sorted(r.expected_start_time for r in runs)


def test_the_servers_scheduler_creates_the_monthly_runs(fresh_prefect_server, tmp_path: Path
                                                        ) -> None:
    """Not an API call: the server's scheduler service makes the next runs, at 06:00 on the
    first working day of each month in a zone east of UTC (fails with SQLAlchemy 2.1),
    skipping Japan's public holidays (1 January 2027 is a Friday) and a company day off put
    on next month's first weekday, so that a holiday is skipped whatever the month."""
    import holidays

    zone = "Asia/Tokyo"
    now = datetime.now(UTC)
    next_month = _first_working_days(zone, now, 1, set())[0].date()
    days_off = set(holidays.country_holidays("JP", years=[now.year, now.year + 1]))
    days_off.add(next_month)
    env = {**fresh_prefect_server, "SOP_HOLIDAYS": f"JP,{next_month.isoformat()}"}
    deployed = subprocess.run(
        [SOP, "deploy", "--inputs", str(tmp_path / "in"), "--out", str(tmp_path / "out"),
         "--timezone", zone],
        env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert deployed.returncode == 0, deployed.stderr
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: env["PREFECT_API_URL"]}):
        starts = asyncio.run(_scheduled_runs("sop-monthly/monthly", 3, timeout=120))
    expected = _first_working_days(zone, now, 3, days_off)
    assert next_month not in {e.date() for e in expected}
    assert len(starts) >= 3, f"the scheduler created {len(starts)} run(s)"
    assert [s.astimezone(UTC) for s in starts[:3]] == [e.astimezone(UTC) for e in expected]


def test_server_binary_is_the_venvs() -> None:
    # The server and the CLI must come from the same pinned environment.
    assert shutil.which("prefect", path=str(Path(sys.executable).parent)) == PREFECT


def _events(api_url: str, name: str, cycle: str, timeout: float = 60,
            where: Callable[[Any], bool] = lambda e: True) -> list:
    """The server's events of that name for the cycle that `where` accepts (the server is
    shared by this module's tests; events are stored asynchronously)."""
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter
    from prefect.settings import PREFECT_API_URL, temporary_settings

    deadline = time.monotonic() + timeout
    with temporary_settings({PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        while True:
            page = client.read_events(EventFilter(event=EventNameFilter(name=[name])), limit=50)
            found = [e for e in page.events if e.resource.get("sop.cycle") == cycle and where(e)]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(1)


async def _schedule_and_wait(deployment: str, params: dict, delay: float, timeout: float
                             ) -> dict:
    """A run of `deployment` due `delay` seconds from now, left to whoever polls its pool."""
    from prefect.client.orchestration import get_client
    from prefect.states import Scheduled

    async with get_client() as client:
        dep = await client.read_deployment_by_name(deployment)
        due = datetime.now(UTC) + timedelta(seconds=delay)
        run = await client.create_flow_run_from_deployment(
            dep.id, parameters=params, state=Scheduled(scheduled_time=due)
        )
        run = await _until_final(client, run.id, timeout)
        return {
            "id": str(run.id),
            "state": run.state.type.value if run.state else None,
            "message": run.state.message if run.state else None,
            "due": due,
            "started": run.start_time,
            "work_pool": run.work_pool_name,
            "deployment_pool": dep.work_pool_name,
            "deployment_parameters": dep.parameters,
        }


@pytest.mark.parametrize("partition_size", [None, 1], ids=["whole", "by-location"])
def test_a_pool_worker_executes_a_scheduled_run_and_publishes(prefect_server, tmp_path: Path,
                                                               partition_size: int | None
                                                               ) -> None:
    """`sop deploy --pool` creates the process pool; `prefect worker start` polls it, picks
    the run up when it falls due, and the run publishes a version (nothing calls the flow).
    The same with the settings a data engineer types in the UI to run one warehouse at a
    time (`settings: {execution: {partition_size: 1}}`)."""
    env = prefect_server
    world = generate_world(n_skus=6, n_locations=2, history_months=24, cycle=CYCLE, horizon=3,
                           seed=3)
    inputs = tmp_path / "inputs"
    write_inputs(world.tables, inputs)
    out = tmp_path / "out"
    pool = "sop-test-process"
    # No folders in the deployment: the run takes them from the worker's environment.
    deployed = subprocess.run(
        [SOP, "deploy", "--pool", pool], env=env, capture_output=True, text=True, timeout=120,
        cwd=tmp_path,
    )
    assert deployed.returncode == 0, deployed.stderr

    worker_env = {**env, "SOP_INPUTS": str(inputs), "SOP_OUT": str(out),
                  "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "2"}
    worker_log = open(tmp_path / "worker.log", "w")  # noqa: SIM115
    worker = subprocess.Popen(
        [PREFECT, "worker", "start", "--pool", pool, "--type", "process"],
        env=worker_env, stdout=worker_log, stderr=subprocess.STDOUT, cwd=tmp_path,
        start_new_session=True,
    )
    try:
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: env["PREFECT_API_URL"]}):
            params: dict[str, Any] = {"cycle": CYCLE, "horizon": 3}  # a partial set, as typed
            if partition_size:
                params["settings"] = {"execution": {"partition_size": partition_size}}
            result = asyncio.run(_schedule_and_wait("sop-monthly/monthly", params, delay=5,
                                                    timeout=300))
    finally:
        _stop(worker)
        worker_log.close()
    log = (tmp_path / "worker.log").read_text()
    assert result["state"] == "COMPLETED", f"{result['message']}\n{log[-3000:]}"
    assert result["deployment_pool"] == result["work_pool"] == pool
    assert result["deployment_parameters"] == {}
    assert result["id"] in log  # this worker, not another process, submitted it
    assert result["started"] >= result["due"] - timedelta(seconds=1)
    version = out / f"cycle={CYCLE}" / "version=1"
    assert (version / "consensus_plan.parquet").exists()
    # The run took the path asked for (the workspace's plan record counts the groups).
    (record,) = (out / "runs").glob("cycle=*/run=*/plan/result.json")
    assert json.loads(record.read_text())["partitions"] == (2 if partition_size else 1)
    from flows.store import PlanStore

    store = PlanStore(f"duckdb:///{out / 'sop.duckdb'}")
    try:
        runs = store.runs()
    finally:
        store.dispose()
    row = runs[(runs["cycle"] == CYCLE) & (runs["plan_version"] == 1)]
    assert row["status"].tolist() == ["published"]
    assert row["output_path"].iloc[0].endswith("version=1")
    assert row["run_id"].tolist() == [result["id"]]  # the monthly run, not its publish stage
    published_at = row["published_at"].iloc[0].to_pydatetime()
    assert published_at.tzinfo is not None and published_at >= result["due"]
    # Procurement systems subscribe to this event instead of polling the store.
    folder = row["output_path"].iloc[0]
    events = _events(env["PREFECT_API_URL"], "sop.plan.published", CYCLE,
                     where=lambda e: e.payload.get("folder") == folder)
    assert len(events) == 1, events
    payload = events[0].payload
    assert payload["plan_version"] == 1
    assert payload["rows"] == len(pd.read_parquet(version / "consensus_plan.parquet"))
    assert payload["changed_rows"] == 0  # the first version has nothing to differ from
    assert events[0].resource["prefect.resource.id"] == f"sop.plan.{CYCLE}"


def test_a_failed_run_emits_sop_plan_failed(prefect_server, tmp_path: Path) -> None:
    """A run that a data contract stops says so as an event, naming the stage."""
    env = prefect_server
    cycle = "2026-11"
    world = generate_world(n_skus=4, n_locations=1, history_months=24, cycle=cycle, horizon=3,
                           seed=4)
    inputs = tmp_path / "inputs"
    write_inputs(world.tables, inputs)
    (inputs / "products.csv").write_text("sku,family,units_per_pallet,lead_time_months,"
                                         "unit_cost\nX,F,-1,1,1\n")
    ran = subprocess.run(
        [SOP, "run", "--inputs", str(inputs), "--cycle", cycle, "--out", str(tmp_path / "out"),
         "--horizon", "3"], env=env, capture_output=True, text=True, timeout=300,
    )
    assert ran.returncode == 3, ran.stdout + ran.stderr
    events = _events(env["PREFECT_API_URL"], "sop.plan.failed", cycle)
    assert len(events) == 1, events
    assert events[0].payload["stage"] == "ingest_and_check"
    assert "products.units_per_pallet" in events[0].payload["error"]
    # The failed run's page shows what was refused and the rejected rows, line by line.
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.settings import PREFECT_API_URL, temporary_settings

    key = f"sop-{cycle}-rejects"
    with temporary_settings({PREFECT_API_URL: env["PREFECT_API_URL"]}), \
            get_client(sync_client=True) as client:
        found = {a.key: a for a in client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key, f"{key}-rows"])))}
    assert set(found) == {key, f"{key}-rows"}, found
    assert "| products | units_per_pallet |" in str(found[key].data)
    assert "rejects.csv" in str(found[key].data)
    rows = found[f"{key}-rows"].data
    rows = json.loads(rows) if isinstance(rows, str) else rows
    assert {(r["table"], r["source_line"], r["column"]) for r in rows} >= {
        ("products", "2", "units_per_pallet")}


@contextmanager
def _webhook_receiver() -> Iterator[tuple[str, "queue.Queue[dict]"]]:
    """An HTTP endpoint on loopback standing in for a procurement system: its URL and the
    requests it got (method, path, headers, JSON body)."""
    received: queue.Queue[dict] = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.put({"method": "POST", "path": self.path, "headers": dict(self.headers),
                          "body": json.loads(body)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sop/plan-events", received
    finally:
        server.shutdown()
        server.server_close()


def _emit(env: dict[str, str], call: str) -> None:
    """An event from another process, as the publish stage or the monthly flow emits it."""
    emitted = subprocess.run(
        [sys.executable, "-c", f"from flows.events import *; {call}"], env=env,
        capture_output=True, text=True, timeout=120)
    assert emitted.returncode == 0, emitted.stderr


def _post_for(received: "queue.Queue[dict]", event: str, cycle: str, timeout: float
              ) -> dict | None:
    """The first request for `event` of `cycle` within `timeout` seconds, else None."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            post = received.get(timeout=left)
        except queue.Empty:
            return None
        if post["body"]["event"] == event and post["body"]["payload"].get("cycle") == cycle:
            return post
    return None


def test_sop_notify_posts_plan_events_to_a_webhook(prefect_server, tmp_path: Path) -> None:
    """`sop notify --url` registers an automation; the server's triggers and actions services
    POST each event to the subscriber (nothing polls)."""
    env = prefect_server
    cycle, version = "2031-05", 3  # a cycle no other test of the module publishes
    published = (f"plan_published({cycle!r}, {version}, rows=12, folder='/x/cycle={cycle}', "
                 "store='duckdb:///x', changed_rows=3)")
    with _webhook_receiver() as (url, received):
        notified = subprocess.run(
            [SOP, "notify", "--url", url, "--header", "Authorization: Bearer t0ken",
             "--name", "sop-test-webhook"],
            env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path,
        )
        assert notified.returncode == 0, notified.stdout + notified.stderr
        assert "sop-test-webhook" in notified.stdout
        try:
            post, deadline, emitted = None, time.monotonic() + 90, 0
            # The triggers service takes up a new automation within seconds: an event emitted
            # before it has is not acted on, so emit again until one arrives.
            while post is None and time.monotonic() < deadline:
                _emit(env, published)
                emitted += 1
                post = _post_for(received, "sop.plan.published", cycle, timeout=15)
            _emit(env, f"plan_failed({cycle!r}, 'reconcile', RuntimeError('solver gave up'))")
            failed = _post_for(received, "sop.plan.failed", cycle, timeout=60)
        finally:
            from prefect.settings import PREFECT_API_URL, temporary_settings

            from flows.automations import remove_plan_webhook

            with temporary_settings({PREFECT_API_URL: env["PREFECT_API_URL"]}):
                assert remove_plan_webhook("sop-test-webhook")
    assert post is not None, f"no POST within 90 s ({emitted} events emitted)"
    assert post["path"] == "/sop/plan-events"
    assert post["headers"]["Authorization"] == "Bearer t0ken"
    assert post["headers"]["Content-Type"] == "application/json"
    body = post["body"]
    assert body["event"] == "sop.plan.published"
    assert body["resource"] == f"sop.plan.{cycle}"
    assert body["payload"]["cycle"] == cycle and body["payload"]["plan_version"] == version
    assert body["payload"]["changed_rows"] == 3
    assert datetime.fromisoformat(body["occurred"]).tzinfo is not None
    # Once the automation is live, one event is one call.
    assert failed is not None, "no POST for sop.plan.failed within 60 s"
    assert failed["body"]["payload"] == {"cycle": cycle, "stage": "reconcile",
                                         "error": "RuntimeError: solver gave up"}



def test_prefect_deploy_all_takes_the_generated_yaml_with_holidays(prefect_server,
                                                                    tmp_path: Path) -> None:
    """The path of teams that use `prefect deploy`: a prefect.yaml generated with --holidays,
    the zone taken from SOP_TIMEZONE when deploying; the server holds the same rule set."""
    from prefect.server.schemas.schedules import RRuleSchedule

    env = {**prefect_server, "SOP_HOME": str(tmp_path), "SOP_TIMEZONE": "Europe/Paris"}
    pool = "sop-yaml-process"
    generated = subprocess.run(
        [sys.executable, "-m", "flows.deploy", "--write-yaml", str(tmp_path / "prefect.yaml"),
         "--pool", pool, "--holidays", "FR"], env=env, capture_output=True, text=True,
        timeout=120)
    assert generated.returncode == 0, generated.stderr
    for command in (["work-pool", "create", pool, "--type", "process"],
                    ["--no-prompt", "deploy", "--all"]):
        ran = subprocess.run([PREFECT, *command], env=env, capture_output=True, text=True,
                             timeout=300, cwd=tmp_path)
        assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: env["PREFECT_API_URL"]}), \
            get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("sop-monthly/monthly")
    [schedule] = [s.schedule for s in deployment.schedules]
    assert deployment.work_pool_name == pool
    assert schedule.timezone == "Europe/Paris"
    server_side = RRuleSchedule(rrule=schedule.rrule, timezone=schedule.timezone)
    this_year = datetime.now(UTC).year
    fired = asyncio.run(server_side.get_dates(
        n=12, start=datetime(this_year + 1, 1, 1, tzinfo=UTC)))
    import holidays

    days_off = set(holidays.country_holidays("FR", years=this_year + 1))
    assert len({(d.year, d.month) for d in fired}) == 12
    assert all(d.hour == 6 and d.weekday() < 5 and d.date() not in days_off for d in fired)
    assert date(this_year + 1, 1, 1) not in {d.date() for d in fired}
