"""The frozen time fence end to end: two cycles published into one output folder, the second
keeps the receipts the first planned inside the fence, and a re-run keeps the same ones."""

import json
from pathlib import Path

import pandas as pd

from data_contracts.periods import add_months, months_between
from flows.io import write_inputs
from sample_data import tables_a_month_earlier
from tests.flows.sop_cli import run_sop

CYCLE = "2026-12"
EARLIER = add_months(CYCLE, -1)
HORIZON = 12
FROZEN = 3
KEY = ["sku", "location", "period"]


def _two_cycles(world, tmp_path: Path) -> tuple[Path, Path, Path]:
    """The world's inputs a month earlier and now (CSV folders), and a config with the fence."""
    earlier_inputs, inputs = tmp_path / "inputs-earlier", tmp_path / "inputs"
    write_inputs(tables_a_month_earlier(world.tables, CYCLE, HORIZON), earlier_inputs,
                 fmt="csv")
    write_inputs(world.tables, inputs, fmt="csv")
    config = tmp_path / "config.yaml"
    config.write_text(f"reconciliation:\n  frozen_months: {FROZEN}\n")
    return earlier_inputs, inputs, config


def _plan(out: Path, cycle: str, version: int) -> pd.DataFrame:
    return pd.read_parquet(out / f"cycle={cycle}" / f"version={version}" /
                           "consensus_plan.parquet")


def test_the_second_cycle_keeps_the_receipts_the_first_planned_in_the_fence(
    small_world, tmp_path: Path
) -> None:
    earlier_inputs, inputs, config = _two_cycles(small_world, tmp_path)
    out = tmp_path / "out"

    run_sop(earlier_inputs, out, EARLIER, HORIZON, config=config)
    first = _plan(out, EARLIER, 1)
    assert not first["firm_receipt"].any()  # nothing published before it: nothing firm
    exc = pd.read_parquet(out / f"cycle={EARLIER}" / "version=1" / "exceptions.parquet")
    assert (exc["type"] == "FROZEN_FENCE_CHANGE").sum() == 1

    run_sop(inputs, out, CYCLE, HORIZON, config=config)
    second = _plan(out, CYCLE, 1)
    both = second.merge(first[[*KEY, "planned_receipts"]], on=KEY, how="left",
                        suffixes=("", "_before")).fillna({"planned_receipts_before": 0.0})
    lead = both["sku"].map(small_world.tables["products"].set_index("sku")["lead_time_months"])
    month = both["period"].map(lambda p: months_between(CYCLE, p))
    keepable = (month < FROZEN) & (month >= lead) & (both["planned_receipts_before"] > 0)
    firm = both[both["firm_receipt"]]
    assert len(firm) > 0 and keepable[firm.index].all()
    # Kept as they were (or added to where demand rose), never reduced or moved.
    assert (firm["planned_receipts"] >= firm["planned_receipts_before"]).all()
    manifest = json.loads((out / f"cycle={CYCLE}" / "version=1" / "manifest.json").read_text())
    fence = manifest["supply_plan"]["time_fence"]
    assert (fence["previous_cycle"], fence["previous_version"]) == (EARLIER, 1)
    assert fence["firm_receipts"] == len(firm)
    changes = pd.read_parquet(out / f"cycle={CYCLE}" / "version=1" / "plan_changes.parquet")
    assert (changes["previous_cycle"] == EARLIER).all() and len(changes) > 0
    # The meeting's waterfall explains the move from the very plan the fence kept.
    waterfall = pd.read_parquet(out / f"cycle={CYCLE}" / "version=1" / "plan_waterfall.parquet")
    assert set(zip(waterfall["previous_cycle"], waterfall["previous_version"], strict=True)) \
        == {(EARLIER, 1)}

    # A re-run of the cycle firms last cycle's receipts again, not its own version 1's.
    run_sop(inputs, out, CYCLE, HORIZON, config=config)
    rerun = _plan(out, CYCLE, 2)
    pd.testing.assert_series_equal(rerun["firm_receipt"], second["firm_receipt"])
    assert keepable[rerun.index[rerun["firm_receipt"]]].all()
    manifest = json.loads((out / f"cycle={CYCLE}" / "version=2" / "manifest.json").read_text())
    assert manifest["supply_plan"]["time_fence"]["previous_cycle"] == EARLIER


def test_the_fence_keeps_last_cycles_plan_published_to_the_store_from_another_folder(
    small_world, tmp_path: Path
) -> None:
    """Two output folders publish to one store (the production set-up): the fence and the
    waterfall find last cycle's plan where procurement reads it, the store."""
    earlier_inputs, inputs, config = _two_cycles(small_world, tmp_path)
    store = f"duckdb:///{tmp_path / 'shared.duckdb'}"
    run_sop(earlier_inputs, tmp_path / "out-a", EARLIER, HORIZON, config=config, store=store)
    run_sop(inputs, tmp_path / "out-b", CYCLE, HORIZON, config=config, store=store)
    version = tmp_path / "out-b" / f"cycle={CYCLE}" / "version=1"
    fence = json.loads((version / "manifest.json").read_text())["supply_plan"]["time_fence"]
    assert (fence["previous_cycle"], fence["previous_version"]) == (EARLIER, 1)
    assert fence["firm_receipts"] > 0
    waterfall = pd.read_parquet(version / "plan_waterfall.parquet")
    assert set(waterfall["previous_cycle"]) == {EARLIER}
