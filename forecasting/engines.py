"""Where statsforecast's model fitting runs: in this process (local) or on a Dask cluster.

fit_baselines hands every StatsForecast call (final fit and cross-validation of a model group)
to an Engine. Series are independent, so an engine may split them into chunks, fit the
chunks anywhere and concatenate: the numbers are those of the local engine, bit for bit.

Why not statsforecast's own distributed path (a Dask DataFrame into `StatsForecast.forecast`,
run by its Fugue backend)? That backend declares every forecast and CV column as float32,
which rounds CV errors and so could flip a close model selection between engines; and it
repartitions the long frame by series itself. Submitting plain pandas chunks to the
workers keeps float64 and the local code path, which is what makes the plan engine-invariant.

Engines are opened by the shell (`flows.engines.open_engine`), which owns the connection to
a scheduler; this module holds no I/O of its own.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
from statsforecast import StatsForecast

from data_contracts.periods import FREQ

EngineName = Literal["local", "dask"]
ENGINES: tuple[str, ...] = ("local", "dask")


class Engine(Protocol):
    """Runs StatsForecast's `forecast` and `cross_validation` for a long frame of series."""

    name: str

    def forecast(self, models: Sequence[Any], df: pd.DataFrame, h: int,
                 level: list[int] | None) -> pd.DataFrame: ...

    def cross_validation(self, models: Sequence[Any], df: pd.DataFrame, h: int, n_windows: int,
                         step_size: int, refit: bool) -> pd.DataFrame: ...


def _forecast(models: Sequence[Any], df: pd.DataFrame, h: int, level: list[int] | None,
              n_jobs: int = 1) -> pd.DataFrame:
    sf = StatsForecast(models=[m.new() for m in models], freq=FREQ, n_jobs=n_jobs)
    return sf.forecast(df=df, h=h, level=level)


def _cross_validation(models: Sequence[Any], df: pd.DataFrame, h: int, n_windows: int,
                      step_size: int, refit: bool, n_jobs: int = 1) -> pd.DataFrame:
    sf = StatsForecast(models=[m.new() for m in models], freq=FREQ, n_jobs=n_jobs)
    return sf.cross_validation(df=df, h=h, n_windows=n_windows, step_size=step_size,
                               refit=refit)


@dataclass
class LocalEngine:
    """statsforecast in this process; `n_jobs` > 1 (or -1 = all cores) uses its process pool."""

    n_jobs: int = 1
    name: str = field(default="local", init=False)

    def forecast(self, models: Sequence[Any], df: pd.DataFrame, h: int,
                 level: list[int] | None) -> pd.DataFrame:
        return _forecast(models, df, h, level, self.n_jobs)

    def cross_validation(self, models: Sequence[Any], df: pd.DataFrame, h: int, n_windows: int,
                         step_size: int, refit: bool) -> pd.DataFrame:
        return _cross_validation(models, df, h, n_windows, step_size, refit, self.n_jobs)


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
    name: str = field(default="dask", init=False)

    def _n_chunks(self, df: pd.DataFrame) -> int:
        workers = max(len(self.client.scheduler_info().get("workers", {})), 1)
        series = df["unique_id"].nunique()
        return max(1, min(workers * self.chunks_per_worker,
                          series // self.min_series_per_chunk))

    def _run(self, fn: Any, models: Sequence[Any], df: pd.DataFrame, *args: Any
             ) -> pd.DataFrame:
        models = list(models)
        futures = [self.client.submit(fn, models, chunk, *args, pure=False)
                   for chunk in split_series(df, self._n_chunks(df))]
        return pd.concat(self.client.gather(futures), ignore_index=True)

    def forecast(self, models: Sequence[Any], df: pd.DataFrame, h: int,
                 level: list[int] | None) -> pd.DataFrame:
        return self._run(_forecast, models, df, h, level)

    def cross_validation(self, models: Sequence[Any], df: pd.DataFrame, h: int, n_windows: int,
                         step_size: int, refit: bool) -> pd.DataFrame:
        return self._run(_cross_validation, models, df, h, n_windows, step_size, refit)


