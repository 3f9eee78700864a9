"""Only failures that can pass later are retried: a missing folder or a breach fails once."""

import asyncio
from pathlib import Path

import pytest

from data_contracts import read_error
from flows.io import InputsNotFound
from flows.retries import is_transient
from flows.store import StoreBusy

CYCLE = "2026-12"


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (ConnectionResetError("peer reset"), True),
        (TimeoutError("read timed out"), True),
        (OSError(5, "Input/output error"), True),
        (StoreBusy("locked"), True),
        (FileNotFoundError("x"), False),
        (NotADirectoryError("x"), False),
        (PermissionError("x"), False),
        (InputsNotFound("/nope"), False),
        (read_error("products", "p.csv", "not UTF-8 text"), False),
        (ValueError("bad"), False),
    ],
)
def test_transient_errors(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


async def _attempts(flow_run_id, task_name: str) -> list[tuple[int, str]]:
    """(run_count, state) of every `task_name` run under the flow run and its sub-flows."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        FlowRunFilterParentFlowRunId,
        TaskRunFilter,
        TaskRunFilterName,
    )

    async with get_client() as client:
        children = await client.read_flow_runs(flow_run_filter=FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[flow_run_id])))
        ids = [flow_run_id, *(c.id for c in children)]
        runs = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)),
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_=task_name)),
        )
        return [(r.run_count, r.state.type.value) for r in runs]


def test_missing_inputs_folder_fails_once_as_a_usage_error(tmp_path: Path) -> None:
    from flows.pipeline import monthly_sop

    missing = tmp_path / "no-such-inputs"
    state = monthly_sop(inputs=str(missing), out=str(tmp_path / "out"), cycle=CYCLE,
                        horizon=3, return_state=True)
    assert state.is_failed()
    assert state.message == (
        "Flow run encountered an exception: StageFailed: "
        f"stage 'ingest_and_check' failed: InputsNotFound: inputs folder not found: {missing} "
        "(give --inputs, the `inputs` parameter or SOP_INPUTS)"
    )
    attempts = asyncio.run(_attempts(state.state_details.flow_run_id, "read_input_tables"))
    assert attempts == [(1, "FAILED")]


def test_missing_inputs_folder_is_exit_2_on_the_command_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from flows.cli import app

    result = CliRunner().invoke(app, ["run", "--inputs", str(tmp_path / "nope"), "--cycle",
                                      CYCLE, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "--inputs" in result.output and "folder not found" in result.output


def test_a_breached_contract_is_not_retried(inputs_dir: Path, tmp_path: Path) -> None:
    from flows.pipeline import monthly_sop

    (inputs_dir / "products.csv").write_bytes("sku,family\nCAFÉ,x\n".encode("latin-1"))
    state = monthly_sop(inputs=str(inputs_dir), out=str(tmp_path / "out"), cycle=CYCLE,
                        horizon=3, return_state=True)
    assert state.is_failed() and "ContractBreach" in state.message
    attempts = asyncio.run(_attempts(state.state_details.flow_run_id, "read_input_tables"))
    assert attempts == [(1, "FAILED")]


def test_a_transient_read_error_is_retried(inputs_dir: Path, monkeypatch) -> None:
    """A dropped connection on the first read: the second attempt reads the tables."""
    from prefect import flow

    import flows.stages as stages

    real, calls = stages.read_inputs, []

    def flaky(source: str):
        calls.append(source)
        if len(calls) == 1:
            raise ConnectionResetError("connection reset by peer")
        return real(source)

    monkeypatch.setattr(stages, "read_inputs", flaky)
    fast = stages.read_input_tables.with_options(retry_delay_seconds=0)

    @flow
    def read_once() -> int:
        tables, _ = fast(str(inputs_dir))
        return len(tables)

    assert read_once() > 0
    assert len(calls) == 2
