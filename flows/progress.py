"""Where a run is: its stages and the chunks of its baseline fit, told to whoever watches.

Stages and the fitting engine tell this module; they do not know who listens. Two listeners
ship: the command line's bars (stderr, when it is a terminal) and the Prefect UI's progress
artifact of the monthly run (one per cycle, updated as stages and chunks finish), so a
two-hour run shows where it is in both places.
"""

import contextlib
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from forecasting.engines import Engine

# Share of a typical run's time per stage (docs/benchmarks.md: fitting dominates), so the
# overall percentage moves about evenly.
STAGE_WEIGHTS: dict[str, float] = {"ingest_and_check": 5, "baselines": 70, "reconcile": 15,
                                   "publish": 10}


class Listener(Protocol):
    def update(self, stage: str, label: str, done: int, total: int) -> None: ...

    def finish(self, stage: str, seconds: float) -> None: ...


_LISTENERS: list[Listener] = []


@contextmanager
def listening(listener: Listener) -> Iterator[Listener]:
    """Tell `listener` about progress inside the block."""
    _LISTENERS.append(listener)
    try:
        yield listener
    finally:
        _LISTENERS.remove(listener)


def tell(stage: str, label: str, done: int, total: int) -> None:
    for listener in list(_LISTENERS):
        listener.update(stage, label, done, total)


def finished(stage: str, seconds: float) -> None:
    for listener in list(_LISTENERS):
        listener.finish(stage, seconds)


@dataclass
class ProgressEngine:
    """An engine that tells each chunk of each statsforecast call as the baselines stage's
    progress; the fitting itself is `inner`'s (same numbers)."""

    inner: Any  # LocalEngine or DaskEngine: both take an `on_chunk` callback
    stage: str = "baselines"
    calls: int = 0
    name: str = field(default="", init=False)

    def __post_init__(self) -> None:
        self.name = self.inner.name

    def _labelled(self, kind: str) -> None:
        self.calls += 1
        label = f"{kind} (call {self.calls}), chunks"
        self.inner.on_chunk = lambda done, total: tell(self.stage, label, done, total)

    def forecast(self, models: Sequence[Any], df: pd.DataFrame, h: int,
                 level: list[int] | None) -> pd.DataFrame:
        self._labelled("forecast")
        return self.inner.forecast(models, df, h, level)  # type: ignore[no-any-return]

    def cross_validation(self, models: Sequence[Any], df: pd.DataFrame, h: int, n_windows: int,
                         step_size: int, refit: bool) -> pd.DataFrame:
        self._labelled("cross-validation")
        return self.inner.cross_validation(  # type: ignore[no-any-return]
            models, df, h, n_windows, step_size, refit)

    def cv_and_forecast(self, models: Sequence[Any], df: pd.DataFrame, h: int,
                        level: list[int] | None, cv_h: int, n_windows: int,
                        step_size: int) -> pd.DataFrame:
        self._labelled("cross-validation and forecast")
        return self.inner.cv_and_forecast(  # type: ignore[no-any-return]
            models, df, h, level, cv_h, n_windows, step_size)


def overall_percent(finished_stages: set[str], stage: str, fraction: float) -> float:
    """The run's percentage: finished stages' weights plus the share done of the current."""
    total = sum(STAGE_WEIGHTS.values())
    done = sum(STAGE_WEIGHTS.get(s, 0) for s in finished_stages)
    current = 0.0 if stage in finished_stages else STAGE_WEIGHTS.get(stage, 0) * fraction
    return round(min(100.0, 100 * (done + current) / total), 1)


@dataclass
class PrefectProgress:
    """The monthly run's progress artifact in the Prefect UI (key `sop-CYCLE-progress`).

    Updates at most every `every` seconds, and always when a stage finishes."""

    cycle: str
    every: float = 2.0
    finished_stages: set[str] = field(default_factory=set)
    _artifact: Any = None
    _last: float = 0.0

    def _publish(self, percent: float, note: str, force: bool = False) -> None:
        from prefect.artifacts import create_progress_artifact, update_progress_artifact

        now = time.monotonic()
        if not force and now - self._last < self.every:
            return
        self._last = now
        # Progress is for watching: an API hiccup here must never fail the run.
        with contextlib.suppress(Exception):
            if self._artifact is None:
                self._artifact = create_progress_artifact(
                    percent, key=f"sop-{self.cycle}-progress".lower(), description=note)
            else:
                update_progress_artifact(self._artifact, percent, description=note)

    def update(self, stage: str, label: str, done: int, total: int) -> None:
        fraction = done / total if total else 0.0
        self._publish(overall_percent(self.finished_stages, stage, fraction),
                      f"{stage}: {label} {done}/{total}", force=self._artifact is None)

    def finish(self, stage: str, seconds: float) -> None:
        self.finished_stages.add(stage)
        self._publish(overall_percent(self.finished_stages, stage, 1.0),
                      f"{stage} done in {seconds:.0f} s", force=True)


class ConsoleProgress:
    """One bar per stage on the command line (rich, on stderr)."""

    def __init__(self, console: Any) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.bars = Progress(TextColumn("{task.description:<44}"), BarColumn(),
                             TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                             console=console, transient=False)
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> "ConsoleProgress":
        self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.stop()

    def _task(self, stage: str) -> Any:
        if stage not in self.tasks:
            self.tasks[stage] = self.bars.add_task(stage, total=1)
        return self.tasks[stage]

    def update(self, stage: str, label: str, done: int, total: int) -> None:
        self.bars.update(self._task(stage), description=f"{stage}: {label}"[:44],
                         completed=done, total=max(total, 1))

    def finish(self, stage: str, seconds: float) -> None:
        task = self._task(stage)
        self.bars.update(task, description=stage, completed=1, total=1)


def engine_with_progress(engine: Engine) -> Engine:
    """`engine`, telling its chunks as the baselines' progress."""
    return ProgressEngine(engine)
