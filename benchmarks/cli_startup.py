"""How long `sop` takes to answer when it has nothing to compute: help, a missing inputs folder,
a bad config file. Each as a ratio to `python -c "import typer"`, the floor of any Typer CLI.

Reproduce: .venv/bin/python -m benchmarks.cli_startup [--repeats 5] [--tree PATH]
Every command runs in a fresh interpreter (`python -m flows.cli ...`, the `sop` entry point);
the figure is the median wall time of `--repeats` runs, all measured in one run of this script.
`--tree` measures another checkout of the project (e.g. the main branch, for a before/after).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.doc import machine, update_section

ROOT = Path(__file__).resolve().parents[1]
# The config a user mistypes: a value out of range (refused by every version of sop).
BAD_VALUE = "contracts:\n  quarantine:\n    sales_history: 3\n"
# And a misspelt section: `sop` before this benchmark ignored it and ran the whole flow.
BAD_KEY = "forcasting:\n  season_length: 12\n"


def cases(folder: Path) -> dict[str, list[str]]:
    inputs = folder / "inputs"
    inputs.mkdir(exist_ok=True)
    (folder / "bad_value.yaml").write_text(BAD_VALUE)
    (folder / "bad_key.yaml").write_text(BAD_KEY)
    run = ["run", "--cycle", "2026-12", "--out", str(folder / "out")]
    return {
        "`sop --help`": ["--help"],
        "`sop run`, inputs folder missing": [*run, "--inputs", str(folder / "missing")],
        "`sop run --config` with a value out of range": [
            *run, "--inputs", str(inputs), "--config", str(folder / "bad_value.yaml")],
        "`sop run --config` with a misspelt key": [
            *run, "--inputs", str(inputs), "--config", str(folder / "bad_key.yaml")],
    }


def seconds(argv: list[str], tree: Path, repeats: int) -> tuple[float, int]:
    """Median wall time of `repeats` runs, and the exit code of the last one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PYTHONPATH"] = str(tree)
    times, code = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, *argv], cwd=tree, env=env, capture_output=True,
                              timeout=600)
        times.append(time.perf_counter() - start)
        code = proc.returncode
    return statistics.median(times), code


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--tree", type=Path, default=ROOT, help="checkout to measure")
    ap.add_argument("--skip-key", action="store_true",
                    help="leave out the misspelt key (a checkout that accepts it runs a flow)")
    ap.add_argument("--no-doc", action="store_true", help="print only, leave the doc alone")
    args = ap.parse_args()
    tree = args.tree.resolve()
    floor, _ = seconds(["-c", "import typer"], tree, args.repeats)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, argv in cases(Path(tmp)).items():
            if args.skip_key and "misspelt" in label:
                continue
            wall, code = seconds(["-m", "flows.cli", *argv], tree, args.repeats)
            rows.append((label, wall, wall / floor, code))
            print(f"{label}: {wall:.2f} s, x{wall / floor:.1f}, exit {code}", flush=True)
    lines = ["| command | median (s) | ratio to `import typer` | exit code |",
             "|---|---:|---:|---:|"]
    lines += [f"| {label} | {wall:.2f} | {ratio:.1f} | {code} |"
              for label, wall, ratio, code in rows]
    body = "\n".join([
        f"Machine: {machine()}. Command: `.venv/bin/python -m benchmarks.cli_startup` "
        f"(`make bench-cli`); median of {args.repeats} runs each, one fresh interpreter per run.",
        f"`python -c \"import typer\"` takes {floor:.2f} s on it.",
        "",
        *lines,
    ])
    if args.no_doc:
        print(body)
    else:
        update_section("cli", "## Command-line start-up (`sop` answering without work)", body)


if __name__ == "__main__":
    main()
