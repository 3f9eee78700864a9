"""Publish one small version from its own process (used by the concurrency and fault tests).

    publish_worker.py OUT STORE_URL QTY [KILL_AT|wait]

KILL_AT: the step after which the process kills itself with SIGKILL ("claimed", "staged",
"promoted", "stored", "marked", "current"). `wait`: warm up (imports, a store connection),
print "ready", start on a line from stdin and print each step with its offset in seconds, so
a test can time a publication and kill one at a chosen instant of it.
"""

import io
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from test_publish import _frames, publish_once

from flows.store import PlanStore


def kill_at(wanted: str) -> Callable[[str], None]:
    def step(name: str) -> None:
        if name == wanted:
            os.kill(os.getpid(), signal.SIGKILL)

    return step


def wait_for_go(url: str) -> Callable[[str], None]:
    PlanStore(url).runs()  # loads the dialect and the driver
    _frames(0.0)["consensus_plan"].to_parquet(io.BytesIO())  # loads pyarrow's writer
    print("ready", flush=True)
    sys.stdin.readline()
    start = time.perf_counter()

    def step(name: str) -> None:
        print(f"step {name} {time.perf_counter() - start:.4f}", flush=True)

    return step


if __name__ == "__main__":
    out, url, qty, *mode = sys.argv[1:]
    hook = None
    if mode == ["wait"]:
        hook = wait_for_go(url)
    elif mode and mode[0] != "none":
        hook = kill_at(mode[0])
    print(publish_once(Path(out), url, float(qty), at_step=hook))
