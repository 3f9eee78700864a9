"""Engines: the baselines are the same whether statsforecast runs here or on a Dask cluster."""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flows.engines import open_engine
from forecasting import fit_baselines
from forecasting.engines import (
    DaskEngine,
    LocalEngine,
    cgroup_cpu_quota,
    split_series,
    usable_cores,
)
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


def test_every_core_by_default_and_any_job_count_gives_the_same_numbers(world) -> None:  # type: ignore[no-untyped-def]
    assert LocalEngine().n_jobs == usable_cores() <= len(os.sched_getaffinity(0))
    assert LocalEngine(-1).n_jobs == usable_cores()
    one = _fit(world, LocalEngine(1))
    for jobs in (2, 3):  # 3 > cores here: more processes than cores still splits series only
        many = _fit(world, LocalEngine(jobs))
        pd.testing.assert_frame_equal(one.forecast, many.forecast)
        pd.testing.assert_frame_equal(one.selection, many.selection)
        pd.testing.assert_frame_equal(one.forecast_error, many.forecast_error)
    with pytest.raises(ValueError, match="n_jobs must be >= 1"):
        LocalEngine(0)


@pytest.mark.parametrize(("files", "quota"), [
    ({"cpu.max": "max 100000\n"}, None),
    ({"cpu.max": "150000 100000\n"}, 2),     # 1.5 CPUs: two processes keep them busy
    ({"cpu.max": "50000 100000\n"}, 1),
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3),
    ({}, None),
])
def test_a_cgroup_quota_caps_the_cores(tmp_path: Path, files: dict[str, str],
                                       quota: int | None) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cgroup_cpu_quota(tmp_path) == quota
    cores = len(os.sched_getaffinity(0))
    assert usable_cores(tmp_path) == (min(cores, quota) if quota else cores)


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
    pd.testing.assert_frame_equal(local.forecast_error, dask.forecast_error, rtol=1e-9,
                                  atol=1e-9)
