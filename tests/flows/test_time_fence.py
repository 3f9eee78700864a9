"""The frozen time fence end to end: two cycles published into one output folder, the second
keeps the receipts the first planned inside the fence, and a re-run keeps the same ones."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from data_contracts.periods import add_months, months_between
from flows.io import write_inputs
from sample_data import tables_a_month_earlier

CYCLE = "2026-12"
EARLIER = add_months(CYCLE, -1)
HORIZON = 12
FROZEN = 3
KEY = ["sku", "location", "period"]


def _run(inputs: Path, cycle: str, out: Path, config: Path, store: str | None = None) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from flows.cli import app; app()", "run", "--inputs",
         str(inputs), "--cycle", cycle, "--out", str(out), "--horizon", str(HORIZON),
         "--config", str(config), *(["--store", store] if store else [])],
        capture_output=True, text=True, timeout=900, check=False,
        # A shared, loaded machine can be slow to start Prefect's temporary server.
        env={**os.environ, "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "600"},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _plan(out: Path, cycle: str, version: int) -> pd.DataFrame:
    return pd.read_parquet(out / f"cycle={cycle}" / f"version={version}" /
                           "consensus_plan.parquet")


def test_the_second_cycle_keeps_the_receipts_the_first_planned_in_the_fence(
    small_world, tmp_path: Path
) -> None:
    earlier_inputs, inputs = tmp_path / "inputs-earlier", tmp_path / "inputs"
    write_inputs(tables_a_month_earlier(small_world.tables, CYCLE, HORIZON), earlier_inputs,
                 fmt="csv")
    write_inputs(small_world.tables, inputs, fmt="csv")
    config = tmp_path / "config.yaml"
    config.write_text(f"reconciliation:\n  frozen_months: {FROZEN}\n")
    out = tmp_path / "out"

    _run(earlier_inputs, EARLIER, out, config)
    first = _plan(out, EARLIER, 1)
    assert not first["firm_receipt"].any()  # nothing published before it: nothing firm
    exc = pd.read_parquet(out / f"cycle={EARLIER}" / "version=1" / "exceptions.parquet")
    assert (exc["type"] == "FROZEN_FENCE_CHANGE").sum() == 1

    _run(inputs, CYCLE, out, config)
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
    _run(inputs, CYCLE, out, config)
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
    earlier_inputs, inputs = tmp_path / "inputs-earlier", tmp_path / "inputs"
    write_inputs(tables_a_month_earlier(small_world.tables, CYCLE, HORIZON), earlier_inputs,
                 fmt="csv")
    write_inputs(small_world.tables, inputs, fmt="csv")
    config = tmp_path / "config.yaml"
    config.write_text(f"reconciliation:\n  frozen_months: {FROZEN}\n")
    store = f"duckdb:///{tmp_path / 'shared.duckdb'}"
    _run(earlier_inputs, EARLIER, tmp_path / "out-a", config, store)
    _run(inputs, CYCLE, tmp_path / "out-b", config, store)
    version = tmp_path / "out-b" / f"cycle={CYCLE}" / "version=1"
    fence = json.loads((version / "manifest.json").read_text())["supply_plan"]["time_fence"]
    assert (fence["previous_cycle"], fence["previous_version"]) == (EARLIER, 1)
    assert fence["firm_receipts"] > 0
    waterfall = pd.read_parquet(version / "plan_waterfall.parquet")
    assert set(waterfall["previous_cycle"]) == {EARLIER}
