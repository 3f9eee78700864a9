"""A published version's meeting pack shows the numbers of the files published with it."""

import re
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from flows.cli import app
from reporting.markup import units

CYCLE = "2026-12"
MEASURES = ["sales_forecast", "baseline_forecast", "consensus_demand", "constrained_demand"]


def test_report_families_and_promotions_are_the_published_tables(
    inputs_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", "--inputs", str(inputs_dir), "--cycle", CYCLE,
                                      "--out", str(out), "--horizon", "12"])
    assert result.exit_code == 0, result.output
    version = out / f"cycle={CYCLE}" / "version=1"
    html = (version / "report.html").read_text(encoding="utf-8")
    headline = html.split('id="headline"')[1].split("<section")[0]
    families = pd.read_parquet(version / "family_plan.parquet").groupby("family")[MEASURES].sum()
    assert len(families) > 1
    for family, sums in families.iterrows():
        (row,) = re.findall(rf"<tr><td>{re.escape(str(family))}</td>(.*?)</tr>", headline)
        shown = re.findall(r'<td class="num">(.*?)</td>', row)[: len(MEASURES)]
        assert shown == [units(sums[m]) for m in MEASURES], family

    load = pd.read_parquet(version / "promotion_load.parquet")
    promotions = html.split('id="promotions"')[1].split("<section")[0]
    assert not load.empty
    n = len(load.drop_duplicates(["promo_id", "sku", "location"]))
    assert (f"{n:,} promotions touch the horizon, adding about "
            f"{units(load['extra_units'].sum())} units") in promotions
