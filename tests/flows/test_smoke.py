"""Every flow and deployment imports, and their parameters validate as the UI would."""

import pytest
from pydantic import ValidationError

from flows.deploy import MONTHLY, build_deployments
from flows.params import RunParams, cycle_for


def test_deployments_build_with_monthly_schedule() -> None:
    deployments = build_deployments(inputs="in", out="out", timezone="Europe/Paris")
    names = {d.full_name for d in deployments}
    assert MONTHLY in names
    assert {
        "sop-baselines/on-demand",
        "sop-reconcile/on-demand",
        "sop-publish/on-demand",
        "sop-ingest-and-check/on-demand",
    } <= names
    monthly = next(d for d in deployments if d.full_name == MONTHLY)
    [schedule] = monthly.schedules
    assert "RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1" in schedule.schedule.rrule
    assert all(s.schedule.timezone == "Europe/Paris" for s in monthly.schedules)
    schema = monthly._parameter_openapi_schema.model_dump()
    assert schema["required"] == []  # every parameter optional: partial runs are valid
    assert monthly.parameters == {"inputs": "in", "out": "out"}


def test_monthly_flow_takes_flat_described_parameters() -> None:
    """One parameter per RunParams field, each with RunParams' default and description."""
    import inspect

    from prefect.utilities.callables import parameter_schema

    from flows.pipeline import monthly_sop

    signature = inspect.signature(monthly_sop.fn).parameters
    assert list(signature) == list(RunParams.model_fields)
    props = parameter_schema(monthly_sop).model_dump()["properties"]
    for name, field in RunParams.model_fields.items():
        assert signature[name].default == field.default, name
        assert props[name]["description"] == field.description, name
    assert (props["horizon"]["minimum"], props["horizon"]["maximum"]) == (1, 60)


def test_partial_parameters_are_a_valid_run() -> None:
    from flows.pipeline import monthly_sop

    assert monthly_sop.validate_parameters({"cycle": "2026-12"})["cycle"] == "2026-12"
    with pytest.raises(Exception, match="horizon"):
        monthly_sop.validate_parameters({"horizon": 0})


def test_empty_folders_come_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("SOP_INPUTS", "/data/in")
    monkeypatch.setenv("SOP_OUT", "/data/out")
    resolved = RunParams(cycle="2026-12").with_environment()
    assert (resolved.inputs, resolved.out, resolved.store) == ("/data/in", "/data/out", None)
    given = RunParams(inputs="a", out="b", store="duckdb:///x.duckdb").with_environment()
    assert (given.inputs, given.out, given.store) == ("a", "b", "duckdb:///x.duckdb")


def test_a_store_url_with_a_password_is_refused_before_the_run(tmp_path) -> None:
    """Parameters are kept and shown by the server: the password belongs in the environment."""
    from flows.pipeline import monthly_sop, publish_stage

    url = "postgresql+psycopg://planner:s3cret@db:5432/sop"
    with pytest.raises(ValidationError, match="SOP_STORE_PASSWORD") as refused:
        RunParams(store=url)
    assert "s3cret" not in str(refused.value)
    state = monthly_sop(store=url, out=str(tmp_path), return_state=True)
    assert state.is_failed() and "SOP_STORE_PASSWORD" in state.message
    assert "s3cret" not in state.message
    assert not (tmp_path / "runs").exists()  # refused before any stage or workspace
    # A stage re-run from the UI gets the same check on its context's form.
    ctx = {"cycle": "2026-12", "inputs": "in", "out": str(tmp_path), "run_id": "r1",
           "store": url}
    with pytest.raises(Exception, match="SOP_STORE_PASSWORD") as stage_refused:
        publish_stage.validate_parameters({"ctx": ctx})
    assert "s3cret" not in str(stage_refused.value)
    assert RunParams(store="postgresql+psycopg://planner@db:5432/sop").store


def test_stage_deployments_describe_their_parameters() -> None:
    for deployment in build_deployments(inputs="in", out="out", timezone="UTC"):
        props = deployment._parameter_openapi_schema.model_dump()["properties"]
        undescribed = [name for name, p in props.items() if not p.get("description")]
        assert not undescribed, (deployment.full_name, undescribed)


