"""ingest_and_check by location group: the checked tables, findings, rejects and breaches of
the whole-table check, and the driver never reads a location-keyed table whole.

Runs the stage itself (under Prefect's test harness) on the demo's world and on a small
generated world, as CSV and Parquet, unpartitioned and with partition sizes 1 and 2.
"""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import flows.check_parts as check_parts
import flows.io as flows_io
from data_contracts import ContractBreach, QualitySettings, QuarantinePolicy
from data_contracts.partitioned import SPLIT_TABLES
from flows.config import RunConfig
from flows.context import RunContext
from flows.io import write_inputs
from flows.output_tree import OutputTree
from flows.stages import ingest_and_check
from sample_data import generate_world

CYCLE = "2026-12"


def _run(inputs: Path, out: Path, size: int | None, quarantine: dict[str, float] | None = None
         ) -> tuple[dict, dict[str, pd.DataFrame] | None, ContractBreach | None]:
    config = RunConfig.model_validate({"execution": {"partition_size": size},
                                       "contracts": {"quarantine": quarantine or {}}})
    ctx = RunContext(cycle=CYCLE, horizon=12, inputs=str(inputs), out=str(out),
                     run_id=f"size-{size or 0}", config=config)
    try:
        result = ingest_and_check(ctx)
    except ContractBreach as breach:
        return {}, None, breach
    record = result.model_dump(include={"inputs", "findings", "quarantined_rows"})
    return record, ctx.workspace.load_frames("check"), None


def _assert_same_check(inputs: Path, tmp_path: Path, sizes: tuple[int, ...] = (1, 2),
                       quarantine: dict[str, float] | None = None) -> ContractBreach | None:
    record, tables, breach = _run(inputs, tmp_path / "whole", None, quarantine)
    for size in sizes:
        got_record, got_tables, got_breach = _run(inputs, tmp_path / f"size{size}", size,
                                                  quarantine)
        assert got_record == record, f"size {size}"
        if breach is not None:
            assert got_breach is not None, f"size {size}: no breach"
            assert [f.model_dump() for f in got_breach.findings] == [
                f.model_dump() for f in breach.findings]
            assert got_breach.message.split("\nOffending rows")[0] == \
                breach.message.split("\nOffending rows")[0]
            pd.testing.assert_frame_equal(got_breach.rejects, breach.rejects, check_dtype=False)
            continue
        assert got_breach is None, str(got_breach)
        assert tables is not None and got_tables is not None
        assert got_tables.keys() == tables.keys()
        for name, frame in tables.items():
            # Rows by group, then by line (flows/check_parts.py): the same rows, same index.
            got = got_tables[name].sort_index(kind="stable")
            pd.testing.assert_frame_equal(got, frame.sort_index(kind="stable"), obj=name)
    return breach


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_demo_world_checks_the_same_by_group(tmp_path: Path, fmt: str) -> None:
    world = generate_world(cycle=CYCLE, horizon=12)  # the demo's world: 200 SKUs, 3 DCs
    write_inputs(world.tables, tmp_path / "inputs", fmt=fmt)
    assert _assert_same_check(tmp_path / "inputs", tmp_path) is None


def test_generated_world_with_quarantined_rows(tmp_path: Path) -> None:
    world = generate_world(n_skus=30, n_locations=4, history_months=24, cycle=CYCLE,
                           horizon=12, seed=5)
    tables = {t: f.astype(str) for t, f in world.tables.items()}
    history = tables["sales_history"]
    rows = history.groupby("location").head(1).index  # a bad row in every group
    history.loc[rows, "qty"] = "-1"
    inventory = tables["inventory"]
    inventory.loc[inventory.index[0], "location"] = "DC-MARS"  # the group of no warehouse
    write_inputs(tables, tmp_path / "inputs")
    _assert_same_check(tmp_path / "inputs", tmp_path, sizes=(1, 3),
                       quarantine={"sales_history": 0.01, "inventory": 0.1})


