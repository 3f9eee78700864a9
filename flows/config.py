"""Run configuration (the `--config` file) and environment settings."""

import difflib
import json
import tomllib
from pathlib import Path
from typing import Any, cast

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from data_contracts import QualitySettings
from data_contracts.tables import INPUT_TABLES
from flows.yaml_safe import load_yaml, read_text_limited
from forecasting import BaselineSettings
from reconciliation import PlanSettings


class ContractsConfig(BaseModel):
    """How bad input rows are treated."""

    model_config = ConfigDict(extra="forbid")

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


class ExecutionConfig(BaseModel):
    """Where and how wide the run computes; changes no number of the plan."""

    model_config = ConfigDict(extra="forbid")

    jobs: int | None = Field(
        default=None, ge=1,
        description="Processes fitting baselines (local engine) or workers of the local Dask "
        "cluster; empty = every core this process may use (CPU affinity and cgroup quota)",
    )
    partition_size: int | None = Field(
        default=None, ge=1,
        description="Locations checked, fitted, reconciled and published at a time "
        "(flows/check_parts.py, baseline_parts.py, partitions.py, publish_parts.py): the "
        "stages then hold one partition's rows instead of the catalogue's; empty = all "
        "locations at once. The published version is the same for every size",
    )


class RunConfig(BaseModel):
    """Everything a planning run can be tuned with; every field has a default.

    Unknown keys are refused at every level: a misspelt `forcasting:` would otherwise be
    ignored and the run made with defaults nobody asked for."""

    model_config = ConfigDict(extra="forbid")

    contracts: ContractsConfig = Field(default_factory=ContractsConfig)
    forecasting: BaselineSettings = Field(default_factory=BaselineSettings)
    reconciliation: PlanSettings = Field(default_factory=PlanSettings)
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)


class ConfigError(ValueError):
    """The config file cannot be used: missing, unreadable, or a key or value it may not have."""


def load_config(path: str | Path | None) -> RunConfig:
    """Read a YAML, JSON or TOML config file; no file means all defaults.

    Raises ConfigError naming the file and, for a bad key or value, its dotted path."""
    if path is None or str(path) == "":
        return RunConfig()
    path = Path(path)
    kinds = {".yaml": "YAML", ".yml": "YAML", ".json": "JSON", ".toml": "TOML"}
    if path.suffix not in kinds:
        raise ConfigError(f"config {path}: use .yaml, .json or .toml")
    try:
        text = read_text_limited(path)
    except FileNotFoundError:
        raise ConfigError(f"config {path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config {path}: cannot read: {exc}") from exc
    try:
        if kinds[path.suffix] == "YAML":
            data = load_yaml(text) or {}
        elif kinds[path.suffix] == "JSON":
            data = json.loads(text)
        else:
            data = tomllib.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config {path}: not valid {kinds[path.suffix]}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config {path}: expected a mapping of sections at the top level")
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"config {path}: " + "; ".join(
            _describe(e) for e in exc.errors())) from exc


def _describe(error: Any) -> str:
    """One pydantic error as `dotted.key: what is wrong`, with a suggestion for a typo."""
    loc = [str(part) for part in error["loc"]]
    where = ".".join(loc) or "config"
    if error["type"] == "extra_forbidden":
        known = _known_keys(RunConfig, loc[:-1])
        close = difflib.get_close_matches(loc[-1], known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
        return f"unknown key {where!r} ({hint})"
    if error["type"] == "value_error":  # a model's own check: its message says it all
        return f"{where}: {error['msg'].removeprefix('Value error, ')}"
    got = error.get("input")
    shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
    return f"{where}: {error['msg']}{shown}"


def _known_keys(model: type[BaseModel], loc: list[str]) -> list[str]:
    """The field names of the settings model found at `loc` under `model`."""
    for part in loc:
        field = model.model_fields.get(part)
        inner = field.annotation if field else None
        if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
            return []
        model = inner
    return sorted(model.model_fields)


class SopSettings(BaseSettings):
    """Settings that differ by environment: read from `SOP_*` variables, never from code."""

    model_config = SettingsConfigDict(env_prefix="SOP_", extra="ignore")

    store_url: str | None = Field(
        None, description="SQLAlchemy URL of the plan store; default DuckDB in the output folder"
    )
    inputs: str = Field("inputs", description="Default input folder or fsspec URL")
    out: str = Field("sop-out", description="Default output folder")
    timezone: str = Field("UTC", description="Timezone of the monthly schedule")
    holidays: str = Field(
        "", description="Days the monthly schedule skips besides weekends: comma-separated "
        "`holidays` package country codes and ISO dates, e.g. `FR` or `DE-BY,2027-12-24`",
    )
    run_timeout_hours: float = Field(
        12.0, gt=0, description="A monthly run still going after this long is failed (stuck)")
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
    from sqlalchemy.engine import make_url

    settings = settings or SopSettings()
    parsed = make_url(url)
    if parsed.password or parsed.get_backend_name() == "duckdb":
        return url
    password: str | None = None
    if settings.store_password is not None:
        password = settings.store_password.get_secret_value()
    elif settings.store_password_block:
        from prefect.blocks.system import Secret

        # Called from sync code, load returns the block (its type also allows a coroutine).
        block = cast(Secret, Secret.load(settings.store_password_block))
        password = str(block.get())
    if password is None:
        return url
    return parsed.set(password=password).render_as_string(hide_password=False)