@pytest.mark.parametrize("cycle", ["../x", "2026-01'; drop table x", "2026-13", "26-01"])
def test_params_refuse_unsafe_cycles(cycle: str) -> None:
    with pytest.raises(ValidationError):
        RunParams(cycle=cycle)


def test_default_cycle_is_the_run_month() -> None:
    from datetime import date

    assert cycle_for(date(2027, 3, 1)) == "2027-03"
    assert RunParams().resolved_cycle(date(2027, 3, 2)) == "2027-03"


def test_scheduled_cycle_is_the_month_in_the_schedules_zone() -> None:
    """06:00 Tokyo on 1 January is 21:00 UTC on 31 December: the run plans January."""
    from datetime import UTC, date, datetime

    from flows.params import local_run_date

    scheduled = datetime(2026, 12, 31, 21, 0, tzinfo=UTC)
    assert local_run_date(scheduled, "Asia/Tokyo") == date(2027, 1, 1)
    assert RunParams().resolved_cycle(local_run_date(scheduled, "Asia/Tokyo")) == "2027-01"
    assert local_run_date(scheduled, "UTC") == date(2026, 12, 31)


def test_store_password_comes_from_the_environment(monkeypatch) -> None:
    from flows.config import SopSettings, resolve_store_url

    monkeypatch.setenv("SOP_STORE_PASSWORD", "s3cret")
    url = resolve_store_url("postgresql+psycopg://planner@db:5432/sop", SopSettings())
    assert url == "postgresql+psycopg://planner:s3cret@db:5432/sop"
    # A URL that carries its own password, and DuckDB, are left alone.
    assert resolve_store_url("postgresql+psycopg://a:b@db/sop") == "postgresql+psycopg://a:b@db/sop"
    assert resolve_store_url("duckdb:///x.duckdb") == "duckdb:///x.duckdb"


def test_committed_prefect_yaml_is_the_generated_one(tmp_path) -> None:
    """prefect.yaml is written from build_deployments (like generated docs): regenerate it with
    `python -m flows.deploy --write-yaml prefect.yaml` after changing a deployment."""
    import importlib
    from pathlib import Path

    import yaml

    from flows.deploy import TIMEZONE_FROM_ENV, main, render_prefect_yaml

    committed_text = (Path(__file__).parents[2] / "prefect.yaml").read_text()
    main(["--write-yaml", str(tmp_path / "prefect.yaml")])
    assert (tmp_path / "prefect.yaml").read_text() == committed_text
    committed = yaml.safe_load(committed_text)
    assert committed == yaml.safe_load(render_prefect_yaml()), (
        "prefect.yaml is stale: run `python -m flows.deploy --write-yaml prefect.yaml`")
    by_entrypoint = {d["entrypoint"]: d for d in committed["deployments"]}
    code = build_deployments(timezone="UTC")
    assert sorted(by_entrypoint) == sorted(str(d.entrypoint) for d in code)
    for deployment in code:
        entry = by_entrypoint[str(deployment.entrypoint)]
        module, name = entry["entrypoint"].rsplit(".", 1)
        assert hasattr(getattr(importlib.import_module(module), name), "deploy")  # a flow
        assert entry["name"] == deployment.name and entry["parameters"] == deployment.parameters
        schedules = [s.schedule.rrule for s in deployment.schedules]
        assert [s["rrule"] for s in entry.get("schedules", [])] == schedules
        assert {s["timezone"] for s in entry.get("schedules", [])} <= {TIMEZONE_FROM_ENV}
    assert "sop-whatif" in {d.flow_name for d in code}


def test_the_worker_image_polls_the_deployments_pool() -> None:
    """The Dockerfile is not built in CI: at least its worker command and install stay in step
    with the deployments and the pinned environment."""
    import json
    from pathlib import Path

    from flows.deploy import DEFAULT_POOL

    lines = (Path(__file__).parents[2] / "Dockerfile").read_text().splitlines()
    instruction = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in lines
                   if line and not line.startswith(("#", " ")) and " " in line}
    command = json.loads(instruction["ENTRYPOINT"]) + json.loads(instruction["CMD"])
    assert command == ["prefect", "worker", "start", "--pool", DEFAULT_POOL, "--type", "process"]
    assert instruction["FROM"].startswith("python:3.11")
    assert any("pip install -c /src/constraints.txt /src" in line for line in lines)
