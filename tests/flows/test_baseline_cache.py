"""Incremental runs: baselines are refitted only when what decides them changed."""

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.config import RunConfig
from forecasting.cache_key import baseline_cache_key

CYCLE = "2026-12"
runner = CliRunner()


def _run(inputs: Path, out: Path, *extra: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["run", "--inputs", str(inputs), "--cycle", CYCLE, "--out",
                               str(out), "--horizon", "12", *extra])


def _manifest(out: Path, version: int) -> dict:
    return json.loads((out / f"cycle={CYCLE}" / f"version={version}" / "manifest.json")
                      .read_text())


HASHES = {"sales_history": "h1", "products": "p1", "promotions": "x1", "sales_forecast": "f1",
          "inventory": "i1", "open_orders": "o1"}
KEYS = pd.DataFrame({"sku": ["A", "A", "B"], "location": ["L1", "L2", "L1"]})


def _key(tmp_path: Path, hashes: dict[str, str] = HASHES, keys: pd.DataFrame = KEYS,
         quarantined: dict | None = None, horizon: int = 12) -> str:
    return baseline_cache_key(hashes, keys, CYCLE, horizon, RunConfig().forecasting, quarantined)


def test_key_ignores_sales_stock_and_orders_files_but_not_the_planned_pairs(
    tmp_path: Path,
) -> None:
    base = _key(tmp_path)
    changed = {**HASHES, "sales_forecast": "f2", "inventory": "i2", "open_orders": "o2"}
    assert _key(tmp_path, changed) == base
    assert _key(tmp_path, keys=KEYS.iloc[::-1]) == base  # order of the pairs is irrelevant
    assert _key(tmp_path, quarantined={"sales_forecast": 3}) == base
    more = pd.concat([KEYS, pd.DataFrame({"sku": ["C"], "location": ["L2"]})])
    assert _key(tmp_path, keys=more) != base
    # "A"+"L1" must not collide with "AL"+"1".
    shifted = pd.DataFrame({"sku": ["AL", "A", "B"], "location": ["1", "L2", "L1"]})
    assert _key(tmp_path, keys=shifted) != base


@pytest.mark.parametrize("table", ["sales_history", "products", "promotions"])
def test_key_changes_with_the_tables_the_baselines_read(tmp_path: Path, table: str) -> None:
    assert _key(tmp_path, {**HASHES, table: "changed"}) != _key(tmp_path)
    assert _key(tmp_path, quarantined={table: 1}) != _key(tmp_path)


def test_key_changes_with_horizon_and_settings(tmp_path: Path) -> None:
    assert _key(tmp_path, horizon=6) != _key(tmp_path)
    other = RunConfig.model_validate({"forecasting": {"season_length": 6}})
    assert baseline_cache_key(HASHES, KEYS, CYCLE, 12, other.forecasting) != _key(tmp_path)


