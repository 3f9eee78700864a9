"""Rewrite the README's figures from a real demo run: `python -m docs.readme_figures sop-demo`.

The README quotes what `make demo` and its what-if print. Those passages sit between
`<!-- demo:NAME -->` and `<!-- /demo:NAME -->` and are generated here from the demo's own
outputs, so they cannot drift from the code. Run after `make demo` and
`.venv/bin/sop whatif --base 2026-12 --scenario examples/scenario-promo.yaml --out sop-demo`;
`--check` rewrites nothing and exits 1 when the README differs
(tests/reporting/test_readme_figures.py does the same against a fresh demo run).
"""

import argparse
import json
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from flows.output_tree import OutputTree

README = Path(__file__).resolve().parents[1] / "README.md"
DEMO_OUT = "sop-demo"  # the folder `make demo` writes, as the README names it
SCENARIO_NAME = "autumn-promo-north"  # examples/scenario-promo.yaml
WIDTH = 88  # the README's prose is wrapped at this width


@dataclass(frozen=True)
class DemoFigures:
    """What a demo run's outputs say, in the README's terms."""

    cycle: str
    n_skus: int
    n_families: int
    n_warehouses: int
    history_months: int
    n_teams: int
    squeeze: list[tuple[str, str]]  # (location, period) of the dated, tighter warehouse rows
    n_series: int
    overtime_months: int
    short_months: int
    prebuild: list[tuple[str, str]]  # (location, period) where the plan receives ahead of need
    verdict: str
    previous_cycle: str  # the cycle the demo publishes first, a month before `cycle`
    compared_with: str  # the plan cycle's plan_changes compare with ("2026-11 version 1")
    plan_changes: int  # rows of cycle's plan_changes
    firm_receipts: int  # receipts of previous_cycle's plan the time fence kept
    fence_changes: int  # FROZEN_FENCE_CHANGE warnings


def _months(periods: list[str]) -> str:
    return ", ".join(periods[:-1]) + (" and " if len(periods) > 1 else "") + periods[-1]


def demo_figures(out: Path, scenario: Path | None = None) -> DemoFigures:
    """Read the figures from a demo's output folder (inputs, current version, the what-if)."""
    inputs = out / "inputs"
    products = pd.read_csv(inputs / "products.csv")
    warehouses = pd.read_csv(inputs / "warehouses.csv", dtype={"period": str})
    history = pd.read_csv(inputs / "sales_history.csv", dtype={"period": str})
    sales = pd.read_csv(inputs / "sales_forecast.csv")
    tree = OutputTree.local(out)
    # The demo publishes the month before its cycle first, then its cycle.
    previous_cycle, cycle = tree.cycles()
    current = tree.current(cycle)
    assert current is not None, f"no current version of {cycle} in {out}"
    version = Path(tree.version_dir(cycle, current))
    manifest = json.loads((version / "manifest.json").read_text())
    changes = pd.read_parquet(version / "plan_changes.parquet", columns=["change"])
    exceptions = pd.read_parquet(version / "exceptions.parquet", columns=["type", "severity"])
    fence = exceptions[(exceptions["type"] == "FROZEN_FENCE_CHANGE")
                       & (exceptions["severity"] == "warning")]
    capacity = pd.read_parquet(version / "capacity_report.parquet")
    status = capacity["status"].astype(str).str.lower()
    plan = pd.read_parquet(version / "consensus_plan.parquet", columns=["location", "period",
                                                                        "reason"])
    early = plan.loc[plan["reason"] == "CAPACITY_PREBUILD", ["location", "period"]]
    early = early.drop_duplicates().sort_values(["location", "period"])
    dated = warehouses[warehouses["period"].notna() & (warehouses["period"] != "")]
    scenario = scenario or Path(tree.scenario_dir(cycle, SCENARIO_NAME))
    summary = json.loads((scenario / "summary.json").read_text())
    return DemoFigures(
        cycle=str(manifest["cycle"]),
        n_skus=int(products["sku"].nunique()),
        n_families=int(products["family"].nunique()),
        n_warehouses=int(warehouses["location"].nunique()),
        history_months=int(history["period"].nunique()),
        n_teams=int(sales["submitted_by"].nunique()),
        squeeze=sorted(zip(dated["location"].astype(str), dated["period"], strict=True)),
        n_series=int(manifest["baselines"]["series"]),
        overtime_months=int((status == "overtime").sum()),
        short_months=int((status == "short").sum()),
        prebuild=list(zip(early["location"].astype(str), early["period"].astype(str),
                          strict=True)),
        verdict=str(summary["verdict"]),
        previous_cycle=previous_cycle,
        compared_with="{previous_cycle} version {previous_version}".format(
            **manifest["plan_changes"]),
        plan_changes=len(changes),
        firm_receipts=int(manifest["supply_plan"]["time_fence"]["firm_receipts"]),
        fence_changes=len(fence),
    )


