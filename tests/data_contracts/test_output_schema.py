"""The JSON Schema contract of the published tables: valid, true to pandera, strict on bad rows."""

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pandas as pd
import pyarrow.parquet as pq
import pytest

from data_contracts import validate_outputs
from data_contracts.output_schema import CONTRACT_VERSION, output_contract, render_output_contract
from data_contracts.tables import (
    OUTPUT_COLUMNS,
    OUTPUT_KEYS,
    REASON_CODES,
    SAFETY_STOCK_COLUMNS,
)
from reconciliation.plan import build_plan
from reconciliation.plan_changes import compute_plan_changes
from tests.reconciliation.conftest import make_world

Records = dict[str, list[dict[str, Any]]]


def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(output_contract())


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Records:
    """A real plan's tables, written to Parquet and read back as a downstream reader would."""
    w = make_world(seed=3, n_skus=6, n_locs=2, capacity=0.8, moq=True)
    result = build_plan(w.tables, w.baseline, w.cycle, w.horizon)
    plan = result.consensus_plan.reset_index(drop=True)
    plan.insert(0, "plan_version", 2)
    plan.insert(0, "cycle", w.cycle)
    previous = plan.assign(
        plan_version=1,
        consensus_demand=plan["consensus_demand"] * 1.3,
        planned_receipts=plan["planned_receipts"][::-1].to_numpy(),
        order_release_period=plan["order_release_period"][::-1].to_numpy(),
    )
    frames = {
        "consensus_plan": plan,
        "baseline_forecast": w.baseline,
        "capacity_report": result.capacity_report,
        "exceptions": result.exceptions,
        "plan_changes": compute_plan_changes(plan, previous, w.cycle, 1),
        "safety_stock": result.safety_stock,
    }
    validate_outputs(frames)  # the pandera contract agrees these are valid
    folder = tmp_path_factory.mktemp("published")
    records: Records = {}
    for name, frame in frames.items():
        assert len(frame), f"{name} is empty: the fixture no longer covers it"
        frame.to_parquet(folder / f"{name}.parquet", index=False)
        records[name] = pq.read_table(folder / f"{name}.parquet").to_pylist()
    return records


def test_document_is_valid_json_schema_and_versioned() -> None:
    document = output_contract()
    jsonschema.Draft202012Validator.check_schema(document)
    assert re.fullmatch(r"\d+\.\d+\.\d+", CONTRACT_VERSION)
    assert document["x-contract-version"] == CONTRACT_VERSION
    assert json.loads(render_output_contract()) == document


def test_every_published_table_its_columns_and_key() -> None:
    defs = output_contract()["$defs"]
    # SPEC's tables and the published additions (safety_stock.parquet).
    published = {**OUTPUT_COLUMNS, "safety_stock": SAFETY_STOCK_COLUMNS}
    assert set(defs) == set(published)
    for table, columns in published.items():
        assert list(defs[table]["properties"]) == columns, table
        assert defs[table]["required"] == columns, table
        assert defs[table].get("x-primary-key") == OUTPUT_KEYS.get(table), table
    reason = defs["consensus_plan"]["properties"]["reason"]
    assert reason["enum"] == list(REASON_CODES)
    assert defs["consensus_plan"]["properties"]["shortfall"]["minimum"] == 0


def test_records_of_a_real_plan_validate(published: Records) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator().iter_errors(published)]
    assert errors == []


def test_empty_text_may_be_null_or_blank_where_the_column_allows_it(published: Records) -> None:
    row = {"sku": "", "location": None, "period": "  ", "type": "data_contract:x",
           "severity": "warning", "message": "m"}
    validator().validate({"exceptions": [row]})
    with pytest.raises(jsonschema.ValidationError, match="does not match"):
        validator().validate({"exceptions": [{**row, "type": " "}]})


def _first(published: Records, table: str) -> dict[str, Any]:
    return dict(published[table][0])


@pytest.mark.parametrize(
    ("table", "column", "value", "message"),
    [
        ("consensus_plan", "planned_receipts", -1.0, "less than the minimum of 0"),
        ("consensus_plan", "reason", "GUT_FEELING", "is not one of"),
        ("consensus_plan", "consensus_demand", "12", "is not of type 'number'"),
        ("consensus_plan", "plan_version", 1.5, "is not of type 'integer'"),
        ("consensus_plan", "plan_version", 0, "less than the minimum of 1"),
        ("consensus_plan", "period", "2025-13", "does not match"),
        ("consensus_plan", "sku", None, "is not of type 'string'"),
        ("baseline_forecast", "demand_class", "chaotic", "is not one of"),
        ("capacity_report", "status", "full", "is not one of"),
        ("exceptions", "severity", "fatal", "is not one of"),
        ("plan_changes", "change", "vanished", "is not one of"),
        ("plan_changes", "previous_version", "1", "is not of type 'integer'"),
    ],
)
def test_a_tampered_record_fails(
    published: Records, table: str, column: str, value: Any, message: str
) -> None:
    record = {**_first(published, table), column: value}
    with pytest.raises(jsonschema.ValidationError, match=message) as caught:
        validator().validate({table: [record]})
    assert list(caught.value.absolute_path) == [table, 0, column]


def test_a_record_without_a_spec_column_fails_and_extra_columns_pass(published: Records) -> None:
    record = _first(published, "capacity_report")
    validator().validate({"capacity_report": [{**record, "note": "added column"}]})
    del record["status"]
    with pytest.raises(jsonschema.ValidationError, match="'status' is a required property"):
        validator().validate({"capacity_report": [record]})


def test_command_prints_the_contract() -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "data_contracts.output_schema"],
        cwd=root, capture_output=True, text=True, check=True, timeout=120,
    )
    assert json.loads(done.stdout) == output_contract()


def test_frame_records_in_pandas_form_validate_too(published: Records) -> None:
    # Readers that go through pandas get NaN for empty numbers; to_json writes them as null.
    frame = pd.DataFrame(published["plan_changes"])
    records = json.loads(frame.to_json(orient="records"))
    validator().validate({"plan_changes": records})
