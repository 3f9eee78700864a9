"""Time every stage of `sop run` and its peak memory on large inputs; write docs/benchmarks.md.

    .venv/bin/python -m benchmarks.generate --sizes 1k,10k
    .venv/bin/python -m benchmarks.stages --sizes 1k,10k [--engine dask] [--data DIR]
    .venv/bin/python -m benchmarks.stages --sizes 100k --stand-in-models   # memory only

Each size runs `sop run` (the real CLI command, fresh output folder, so no baseline cache) in
a child process of its own. In that process the stage sub-flows, the report renderer and the
engine's statsforecast calls are wrapped with timers (nothing is added to the pipeline's
code), and a sampler thread records the resident memory of the process and all of its
children (statsforecast pools, Dask workers) every 0.2 s. "Model fitting" is the time spent
inside statsforecast's `forecast` / `cross_validation` calls; everything else is overhead
that the pipeline itself owns. The table goes into its own marked section of
docs/benchmarks.md; other sections of that file are kept as they are.
"""

import argparse
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from benchmarks.doc import update_section

START, END = "<!-- stages:start -->", "<!-- stages:end -->"
MEMORY_START, MEMORY_END = "<!-- memory:start -->", "<!-- memory:end -->"
# Hand-written findings after the generated tables; kept when the tables are regenerated.
NOTES = "<!-- stages:notes -->"
STAGES = ("ingest_and_check", "baselines", "reconcile", "publish")
CYCLE = "2026-12"
STAND_IN_ENV = "SOP_BENCH_STAND_IN_MODELS"  # set by --stand-in-models for the child


# ---------------------------------------------------------------- child: one measured run


