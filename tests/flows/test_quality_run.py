"""The committed suite files are GX 1.x ExpectationSuites, severities included."""

import copy
import json

import great_expectations as gx
import pytest

from data_contracts.quality import SUITES_DIR, expectation_suites


@pytest.mark.parametrize("name", sorted(expectation_suites()))
def test_gx_loads_each_committed_suite_as_it_is_written(name: str) -> None:
    document = json.loads((SUITES_DIR / f"{name}.json").read_text())
    suite = gx.ExpectationSuite(**copy.deepcopy(document))  # GX writes into meta
    again = suite.to_json_dict()
    again["meta"].pop("great_expectations_version")
    assert again == document
    assert [e.severity.value for e in suite.expectations] == [
        e["severity"] for e in document["expectations"]
    ]
