"""Opening the engine that fits baselines: the shell owns clusters and scheduler connections."""

from collections.abc import Iterator
from contextlib import contextmanager

from forecasting.engines import ENGINES, DaskEngine, Engine, EngineName, LocalEngine


@contextmanager
def open_engine(name: EngineName = "local", dask_address: str | None = None,
                n_workers: int | None = None, n_jobs: int = 1) -> Iterator[Engine]:
    """The engine to fit baselines with, for the duration of the `with` block.

    `dask` with an address connects to that scheduler (e.g. `tcp://scheduler:8786`); without
    one it starts a LocalCluster of `n_workers` single-threaded worker processes (default: one
    per core) and closes it afterwards. Workers need the same `sop-consensus` and statsforecast
    versions as this process (models are shipped pickled by reference).
    """
    if name == "local":
        if dask_address:
            raise ValueError("dask_address is only used with engine 'dask'")
        yield LocalEngine(n_jobs=n_jobs)
        return
    if name != "dask":
        raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
    from distributed import Client, LocalCluster

    if dask_address:
        with Client(dask_address) as client:
            yield DaskEngine(client)
        return
    with (
        LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                     dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        yield DaskEngine(client)
