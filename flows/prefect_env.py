"""Prefect's environment for the command line: a quiet console and no telemetry.

Prefect reads its settings once, when it is first imported, so `quiet_prefect` must run
before that. A setting the user made (in the environment or in the active Prefect profile)
is never overridden. Logs still reach the Prefect API, so the UI of a real server shows them.
"""

import copy
import logging
import os
import tomllib
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

# Console at WARNING: Prefect's INFO lines (server start/stop, every flow and task state)
# drown the summary the command prints. The loggers stay at their level, so logs still reach
# the API handler (the Prefect UI).
QUIET = {"PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "WARNING"}
DEBUG = {"PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "INFO"}
# The levels a user may have chosen instead; any of them set means: leave the console alone.
LEVEL_SETTINGS = ("PREFECT_LOGGING_LEVEL", "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL")
# No telemetry from planning runs: these machines may have no route out, and a failed send
# prints an error line. DO_NOT_TRACK stops the client's events; the server setting stops the
# heartbeat of the temporary server a local run starts.
NO_TELEMETRY = {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
# Without PREFECT_API_URL a run talks to a temporary server that is gone when the command
# ends: logs sent there are work nobody reads.
TEMPORARY_SERVER = {"PREFECT_LOGGING_TO_API_ENABLED": "false"}


def profile_settings(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """The settings of the active Prefect profile (`prefect config set` writes them there)."""
    env = os.environ if environ is None else environ
    home = Path(env.get("PREFECT_HOME", "~/.prefect")).expanduser()
    path = Path(env.get("PREFECT_PROFILES_PATH", home / "profiles.toml")).expanduser()
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    active = env.get("PREFECT_PROFILE") or data.get("active") or "ephemeral"
    profile = data.get("profiles", {}).get(active, {})
    return {str(k): str(v) for k, v in profile.items()} if isinstance(profile, dict) else {}


def quiet_prefect(debug: bool = False, environ: MutableMapping[str, str] | None = None) -> None:
    """Set Prefect's console level and telemetry switches unless the user chose them."""
    env = os.environ if environ is None else environ
    chosen = set(env) | set(profile_settings(env))
    wanted = {**NO_TELEMETRY}
    if not chosen & set(LEVEL_SETTINGS):
        wanted.update(DEBUG if debug else QUIET)
    if "PREFECT_API_URL" not in chosen:
        wanted.update(TEMPORARY_SERVER)
    for name, value in wanted.items():
        if name not in chosen:
            env[name] = value


class _WithoutTraceback(logging.Formatter):
    """Formats like the wrapped formatter, minus the traceback: the command prints the error."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        bare = copy.copy(record)  # the API handler formats the same record, traceback included
        bare.exc_info, bare.exc_text, bare.stack_info = None, None, None
        return self.inner.format(bare)


def hide_tracebacks() -> None:
    """Drop tracebacks from Prefect's console lines (call after Prefect is imported)."""
    from prefect.logging.handlers import PrefectConsoleHandler

    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if isinstance(handler, PrefectConsoleHandler) and not isinstance(
                handler.formatter, _WithoutTraceback
            ):
                handler.setFormatter(_WithoutTraceback(handler.formatter or logging.Formatter()))


class NoServer(Exception):
    """No Prefect server is configured, or the configured one does not answer."""


def require_server() -> str:
    """The URL of the configured Prefect API, after checking that it answers.

    Without PREFECT_API_URL Prefect would start a temporary server for this process: whatever
    is registered there is gone when the command ends, and nothing would ever run."""
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    if not url:
        raise NoServer(
            "no Prefect server configured: set PREFECT_API_URL (e.g. "
            "http://127.0.0.1:4200/api for `prefect server start`) or log in to Prefect Cloud; "
            "nothing registered")
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        error = client.api_healthcheck()
    if error is not None:
        raise NoServer(f"the Prefect server at {url} does not answer ({error}); start it or fix "
                       "PREFECT_API_URL; nothing registered")
    return str(url)


def _die_with_parent() -> None:
    """In a child before it runs: SIGTERM it when the process that started it dies (Linux)."""
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class _SubprocessTiedToUs:
    """The `subprocess` module as Prefect's server module sees it, with `Popen` starting
    children that die with this process."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def Popen(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("preexec_fn", _die_with_parent)
        return self._real.Popen(*args, **kwargs)


def tie_temporary_server_to_this_process() -> None:
    """A run without PREFECT_API_URL starts a temporary Prefect server as a child process;
    killed with SIGKILL, the run would leave it running for ever. Started with a parent-death
    signal (Linux), it ends with the run whatever ends the run. Elsewhere: no change."""
    import subprocess
    import sys

    if not sys.platform.startswith("linux"):
        return
    from prefect.server.api import server

    if not isinstance(server.subprocess, _SubprocessTiedToUs):
        server.subprocess = _SubprocessTiedToUs(subprocess)  # type: ignore[assignment]
