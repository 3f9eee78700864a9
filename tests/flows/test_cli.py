"""The `sop` command line end to end: publishing, exit codes, nothing published on failure."""

import json
from pathlib import Path

import jsonschema
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from data_contracts import CONTRACT_VERSION, check_plan_rules, output_contract
from data_contracts.tables import OUTPUT_COLUMNS
from flows.cli import app
from flows.data_docs import remote_assets
from flows.io import read_inputs
from flows.store import PlanStore

CYCLE = "2026-12"
runner = CliRunner()


def _run(inputs: Path, out: Path, *extra: str):
    return runner.invoke(
        app,
        [
            "run",
            "--inputs",
            str(inputs),
            "--cycle",
            CYCLE,
            "--out",
            str(out),
            "--horizon",
            "12",
            *extra,
        ],
    )


def _published(out: Path) -> list[Path]:
    return sorted(out.glob("cycle=*/version=*"))


def test_run_publishes_a_plan_that_keeps_every_rule(inputs_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _run(inputs_dir, out)
    assert result.exit_code == 0, result.output
    version = out / f"cycle={CYCLE}" / "version=1"
    for name in ("consensus_plan", "baseline_forecast", "capacity_report", "exceptions"):
        df = pd.read_parquet(version / f"{name}.parquet")
        assert list(df.columns[: len(OUTPUT_COLUMNS[name])]) == OUTPUT_COLUMNS[name]
    # Every published table, read as a downstream reader would, keeps the JSON Schema contract.
    published = {name: pq.read_table(version / f"{name}.parquet").to_pylist()
                 for name in OUTPUT_COLUMNS}
    # The version carries the contract itself, so a reader needs nothing but the folder.
    shipped = json.loads((version / "contract.json").read_text())
    assert shipped == output_contract()
    contract = jsonschema.Draft202012Validator(shipped)
    assert [f"{list(e.absolute_path)[:2]}: {e.message}"
            for e in contract.iter_errors(published)][:5] == []
    plan = pd.read_parquet(version / "consensus_plan.parquet")
    capacity = pd.read_parquet(version / "capacity_report.parquet")
    assert (plan["cycle"] == CYCLE).all() and (plan["plan_version"] == 1).all()
    assert plan["period"].min() == CYCLE and plan["period"].nunique() == 12

    from data_contracts import validate_inputs

    raw, _ = read_inputs(str(inputs_dir))
    tables = validate_inputs(raw, CYCLE).tables
    assert check_plan_rules(plan, capacity, tables, CYCLE, 12) == []

    manifest = json.loads((version / "manifest.json").read_text())
    assert manifest["plan_version"] == 1
    assert manifest["contract_version"] == CONTRACT_VERSION
    assert {f["table"] for f in manifest["inputs"]} >= {"sales_history", "products"}
    assert all(len(f["sha256"]) == 64 for f in manifest["inputs"])
    assert "statsforecast" in manifest["versions"]
    assert set(manifest["timings_seconds"]) == {"check", "baseline", "plan"}
    # Receipts are lot-sized after the LP; the manifest says how, and whether time ran out.
    supply = manifest["supply_plan"]
    assert supply["method"] == "lp+lot_sizing" and supply["budget_exhausted"] is False
    assert {"cost_lp", "cost_plan", "cost_vs_lp", "extra_cut_units"} <= set(supply)
    assert (plan["planned_receipts"] == plan["planned_receipts"].round()).all()
    html = (version / "report.html").read_text()
    assert "<html" in html.lower() and CYCLE in html
    # great-expectations' Data Docs travel with the version and the report links them.
    assert manifest["contracts"]["data_docs"] == "data_docs/index.html"
    assert (version / "data_docs" / "index.html").exists()
    assert 'href="data_docs/index.html"' in html
    # ... and open offline: every asset they load is inside the version.
    pages = list((version / "data_docs").rglob("*.html"))
    assert len(pages) > 3
    assert {p.name: remote_assets(p.read_text()) for p in pages} == {p.name: [] for p in pages}
    assert (version / "data_docs" / "static" / "vendor" / "bootstrap" / "css").is_dir()

    store = PlanStore(f"duckdb:///{out / 'sop.duckdb'}")
    current = store.read_current(CYCLE)
    assert len(current) == len(plan) and set(current["plan_version"]) == {1}


def test_rerun_adds_version_two_and_reuses_baselines(inputs_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _run(inputs_dir, out).exit_code == 0
    first = (out / f"cycle={CYCLE}" / "version=1" / "consensus_plan.parquet").read_bytes()
    result = _run(inputs_dir, out)
    assert result.exit_code == 0, result.output
    assert (out / f"cycle={CYCLE}" / "version=1" / "consensus_plan.parquet").read_bytes() == first
    manifest = json.loads((out / f"cycle={CYCLE}" / "version=2" / "manifest.json").read_text())
    assert manifest["baselines"]["reused"] is True
    current = PlanStore(f"duckdb:///{out / 'sop.duckdb'}").read_current(CYCLE)
    assert set(current["plan_version"]) == {2}


def test_contract_breach_exits_3_and_publishes_nothing(inputs_dir: Path, tmp_path: Path) -> None:
    history = pd.read_csv(inputs_dir / "sales_history.csv", dtype=str)
    history.loc[3, "qty"] = "-5"
    history.to_csv(inputs_dir / "sales_history.csv", index=False)
    out = tmp_path / "out"
    result = _run(inputs_dir, out)
    assert result.exit_code == 3, result.output
    message = result.output
    assert "sales_history" in message and "qty" in message
    assert "line 5" in message  # header is line 1, row 3 (0-based) is line 5
    assert _published(out) == []
    rejects = list(out.glob("runs/**/rejects.csv"))
    assert rejects and str(rejects[0].name) in message


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--inputs", "x", "--cycle", "2026-13", "--out", "y"],
        ["run", "--inputs", "x", "--cycle", "../x", "--out", "y"],
        ["run", "--inputs", "x", "--cycle", "2026-01'; drop table plan_runs", "--out", "y"],
        ["run", "--inputs", "x", "--out", "y"],
        ["run", "--inputs", "x", "--cycle", "2026-01", "--out", "y", "--horizon", "0"],
        ["forecast", "--history", "h.csv", "--horizon", "x", "--out", "f.csv"],
        ["nonsense"],
    ],
)
def test_wrong_usage_exits_2(args: list[str]) -> None:
    assert runner.invoke(app, args).exit_code == 2


