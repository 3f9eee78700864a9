"""Parameters of the what-if flow; reading its scenario file, its base version, stored scenarios.

No Prefect here: the command line checks a scenario and a base before a run starts, and the
flow checks them again when it is started from the UI.
"""

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError

from data_contracts.month import MONTH_PATTERN
from data_contracts.scenario import NAME_PATTERN, Scenario
from flows.output_tree import OutputTree
from flows.yaml_safe import load_yaml, read_text_limited

BASE_PATTERN = MONTH_PATTERN.pattern.removesuffix("$") + r"(/[1-9]\d*)?$"  # CYCLE[/VERSION]


class WhatIfUsageError(Exception):
    """Bad usage: unknown base version, unreadable or invalid scenario file (exit 2)."""


class WhatIfParams(BaseModel):
    """Parameters of the what-if flow (the Prefect UI renders them as a form)."""

    base: str = Field(..., pattern=BASE_PATTERN,
                      description="Published plan to start from: CYCLE or CYCLE/VERSION "
                      "(default version: the current one)")
    scenario: str = Field(..., min_length=1, description="Scenario file (.yaml, .yml or .json)")
    out: str = Field(..., min_length=1, description="Output folder holding the published plans")
    name: str | None = Field(None, pattern=NAME_PATTERN,
                             description="Name of the stored scenario (default: the file's "
                             "`name`, else its file name)")
    config: str | None = Field(None, description="Run configuration (YAML/JSON/TOML) for the "
                               "plan settings; default: the base run's UI settings, else defaults")

    def cycle_version(self) -> tuple[str, int | None]:
        cycle, _, version = self.base.partition("/")
        return cycle, int(version) if version else None


def resolve_base(tree: OutputTree, cycle: str, version: int | None) -> int:
    """The base version: VERSION, else CURRENT, else the highest published complete folder
    (a folder without the publication mark is never a base)."""
    found = tree.resolve_version(cycle, version)
    if found is None:
        known = ", ".join(f"{cycle}/{v}" for v in tree.versions(cycle)
                          if tree.is_complete(cycle, v)) or "none"
        raise WhatIfUsageError(
            f"--base {cycle}{'' if version is None else f'/{version}'}: no published version "
            f"in {tree.root} (published versions of {cycle}: {known})")
    return found


def read_scenario(path: str) -> tuple[Scenario, str]:
    """Parse and validate a scenario file; errors name the file and the field (exit 2)."""
    p = Path(path)
    if p.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise WhatIfUsageError(f"scenario {path}: use a .yaml, .yml or .json file")
    try:
        text = read_text_limited(p)
    except (OSError, UnicodeDecodeError) as exc:
        raise WhatIfUsageError(f"scenario {path}: cannot read: {exc}") from exc
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else load_yaml(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise WhatIfUsageError(f"scenario {path}: not valid {p.suffix[1:].upper()}: {exc}") \
            from exc
    if not isinstance(data, dict):
        raise WhatIfUsageError(f"scenario {path}: expected a mapping of actions at the top level")
    try:
        return Scenario.model_validate(data), text
    except ValidationError as exc:
        raise WhatIfUsageError(f"scenario {path}: " + "; ".join(
            f"{field_path(e['loc']) or 'scenario'}: {e['msg']}"
            + (f" (got {e['input']!r})" if not isinstance(e.get("input"), dict | list) else "")
            for e in exc.errors())) from exc


def field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def list_scenarios(out: str | Path) -> list[dict[str, Any]]:
    """Stored scenarios (newest first)."""
    return OutputTree.local(out).scenarios()