def test_new_sales_quantities_reuse_the_baselines(inputs_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = _run(inputs_dir, out)
    assert first.exit_code == 0, first.output
    assert _manifest(out, 1)["baselines"]["reused"] is False
    forecast = pd.read_csv(inputs_dir / "sales_forecast.csv", dtype=str)
    qty = pd.to_numeric(forecast["qty"])
    # Same pairs, new numbers: positive stays positive so the planned pairs cannot change.
    forecast["qty"] = (qty * 1.25).round(1).astype(str)
    forecast.to_csv(inputs_dir / "sales_forecast.csv", index=False)
    second = _run(inputs_dir, out)
    Path("/tmp/ss_second.log").write_text(second.output)
    assert second.exit_code == 0, second.output
    manifest = _manifest(out, 2)
    assert manifest["baselines"]["reused"] is True
    assert manifest["baselines"]["cache_key"] == _manifest(out, 1)["baselines"]["cache_key"]
    plans = [pd.read_parquet(out / f"cycle={CYCLE}" / f"version={v}" / "consensus_plan.parquet")
             for v in (1, 2)]
    pd.testing.assert_series_equal(plans[0]["baseline_forecast"], plans[1]["baseline_forecast"])
    assert not plans[0]["sales_forecast"].equals(plans[1]["sales_forecast"])


def test_key_ignores_how_many_processes_fit(tmp_path: Path) -> None:
    wide = RunConfig.model_validate({"execution": {"jobs": 3}})
    # The key is made of the forecasting settings alone; execution settings never enter it.
    assert baseline_cache_key(HASHES, KEYS, CYCLE, 12, wide.forecasting) == _key(tmp_path)


def test_every_core_by_default_and_the_same_plan_on_one(inputs_dir: Path, tmp_path: Path
                                                       ) -> None:
    """`sop run` fits on every usable core unless told; config and --jobs set the count
    (the flag wins), and the plan does not depend on it."""
    from forecasting.engines import usable_cores

    config = tmp_path / "one.yaml"
    config.write_text("execution:\n  jobs: 1\n")
    runs = {"default": (), "config": ("--config", str(config)),
            "flag": ("--config", str(config), "--jobs", "2")}
    plans = {}
    for name, extra in runs.items():
        out = tmp_path / name
        result = _run(inputs_dir, out, *extra)
        assert result.exit_code == 0, result.output
        assert _manifest(out, 1)["baselines"]["reused"] is False
        plans[name] = (_manifest(out, 1)["baselines"]["jobs"], pd.read_parquet(
            out / f"cycle={CYCLE}" / "version=1" / "consensus_plan.parquet"))
    assert [jobs for jobs, _ in plans.values()] == [usable_cores(), 1, 2]
    cols = ["sku", "location", "period", "baseline_forecast", "consensus_demand",
            "planned_receipts"]
    for _, plan in plans.values():
        pd.testing.assert_frame_equal(plan[cols], plans["default"][1][cols])


def _run_process(inputs: Path, out: Path) -> None:
    # Its own `sop` process per run: two runs through CliRunner in one process share
    # Prefect's logging across swapped stdio (see tests/flows/test_plan_changes.py).
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "from flows.cli import app; app()", "run", "--inputs",
         str(inputs), "--cycle", CYCLE, "--out", str(out), "--horizon", "12"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_computed_safety_stock_is_published_and_survives_the_cache(inputs_dir: Path,
                                                                   tmp_path: Path) -> None:
    """Empty safety stocks are computed from the baselines' CV error, published in the
    version and the store, and come back the same from the baselines cache."""
    import sqlalchemy as sa

    products = pd.read_csv(inputs_dir / "products.csv", dtype=str)
    products["safety_stock_units"] = ""
    products.to_csv(inputs_dir / "products.csv", index=False)
    out = tmp_path / "out"
    _run_process(inputs_dir, out)
    folder = out / f"cycle={CYCLE}" / "version=1"
    safety = pd.read_parquet(folder / "safety_stock.parquet")
    computed = safety[safety["source"] == "computed"]
    assert len(computed) and (computed["safety_stock_units"] > 0).any()
    assert set(computed["error_method"]) <= {"cv", "pooled", "interval"}
    # The plan holds the buffer: nothing below it once a receipt can land, capacity allowing.
    plan = pd.read_parquet(folder / "consensus_plan.parquet")
    last = plan[plan["period"] == plan["period"].max()].merge(safety, on=["sku", "location"])
    held = last[last["source"] == "computed"]
    assert (held["projected_on_hand"] >= held["safety_stock_units"] - 1e-6).mean() > 0.9
    # The cache entry carries the error: a re-run reuses it and holds the same stock.
    key = _manifest(out, 1)["baselines"]["cache_key"]
    assert (out / "cache" / "baselines" / key / "forecast_error.parquet").exists()
    _run_process(inputs_dir, out)
    assert _manifest(out, 2)["baselines"]["reused"] is True
    again = pd.read_parquet(out / f"cycle={CYCLE}" / "version=2" / "safety_stock.parquet")
    pd.testing.assert_frame_equal(again, safety)
    engine = sa.create_engine(f"duckdb:///{out / 'sop.duckdb'}")
    with engine.connect() as conn:
        stored = pd.read_sql("SELECT * FROM safety_stock WHERE plan_version = 2", conn)
    engine.dispose()
    assert len(stored) == len(safety)
