"""Fitting by partition of locations gives every series the numbers of the catalogue's fit."""

import numpy as np
import pandas as pd
import pytest

from forecasting.baseline import (
    BaselineResult,
    choose_classes,
    finish_partition,
    fit_baselines,
    fit_partition,
    pool_evidence,
    select_partition,
)
from forecasting.engines import LocalEngine
from forecasting.settings import BaselineSettings
from reconciliation import planned_keys
from sample_data import generate_world

CYCLE = "2026-12"
HORIZON = 12
FRAMES = ("forecast", "selection", "cleaning", "forecast_error")


def cold_start_world() -> dict[str, pd.DataFrame]:
    """A generated world (intermittent series, a `new` product, promotions) where, besides,
    one family has no history at one location: its SKUs there are cold starts whose peers
    (family scope) and seasonal profile come from the other locations only; and the second
    location's history starts half a year after the others' (a partition's own panel
    would be narrower than the catalogue's)."""
    tables = dict(generate_world(n_skus=30, n_locations=3, history_months=36, cycle=CYCLE,
                                 horizon=HORIZON, seed=3).tables)
    products = tables["products"]
    history = tables["sales_history"]
    dairy = set(products.loc[products["family"] == "DAIRY", "sku"])
    location = sorted(history["location"].unique())[0]
    gone = history["sku"].isin(dairy) & (history["location"] == location)
    late = (history["location"] == sorted(history["location"].unique())[1]) & (
        history["period"] < "2024-06")
    tables["sales_history"] = history[~gone & ~late].reset_index(drop=True)
    # Stock keeps them planned there.
    stock = pd.DataFrame({"sku": sorted(dairy), "location": location, "on_hand": 50.0})
    tables["inventory"] = pd.concat([tables["inventory"], stock]).drop_duplicates(
        ["sku", "location"]).reset_index(drop=True)
    return tables


@pytest.fixture(scope="module")
def world() -> dict[str, pd.DataFrame]:
    return cold_start_world()


def _fit_whole(tables: dict[str, pd.DataFrame], settings: BaselineSettings) -> BaselineResult:
    keys = planned_keys(tables, CYCLE, HORIZON)
    return fit_baselines(tables["sales_history"], HORIZON, settings, CYCLE,
                         tables["promotions"], keys, tables["products"], n_jobs=1)


def _fit_parted(tables: dict[str, pd.DataFrame], settings: BaselineSettings,
                groups: list[list[str]]) -> dict[str, pd.DataFrame]:
    keys = planned_keys(tables, CYCLE, HORIZON)
    history = tables["sales_history"]
    first = str(history["period"].min())
    engine = LocalEngine(1)
    fits, class_evidence = [], []
    for g in groups:
        def mine(df: pd.DataFrame, g: list[str] = g) -> pd.DataFrame:
            return df[df["location"].isin(g)].reset_index(drop=True)
        fit, classes = fit_partition(mine(history), HORIZON, settings, CYCLE,
                                     mine(tables["promotions"]), mine(keys),
                                     tables["products"], engine, first)
        fits.append(fit)
        class_evidence.append(classes)
    choice = choose_classes(class_evidence, settings)
    selected = [select_partition(f, choice, settings) for f in fits]
    pooled = pool_evidence([ev for _, ev in selected], settings, HORIZON)
    results = [finish_partition(p, pooled, settings) for p, _ in selected]
    return {f: pd.concat([getattr(r, f) for r in results], ignore_index=True) for f in FRAMES}


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    by = [c for c in ("sku", "location", "period", "months", "rule") if c in df.columns]
    return df.sort_values(by, kind="stable").reset_index(drop=True)


SETTINGS = {"naive": BaselineSettings(), "cv_mae": BaselineSettings(conformal_scale="cv_mae"),
            # Classes small enough to choose their own combination from a few series.
            "classes": BaselineSettings(class_min_series=3)}
_whole: dict[str, BaselineResult] = {}


def _whole_fit(world: dict[str, pd.DataFrame], scale: str) -> BaselineResult:
    if scale not in _whole:
        _whole[scale] = _fit_whole(world, SETTINGS[scale])
    return _whole[scale]