def test_store_url_with_a_password_exits_2_naming_the_variable(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--inputs", str(tmp_path), "--cycle", CYCLE, "--out",
                                 str(tmp_path), "--store", "postgresql+psycopg://u:pw9@db/sop"])
    assert result.exit_code == 2, result.output
    assert "SOP_STORE_PASSWORD" in result.output and "pw9" not in result.output


def test_bad_config_exits_2(inputs_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("contracts:\n  quarantine:\n    sales_history: 3\n")
    result = _run(inputs_dir, tmp_path / "out", "--config", str(config))
    assert result.exit_code == 2, result.output
    assert _published(tmp_path / "out") == []


def test_validate_passes_and_fails(inputs_dir: Path, tmp_path: Path) -> None:
    ok = runner.invoke(
        app,
        ["validate", "--inputs", str(inputs_dir), "--cycle", CYCLE, "--out", str(tmp_path / "v")],
    )
    assert ok.exit_code == 0, ok.output
    assert "sales_history" in ok.output
    (inputs_dir / "products.csv").unlink()
    bad = runner.invoke(
        app,
        ["validate", "--inputs", str(inputs_dir), "--cycle", CYCLE, "--out", str(tmp_path / "v")],
    )
    assert bad.exit_code == 3
    assert "products" in bad.output


def test_forecast_command(inputs_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "baseline.parquet"
    result = runner.invoke(
        app,
        [
            "forecast",
            "--history",
            str(inputs_dir / "sales_history.csv"),
            "--horizon",
            "6",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    df = pd.read_parquet(out)
    assert list(df.columns) == OUTPUT_COLUMNS["baseline_forecast"]
    history = pd.read_csv(inputs_dir / "sales_history.csv", dtype=str)
    assert len(df) == 6 * history[["sku", "location"]].drop_duplicates().shape[0]
    assert (df["forecast"] >= 0).all()


def test_forecast_on_bad_history_exits_3(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("sku,location,period,qty\nA,L,2025-1,3\n")
    result = runner.invoke(
        app,
        ["forecast", "--history", str(path), "--horizon", "3", "--out", str(tmp_path / "f.csv")],
    )
    assert result.exit_code == 3
    assert "period" in result.output


def test_second_cycle_measures_value_added_by_the_first_plan(tmp_path: Path) -> None:
    """Cycle N+1 scores cycle N's published consensus (FVA) and checks drift against it."""
    from flows.io import write_inputs
    from sample_data import generate_world

    out = tmp_path / "out"
    for cycle in ("2026-11", CYCLE):
        world = generate_world(n_skus=24, n_locations=3, cycle=cycle, horizon=12, seed=11)
        inputs = tmp_path / f"inputs-{cycle}"
        write_inputs(world.tables, inputs)
        result = runner.invoke(app, ["run", "--inputs", str(inputs), "--cycle", cycle,
                                     "--out", str(out), "--horizon", "12"])
        assert result.exit_code == 0, result.output
    version = out / f"cycle={CYCLE}" / "version=1"
    fva = pd.read_parquet(version / "fva.parquet")
    total = fva[fva["level"] == "total"].set_index("step")
    assert {"naive", "baseline", "sales", "consensus"} <= set(total.index)
    assert total.loc["consensus", "n_obs"] > 0
    assert (version / "inputs" / "sales_forecast.parquet").exists()
    assert "FVA" in (version / "report.html").read_text()
    import sqlalchemy as sa

    store = PlanStore(f"duckdb:///{out / 'sop.duckdb'}")
    with store.engine.connect() as conn:
        stored = pd.read_sql(sa.text("SELECT * FROM fva WHERE cycle = :c"), conn,
                             params={"c": CYCLE})
    assert len(stored) == len(fva) and set(stored["plan_version"]) == {1}


def test_failed_run_names_the_stage_in_its_final_state(inputs_dir: Path, tmp_path: Path) -> None:
    from flows.params import RunParams
    from flows.pipeline import monthly_sop

    (inputs_dir / "warehouses.csv").write_text("location,storage_pallets\nDC-X,-1\n")
    params = RunParams(inputs=str(inputs_dir), out=str(tmp_path / "out"), cycle=CYCLE,
                       horizon=12)
    state = monthly_sop(**params.flow_parameters(), return_state=True)
    assert state.is_failed()
    assert "stage 'ingest_and_check' failed" in state.message
    assert "warehouses" in state.message
