"""Run configuration (the `--config` file) and environment settings."""

import json
import tomllib
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

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
    work_pool: str | None = Field(
        None, description="Process work pool `sop deploy` binds the deployments to"
    )
    store_password: SecretStr | None = Field(
        None, description="Password of the store, added to a store URL that has none"
    )
    store_password_block: str | None = Field(
        None, description="Name of a Prefect Secret block holding the store password"
    )


def resolve_store_url(url: str, settings: SopSettings | None = None) -> str:
    """Add the store password from the environment or a Prefect Secret block.

    URLs in parameters, deployments and logs stay password-free; the secret joins the URL
    only in memory, right before connecting.
    """
    settings = settings or SopSettings()
    parsed = make_url(url)
    if parsed.password or parsed.get_backend_name() == "duckdb":
        return url
    password: str | None = None
    if settings.store_password is not None:
        password = settings.store_password.get_secret_value()
    elif settings.store_password_block:
        from prefect.blocks.system import Secret

        password = str(Secret.load(settings.store_password_block).get())
    if password is None:
        return url
    return parsed.set(password=password).render_as_string(hide_password=False)