def _csv(inputs: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(inputs / f"{table}.csv", dtype=str, keep_default_na=False)


def _breaks_duplicate_keys(inputs: Path) -> None:
    history = _csv(inputs, "sales_history")
    dup = history.groupby("location").head(1)  # a duplicate in every location group
    pd.concat([history, dup]).to_csv(inputs / "sales_history.csv", index=False)


def _breaks_padded_duplicate(inputs: Path) -> None:
    history = _csv(inputs, "sales_history")
    dup = history.iloc[[3]].assign(location=" " + history["location"].iloc[3] + " ")
    pd.concat([history, dup]).to_csv(inputs / "sales_history.csv", index=False)


def _breaks_unknown_location(inputs: Path) -> None:
    orders = _csv(inputs, "open_orders")
    orders.loc[0, "location"] = "DC-MARS"
    orders.loc[1, "location"] = ""
    orders.to_csv(inputs / "open_orders.csv", index=False)


def _breaks_unknown_sku(inputs: Path) -> None:
    inventory = _csv(inputs, "inventory")
    inventory.loc[inventory.groupby("location").head(1).index, "sku"] = "NOPE-1"
    inventory.to_csv(inputs / "inventory.csv", index=False)


def _breaks_share(inputs: Path) -> None:
    history = _csv(inputs, "sales_history")
    history.loc[history.index[::40], "qty"] = "-1"  # 2.5 % of rows, in every group
    history.to_csv(inputs / "sales_history.csv", index=False)


def _breaks_file(inputs: Path) -> None:
    df = _csv(inputs, "inventory")
    df.to_csv(inputs / "inventory.csv", index=False, sep=";")


def _breaks_products_file(inputs: Path) -> None:
    df = _csv(inputs, "products")
    df.to_csv(inputs / "products.csv", index=False, sep=";")


@pytest.mark.parametrize(("breaks", "quarantine", "pattern"), [
    (_breaks_duplicate_keys, None, r"sales_history \(sku, location, period\): duplicate key"),
    (_breaks_padded_duplicate, None, r"sales_history \(sku, location, period\): duplicate key"),
    (_breaks_unknown_location, None, r"open_orders\.location: location not in warehouses"),
    (_breaks_unknown_sku, None, r"inventory\.sku: sku not in products"),
    (_breaks_share, {"sales_history": 0.01}, r"more than the 1\.0% that may be quarantined"),
    (_breaks_file, None, r"inventory: cannot read .*not comma-separated"),
    (_breaks_products_file, None, r"products: cannot read .*not comma-separated"),
], ids=["duplicate-keys", "padded-duplicate", "unknown-location", "unknown-sku",
        "share-exceeded", "semicolons", "products-semicolons"])
def test_bad_inputs_breach_the_same_way_by_group(inputs_dir: Path, tmp_path: Path, breaks,
                                                 quarantine, pattern: str) -> None:
    breaks(inputs_dir)
    breach = _assert_same_check(inputs_dir, tmp_path, quarantine=quarantine)
    assert breach is not None
    assert pd.Series([breach.message]).str.contains(pattern).all(), breach.message


def test_the_driver_never_reads_a_location_keyed_table_whole(
        inputs_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = {t: len(_csv(inputs_dir, t)) for t in SPLIT_TABLES
            if (inputs_dir / f"{t}.csv").exists()}
    whole_reads: list[str] = []
    real_parse = flows_io.parse_table

    def parse(table: str, *args, **kwargs):  # the whole-file reader
        whole_reads.append(table)
        return real_parse(table, *args, **kwargs)

    seen: dict[str, int] = {}
    real_read = check_parts.read_group

    def read_group(ws, stage, tables, index):
        frames = real_read(ws, stage, tables, index)
        for table, frame in frames.items():
            seen[table] = max(seen.get(table, 0), len(frame))
        return frames

    monkeypatch.setattr(flows_io, "parse_table", parse)
    monkeypatch.setattr(check_parts, "parse_table", parse)
    monkeypatch.setattr(check_parts, "read_group", read_group)
    monkeypatch.setattr(check_parts, "BATCH_ROWS", 50)

    def whole_previous(self, cycle):
        raise AssertionError("the previous cycle's inputs read whole")

    monkeypatch.setattr(OutputTree, "previous_inputs", whole_previous)
    batches: list[int] = []
    real_iter = flows_io.TableStream.__iter__

    def stream(self):
        for batch in real_iter(self):
            batches.append(len(batch))
            yield batch

    monkeypatch.setattr(flows_io.TableStream, "__iter__", stream)
    record, _, breach = _run(inputs_dir, tmp_path / "out", 1)
    assert breach is None and record
    assert set(whole_reads) <= {"products", "warehouses"}, whole_reads
    assert batches and max(batches) <= 50
    assert seen.keys() == rows.keys()
    for table, n in rows.items():
        assert seen[table] < n, f"{table}: a group read {seen[table]} of {n} rows"


@pytest.mark.slow
def test_groups_run_on_dask_workers_with_the_local_verdict(inputs_dir: Path,
                                                           tmp_path: Path) -> None:
    history = _csv(inputs_dir, "sales_history")
    history.loc[history.index[::50], "qty"] = "-1"
    history.to_csv(inputs_dir / "sales_history.csv", index=False)
    policy = QuarantinePolicy(max_share={"sales_history": 0.05})
    outcomes = []
    for engine in ("local", "dask"):
        tree = OutputTree.local(tmp_path / engine)
        ws = tree.workspace(CYCLE, "t")
        plan = check_parts.plan_check(str(inputs_dir), CYCLE, 1)
        assert plan is not None and len(plan.groups) == 3
        done = check_parts.check_by_partition(
            ws, tree, plan, CYCLE, 12, policy, tmp_path / engine / "docs", QualitySettings(),
            engine=engine, workers=2)
        outcomes.append((done, ws.load_frames("check")))
    (local, local_tables), (dask, dask_tables) = outcomes
    assert [f.model_dump() for f in dask.checked.findings] == [
        f.model_dump() for f in local.checked.findings]
    assert any(f.rule == "quarantine" for f in local.checked.findings)
    pd.testing.assert_frame_equal(dask.checked.rejects, local.checked.rejects)
    assert dask_tables.keys() == local_tables.keys()
    for name, frame in local_tables.items():
        pd.testing.assert_frame_equal(dask_tables[name], frame, obj=name)


def _publish_previous(out: Path, tables: dict[str, pd.DataFrame]) -> None:
    """A published version of last cycle whose inputs snapshot is `tables` (as publish
    writes it: the checked tables, without their index)."""
    tree = OutputTree.local(out)
    folder = Path(tree.version_dir("2026-11", 1)) / "inputs"
    folder.mkdir(parents=True)
    for name, frame in tables.items():
        frame.reset_index(drop=True).to_parquet(folder / f"{name}.parquet", index=False)
    tree.mark_published("2026-11", 1)
    tree.set_current("2026-11", 1)


def test_drift_and_restatements_against_last_cycle_are_the_same(inputs_dir: Path,
                                                                 tmp_path: Path) -> None:
    before = {t: _csv(inputs_dir, t) for t in ("sales_history", "sales_forecast", "products")}
    before["sales_forecast"]["qty"] = (before["sales_forecast"]["qty"].astype(float) / 3
                                       ).astype(str)  # this cycle's forecast is up 200 %
    history = before["sales_history"]
    history.loc[history["period"] == "2025-06", "qty"] = "1000"  # a restated month
    for name in ("whole", "size1", "size2"):
        _publish_previous(tmp_path / name, before)
    record, _, breach = _run(inputs_dir, tmp_path / "whole", None)
    assert breach is None
    rules = {f["rule"] for f in record["findings"]}
    assert {"history restated", "total forecast drift", "family forecast drift"} <= rules
    _assert_same_check(inputs_dir, tmp_path)


def test_sop_validate_exits_3_with_the_same_message_by_group(inputs_dir: Path,
                                                             tmp_path: Path) -> None:
    """The command a person runs: exit 3, the same words, whatever the partition size."""
    _breaks_unknown_location(inputs_dir)
    config = tmp_path / "groups.yaml"
    config.write_text("execution:\n  partition_size: 1\n")
    env = {**os.environ, "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "600",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("PREFECT_API_URL", None)
    outputs = []
    for name, extra in (("whole", []), ("groups", ["--config", str(config)])):
        out = tmp_path / name
        done = subprocess.run(
            [sys.executable, "-m", "flows.cli", "validate", "--inputs", str(inputs_dir),
             "--cycle", CYCLE, "--out", str(out), "--horizon", "12", *extra],
            env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 3, done.stdout[-2000:] + done.stderr[-2000:]
        text = (done.stdout + done.stderr).replace(str(out), "OUT")
        # The command's own message comes last, after the flow run's log lines.
        outputs.append(text[text.rindex("Data contract breached"):].split("Offending rows")[0])
    assert "open_orders.location: location not in warehouses" in outputs[0]
    assert outputs[1] == outputs[0]


@pytest.mark.parametrize("raw", [
    b"\xef\xbb\xbfsku,location,qty\r\nA,DC-1,1\r\nB,,2\r\n",  # BOM, CRLF, an empty cell
    b'sku,location,note\nA,DC-1,"two\nlines"\nB,DC-2,x\n',  # a quoted line break
    b"\nsku,location,qty\nA,DC-1,1\n\nB,DC-2, 2 \n",  # blank lines, padded cell
    b"sku,location,qty\n",  # a header alone
    b"sku , location,qty\n" + b"".join(b"S%d,DC-%d,%d\n" % (i, i % 3, i) for i in range(23)),
], ids=["bom-crlf", "quoted-newline", "blank-lines", "header-only", "many-batches"])
def test_streamed_csv_is_the_whole_file_reader_in_batches(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(raw)
    whole = flows_io.parse_table("t", str(path), raw, "csv")
    stream = flows_io.TableStream("t", str(path), "csv", batch_rows=5)
    batches = list(stream)
    pd.testing.assert_frame_equal(pd.concat(batches), whole, check_index_type=False)
    assert stream.record is not None
    assert (stream.record.rows, stream.record.sha256) == (len(whole), flows_io.sha256_file(path))


@pytest.mark.parametrize("raw", [
    b"", b"  \n", b"sku;location;qty\nA;DC-1;1\n", b"sku,qty,qty\nA,1,2\n",
    b"sku,location\nA,DC-\xe9\n", b"sku,location\nA,B\nA,B,C,D\n",
], ids=["empty", "blank", "semicolons", "repeated-header", "latin-1", "too-many-fields"])
def test_streamed_csv_is_refused_in_the_whole_file_readers_words(tmp_path: Path,
                                                                   raw: bytes) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(raw)
    with pytest.raises(flows_io.TableReadError) as whole:
        flows_io.parse_table("t", str(path), raw, "csv")
    with pytest.raises(flows_io.TableReadError) as streamed:
        list(flows_io.TableStream("t", str(path), "csv", batch_rows=5))
    assert str(streamed.value) == str(whole.value)


def test_a_refused_products_file_is_reported_before_any_large_table_is_read(
        inputs_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Partitioning is for catalogues too large for one read: a products file the reader
    refuses stops the check before a location-keyed table is read (whole or in batches)."""
    _breaks_products_file(inputs_dir)
    reads: list[str] = []
    real_parse = flows_io.parse_table

    def parse(table: str, *args, **kwargs):
        reads.append(table)
        return real_parse(table, *args, **kwargs)

    monkeypatch.setattr(flows_io, "parse_table", parse)
    monkeypatch.setattr(check_parts, "parse_table", parse)
    monkeypatch.setattr(flows_io.TableStream, "__iter__",
                        lambda self: (_ for _ in ()).throw(AssertionError("a table streamed")))
    _, _, breach = _run(inputs_dir, tmp_path / "out", 1)
    assert breach is not None and "products: cannot read" in breach.message
    assert set(reads) <= {"products", "warehouses"}, reads
