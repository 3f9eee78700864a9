"""`sop` as a person meets it: quick help, one-line usage errors before Prefect starts, a quiet
console, --debug for the traceback, and no deployments into a throwaway server.

Each command runs in a fresh interpreter, the way `sop` runs, and reports which heavy modules
it had imported when it exited (tests/flows/cli_probe.py), so the tests do not depend on timing.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flows.prefect_env import quiet_prefect

PROBE = Path(__file__).with_name("cli_probe.py")
CYCLE = "2026-12"


def sop(tmp_path: Path, *args: str, env: dict[str, str] | None = None,
        timeout: float = 120) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run `sop ARGS` in a new interpreter; (the process, the heavy modules it imported)."""
    report = tmp_path / "modules.json"
    base = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    proc = subprocess.run(
        [sys.executable, str(PROBE), *args], capture_output=True, text=True, timeout=timeout,
        env={**base, "SOP_PROBE_REPORT": str(report), **(env or {})},
        cwd=Path(__file__).resolve().parents[2],
    )
    return proc, set(json.loads(report.read_text())) if report.exists() else set()


def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    proc, loaded = sop(tmp_path, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "run" in proc.stdout and "--debug" in proc.stdout
    assert loaded == set()


def test_missing_inputs_folder_is_wrong_usage_before_prefect(tmp_path: Path) -> None:
    proc, loaded = sop(tmp_path, "run", "--inputs", str(tmp_path / "nope"), "--cycle", CYCLE,
                       "--out", str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"wrong usage: --inputs {tmp_path / 'nope'}: folder not found"]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "contract" not in proc.stderr.lower()
    assert "prefect" not in loaded and "statsforecast" not in loaded
    assert not (tmp_path / "out").exists()


def test_validate_checks_the_folder_too(tmp_path: Path) -> None:
    proc, loaded = sop(tmp_path, "validate", "--inputs", str(tmp_path / "nope"),
                       "--cycle", CYCLE)
    assert proc.returncode == 2 and "folder not found" in proc.stderr
    assert "prefect" not in loaded


@pytest.mark.parametrize(("text", "words"), [
    ("forcasting:\n  season_length: 12\n", ["'forcasting'", "did you mean 'forecasting'"]),
    ("forecasting:\n  season_lenght: 12\n", ["'forecasting.season_lenght'"]),
    ("contracts:\n  quality:\n    stale_error_month: 3\n",
     ["'contracts.quality.stale_error_month'"]),
    ("reconciliation: [unclosed\n", ["not valid YAML"]),
    # "Billion laughs": nine aliases of nine aliases... refused at once, not expanded.
    ("a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{k}: &{k} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, k in zip("abcdefgh", "bcdefghi", strict=True)), ["not valid YAML", "alias"]),
])
def test_bad_config_is_wrong_usage_naming_the_key(
    tmp_path: Path, text: str, words: list[str]
) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    config = tmp_path / "run.yaml"
    config.write_text(text)
    proc, loaded = sop(tmp_path, "run", "--inputs", str(inputs), "--cycle", CYCLE,
                       "--out", str(tmp_path / "out"), "--config", str(config))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"wrong usage: config {config}")
    for word in words:
        assert word in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "prefect" not in loaded and "statsforecast" not in loaded


def test_bad_scenario_file_is_wrong_usage_before_prefect(tmp_path: Path) -> None:
    scenario = tmp_path / "push.yaml"
    scenario.write_text(yaml.safe_dump({"scale_sale": [{"family": "SNACKS", "factor": 2}]}))
    proc, loaded = sop(tmp_path, "whatif", "--out", str(tmp_path / "out"), "--base", CYCLE,
                       "--scenario", str(scenario))
    assert proc.returncode == 2, proc.stderr
    assert "scale_sale" in proc.stderr and str(scenario) in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "prefect" not in loaded


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    proc, _ = sop(tmp_path, "--debug", "run", "--inputs", str(tmp_path / "nope"),
                  "--cycle", CYCLE, "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "Traceback (most recent call last)" in proc.stderr
    assert "folder not found" in proc.stderr


def test_deploy_without_a_reachable_server_fails_and_says_so(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api"
    proc, _ = sop(tmp_path, "deploy", env={"PREFECT_API_URL": url,
                                           "PREFECT_HOME": str(tmp_path / "prefect")})
    assert proc.returncode not in (0, 2), proc.stderr
    assert f"the Prefect server at {url} does not answer" in proc.stderr
    assert "registered" not in proc.stdout and "Traceback" not in proc.stderr
    assert "Starting temporary server" not in proc.stderr


def test_deploy_without_a_configured_server_fails_and_says_so(tmp_path: Path) -> None:
    proc, _ = sop(tmp_path, "deploy", env={"PREFECT_HOME": str(tmp_path / "prefect")})
    assert proc.returncode not in (0, 2), proc.stderr
    assert "no Prefect server configured: set PREFECT_API_URL" in proc.stderr
    assert "registered" not in proc.stdout


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--header", "no-colon", "wrong usage: --header 'no-colon': expected `Name: value`"),
    ("--url", "ftp://x", "wrong usage: --url 'ftp://x': expected an http:// or https:// URL"),
])
def test_notify_refuses_bad_options_before_prefect(tmp_path: Path, option: str, value: str,
                                                   message: str) -> None:
    args = {"--url": "https://procurement.example.com/hook", option: value}
    proc, loaded = sop(tmp_path, "notify", *[x for kv in args.items() for x in kv])
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [message]
    assert "prefect" not in loaded


def test_notify_without_a_configured_server_fails_and_says_so(tmp_path: Path) -> None:
    proc, _ = sop(tmp_path, "notify", "--url", "https://procurement.example.com/hook",
                  env={"PREFECT_HOME": str(tmp_path / "prefect")})
    assert proc.returncode not in (0, 2), proc.stderr
    assert "no Prefect server configured: set PREFECT_API_URL" in proc.stderr


@pytest.mark.parametrize(("spec", "words"), [
    ("FR,2027-02-30", "'2027-02-30' is not a calendar date"),
    ("Paris", "'Paris' is neither a date"),
    ("XX", "'XX'"),
])
def test_a_holiday_calendar_that_cannot_be_built_is_wrong_usage(
    tmp_path: Path, spec: str, words: str
) -> None:
    proc, _ = sop(tmp_path, "deploy", "--holidays", spec)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("wrong usage: SOP_HOLIDAYS: ") and words in proc.stderr
    assert "Traceback" not in proc.stderr


def test_contract_breach_in_the_flow_is_quiet(inputs_dir: Path, tmp_path: Path) -> None:
    """Through Prefect: exit 3 with the breach, and no INFO lines or tracebacks around it."""
    (inputs_dir / "warehouses.csv").write_text("location,storage_pallets\nDC-X,-1\n")
    proc, loaded = sop(tmp_path, "run", "--inputs", str(inputs_dir), "--cycle", CYCLE,
                       "--out", str(tmp_path / "out"), "--horizon", "12", timeout=300)
    assert proc.returncode == 3, proc.stderr
    assert "prefect" in loaded  # the path did go through the flow
    assert "warehouses" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert " | INFO " not in proc.stderr
    assert "telemetry" not in proc.stderr.lower()


def test_quiet_prefect_keeps_what_the_user_set(tmp_path: Path) -> None:
    env = {"PREFECT_HOME": str(tmp_path), "PREFECT_LOGGING_LEVEL": "DEBUG"}
    quiet_prefect(environ=env)
    assert "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL" not in env  # the user chose a level
    assert env["PREFECT_LOGGING_LEVEL"] == "DEBUG"
    assert env["DO_NOT_TRACK"] == "1" and env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert env["PREFECT_LOGGING_TO_API_ENABLED"] == "false"  # temporary server only

    (tmp_path / "profiles.toml").write_text(
        'active = "prod"\n[profiles.prod]\nPREFECT_API_URL = "http://prefect:4200/api"\n'
        'PREFECT_SERVER_ANALYTICS_ENABLED = "true"\n')
    env = {"PREFECT_HOME": str(tmp_path), "DO_NOT_TRACK": "0"}
    quiet_prefect(environ=env)
    assert env["DO_NOT_TRACK"] == "0"
    assert "PREFECT_SERVER_ANALYTICS_ENABLED" not in env  # set in the profile
    assert "PREFECT_LOGGING_TO_API_ENABLED" not in env  # a real server gets the logs
    assert env["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] == "WARNING"
    quiet_prefect(debug=True, environ=(env := {"PREFECT_HOME": str(tmp_path)}))
    assert env["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] == "INFO"


def test_demo_console_is_the_summary_only(tmp_path: Path) -> None:
    proc, _ = sop(tmp_path, "demo", "--out", str(tmp_path / "demo"), "--skus", "5",
                  "--horizon", "6", timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "published:" in proc.stdout
    assert " | INFO " not in proc.stderr and "Traceback" not in proc.stderr
    assert "telemetry" not in proc.stderr.lower()
    # DuckDB's type constants are released at exit (flows/store.py): no leak report.
    assert "nanobind" not in proc.stderr and "leaked" not in proc.stderr, proc.stderr[-2000:]