class MemorySampler(threading.Thread):
    """Peak RSS (bytes) per stage label and overall: this process alone, and with all its
    descendants (Prefect's temporary API server, statsforecast pools, Dask workers)."""

    def __init__(self, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        import psutil

        self.proc = psutil.Process()
        self.interval = interval
        self.stage = "outside stages"  # imports, Prefect start-up, between stages, exit
        self.peak: dict[str, int] = {}
        self.peak_self: dict[str, int] = {}
        self._halt = threading.Event()

    def rss(self) -> tuple[int, int]:
        own = self.proc.memory_info().rss
        total = own
        for p in self.proc.children(recursive=True):
            try:
                total += p.memory_info().rss
            except Exception:  # a child ended between listing and reading
                continue
        return own, total

    def sample(self) -> None:
        own, total = self.rss()
        for key in (self.stage, "total"):
            self.peak[key] = max(self.peak.get(key, 0), total)
            self.peak_self[key] = max(self.peak_self.get(key, 0), own)

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()
        self.sample()


def _instrument(sampler: MemorySampler, timings: dict[str, float]) -> None:
    """Wrap stage flows, report rendering and the engines' statsforecast calls with timers."""
    import flows.pipeline as pipeline
    import flows.version_files as version_files
    from forecasting import engines

    def timed(name: str, fn: Any, stage: bool = False) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            before = sampler.stage
            if stage:
                sampler.stage = name
            start, cpu = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                timings[name] = timings.get(name, 0.0) + time.perf_counter() - start
                cpu_name = f"{name}_cpu"
                timings[cpu_name] = timings.get(cpu_name, 0.0) + time.process_time() - cpu
                if stage:
                    sampler.sample()
                    sampler.stage = before

        wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
        return wrapper

    pipeline.ingest_and_check = timed("ingest_and_check", pipeline.ingest_and_check, True)
    pipeline.baselines_stage = timed("baselines", pipeline.baselines_stage, True)
    pipeline.reconcile_stage = timed("reconcile", pipeline.reconcile_stage, True)
    pipeline.publish_stage = timed("publish", pipeline.publish_stage, True)
    version_files.render_report = timed("report", version_files.render_report)
    for cls in (engines.LocalEngine, engines.DaskEngine):
        cls.forecast = timed("fit_forecast", cls.forecast)  # type: ignore[method-assign]
        cls.cross_validation = timed(  # type: ignore[method-assign]
            "fit_cross_validation", cls.cross_validation)


def stand_in_models() -> None:
    """Memory runs: SeasonalNaive and Naive fitted under the names of AutoETS and
    DynamicOptimizedTheta, so the baseline stage takes minutes instead of hours at 100k.

    Every frame the pipeline builds keeps its rows and columns (same series, candidates,
    windows, horizon and intervals), so the memory of the stages around fitting is what a
    real run needs; the fitting times of such a run say nothing and are not reported.
    """
    from statsforecast.models import Naive, SeasonalNaive

    import forecasting.models as models

    def ets(season_length: int, alias: str) -> SeasonalNaive:
        return SeasonalNaive(season_length=season_length, alias=alias)

    def theta(season_length: int, alias: str) -> Naive:
        return Naive(alias=alias)

    models.AutoETS = ets  # type: ignore[assignment]
    models.DynamicOptimizedTheta = theta  # type: ignore[assignment]


def run_child(inputs: str, out: str, horizon: int, extra: list[str], profile: str | None
              ) -> dict[str, Any]:
    """One `sop run` in this process, instrumented; returns timings (s) and peaks (bytes)."""
    import resource

    if os.environ.get(STAND_IN_ENV) == "1":
        stand_in_models()
    sampler = MemorySampler()
    sampler.start()
    timings: dict[str, float] = {}
    _instrument(sampler, timings)
    from flows.cli import app

    args = ["run", "--inputs", inputs, "--cycle", CYCLE, "--out", out,
            "--horizon", str(horizon), *extra]
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.01)
        profiler.start()
    start = time.perf_counter()
    try:
        app(args, standalone_mode=False)
    finally:
        timings["sop_run_total"] = time.perf_counter() - start
        if profiler is not None:
            profiler.stop()
            Path(profile).write_text(profiler.output_text(unicode=True, show_all=False))
            Path(profile).with_suffix(".html").write_text(profiler.output_html())
        sampler.stop()
    usage_self = resource.getrusage(resource.RUSAGE_SELF)
    usage_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    manifests = sorted(Path(out).glob(f"cycle={CYCLE}/version=*/manifest.json"))
    manifest = json.loads(manifests[-1].read_text()) if manifests else {}
    return {
        "seconds": timings,
        "peak_rss": sampler.peak,
        "peak_rss_self": sampler.peak_self,
        "maxrss_self": usage_self.ru_maxrss * 1024,
        "maxrss_children": usage_children.ru_maxrss * 1024,
        "cpu_seconds": usage_self.ru_utime + usage_self.ru_stime
        + usage_children.ru_utime + usage_children.ru_stime,
        "series": manifest.get("baselines", {}).get("series"),
        "plan_rows": manifest.get("rows", {}).get("consensus_plan"),
    }


# ---------------------------------------------------------------- parent: sizes and report


def machine() -> dict[str, Any]:
    import psutil

    model = platform.processor() or ""
    try:
        text = Path("/proc/cpuinfo").read_text()
        found = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        model = found.group(1).strip() if found else model
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": model,
        "python": platform.python_version(),
        "statsforecast": package_version("statsforecast"),
        "os": platform.platform(terse=True),
    }


def run_size(label: str, data: Path, horizon: int, extra: list[str], keep: Path | None,
             profile: bool) -> dict[str, Any]:
    """Run one size in a fresh child process (its own memory peak, no warm caches)."""
    inputs = data / label / "inputs"
    if not inputs.is_dir():
        raise SystemExit(f"{inputs} not found: run `python -m benchmarks.generate --sizes "
                         f"{label} --out {data}` first")
    with tempfile.TemporaryDirectory(prefix=f"sop-bench-{label}-") as tmp:
        out = str((keep / label) if keep else Path(tmp) / "out")
        result_file = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "benchmarks.stages", "--child", str(inputs), out,
               str(horizon), str(result_file), json.dumps(extra)]
        if profile:
            results = Path("benchmarks/results")
            results.mkdir(parents=True, exist_ok=True)
            cmd.append(str(results / f"profile-{label}.txt"))
        load_before = os.getloadavg()
        subprocess.run(cmd, check=True)
        result = json.loads(result_file.read_text())
    result["size"] = label
    result["load_before"] = [round(x, 2) for x in load_before]
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    world = data / label / "world.json"
    if world.exists():
        result["world"] = json.loads(world.read_text())
    return result


