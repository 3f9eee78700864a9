"""Opening the engine that fits baselines: the shell owns clusters and scheduler connections."""

from collections.abc import Iterator
from contextlib import contextmanager

from forecasting.engines import (
    ENGINES,
    DaskEngine,
    Engine,
    EngineName,
    LocalEngine,
    usable_cores,
)


@contextmanager
def open_engine(name: EngineName = "local", dask_address: str | None = None,
                jobs: int | None = None) -> Iterator[Engine]:
    """The engine to fit baselines with, for the duration of the `with` block.

    `local` fits on `jobs` processes (default: every core this process may use). `dask` with
    an address connects to that scheduler (e.g. `tcp://scheduler:8786`), whose workers are
    the cluster's own; without one it starts a LocalCluster of `jobs` single-threaded worker
    processes (default: one per usable core) and closes it afterwards. Workers need the same
    `sop-consensus` and statsforecast versions as this process (models are shipped pickled
    by reference).
    """
    if name == "local":
        if dask_address:
            raise ValueError("dask_address is only used with engine 'dask'")
        yield LocalEngine(n_jobs=jobs)
        return
    if name != "dask":
        raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
    from distributed import Client, LocalCluster

    if dask_address:
        with Client(dask_address) as client:
            yield DaskEngine(client)
        return
    with (
        LocalCluster(n_workers=jobs or usable_cores(), threads_per_worker=1, processes=True,
                     dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        yield DaskEngine(client)
