"""Readers: every column as text, line numbers kept, unreadable files named clearly."""

import pandas as pd
import pytest

from flows.io import TableReadError, parse_table, read_inputs, write_inputs


def test_csv_keeps_keys_as_text_and_source_lines() -> None:
    raw = b"sku,location,period,qty\n007,DC-1,2025-01,3\n008,DC-1,2025-02,\n"
    df = parse_table("sales_history", "x.csv", raw, "csv")
    assert df["sku"].tolist() == ["007", "008"]
    assert df.index.tolist() == [2, 3]
    assert df.index.name == "source_line"
    assert pd.isna(df.loc[3, "qty"])


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"sku;location;period;qty\nA;B;2025-01;1\n", "not comma-separated"),
        (b"sku,location\n\xff\xfe,B\n", "not UTF-8"),
        (b'sku,location\n"A,B\n', "CSV"),
    ],
)
def test_unreadable_csv_is_named(raw: bytes, match: str) -> None:
    with pytest.raises(TableReadError, match=match) as info:
        parse_table("sales_history", "x.csv", raw, "csv")
    assert info.value.table == "sales_history"


def test_parquet_rows_are_numbered_from_one(tmp_path) -> None:
    pd.DataFrame({"sku": ["A", "B"], "location": ["L", "L"], "on_hand": [1.0, 2.0]}).to_parquet(
        tmp_path / "inventory.parquet"
    )
    tables, files = read_inputs(str(tmp_path))
    assert tables["inventory"].index.tolist() == [1, 2]
    assert files[0].rows == 2 and len(files[0].sha256) == 64


def test_same_table_in_two_formats_is_refused(tmp_path) -> None:
    df = pd.DataFrame({"sku": ["A"], "location": ["L"], "on_hand": [1.0]})
    write_inputs({"inventory": df}, tmp_path, fmt="csv")
    write_inputs({"inventory": df}, tmp_path, fmt="parquet")
    with pytest.raises(TableReadError, match=r"both inventory\.csv and inventory\.parquet"):
        read_inputs(str(tmp_path))


def test_file_names_match_case_insensitively(tmp_path) -> None:
    """An export named OPEN_ORDERS.CSV is the table, not a file ignored without a word."""
    (tmp_path / "OPEN_ORDERS.CSV").write_text("sku,location,period,qty\nA,L,2026-01,10\n")
    tables, files = read_inputs(str(tmp_path))
    assert tables["open_orders"]["qty"].tolist() == ["10"]
    assert files[0].path.endswith("OPEN_ORDERS.CSV")
    (tmp_path / "open_orders.csv").write_text("sku,location,period,qty\nA,L,2026-01,10\n")
    with pytest.raises(TableReadError, match=r"both OPEN_ORDERS\.CSV and open_orders\.csv"):
        read_inputs(str(tmp_path))


def test_a_folder_or_fifo_named_like_a_table_is_refused(tmp_path) -> None:
    import os

    (tmp_path / "inventory.csv").mkdir()
    with pytest.raises(TableReadError, match=r"inventory: .*not a regular file"):
        read_inputs(str(tmp_path))
    os.rmdir(tmp_path / "inventory.csv")
    os.mkfifo(tmp_path / "products.csv")  # reading it would block forever
    with pytest.raises(TableReadError, match=r"products: .*not a regular file"):
        read_inputs(str(tmp_path))


def test_a_repeated_column_is_refused() -> None:
    with pytest.raises(TableReadError, match=r"column 'qty' appears more than once"):
        parse_table("sales_history", "x.csv", b"sku,location,period,qty,qty\nA,L,2025-01,1,2\n",
                    "csv")


def test_missing_folder(tmp_path) -> None:
    from flows.io import InputsNotFound

    with pytest.raises(InputsNotFound, match="inputs folder not found"):
        read_inputs(str(tmp_path / "nope"))


def test_fsspec_memory_url_is_read() -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/sop-test/inputs/inventory.csv", b"sku,location,on_hand\nA,L,4\n")
    tables, files = read_inputs("memory://sop-test/inputs")
    assert tables["inventory"]["on_hand"].tolist() == ["4"]
    assert files[0].path.startswith("memory://")
