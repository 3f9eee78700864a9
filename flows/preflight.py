"""What the command line checks before Prefect starts: folders, files, the config and the store URL.

A mistake found here is wrong usage (exit 2) reported in one line, in about the time Python
takes to start, instead of after a temporary Prefect server, three retries and a traceback.
Nothing here imports Prefect, statsforecast or DuckDB; the folder and file checks import
nothing beyond the standard library.
"""

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from flows.config import RunConfig


class UsageError(Exception):
    """An argument of the command is wrong (exit 2); the message says which and why."""


def _local_path(source: str) -> Path | None:
    """The local path of a folder argument; None for a remote fsspec URL (s3://, gcs://...).

    Remote folders are left to the flow: their reader retries, a network hiccup may pass."""
    parts = urlsplit(source)
    if parts.scheme in ("", "file") or len(parts.scheme) == 1:  # "C:\\..." on Windows
        return Path(parts.path if parts.scheme == "file" else source)
    return None


def check_inputs(source: str) -> None:
    """The inputs folder exists (local folders only)."""
    path = _local_path(source)
    if path is None:
        return
    if not path.exists():
        raise UsageError(f"--inputs {source}: folder not found")
    if not path.is_dir():
        raise UsageError(f"--inputs {source}: not a folder (give the folder holding NAME.csv "
                         "or NAME.parquet files)")


def check_file(option: str, path: str | Path) -> None:
    """A local input file exists."""
    local = _local_path(str(path))
    if local is not None and not local.is_file():
        raise UsageError(f"{option} {path}: " + (
            "not a file" if local.exists() else "file not found"))


def check_config(path: str | None) -> "RunConfig":
    """The config file parses and every key and value is one the settings know.

    Loads the settings models (pydantic, and pandas under the contracts' settings): about a
    second, so it comes after the checks that need nothing."""
    from flows.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc


def check_store(url: str | None) -> None:
    """The store URL is a SQLAlchemy URL (connecting is left to the publish stage)."""
    if url is None:
        return
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(url)
    except ArgumentError as exc:
        raise UsageError(f"--store: not a SQLAlchemy URL ({exc}); e.g. "
                         "duckdb:///OUT/sop.duckdb or postgresql+psycopg://user@host/db") from exc