@pytest.mark.parametrize(("size", "scale"), [(1, "naive"), (2, "naive"), (1, "cv_mae"),
                                             (1, "classes"), (2, "classes")])
def test_partitions_give_the_catalogues_numbers(world: dict[str, pd.DataFrame], size: int,
                                                scale: str) -> None:
    whole = _whole_fit(world, scale)
    locations = sorted(world["warehouses"]["location"].unique())
    groups = [locations[i:i + size] for i in range(0, len(locations), size)]
    parted = _fit_parted(world, SETTINGS[scale], groups)
    for frame in FRAMES:
        pd.testing.assert_frame_equal(_sorted(getattr(whole, frame)), _sorted(parted[frame]),
                                      check_exact=True, obj=frame)


def test_the_world_exercises_what_is_pooled_across_locations(
        world: dict[str, pd.DataFrame]) -> None:
    """Guards the test above: the world has what crosses locations, and a partition fitted
    on its own (its own pools) would differ from the catalogue's fit."""
    whole = _whole_fit(world, "naive")
    classes = set(whole.selection["demand_class"])
    assert {"smooth", "intermittent", "new"} <= classes | {"lumpy", "erratic"}
    assert "intermittent" in classes or "lumpy" in classes
    models = set(whole.selection["model"])
    assert "ColdStart:family" in models  # peers from other locations only
    assert (whole.selection["interval_method"] == "conformal").any()
    location = sorted(world["warehouses"]["location"].unique())[0]
    alone = _fit_parted(world, SETTINGS["naive"], [[location]])
    mine = whole.forecast[whole.forecast["location"] == location]
    assert not np.allclose(_sorted(mine)["hi_95"].to_numpy(),
                           _sorted(alone["forecast"])["hi_95"].to_numpy())
    err = whole.forecast_error[whole.forecast_error["location"] == location]
    assert not np.allclose(_sorted(err)["sigma_pooled"].to_numpy(),
                           _sorted(alone["forecast_error"])["sigma_pooled"].to_numpy(),
                           equal_nan=True)


def test_each_demand_class_chooses_its_combination_over_every_partitions_series(
        world: dict[str, pd.DataFrame]) -> None:
    """Guards the 'classes' cases above: the class choice of the catalogue is not the default
    everywhere, and partitions choosing alone would choose differently somewhere."""
    whole = _whole_fit(world, "classes")
    chosen = whole.selection[whole.selection["demand_class"].isin(["smooth", "erratic"])]
    assert chosen["model"].nunique() >= 1
    locations = sorted(world["warehouses"]["location"].unique())
    alone = pd.concat([_fit_parted(world, SETTINGS["classes"], [[loc]])["selection"]
                       for loc in locations], ignore_index=True)
    assert not _sorted(alone)["model"].equals(_sorted(whole.selection)["model"])


def test_the_pooled_ar_gives_a_warehouse_fitted_alone_the_catalogues_numbers() -> None:
    """Six years of history: each warehouse's pooled AR has a map (the blends are named in
    `selection`), and fitting one warehouse at a time still gives every frame of the whole
    fit, bit for bit (one pool per warehouse)."""
    tables = dict(generate_world(n_skus=30, n_locations=2, history_months=72, cycle=CYCLE,
                                 horizon=HORIZON, seed=5).tables)
    settings = SETTINGS["classes"]
    whole = _fit_whole(tables, settings)
    assert whole.selection["model"].str.endswith("+PooledAR").sum() >= 10
    locations = sorted(tables["warehouses"]["location"].unique())
    parted = _fit_parted(tables, settings, [[loc] for loc in locations])
    for frame in FRAMES:
        pd.testing.assert_frame_equal(_sorted(getattr(whole, frame)), _sorted(parted[frame]),
                                      check_exact=True, obj=frame)
    off = _fit_whole(tables, BaselineSettings(class_min_series=3, pooled_ar=False))
    assert not off.selection["model"].str.contains("PooledAR").any()
    assert not np.allclose(_sorted(off.forecast)["forecast"].to_numpy(),
                           _sorted(whole.forecast)["forecast"].to_numpy())
