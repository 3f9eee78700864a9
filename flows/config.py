"""Run configuration (the `--config` file) and environment settings."""

import json
import tomllib
from pathlib import Path

import yaml
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from data_contracts import QualitySettings
from data_contracts.tables import INPUT_TABLES
from forecasting import BaselineSettings
from reconciliation import PlanSettings


class ContractsConfig(BaseModel):
    """How bad input rows are treated."""

    quarantine: dict[str, float] = Field(
        default_factory=dict,
        description=(
            "Per input table, the largest share (0..1) of rows that may be quarantined "
            "instead of stopping the run. Absent tables: any bad row stops the run."
        ),
    )
    quality: QualitySettings = Field(
        default_factory=QualitySettings,
        description="Thresholds and severities of the great-expectations quality suites",
    )

    def model_post_init(self, __context: object) -> None:
        unknown = set(self.quarantine) - set(INPUT_TABLES)
        if unknown:
            raise ValueError(f"quarantine names unknown tables: {sorted(unknown)}")
        bad = {t: s for t, s in self.quarantine.items() if not 0 <= s <= 1}
        if bad:
            raise ValueError(f"quarantine shares must lie in [0, 1]: {bad}")


class RunConfig(BaseModel):
    """Everything a planning run can be tuned with; every field has a default."""

    contracts: ContractsConfig = Field(default_factory=ContractsConfig)
    forecasting: BaselineSettings = Field(default_factory=BaselineSettings)
    reconciliation: PlanSettings = Field(default_factory=PlanSettings)


def load_config(path: str | Path | None) -> RunConfig:
    """Read a YAML, JSON or TOML config file; no file means all defaults."""
    if path is None or str(path) == "":
        return RunConfig()
    path = Path(path)
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        data = yaml.safe_load(text) or {}
    elif path.suffix == ".json":
        data = json.loads(text)
    elif path.suffix == ".toml":
        data = tomllib.loads(text)
    else:
        raise ValueError(f"config {path}: use .yaml, .json or .toml")
    return RunConfig.model_validate(data)


class SopSettings(BaseSettings):
    """Settings that differ by environment: read from `SOP_*` variables, never from code."""

    model_config = SettingsConfigDict(env_prefix="SOP_", extra="ignore")

    store_url: str | None = Field(
        None, description="SQLAlchemy URL of the plan store; default DuckDB in the output folder"
    )
    inputs: str = Field("inputs", description="Default input folder or fsspec URL")
    out: str = Field("sop-out", description="Default output folder")
    timezone: str = Field("UTC", description="Timezone of the monthly schedule")
