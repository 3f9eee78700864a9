"""`sop whatif` end to end: stored apart, the published plan untouched, exit codes 2 and 3."""

import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from flows.cli import app
from flows.whatif import WhatIfParams, whatif_flow

CYCLE = "2026-12"
runner = CliRunner()


def _folder_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            digest.update(str(p.relative_to(folder)).encode())
            digest.update(p.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, small_world) -> Path:
    """One published plan of the small world, shared by the tests of this module."""
    from flows.io import write_inputs

    root = tmp_path_factory.mktemp("whatif")
    write_inputs(small_world.tables, root / "inputs", fmt="csv")
    out = root / "out"
    result = runner.invoke(app, ["run", "--inputs", str(root / "inputs"), "--cycle", CYCLE,
                                 "--out", str(out), "--horizon", "12"])
    assert result.exit_code == 0, result.output
    return out


def _write(tmp_path: Path, data: object, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if name.endswith((".yaml", ".yml")) else
                    json.dumps(data))
    return path


def _whatif(out: Path, scenario: Path, *extra: str):
    return runner.invoke(app, ["whatif", "--base", CYCLE, "--scenario", str(scenario),
                               "--out", str(out), *extra])


def test_whatif_stores_apart_and_leaves_the_published_plan_untouched(
    published: Path, small_world, tmp_path: Path
) -> None:
    version = published / f"cycle={CYCLE}" / "version=1"
    before = _folder_hash(version)
    store_before = (published / "sop.duckdb").read_bytes()
    family = small_world.tables["products"]["family"].iloc[0]
    scenario = _write(tmp_path, {
        "name": "push", "demand": "as_submitted",
        "scale_sales": [{"family": family, "factor": 2, "from_period": "2027-03",
                         "to_period": "2027-05"}],
        "capacity": [{"location": "DC-SOUTH", "from_period": "2027-08", "to_period": "2027-09",
                      "extra_shift_pct": 20, "extra_storage_pallets": 10}],
    })
    result = _whatif(published, scenario)
    assert result.exit_code == 0, result.output
    assert "verdict:" in result.output
    assert _folder_hash(version) == before
    assert (published / "sop.duckdb").read_bytes() == store_before
    assert sorted(p.name for p in (published / f"cycle={CYCLE}").iterdir()) == [
        "CURRENT", "version=1"]

    stored = published / "scenarios" / f"cycle={CYCLE}" / "push"
    names = {p.name for p in stored.iterdir()}
    assert {"comparison.parquet", "consensus_plan.parquet", "capacity_report.parquet",
            "report.html", "scenario.yaml", "summary.json"} <= names
    comparison = pd.read_parquet(stored / "comparison.parquet")
    assert {"location", "period", "extra_inbound_pallets", "extra_overtime_cost",
            "extra_shortfall_units", "became_short"} <= set(comparison.columns)
    assert (comparison["base_version"] == 1).all() and (comparison["scenario"] == "push").all()
    assert comparison["extra_demand_units"].sum() > 0
    summary = json.loads((stored / "summary.json").read_text())
    assert summary["verdict"] in result.output.replace("\n", " ") or \
        summary["verdict"][:40] in result.output
    assert (stored / "scenario.yaml").read_text() == scenario.read_text()
    html = (stored / "report.html").read_text()
    assert "http://" not in html and "https://" not in html and "<script" not in html
    assert summary["verdict"].split(";")[0] in html

    listed = runner.invoke(app, ["whatif", "--list", "--out", str(published)])
    assert listed.exit_code == 0 and "push" in listed.output


def test_whatif_flow_takes_typed_parameters(published: Path, small_world, tmp_path: Path) -> None:
    prod = small_world.tables["products"]
    sku = prod["sku"].iloc[0]
    loc = small_world.tables["warehouses"]["location"].iloc[0]
    scenario = _write(tmp_path, {"promotions": [{
        "promo_id": "WI-1", "sku": sku, "location": loc, "start_period": "2027-04",
        "end_period": "2027-04", "uplift_pct": 25}]}, "promo-one.json")
    result = whatif_flow(WhatIfParams(base=f"{CYCLE}/1", scenario=str(scenario),
                                      out=str(published)))
    assert result["name"] == "promo-one" and result["base_version"] == 1
    assert Path(result["path"], "comparison.parquet").is_file()
    assert result["verdict"].endswith(".")
    with pytest.raises(ValueError):
        WhatIfParams(base="2026-12/../x", scenario="s.yaml", out="o")


