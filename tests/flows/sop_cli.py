"""`sop run` as a user types it, for the tests that compare whole published versions."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_sop(inputs: Path, out: Path, cycle: str, horizon: int, *, config: Path | None = None,
            partition_size: int | None = None, store: str | None = None) -> Path:
    """`sop run` in its own process (and its own temporary Prefect server); returns the
    folder of the version it published (asserting it succeeded). `partition_size` writes a
    config next to `out` (not with `config`)."""
    args = [sys.executable, "-m", "flows.cli", "run", "--inputs", str(inputs), "--cycle", cycle,
            "--out", str(out), "--horizon", str(horizon), "--jobs", "1"]
    if partition_size:
        assert config is None, "partition_size writes its own config"
        config = out.parent / f"{out.name}.yaml"
        config.write_text(f"execution:\n  partition_size: {partition_size}\n")
    if config is not None:
        args += ["--config", str(config)]
    if store is not None:
        args += ["--store", store]
    # A shared, loaded machine can be slow to start Prefect's temporary server.
    env = {**os.environ, "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "600",
           "PYTHONPATH": str(REPO)}
    env.pop("PREFECT_API_URL", None)
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    versions = sorted((out / f"cycle={cycle}").glob("version=*"),
                      key=lambda p: int(p.name.split("=")[1]))
    return versions[-1]
