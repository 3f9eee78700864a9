"""A run killed with SIGKILL takes its temporary Prefect server with it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

CYCLE = "2026-12"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal: Linux")
def test_a_killed_run_leaves_no_temporary_server(inputs_dir: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    run = subprocess.Popen(
        [sys.executable, "-c", "from flows.cli import app; app()", "run", "--inputs",
         str(inputs_dir), "--cycle", CYCLE, "--out", str(tmp_path / "out"), "--horizon", "3"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    server = None
    deadline = time.monotonic() + 120
    while server is None and time.monotonic() < deadline and run.poll() is None:
        for child in psutil.Process(run.pid).children(recursive=True):
            try:
                if "uvicorn" in " ".join(child.cmdline()):
                    server = child
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.2)
    assert server is not None, "the run started no temporary server (or ended first)"
    os.kill(run.pid, signal.SIGKILL)
    run.wait(timeout=30)
    gone, alive = psutil.wait_procs([server], timeout=20)
    for process in alive:  # do not leave it behind, whatever the verdict
        process.kill()
    assert server in gone, "the temporary Prefect server outlived the killed run"