@pytest.mark.parametrize(("data", "code", "words"), [
    ({"promotions": [{"promo_id": "X", "sku": "SKU-0001", "location": "DC-SOUTH",
                      "start_period": "2027-02", "end_period": "2027-02", "uplift_pct": -10}]},
     2, ["promotions[0].uplift_pct"]),
    ({"scale_sales": [{"family": "SNACKS", "factor": 2}]}, 2, ["scale_sales[0].from_period"]),
    ({"launchs": []}, 2, ["launchs"]),
    ({"promotions": [{"promo_id": "X", "sku": "NOPE-1", "location": "DC-SOUTH",
                      "start_period": "2027-02", "end_period": "2027-02", "uplift_pct": 10}]},
     3, ["promotions[0].sku", "NOPE-1"]),
    ({"capacity": [{"location": "DC-MOON", "from_period": "2027-02", "extra_shift_pct": 10}]},
     3, ["capacity[0].location", "DC-MOON"]),
    ({"scale_sales": [{"submitted_by": "team-mars", "factor": 2, "from_period": "2027-02"}]},
     3, ["scale_sales[0].submitted_by", "team-mars"]),
])
def test_bad_scenarios_exit_2_or_3_naming_the_field(
    published: Path, tmp_path: Path, data: dict, code: int, words: list[str]
) -> None:
    before = _folder_hash(published / f"cycle={CYCLE}")
    result = _whatif(published, _write(tmp_path, data, "bad.yaml"))
    assert result.exit_code == code, result.output
    for word in words:
        assert word in result.output
    assert not (published / "scenarios" / f"cycle={CYCLE}" / "bad").exists()
    assert _folder_hash(published / f"cycle={CYCLE}") == before


def test_usage_errors_exit_2(published: Path, tmp_path: Path) -> None:
    ok = _write(tmp_path, {"capacity": [{"location": "DC-SOUTH", "from_period": "2027-02",
                                         "extra_storage_pallets": 5}]})
    assert _whatif(published, ok, "--name", "../escape").exit_code == 2
    r = runner.invoke(app, ["whatif", "--base", "2031-01", "--scenario", str(ok),
                            "--out", str(published)])
    assert r.exit_code == 2 and "no published version" in r.output
    r = runner.invoke(app, ["whatif", "--base", f"{CYCLE}/7", "--scenario", str(ok),
                            "--out", str(published)])
    assert r.exit_code == 2 and f"{CYCLE}/1" in r.output
    (tmp_path / "s.txt").write_text("x")
    assert _whatif(published, tmp_path / "s.txt").exit_code == 2
    (tmp_path / "broken.yaml").write_text("promotions: [unclosed")
    r = _whatif(published, tmp_path / "broken.yaml")
    assert r.exit_code == 2 and "broken.yaml" in r.output
    assert runner.invoke(app, ["whatif", "--out", str(published)]).exit_code == 2


def test_a_base_fenced_on_a_plan_this_folder_lacks_is_replanned_without_the_fence_and_says_so(
    published: Path, small_world, tmp_path: Path
) -> None:
    # The base's manifest names the plan whose receipts it kept firm; that plan was published
    # from another output folder, so this one cannot give its rows.
    out = tmp_path / "out"
    shutil.copytree(published, out)
    path = out / f"cycle={CYCLE}" / "version=1" / "manifest.json"
    manifest = json.loads(path.read_text())
    fence = manifest["supply_plan"].get("time_fence") or {}
    manifest["supply_plan"]["time_fence"] = {**fence, "previous_cycle": "2026-11",
                                             "previous_version": 3}
    path.chmod(0o644)
    path.write_text(json.dumps(manifest))
    config = tmp_path / "fence.yaml"
    config.write_text("reconciliation:\n  frozen_months: 2\n")
    sku = small_world.tables["products"]["sku"].iloc[0]
    loc = small_world.tables["warehouses"]["location"].iloc[0]
    scenario = _write(tmp_path, {"name": "fenced", "promotions": [{
        "promo_id": "WI-2", "sku": sku, "location": loc, "start_period": "2027-04",
        "end_period": "2027-04", "uplift_pct": 25}]})

    def notes(*extra: str) -> list[str]:
        result = _whatif(out, scenario, *extra)
        assert result.exit_code == 0, result.output
        stored = out / "scenarios" / f"cycle={CYCLE}" / "fenced" / "summary.json"
        return json.loads(stored.read_text())["notes"]

    missing = "plan 2026-11 version 3, which this output folder does not hold"
    assert any(missing in n for n in notes("--config", str(config)))
    # Without a time fence in the settings there is no fence to miss.
    config.write_text("reconciliation:\n  frozen_months: 0\n")
    assert not any("does not hold" in n for n in notes("--config", str(config)))
