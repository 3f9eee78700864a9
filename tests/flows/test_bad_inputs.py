"""Bad input through `sop run`: exit 3, a message naming table and column, nothing published.

The row-level catalogue lives in tests/data_contracts; these cases go through the whole
command, including files that cannot be parsed at all.
"""

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.store import PlanStore

CYCLE = "2026-12"
runner = CliRunner()


def _csv(inputs: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(inputs / f"{table}.csv", dtype=str, keep_default_na=False)


def _edit(table: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def apply(inputs: Path) -> None:
        change(_csv(inputs, table)).to_csv(inputs / f"{table}.csv", index=False)

    return apply


def _write(table: str, raw: bytes) -> Callable[[Path], None]:
    def apply(inputs: Path) -> None:
        (inputs / f"{table}.csv").write_bytes(raw)

    return apply


def _set(col: str, value: str, row: int = 0) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[row, col] = value
        return df

    return change


def _semicolons(inputs: Path) -> None:
    df = _csv(inputs, "inventory")
    df.to_csv(inputs / "inventory.csv", index=False, sep=";")


def _latin1(inputs: Path) -> None:
    df = _csv(inputs, "products")
    df.loc[0, "family"] = "CAFÉ"
    (inputs / "products.csv").write_bytes(df.to_csv(index=False).encode("latin-1"))


def _no_header(inputs: Path) -> None:
    df = _csv(inputs, "inventory")
    df.to_csv(inputs / "inventory.csv", index=False, header=False)


CASES = [
    ("negative-history-qty", _edit("sales_history", _set("qty", "-3")), "sales_history", "qty"),
    ("text-qty", _edit("sales_forecast", _set("qty", "lots")), "sales_forecast", "qty"),
    ("bad-month", _edit("sales_history", _set("period", "2025/01")), "sales_history", "period"),
    ("unknown-sku", _edit("inventory", _set("sku", "NOPE-1")), "inventory", "sku"),
    ("unknown-location", _edit("open_orders", _set("location", "DC-MARS")), "open_orders",
     "location"),
    ("zero-pallet", _edit("products", _set("units_per_pallet", "0")), "products",
     "units_per_pallet"),
    ("inf-on-hand", _edit("inventory", _set("on_hand", "inf")), "inventory", "on_hand"),
    ("tiny-inbound-capacity", _edit("warehouses", _set("inbound_pallets", "1e-9")), "warehouses",
     "inbound_pallets: must be >= 0.01"),
    ("missing-table", lambda p: (p / "products.csv").unlink(), "products", None),
    ("empty-file", _write("warehouses", b""), "warehouses", None),
    ("semicolons", _semicolons, "inventory", None),
    ("latin-1", _latin1, "products", None),
    ("no-header", _no_header, "inventory", None),
]


@pytest.mark.parametrize(("name", "breaks", "table", "column"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_exits_3_and_publishes_nothing(
    name: str, breaks: Callable[[Path], None], table: str, column: str | None,
    inputs_dir: Path, tmp_path: Path,
) -> None:
    breaks(inputs_dir)
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", "--inputs", str(inputs_dir), "--cycle", CYCLE,
                                 "--out", str(out), "--horizon", "12"])
    assert result.exit_code == 3, result.output
    assert table in result.output
    if column is not None:
        assert column in result.output
    assert not list(out.glob("cycle=*/version=*"))
    if (out / "sop.duckdb").exists():
        runs = PlanStore(f"duckdb:///{out / 'sop.duckdb'}").runs()
        assert not (runs["status"] == "published").any()


def test_quarantine_sets_rows_aside_and_says_so(inputs_dir: Path, tmp_path: Path) -> None:
    history = _csv(inputs_dir, "sales_history")
    history.loc[[0, 5], "qty"] = "-1"
    history.loc[0, "period"] = "2025-13"  # line 2 breaks two rules: still one row set aside
    history.to_csv(inputs_dir / "sales_history.csv", index=False)
    config = tmp_path / "config.yaml"
    config.write_text("contracts:\n  quarantine:\n    sales_history: 0.01\n")
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", "--inputs", str(inputs_dir), "--cycle", CYCLE,
                                 "--out", str(out), "--horizon", "12", "--config", str(config)])
    assert result.exit_code == 0, result.output
    version = out / f"cycle={CYCLE}" / "version=1"
    rejects = pd.read_parquet(version / "rejects.parquet")
    assert sorted(rejects["source_line"].astype(int)) == [2, 2, 7]
    assert set(rejects["table"]) == {"sales_history"}
    manifest = json.loads((version / "manifest.json").read_text())
    assert manifest["contracts"]["quarantined_rows"] == {"sales_history": 2}
    exceptions = pd.read_parquet(version / "exceptions.parquet")
    quarantine = exceptions[exceptions["type"].str.contains("quarantine")]
    assert len(quarantine) >= 1 and "sales_history" in quarantine["message"].iloc[0]
    assert "quarantine" in (version / "report.html").read_text().lower()
