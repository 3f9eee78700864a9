"""Run `sop ARGS` as the entry point does, then write the heavy modules it imported to a file.

Used by test_cli_startup.py: `python cli_probe.py ARGS` with SOP_PROBE_REPORT=FILE.
"""

import atexit
import json
import os
import sys
from pathlib import Path

HEAVY = ("prefect", "statsforecast", "duckdb", "sqlalchemy", "pandas")


def _report() -> None:
    loaded = [name for name in HEAVY if name in sys.modules]
    with open(os.environ["SOP_PROBE_REPORT"], "w") as handle:
        json.dump(loaded, handle)


atexit.register(_report)  # runs at exit, whatever exit code the command chose

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the tree under test
    from flows.cli import app

    sys.argv = ["sop", *sys.argv[1:]]
    app()
