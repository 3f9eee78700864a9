"""Progress of a run: told per stage and per fitted chunk, shown in the UI and on a terminal."""

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from statsforecast.models import Naive, SeasonalNaive

from flows import progress
from forecasting.engines import LocalEngine

CYCLE = "2026-12"


class Recorder:
    def __init__(self) -> None:
        self.updates: list[tuple[str, str, int, int]] = []
        self.finished: list[str] = []

    def update(self, stage: str, label: str, done: int, total: int) -> None:
        self.updates.append((stage, label, done, total))

    def finish(self, stage: str, seconds: float) -> None:
        self.finished.append(stage)


def _panel(series: int = 60, months: int = 36) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    ds = pd.date_range("2020-01-01", periods=months, freq="MS")
    return pd.DataFrame({
        "unique_id": np.repeat([f"s{i:03d}" for i in range(series)], months),
        "ds": np.tile(ds, series),
        "y": rng.gamma(2.0, 10.0, series * months),
    })


def test_the_engine_tells_every_chunk_and_fits_the_same_numbers() -> None:
    df, models = _panel(), [SeasonalNaive(season_length=12), Naive()]
    plain = LocalEngine(n_jobs=1).forecast(models, df, 6, None)
    watched = progress.ProgressEngine(LocalEngine(n_jobs=2, min_series_per_chunk=5))
    with progress.listening(Recorder()) as rec:
        got = watched.forecast(models, df, 6, None)
        watched.cross_validation(models, df, 6, 2, 6, False)
    pd.testing.assert_frame_equal(got, plain)
    forecast = [u for u in rec.updates if u[1].startswith("forecast")]
    assert [d for _, _, d, _ in forecast] == list(range(1, forecast[0][3] + 1))
    assert forecast[0][3] > 1  # cut into chunks, each told as it finished
    assert any(u[1].startswith("cross-validation (call 2)") for u in rec.updates)
    assert {u[0] for u in rec.updates} == {"baselines"}


def test_the_overall_percentage_only_grows_to_100() -> None:
    seen, done = [], set()
    for stage in progress.STAGE_WEIGHTS:
        for fraction in (0.0, 0.5, 1.0):
            seen.append(progress.overall_percent(done, stage, fraction))
        done.add(stage)
        seen.append(progress.overall_percent(done, stage, 1.0))
    assert seen == sorted(seen) and seen[0] == 0.0 and seen[-1] == 100.0


def test_a_monthly_run_tells_its_stages_and_leaves_a_full_progress_artifact(
    inputs_dir: Path, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.pipeline import monthly_sop

    with progress.listening(Recorder()) as rec:
        monthly_sop(inputs=str(inputs_dir), out=str(tmp_path / "out"), cycle=CYCLE, horizon=3)
    assert rec.finished == ["ingest_and_check", "baselines", "reconcile", "publish"]
    assert any(u[0] == "baselines" and "chunks" in u[1] for u in rec.updates)
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=[f"sop-{CYCLE}-progress"])))
    assert found, "no progress artifact"
    latest = max(found, key=lambda a: a.updated or a.created)
    assert float(latest.data) == 100.0
    assert "publish done" in (latest.description or "")


def test_a_person_at_a_terminal_sees_a_bar_per_stage(inputs_dir: Path, tmp_path: Path) -> None:
    """`sop run` in a pseudo-terminal, as a person starts it: one bar per stage on stderr."""
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from flows.cli import app; app()", "run", "--inputs",
         str(inputs_dir), "--cycle", CYCLE, "--out", str(tmp_path / "out"), "--horizon", "3"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=follower,
        env={**env, "COLUMNS": "120", "TERM": "xterm"},
    )
    os.close(follower)
    seen, deadline = b"", time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    out, _ = proc.communicate(timeout=60)
    os.close(leader)
    assert proc.returncode == 0, seen.decode(errors="replace")[-2000:]
    screen = seen.decode(errors="replace")
    for stage in ("ingest_and_check", "baselines", "reconcile", "publish"):
        assert stage in screen, screen[-2000:]
    assert "100%" in screen
    assert b"published:" in out  # the summary still goes to stdout, bars only to the terminal


def test_partitions_are_told_as_they_finish_locally_and_on_dask() -> None:
    from flows.partitions import run_groups

    calls = [(lambda i=i: i * i) for i in range(3)]
    for engine in ("local", "dask"):
        with progress.listening(Recorder()) as rec:
            assert run_groups(engine, None, 1, calls, "reconcile", "plan of partition") \
                == [0, 1, 4]
        assert [(s, d, t) for s, _, d, t in rec.updates] == [("reconcile", n, 3)
                                                             for n in (1, 2, 3)], engine
        assert rec.updates[-1][1] == "plan of partition 3/3"
