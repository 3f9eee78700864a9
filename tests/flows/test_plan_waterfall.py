"""Two cycles published into one output folder: the second explains how its plan moved from the
first (plan_waterfall), measures plan stability and each team's bias, in files, store and report.
"""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from data_contracts.tables import OUTPUT_COLUMNS, WATERFALL_STEPS
from flows.io import write_inputs
from flows.output_tree import OutputTree
from flows.store import PlanStore
from sample_data import generate_world

FIRST, SECOND = "2026-11", "2026-12"


def _run(inputs: Path, cycle: str, out: Path) -> None:
    # Each run in its own `sop` process, as a scheduler would start them.
    result = subprocess.run(
        [sys.executable, "-c", "from flows.cli import app; app()", "run", "--inputs",
         str(inputs), "--cycle", cycle, "--out", str(out), "--horizon", "12"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _stored(out: Path, table: str) -> pd.DataFrame:
    store = PlanStore(OutputTree.local(out).default_store_url())
    try:
        with store.engine.connect() as conn:
            return pd.read_sql(sa.text(f"SELECT * FROM {table}"), conn)
    finally:
        store.dispose()


@pytest.fixture(scope="module")
def two_cycles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("two_cycles")
    out = root / "out"
    for cycle in (FIRST, SECOND):
        world = generate_world(n_skus=24, n_locations=3, history_months=48, cycle=cycle,
                               horizon=12, seed=11)
        write_inputs(world.tables, root / cycle, fmt="csv")
        _run(root / cycle, cycle, out)
    return out


def test_the_second_cycle_explains_its_move_from_the_first(two_cycles: Path) -> None:
    first = two_cycles / f"cycle={FIRST}" / "version=1"
    second = two_cycles / f"cycle={SECOND}" / "version=1"
    empty = pd.read_parquet(first / "plan_waterfall.parquet")
    assert empty.empty and list(empty.columns) == OUTPUT_COLUMNS["plan_waterfall"]

    wf = pd.read_parquet(second / "plan_waterfall.parquet")
    assert list(wf.columns) == OUTPUT_COLUMNS["plan_waterfall"]
    assert set(wf["previous_cycle"]) == {FIRST} and set(wf["previous_version"]) == {1}
    total = wf[wf["key"] == "ALL"].set_index("step")["units"]
    assert list(total.index) == list(WATERFALL_STEPS)
    before = pd.read_parquet(first / "consensus_plan.parquet")
    after = pd.read_parquet(second / "consensus_plan.parquet")
    both = set(before["period"]) & set(after["period"])
    assert total["previous_consensus"] == pytest.approx(
        before.loc[before["period"].isin(both), "consensus_demand"].sum())
    assert total["consensus"] == pytest.approx(
        after.loc[after["period"].isin(both), "consensus_demand"].sum())
    assert total["constrained_demand"] == pytest.approx(
        after.loc[after["period"].isin(both), "constrained_demand"].sum())
    # Both plans publish their parts: nothing is left unexplained.
    assert abs(total["other"]) <= 1e-6 * total["consensus"]
    steps = WATERFALL_STEPS[1:WATERFALL_STEPS.index("consensus")]
    assert total["previous_consensus"] + total[list(steps)].sum() == pytest.approx(
        total["consensus"], rel=1e-12)
    families = wf[wf["level"] == "family"].groupby("step")["units"].sum()
    assert families["baseline"] == pytest.approx(total["baseline"])

    stability = pd.read_parquet(second / "plan_stability.parquet")
    row = stability[(stability["cycle"] == SECOND) & (stability["key"] == "ALL")].iloc[0]
    assert row["previous_cycle"] == FIRST and row["changed_share"] > 0
    assert row["previous_units"] == pytest.approx(total["previous_consensus"])

    bias = pd.read_parquet(second / "sales_bias.parquet")
    assert list(bias.columns) == OUTPUT_COLUMNS["sales_bias"]
    assert bias["sales_bias"].notna().any()
    # The first cycle's published weights are now part of its teams' trend.
    assert bias.loc[bias["submission_cycle"] == FIRST, "sales_weight"].notna().any()

    report = (second / "report.html").read_text()
    movement = report.split('id="movement"')[1].split("<section")[0]
    assert "<svg" in movement and f"{total['consensus']:,.0f}" in movement

    stored = _stored(two_cycles, "plan_waterfall")
    mine = stored[stored["cycle"] == SECOND].sort_values(["level", "key", "step_no"])
    assert len(mine) == len(wf)
    assert mine["units"].sum() == pytest.approx(wf["units"].sum())
    stored_stability = _stored(two_cycles, "plan_stability")
    assert set(stored_stability["cycle"]) == {SECOND}  # each version stores its own row
    assert not _stored(two_cycles, "sales_bias").empty


def test_store_keeps_the_tables_and_each_versions_own_stability_row(
    tmp_path: Path, store_url: str
) -> None:
    from flows.publish import claim_version
    from reconciliation.stability import compute_stability

    plans = pd.DataFrame({
        "cycle": ["2026-10", "2026-11", "2026-12"], "plan_version": 1, "sku": "A",
        "location": "L", "period": "2026-12", "consensus_demand": [100.0, 90.0, 120.0],
        "family": "F"})
    stability = compute_stability(plans)  # rows for 2026-11 and 2026-12
    waterfall = pd.DataFrame({
        "level": "total", "key": "ALL", "step_no": range(len(WATERFALL_STEPS)),
        "step": WATERFALL_STEPS, "kind": "change", "units": 1.5, "previous_cycle": "2026-11",
        "previous_version": 1, "first_period": "2026-12", "last_period": "2027-10"})
    bias = pd.DataFrame({
        "submitted_by": ["north"], "submission_cycle": ["2026-10"], "n_obs": [3],
        "sales_units": [30.0], "actual_units": [25.0], "sales_bias": [0.2],
        "consensus_bias": [float("nan")], "sales_weight": [0.4]})
    store = PlanStore(store_url)
    try:
        version = claim_version(OutputTree.local(tmp_path / "out"), "2026-12", store, None)
        store.publish("2026-12", version, {
            "consensus_plan": pd.DataFrame(columns=["sku", "location", "period"]),
            "plan_waterfall": waterfall, "plan_stability": stability, "sales_bias": bias,
        }, str(tmp_path), "sha")
        with store.engine.connect() as conn:
            got = {t: pd.read_sql(sa.text(f"SELECT * FROM {t}"), conn)
                   for t in ("plan_waterfall", "plan_stability", "sales_bias")}
    finally:
        store.dispose()
    assert len(got["plan_waterfall"]) == len(WATERFALL_STEPS)
    assert set(got["plan_waterfall"]["cycle"]) == {"2026-12"}
    assert list(got["plan_stability"]["cycle"]) == ["2026-12", "2026-12"]  # total + family
    row = got["plan_stability"].set_index("key").loc["ALL"]
    assert row["changed_share"] == pytest.approx(30 / 90) and row["previous_cycle"] == "2026-11"
    assert got["sales_bias"].iloc[0]["sales_bias"] == pytest.approx(0.2)
    assert pd.isna(got["sales_bias"].iloc[0]["consensus_bias"])