def stage_rows(r: dict[str, Any], suffix: str = "") -> dict[str, float]:
    """Seconds per reported stage; suffix "_cpu" gives this process's CPU seconds instead."""
    s = r["seconds"]

    def get(name: str) -> float:
        return float(s.get(name + suffix, 0.0))

    fitting = get("fit_forecast") + get("fit_cross_validation")
    return {
        "ingest + contracts": get("ingest_and_check"),
        "baselines: model fitting": fitting,
        "baselines: rest": get("baselines") - fitting,
        "reconcile (consensus + capacity LP)": get("reconcile"),
        "publish (stage, audit, store)": get("publish") - get("report"),
        "report (HTML)": get("report"),
    }


def memory_lines(results: list[dict[str, Any]]) -> list[str]:
    """The peak-memory table: per stage, the process alone and with its children."""
    mb = 2**20
    sizes = [r["size"] for r in results]
    lines = ["Peak resident memory in MiB (2^20 bytes), sampled every 0.2 s: the `sop run` "
             "process alone, and with all its child processes (Prefect's temporary API server, "
             "~250 MB, and with `--engine dask` the cluster's workers); `ru_maxrss` of the process "
             "as a cross-check:", "",
             "| stage | " + " | ".join(f"{s} process | {s} with children" for s in sizes)
             + " |", "|---|" + "---:|---:|" * len(sizes)]
    for stage in (*STAGES, "total"):
        cells = []
        for r in results:
            own = r.get("peak_rss_self", {}).get(stage)
            cells += ["" if own is None else f"{own / mb:.0f}",
                      f"{r['peak_rss'].get(stage, 0) / mb:.0f}"]
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    lines.append("| ru_maxrss (process) | " + " | ".join(
        f"{r['maxrss_self'] / mb:.0f} | " for r in results) + " |")
    return lines


def render_memory(results: list[dict[str, Any]], info: dict[str, Any], command: str,
                  engine: str) -> str:
    """The memory run's section: peaks only, since its model fitting is a stand-in."""
    lines = [
        MEMORY_START,
        "## Peak memory at full size, stand-in models (`sop run`)",
        "",
        f"Machine: {info['nproc']} cores ({info['cpu']}), {info['ram_gb']} GB RAM, "
        f"{info['os']}, Python {info['python']}, statsforecast {info['statsforecast']}. "
        f"Engine: `{engine}`. Measured {time.strftime('%Y-%m-%d')}.",
        "",
        "```",
        command,
        "```",
        "",
        "The real `sop run` with SeasonalNaive and Naive fitted under the names of AutoETS and "
        "DynamicOptimizedTheta (`--stand-in-models`): the same series, candidates, CV windows, "
        "horizon and intervals, so every frame has the rows and columns of a real run and the "
        "stages around fitting need the memory they need in a real run, in minutes instead of "
        "hours. Times of this run are not reported: its fitting is not real. Series: "
        + ", ".join(f"{r['size']} {r.get('series') or ''}" for r in results)
        + "; consensus_plan rows: "
        + ", ".join(f"{r['size']} {r.get('plan_rows') or ''}" for r in results) + ".",
        "",
        *memory_lines(results),
        MEMORY_END,
    ]
    return "\n".join(lines)


