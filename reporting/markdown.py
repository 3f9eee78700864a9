"""Short Markdown summary of the plan (Prefect artifact), from the same figures as the HTML."""

from typing import Any

import pandas as pd

from data_contracts.tables import SEVERITY_ORDER
from reporting import figures as fig
from reporting.markup import percent, signed_units, units
from reporting.plan_digest import PlanDigest


def _cell(value: object) -> str:
    # Markdown tables break on pipes and newlines; SKU and type names are user data.
    return str(value).replace("|", "\\|").replace("\n", " ")


def render_markdown_summary(
    *,
    cycle: str,
    version: int,
    consensus_plan: pd.DataFrame | PlanDigest,
    capacity_report: pd.DataFrame,
    exceptions: pd.DataFrame,
    contract_summary: dict[str, Any] | None = None,
    **_unused: Any,
) -> str:
    """Headline totals, capacity status per warehouse and exception counts, as Markdown.

    Accepts (and ignores) the other keyword arguments of `render_report`, so a caller can
    pass one set of arguments to both.
    """
    h = (consensus_plan.headline if isinstance(consensus_plan, PlanDigest)
         else fig.headline_totals(consensus_plan))
    lines = [
        f"# S&OP cycle {_cell(cycle)} — plan version {_cell(version)}",
        "",
        f"{h.n_skus:,} SKUs, {h.n_series:,} SKU × locations, {h.n_periods} months.",
        "",
        "| measure | units | vs sales |",
        "|---|---:|---:|",
        f"| Sales | {units(h.sales)} | |",
        f"| Baseline | {units(h.baseline)} | "
        f"{percent(fig.pct(h.baseline - h.sales, h.sales), True)} |",
        f"| Consensus | {units(h.consensus)} | {percent(h.gap_to_sales_pct, True)} |",
        f"| Constrained | {units(h.constrained)} | "
        f"{percent(fig.pct(h.constrained - h.sales, h.sales), True)} |",
        f"| Shortfall | {units(h.shortfall)} | |",
        "",
        f"Gap consensus − sales: {signed_units(h.gap_to_sales)} units "
        f"({percent(h.gap_to_sales_pct, True)}).",
        "",
        "## Capacity",
        "",
    ]
    per_loc = fig.capacity_by_location(capacity_report)
    if per_loc.empty:
        lines.append("No capacity report.")
    else:
        lines += [
            "| warehouse | status | overtime months | short months | peak utilisation "
            "| overtime cost |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for _, row in per_loc.iterrows():  # one row per warehouse
            lines.append(
                f"| {_cell(row['location'])} | {fig.location_status(row)} | {row['overtime']} | "
                f"{row['short']} | {percent(row['peak_util'])} | {units(row['overtime_cost'])} |"
            )
    counts = fig.exception_counts(exceptions)
    lines += ["", "## Exceptions", ""]
    lines.append(", ".join(f"{sev}: {n:,}" for sev, n in counts.items()))
    outcome = fig.contract_outcome(contract_summary)
    if contract_summary is not None:
        lines += ["", f"Data contracts: {outcome}."]
    return "\n".join(lines) + "\n"


def top_exceptions(exceptions: pd.DataFrame, n: int) -> pd.DataFrame:
    """The `n` exceptions the meeting reads first: errors, then warnings, then infos (stable
    within a severity, so the plan's own order of importance is kept)."""
    return (exceptions.assign(_rank=exceptions["severity"].map(SEVERITY_ORDER))
            .sort_values("_rank", kind="stable").drop(columns="_rank").head(n))
