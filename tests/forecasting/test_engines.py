"""Engines: the baselines are the same whether statsforecast runs here or on a Dask cluster."""

import numpy as np
import pandas as pd
import pytest

from flows.engines import open_engine
from forecasting import fit_baselines
from forecasting.engines import DaskEngine, LocalEngine, split_series
from sample_data import generate_world

CYCLE = "2026-12"
HORIZON = 12


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    return generate_world(n_skus=14, n_locations=3, history_months=48, cycle=CYCLE,
                          horizon=HORIZON, seed=5)


def _fit(world, engine):  # type: ignore[no-untyped-def]
    t = world.tables
    keys = pd.concat([t["sales_history"][["sku", "location"]],
                      t["inventory"][["sku", "location"]]]).drop_duplicates()
    return fit_baselines(t["sales_history"], horizon=HORIZON, cycle=CYCLE,
                         promotions=t["promotions"], keys=keys, products=t["products"],
                         engine=engine)


def test_split_series_keeps_whole_series_in_order() -> None:
    df = pd.DataFrame({"unique_id": np.repeat(["3", "10", "7", "8", "9"], [2, 3, 1, 4, 2]),
                       "y": np.arange(12.0)})
    chunks = split_series(df, 3)
    assert 1 < len(chunks) <= 3
    assert pd.concat(chunks).equals(df)
    seen = [set(c["unique_id"]) for c in chunks]
    assert all(a.isdisjoint(b) for i, a in enumerate(seen) for b in seen[i + 1:])
    assert split_series(df, 1)[0] is df
    assert len(split_series(df, 50)) == 5  # never more chunks than series


def test_local_engine_equals_the_default(world) -> None:  # type: ignore[no-untyped-def]
    default = _fit(world, None)
    local = _fit(world, LocalEngine())
    pd.testing.assert_frame_equal(default.forecast, local.forecast)
    pd.testing.assert_frame_equal(default.selection, local.selection)


def test_unknown_engine_and_stray_address_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown engine"), open_engine("spark"):  # type: ignore[arg-type]
        pass
    with pytest.raises(ValueError, match="only used with engine 'dask'"), \
            open_engine("local", "tcp://127.0.0.1:8786"):
        pass


@pytest.mark.slow
def test_dask_cluster_gives_identical_baselines(world) -> None:  # type: ignore[no-untyped-def]
    from distributed import Client, LocalCluster

    local = _fit(world, LocalEngine())
    # Two worker processes (models really travel pickled) and one series per chunk at least,
    # so every group is split over both workers.
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                     dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        engine = DaskEngine(client, chunks_per_worker=3, min_series_per_chunk=1)
        assert engine._n_chunks(pd.DataFrame({"unique_id": [str(i) for i in range(40)]})) == 6
        dask = _fit(world, engine)
    assert local.forecast["model"].nunique() > 1
    pd.testing.assert_frame_equal(local.forecast, dask.forecast, rtol=1e-9, atol=1e-9)
    pd.testing.assert_frame_equal(local.selection, dask.selection, rtol=1e-9, atol=1e-9)
    pd.testing.assert_frame_equal(local.cleaning, dask.cleaning)