def render(results: list[dict[str, Any]], info: dict[str, Any], command: str,
           engine: str) -> str:
    sizes = [r["size"] for r in results]
    lines = [
        START,
        "## Stage timings and peak memory (`sop run`)",
        "",
        f"Machine: {info['nproc']} cores ({info['cpu']}), {info['ram_gb']} GB RAM, "
        f"{info['os']}, Python {info['python']}, statsforecast {info['statsforecast']}. "
        f"Engine: `{engine}`. Measured {time.strftime('%Y-%m-%d')}; the machine is shared, "
        "so compare figures within one run (1-minute load average before each size: "
        + ", ".join(f"{r['size']} {r['load_before'][0]:.1f}" for r in results) + ").",
        "",
        "```",
        command,
        "```",
        "",
        "Inputs from `benchmarks/generate.py` (sample world, 60 months of history, 18-month "
        "horizon, CSV). Seconds of wall time per stage; *model fitting* is the time inside "
        "statsforecast's `forecast`/`cross_validation` calls of `fit_baselines`.",
        "",
        "| stage | " + " | ".join(f"{s} wall | {s} CPU" for s in sizes) + " |",
        "|---|" + "---:|---:|" * len(sizes),
    ]
    rows = [stage_rows(r) for r in results]
    cpus = [stage_rows(r, "_cpu") for r in results]

    def pair(values: list[float], fmt: str = "{:.1f}") -> str:
        return " | ".join(fmt.format(v) for v in values)

    for name in rows[0]:
        cells = [v for row, cpu in zip(rows, cpus, strict=True) for v in (row[name], cpu[name])]
        lines.append(f"| {name} | " + pair(cells) + " |")
    totals = [sum(row.values()) for row in rows]
    cpu_totals = [sum(cpu.values()) for cpu in cpus]
    lines.append("| **sum of stages** | " + pair(
        [v for t, c in zip(totals, cpu_totals, strict=True) for v in (t, c)], "**{:.1f}**")
        + " |")
    lines.append("| whole `sop run` incl. Prefect start-up | " + " | ".join(
        f"{r['seconds']['sop_run_total']:.1f} | " for r in results) + " |")
    shares = [1 - row["baselines: model fitting"] / t if t else 0.0
              for row, t in zip(rows, totals, strict=True)]
    cpu_shares = [1 - cpu["baselines: model fitting"] / t if t else 0.0
                  for cpu, t in zip(cpus, cpu_totals, strict=True)]
    lines.append("| **everything but model fitting**, share of stages | " + pair(
        [100 * v for a, b in zip(shares, cpu_shares, strict=True) for v in (a, b)],
        "**{:.1f} %**") + " |")
    lines.append("| CPU seconds, whole process incl. start-up | " + " | ".join(
        f" | {r['cpu_seconds']:.0f}" for r in results) + " |")
    lines.append("| series (SKU x location) | "
                 + " | ".join(f"{r.get('series') or ''} | " for r in results) + " |")
    lines.append("| consensus_plan rows | "
                 + " | ".join(f"{r.get('plan_rows') or ''} | " for r in results) + " |")
    lines += ["", "CPU = CPU seconds of the `sop run` process (all its threads) inside the "
              "stage; with the local engine and `--jobs 1` (this benchmark's default; `sop "
              "run` itself uses every core) model fitting runs in that process. Under load "
              "from other jobs wall time stretches, CPU time much less."
              + (" With `--engine dask` the fitting CPU is spent in the workers and is not "
                 "counted here; *baselines: rest* then includes starting and stopping the "
                 "local cluster." if engine == "dask" else "")]
    lines += ["", *memory_lines(results)]
    if len(results) > 1:
        base, top = results[0], results[-1]
        n0, n1 = base.get("series") or 1, top.get("series") or 1
        lines += ["", f"Linearity {base['size']} → {top['size']} (series x{n1 / n0:.1f}), "
                  "ratio of CPU seconds: " + ", ".join(
                      f"{name} x{cpus[-1][name] / cpus[0][name]:.1f}"
                      for name in cpus[0] if cpus[0][name] > 0.05)
                  + f"; sum of stages x{cpu_totals[-1] / cpu_totals[0]:.1f}."]
        lines += ["", *per_series_table(base, top)]
    lines.append(END)
    return "\n".join(lines)


