"""Where statsforecast's model fitting runs: in this process (local) or on a Dask cluster.

fit_baselines hands every StatsForecast call (final fit and cross-validation of a model group,
or both from one fit: forecasting.one_fit) to an Engine. Series are independent, so an
engine may split them into chunks, fit the chunks anywhere and concatenate: the numbers are
those of the local engine, bit for bit.

Why not statsforecast's own distributed path (a Dask DataFrame into `StatsForecast.forecast`,
run by its Fugue backend)? That backend declares every forecast and CV column as float32,
which rounds CV errors and so could flip a close model selection between engines; and it
repartitions the long frame by series itself. Submitting plain pandas chunks to the
workers keeps float64 and the local code path, which is what makes the plan engine-invariant.

Engines are opened by the shell (`flows.engines.open_engine`), which owns the connection to
a scheduler; this module holds no I/O of its own.
"""

import functools
import math
import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
from statsforecast import StatsForecast

from data_contracts.periods import FREQ
from forecasting.one_fit import cv_and_forecast

EngineName = Literal["local", "dask"]
ENGINES: tuple[str, ...] = ("local", "dask")
# Told after each chunk of a call: (chunks done, chunks of the call). A long fit can then show
# where it is; the numbers do not depend on it (chunks are put back in their order).
OnChunk = Callable[[int, int], None]


class Engine(Protocol):
    """Runs StatsForecast's `forecast` and `cross_validation` for a long frame of series."""

    name: str

    def forecast(self, models: Sequence[Any], df: pd.DataFrame, h: int,
                 level: list[int] | None) -> pd.DataFrame: ...

    def cross_validation(self, models: Sequence[Any], df: pd.DataFrame, h: int, n_windows: int,
                         step_size: int, refit: bool) -> pd.DataFrame: ...

    def cv_and_forecast(self, models: Sequence[Any], df: pd.DataFrame, h: int,
                        level: list[int] | None, cv_h: int, n_windows: int,
                        step_size: int) -> pd.DataFrame: ...


def _forecast(models: Sequence[Any], df: pd.DataFrame, h: int, level: list[int] | None
              ) -> pd.DataFrame:
    sf = StatsForecast(models=[m.new() for m in models], freq=FREQ, n_jobs=1)
    return sf.forecast(df=df, h=h, level=level)


def _cross_validation(models: Sequence[Any], df: pd.DataFrame, h: int, n_windows: int,
                      step_size: int, refit: bool) -> pd.DataFrame:
    sf = StatsForecast(models=[m.new() for m in models], freq=FREQ, n_jobs=1)
    return sf.cross_validation(df=df, h=h, n_windows=n_windows, step_size=step_size,
                               refit=refit)


CGROUP_ROOT = Path("/sys/fs/cgroup")


def usable_cores(cgroup_root: Path = CGROUP_ROOT) -> int:
    """Cores this process may run on: its CPU affinity, capped by a cgroup CPU quota.

    `os.cpu_count()` (statsforecast's n_jobs=-1) counts the host's cores, so a container
    limited to 2 CPUs on a 64-core host would start 64 processes that share 2 cores."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity outside Linux
        cores = os.cpu_count() or 1
    quota = cgroup_cpu_quota(cgroup_root)
    return max(1, min(cores, quota) if quota else cores)


def cgroup_cpu_quota(root: Path = CGROUP_ROOT) -> int | None:
    """Whole CPUs the cgroup grants (v2 `cpu.max`, else v1 CFS quota); None = no limit."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        try:
            quota = (root / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (root / "cpu" / "cpu.cfs_period_us").read_text().strip()
        except OSError:
            return None
    if not quota.isdigit() or not period.isdigit() or int(period) == 0:
        return None  # "max" (v2) or -1 (v1): no quota
    return max(1, math.ceil(int(quota) / int(period)))


@functools.cache
def _process_pool(jobs: int) -> ProcessPoolExecutor:
    """One pool of `jobs` worker processes per process, kept for every later fit.

    Started by forkserver, not fork: `sop run` forks from a process whose Prefect threads may
    hold locks, and a pool worker forked then can die or block while the pool waits forever
    (seen with statsforecast's own `n_jobs`, which forks). Workers import statsforecast once
    and stay up, so later calls pay no start-up."""
    return ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("forkserver"))


