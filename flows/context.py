"""The typed context of one run, built once at the edge and passed to every stage.

The command line, the monthly deployment and a stage re-run from the UI each build one
`RunContext`; stages never parse a config file or read the environment themselves.
"""

from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from data_contracts.month import MAX_HORIZON
from flows.config import RunConfig, SopSettings, load_config
from flows.output_tree import OutputTree, Workspace
from flows.params import Cycle, Horizon, Jobs, RunParams, StoreUrl, cycle_for
from forecasting.engines import EngineName, usable_cores


class RunContext(BaseModel):
    """Everything the stages of one run share: what to plan, where, with which settings."""

    # A refused store URL must not be echoed back (it carries a password).
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    cycle: Cycle = Field(..., description="First month planned, YYYY-MM")
    horizon: Horizon = Field(
        18, description=f"Months planned from the cycle month (1-{MAX_HORIZON})")
    inputs: str = Field(..., description="Folder or fsspec URL holding the input tables")
    out: str = Field(..., description="Output folder: versions, store, working files")
    run_id: str = Field(..., pattern=r"^[A-Za-z0-9_.-]{1,64}$",
                        description="The run's id: its workspace, manifest and plan_runs row")
    store: StoreUrl | None = Field(
        None, description="SQLAlchemy URL of the plan store, without password; empty = "
        "SOP_STORE_URL or DuckDB in the output folder")
    config: RunConfig = Field(default_factory=RunConfig,
                              description="Policy settings (contracts, forecasting, "
                              "reconciliation, execution)")
    engine: EngineName = Field("local", description="Where baselines are fitted")
    dask_address: str | None = Field(None, description="Dask scheduler; empty with engine "
                                     "'dask' = a local cluster")
    jobs: Jobs | None = Field(None, description="Processes fitting baselines; empty = the "
                              "config's execution.jobs, else every usable core")

    @classmethod
    def from_params(cls, params: RunParams, run_id: str, run_date: date | None = None,
                    settings: SopSettings | None = None) -> "RunContext":
        """The context of a monthly run: empty fields from the environment, the config file
        parsed once (settings typed in the UI replace it), the cycle from the run date."""
        params = params.with_environment(settings)
        config = params.settings if params.settings is not None else load_config(params.config)
        if params.dask_address and params.engine != "dask":
            raise ValueError("dask_address is only used with engine 'dask'")
        return cls(
            cycle=params.cycle or cycle_for(run_date or date.today()), horizon=params.horizon,
            inputs=str(params.inputs), out=str(Path(str(params.out)).resolve()), run_id=run_id,
            store=params.store, config=config, engine=params.engine,
            dask_address=params.dask_address, jobs=params.jobs,
        )

    @property
    def tree(self) -> OutputTree:
        return OutputTree.local(self.out)

    @property
    def workspace(self) -> Workspace:
        return self.tree.workspace(self.cycle, self.run_id)

    @property
    def workers(self) -> int:
        """Processes (or local Dask workers) fitting: --jobs, else config, else every core."""
        return self.jobs or self.config.execution.jobs or usable_cores()

    def store_url(self, settings: SopSettings | None = None) -> str:
        """The store to publish to: the context's, else SOP_STORE_URL, else DuckDB in out.

        The environment is read here, at publish time, so a URL from it never becomes a
        (stored, displayed) parameter."""
        return self.store or (settings or SopSettings()).store_url or \
            self.tree.default_store_url()
