"""`sop run --engine/--dask-address`: parsed into RunParams, bad combinations are usage errors."""

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.params import RunParams

runner = CliRunner()
BASE = ["run", "--inputs", "x", "--cycle", "2026-12", "--out", "y"]


@pytest.mark.parametrize("extra", [
    ["--engine", "spark"],
    ["--dask-address", "tcp://127.0.0.1:8786"],  # an address needs --engine dask
])
def test_bad_engine_options_exit_2(extra: list[str]) -> None:
    result = runner.invoke(app, [*BASE, *extra])
    assert result.exit_code == 2, result.output


def test_run_params_default_to_the_local_engine() -> None:
    params = RunParams()
    assert params.engine == "local" and params.dask_address is None
    assert RunParams(engine="dask", dask_address="tcp://s:8786").engine == "dask"
    with pytest.raises(ValueError, match="engine"):
        RunParams(engine="spark")  # type: ignore[arg-type]