def per_series_table(base: dict[str, Any], top: dict[str, Any]) -> list[str]:
    """Milliseconds per series at two sizes and their ratio (the linearity target: <= 1.2).

    CPU here is the process plus its children (Dask workers, Prefect's server), so it counts
    the fitting wherever it ran; wall time also counts waiting on a loaded machine."""
    def measures(r: dict[str, Any]) -> dict[str, float]:
        row = stage_rows(r)
        fitting = row["baselines: model fitting"]
        return {
            "model fitting, wall": fitting,
            "everything but model fitting, wall": sum(row.values()) - fitting,
            "whole `sop run`, wall": r["seconds"]["sop_run_total"],
            "whole `sop run`, CPU of process + children": r["cpu_seconds"],
        }

    n0, n1 = base.get("series") or 1, top.get("series") or 1
    m0, m1 = measures(base), measures(top)
    lines = [f"Time per series in ms, {base['size']} ({n0} series) and {top['size']} ({n1}):",
             "", f"| measure | {base['size']} | {top['size']} | ratio |", "|---|---:|---:|---:|"]
    for name in m0:
        a, b = 1000 * m0[name] / n0, 1000 * m1[name] / n1
        lines.append(f"| {name} | {a:.1f} | {b:.1f} | {b / a if a else float('nan'):.2f} |")
    return lines


def write_section(path: Path, section: str) -> None:
    """Put a rendered section (stages or memory) into its place in the doc, which keeps every
    other section and this section's notes."""
    lines = section.strip("\n").split("\n")
    marker = lines[0].removeprefix("<!-- ").removesuffix(":start -->")
    assert marker in ("stages", "memory") and lines[-1] == f"<!-- {marker}:end -->", \
        "render() and render_memory() frame the section"
    update_section(marker, lines[1], "\n".join(lines[2:-1]).strip("\n"), path)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        inputs, out, horizon, result_file, extra = argv[1:6]
        profile = argv[6] if len(argv) > 6 else None
        result = run_child(inputs, out, int(horizon), json.loads(extra), profile)
        Path(result_file).write_text(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1k,10k")
    parser.add_argument("--data", type=Path, default=Path("benchmarks/results/data"))
    parser.add_argument("--horizon", type=int, default=18)
    parser.add_argument("--engine", choices=("local", "dask"), default="local")
    parser.add_argument("--dask-address", default=None)
    # One fitting process by default: the CPU column counts this process only, and fitting
    # in a process pool would move its CPU out of sight (`sop run` itself uses every core).
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--config", type=Path, default=None,
                        help="`sop run --config` file, e.g. execution.partition_size")
    parser.add_argument("--doc", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--json", type=Path, default=None, help="also save raw results here")
    parser.add_argument("--keep", type=Path, default=None, help="keep outputs under this folder")
    parser.add_argument("--profile", action="store_true",
                        help="pyinstrument profile per size in benchmarks/results/")
    parser.add_argument("--stand-in-models", action="store_true",
                        help="memory run: cheap models under the real names (see "
                        "stand_in_models); writes the memory section, not the stages one")
    parser.add_argument("--no-doc", action="store_true", help="print, do not write the doc")
    parser.add_argument("--from-json", type=Path, default=None,
                        help="render saved results (from --json) instead of running")
    args = parser.parse_args(argv)
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        draw = render_memory if saved.get("stand_in_models") else render
        section = draw(saved["results"], saved["machine"], saved["command"], saved["engine"])
        print(section)
        if not args.no_doc:
            write_section(args.doc, section)
        return
    extra = []
    if args.engine != "local":
        extra += ["--engine", args.engine]
    if args.dask_address:
        extra += ["--dask-address", args.dask_address]
    extra += ["--jobs", str(args.jobs)]
    if args.config:
        extra += ["--config", str(args.config.resolve())]
    if args.stand_in_models:
        os.environ[STAND_IN_ENV] = "1"  # read by the child process of each size
    info = machine()
    results = []
    for label in args.sizes.split(","):
        results.append(run_size(label, args.data, args.horizon, extra, args.keep, args.profile))
        print(json.dumps({k: results[-1][k] for k in ("size", "seconds", "peak_rss")}),
              flush=True)
    command = ".venv/bin/python -m benchmarks.stages " + shlex.join(argv)
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "results": results,
                                         "command": command, "engine": args.engine,
                                         "stand_in_models": args.stand_in_models}, indent=2))
    draw = render_memory if args.stand_in_models else render
    section = draw(results, info, command, args.engine)
    print(section)
    if not args.no_doc:
        write_section(args.doc, section)


if __name__ == "__main__":
    main()