def _by_location(rows: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for loc, period in rows:
        out.setdefault(loc, []).append(period)
    return out


def _capacity_sentence(f: DemoFigures) -> str:
    if f.overtime_months or f.short_months:
        cut = (f"{f.short_months:,} cut demand (`short`)" if f.short_months
               else "no limit cuts demand (no `short` month)")
        months = ("1 warehouse-month needs" if f.overtime_months == 1
                  else f"{f.overtime_months:,} warehouse-months need")
        return (f"In this run {months} overtime and "
                f"{cut}; what is not served is lost to lead time only.")
    early = "; ".join(f"{loc} in {_months(ps)}" for loc, ps in _by_location(f.prebuild).items())
    how = f"receives ahead of need ({early}), so " if early else ""
    return f"In this run the plan {how}no warehouse-month needs overtime or cuts demand."


def _wrap(text: str) -> str:
    return textwrap.fill(text, WIDTH, break_long_words=False, break_on_hyphens=False)


def render_blocks(f: DemoFigures) -> dict[str, str]:
    """Block name -> its generated Markdown (without the markers)."""
    years = f.history_months / 12
    history = f"{years:.0f} years" if years.is_integer() else f"{f.history_months} months"
    squeeze = "; ".join(f"an inbound squeeze at {loc} in {_months(ps)}"
                        for loc, ps in _by_location(f.squeeze).items()) or "no capacity squeeze"
    stored = f"{DEMO_OUT}/scenarios/cycle={f.cycle}/{SCENARIO_NAME}"
    return {
        "world": _wrap(
            f"`make demo` writes a seeded sample world ({f.n_skus:,} SKUs in {f.n_families:,} "
            f"families, {f.n_warehouses:,} warehouses, {history} of monthly history, promotions, "
            f"{f.n_teams:,} sales teams (one clearly optimistic), open orders, {squeeze}) to "
            f"`{DEMO_OUT}/inputs/`, and the same world as it looked a month earlier to "
            f"`{DEMO_OUT}/inputs-{f.previous_cycle}/`. It runs `sop run` for cycle "
            f"{f.previous_cycle}, then for cycle {f.cycle}, into the same folder, with the "
            f"frozen time fence on (`{DEMO_OUT}/demo-config.yaml`), and prints for each a table "
            "of stage timings and where the outputs went:"
        ),
        "series": _wrap(
            f"Open `{DEMO_OUT}/cycle={f.cycle}/version=1/report.html` in a browser (it is one "
            "self-contained file, it works offline). On this project's 2-core CI machine the "
            "first `make demo` takes a few minutes to install; most of `sop demo`'s own time "
            f"goes to fitting the baselines of {f.n_series:,} series (stage timings at larger "
            f"sizes: [docs/benchmarks.md](docs/benchmarks.md)). {_capacity_sentence(f)} "
            f"Against plan {f.compared_with}, {f.plan_changes:,} rows changed "
            f"(`plan_changes.parquet`); the time fence kept {f.firm_receipts:,} receipts of "
            f"{f.previous_cycle}'s plan (`firm_receipt`), with {f.fence_changes:,} "
            "`FROZEN_FENCE_CHANGE` warnings where today's demand would need them changed."
        ),
        "whatif": (
            "```\n"
            f"verdict:  {f.verdict}\n"
            f"stored:   {stored}\n"
            f"report:   {stored}/report.html\n"
            "```"
        ),
    }


def rewrite(readme: str, blocks: dict[str, str]) -> str:
    """The README with each marked block replaced; every block must be marked exactly once."""
    for name, body in blocks.items():
        pattern = re.compile(
            rf"(<!-- demo:{re.escape(name)} -->\n).*?(\n<!-- /demo:{re.escape(name)} -->)", re.S
        )
        if len(pattern.findall(readme)) != 1:
            raise ValueError(f"README: block {name!r} must be marked exactly once")
        start, end = pattern.search(readme).span()  # type: ignore[union-attr]
        head, tail = f"<!-- demo:{name} -->\n", f"\n<!-- /demo:{name} -->"
        readme = readme[:start] + head + body + tail + readme[end:]
    return readme


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo_out", type=Path, help="the folder `sop demo --out` wrote")
    parser.add_argument("--readme", type=Path, default=README)
    parser.add_argument("--check", action="store_true", help="only report a difference")
    args = parser.parse_args(argv)
    text = args.readme.read_text(encoding="utf-8")
    new = rewrite(text, render_blocks(demo_figures(args.demo_out)))
    if args.check:
        if new != text:
            print(f"{args.readme}: demo figures are out of date", file=sys.stderr)
            return 1
        return 0
    if new != text:
        args.readme.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