@dataclass
class LocalEngine:
    """statsforecast on this machine, on `n_jobs` processes.

    None or -1 = every core this process may use (`usable_cores`). With more than one job the
    series are cut into chunks of whole series, each fitted in a worker by the very call one
    process makes (as the Dask engine does), so the numbers do not depend on `n_jobs`."""

    n_jobs: int | None = None
    chunks_per_job: int = 4
    min_series_per_chunk: int = 25
    on_chunk: OnChunk | None = None
    name: str = field(default="local", init=False)

    def __post_init__(self) -> None:
        if self.n_jobs is None or self.n_jobs == -1:
            self.n_jobs = usable_cores()
        elif self.n_jobs < 1:
            raise ValueError(f"n_jobs must be >= 1 or -1 (all cores), got {self.n_jobs}")

    @property
    def jobs(self) -> int:
        return self.n_jobs or 1  # set by __post_init__; `or` only narrows the type

    def _run(self, fn: Any, models: Sequence[Any], df: pd.DataFrame, *args: Any
             ) -> pd.DataFrame:
        series = df["unique_id"].nunique() if len(df) else 0
        n_chunks = min(self.jobs * self.chunks_per_job, series // self.min_series_per_chunk)
        if self.jobs == 1 or n_chunks <= 1:
            out = fn(list(models), df, *args)
            _tell(self.on_chunk, 1, 1)
            return out
        pool = _process_pool(self.jobs)
        try:
            futures = {pool.submit(fn, list(models), chunk, *args): i
                       for i, chunk in enumerate(split_series(df, n_chunks))}
            parts: list[pd.DataFrame] = [pd.DataFrame()] * len(futures)
            for done, future in enumerate(as_completed(futures), start=1):
                parts[futures[future]] = future.result()
                _tell(self.on_chunk, done, len(futures))
            return pd.concat(parts, ignore_index=True)
        except BrokenProcessPool:
            _process_pool.cache_clear()  # a worker died (killed, out of memory): next call anew
            raise

    def forecast(self, models: Sequence[Any], df: pd.DataFrame, h: int,
                 level: list[int] | None) -> pd.DataFrame:
        return self._run(_forecast, models, df, h, level)

    def cross_validation(self, models: Sequence[Any], df: pd.DataFrame, h: int, n_windows: int,
                         step_size: int, refit: bool) -> pd.DataFrame:
        return self._run(_cross_validation, models, df, h, n_windows, step_size, refit)

    def cv_and_forecast(self, models: Sequence[Any], df: pd.DataFrame, h: int,
                        level: list[int] | None, cv_h: int, n_windows: int,
                        step_size: int) -> pd.DataFrame:
        return self._run(cv_and_forecast, models, df, h, level, cv_h, n_windows, step_size)


def _tell(on_chunk: OnChunk | None, done: int, total: int) -> None:
    if on_chunk is not None:
        on_chunk(done, total)


def split_series(df: pd.DataFrame, n_chunks: int) -> list[pd.DataFrame]:
    """Cut a long frame into at most `n_chunks` frames of whole series (contiguous ids)."""
    if df.empty or n_chunks <= 1:
        return [df]
    codes, uniques = pd.factorize(df["unique_id"], sort=False)
    n_series = len(uniques)
    per_chunk = math.ceil(n_series / min(n_chunks, n_series))
    chunk_of_row = codes // per_chunk
    bounds = np.flatnonzero(np.diff(chunk_of_row)) + 1
    if np.all(np.diff(chunk_of_row) >= 0):  # rows grouped by series: slice without copying ids
        edges = [0, *bounds.tolist(), len(df)]
        return [df.iloc[a:b] for a, b in pairwise(edges)]
    return [part for _, part in df.groupby(chunk_of_row, sort=True)]


@dataclass
class DaskEngine:
    """Series chunks fitted on a Dask cluster through a `distributed.Client`.

    Each chunk runs the very StatsForecast call the local engine makes (n_jobs=1 per task),
    so results equal the local engine's. `chunks_per_worker` trades scheduling overhead for
    balance (series differ in fitting time).
    """

    client: Any
    chunks_per_worker: int = 4
    min_series_per_chunk: int = 200
    on_chunk: OnChunk | None = None
    name: str = field(default="dask", init=False)

    def _n_chunks(self, df: pd.DataFrame) -> int:
        workers = max(len(self.client.scheduler_info().get("workers", {})), 1)
        series = df["unique_id"].nunique()
        return max(1, min(workers * self.chunks_per_worker,
                          series // self.min_series_per_chunk))

    def _run(self, fn: Any, models: Sequence[Any], df: pd.DataFrame, *args: Any
             ) -> pd.DataFrame:
        from distributed import as_completed as completed_on_cluster

        models = list(models)
        futures = [self.client.submit(fn, models, chunk, *args, pure=False)
                   for chunk in split_series(df, self._n_chunks(df))]
        for done, _ in enumerate(completed_on_cluster(futures), start=1):
            _tell(self.on_chunk, done, len(futures))
        return pd.concat(self.client.gather(futures), ignore_index=True)

    def forecast(self, models: Sequence[Any], df: pd.DataFrame, h: int,
                 level: list[int] | None) -> pd.DataFrame:
        return self._run(_forecast, models, df, h, level)

    def cross_validation(self, models: Sequence[Any], df: pd.DataFrame, h: int, n_windows: int,
                         step_size: int, refit: bool) -> pd.DataFrame:
        return self._run(_cross_validation, models, df, h, n_windows, step_size, refit)

    def cv_and_forecast(self, models: Sequence[Any], df: pd.DataFrame, h: int,
                        level: list[int] | None, cv_h: int, n_windows: int,
                        step_size: int) -> pd.DataFrame:
        return self._run(cv_and_forecast, models, df, h, level, cv_h, n_windows, step_size)


