"""A real Prefect server on loopback: deploy, trigger as the UI does, execute with `sop serve`."""

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from flows.io import write_inputs
from sample_data import generate_world

pytestmark = pytest.mark.integration

CYCLE = "2026-12"
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


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory) -> Iterator[dict[str, str]]:
    home = tmp_path_factory.mktemp("prefect-home")
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
        "PREFECT_LOGGING_LEVEL": "INFO",
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


async def _trigger_and_wait(env: dict[str, str], params: dict, timeout: float) -> dict:
    """Trigger the monthly deployment through the API, as the UI's Run button does."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async with get_client() as client:
        deployment = await client.read_deployment_by_name("sop-monthly/monthly")
        run = await client.create_flow_run_from_deployment(
            deployment.id, parameters={"params": params}
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = await client.read_flow_run(run.id)
            if run.state is not None and run.state.is_final():
                break
            await asyncio.sleep(2)
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
        )
        return {
            "state": run.state.type.value if run.state else None,
            "message": run.state.message if run.state else None,
            "schedules": [s.schedule.cron for s in deployment.schedules],
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
    assert sorted(result["schedules"]) == ["0 6 1 * 1-5", "0 6 2,3 * 1"]
    assert result["parameters"]["params"]["inputs"] == str(inputs)
    assert "params" in result["parameter_schema"]["properties"]
    assert {"markdown", "table"} <= set(result["artifacts"])
    assert (out / f"cycle={CYCLE}" / "version=1" / "consensus_plan.parquet").exists()


def test_server_binary_is_the_venvs() -> None:
    # The server and the CLI must come from the same pinned environment.
    assert shutil.which("prefect", path=str(Path(sys.executable).parent)) == PREFECT
