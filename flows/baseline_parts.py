"""Fit the baselines location group by location group, so memory follows the largest group.

With `execution.partition_size: N` the baselines stage fits N locations at a time (a
*partition*), as reconcile plans them (flows/partitions.py). Some of a fit is pooled over
every series of the catalogue, across locations: each demand class's combination (chosen on
the CV errors of all its series), the conformal interval quantiles and the pooled cumulative
error of each model group, the cold-start peers' levels and the families' seasonal profiles
(forecasting/baseline.py `fit_partition`). So, the driver holding one
partition's rows at a time:

1. per partition, its planned SKU x locations (reconciliation/scope.py `planned_keys` on the
   partition's rows gives the partition's part of the catalogue's keys: every rule of it is
   per location, family rows included); their union makes the cache key, unchanged;
2. per partition, its history, promotions and keys are fitted and cross-validated; the
   partial fit goes to a file of the workspace and the demand classes' CV errors of the
   class menu (three numbers per series) come back; over every partition's, each demand
   class chooses its combination (forecasting/baseline.py `choose_classes`);
3. per partition, its models are chosen with that choice, up to what is pooled; the partial
   fit goes back to its file and its evidence (a few numbers per series: the CV errors that
   are pooled, peer levels, the last seasons of established series) comes back; the evidence
   of every partition is pooled, rows in catalogue order where the order changes a sum, so
   the pools are the whole catalogue's to the last bit;
4. per partition, the partial fit is finished with the pools and its baseline_forecast,
   selection, cleaning and forecast_error go to part files, which are then streamed into the
   workspace's one Parquet file per frame (rows ordered by partition, then SKU, location)
   and copied into the cache.

Each partition's frames are its rows of the whole catalogue's fit, number for number
(tests/flows/test_baseline_parts.py). `hierarchy: mint_shrink` reconciles every series with
the total and family aggregates over all locations: with it the stage fits the catalogue
whole (see `baselines_stage`).

With `--engine dask` the driver still takes the partitions one after the other, while the
fitting of each runs on the cluster (the engine splits a partition's series into chunks over
every worker). Running whole partitions on workers instead would fit each partition on one
worker's cores (a worker cannot start its own process pool), leave workers idle when there
are fewer partitions than workers, and gain nothing for the driver, which holds one
partition either way.
"""

import pickle
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd

from data_contracts.run_records import CheckResult
from flows.context import RunContext
from flows.engines import open_engine
from flows.output_tree import Workspace
from flows.partitions import history_months
from flows.progress import engine_with_progress
from forecasting.baseline import (
    BaselineEvidence,
    ClassEvidence,
    PartialBaselines,
    PartialFit,
    choose_classes,
    finish_partition,
    fit_partition,
    pool_evidence,
    select_partition,
)
from forecasting.cache_key import CACHE_FRAMES, REQUIRED_FRAMES, baseline_cache_key
from reconciliation import planned_keys

KEY = ["sku", "location"]
# What planned_keys reads of the checked inputs per partition (products, which has no location,
# is read once and given to every partition).
KEY_INPUTS = ["sales_history", "sales_forecast", "inventory", "open_orders", "customer_orders"]
# What the fit reads of the checked inputs per partition (and products).
FIT_INPUTS = ["sales_history", "promotions"]
# The stage's frames, each one Parquet file of the workspace and of a cache entry.
FRAMES = CACHE_FRAMES
PARTS = "baseline_parts"  # workspace stage holding each partition's partial fit and frames


@dataclass
class PartitionedBaselines:
    """What the stage records of a partitioned fit (the frames are in the workspace)."""

    cache_key: str
    reused: bool
    series: int
    models: dict[str, int]


def partition_keys(ws: Workspace, groups: list[list[str]], cycle: str, horizon: int,
                   products: pd.DataFrame | None = None) -> list[pd.DataFrame]:
    """Per location group, its planned (sku, location) pairs, read from its rows only
    (`products`: the checked products table, read here when not given)."""
    if products is None:
        products = _products(ws)
    return [planned_keys({**ws.load_frames("check", KEY_INPUTS, g), "products": products},
                         cycle, horizon)[KEY]
            for g in groups]


def _products(ws: Workspace) -> pd.DataFrame:
    return ws.load_frames("check", ["products"])["products"]


def fit_by_partition(ctx: RunContext, groups: list[list[str]]) -> PartitionedBaselines:
    """The baselines stage's work for `groups` of locations (see the module docstring):
    reuse the cache entry of the run's key, else fit partition by partition and fill it."""
    ws, tree = ctx.workspace, ctx.tree
    check = ws.load_result("check", CheckResult)
    products = _products(ws)
    keys = partition_keys(ws, groups, ctx.cycle, ctx.horizon, products)
    key = baseline_cache_key(check.input_hashes(), pd.concat(keys, ignore_index=True),
                             ctx.cycle, ctx.horizon, ctx.config.forecasting,
                             check.quarantined_rows)
    cached = tree.cache_dir("baselines", key)
    reused = all(tree.exists(posixpath.join(cached, f"{n}.parquet")) for n in REQUIRED_FRAMES)
    if reused:
        for name in FRAMES:
            source = posixpath.join(cached, f"{name}.parquet")
            if tree.exists(source):
                tree.fs.copy(source, ws.path("baseline", f"{name}.parquet"))
    else:
        _fit(ctx, groups, keys, products)
        _fill_cache(ws, key)
    models = tree.read_frame(ws.path("baseline", "selection.parquet"), columns=["model"])
    return PartitionedBaselines(
        cache_key=key, reused=reused, series=len(models),
        models={str(m): int(n) for m, n in models["model"].value_counts().items()})


def _fit(ctx: RunContext, groups: list[list[str]], keys: list[pd.DataFrame],
         products: pd.DataFrame) -> None:
    ws, settings = ctx.workspace, ctx.config.forecasting
    months = history_months(ws, ctx.cycle)
    first = months[0] if months else None
    class_evidence: list[dict[int, ClassEvidence]] = []
    fitted: list[int] = []
    with open_engine(ctx.engine, ctx.dask_address, ctx.workers) as fitter:
        engine = engine_with_progress(fitter)
        for i, g in enumerate(groups):
            tables = ws.load_frames("check", FIT_INPUTS, g)
            history = tables["sales_history"]
            if history.empty and keys[i].empty:
                continue  # no series here (e.g. a warehouse with nothing planned yet)
            fit, classes = fit_partition(history, ctx.horizon, settings, ctx.cycle,
                                         tables.get("promotions"), keys[i],
                                         products, engine, first)
            del tables, history
            _save_object(ws, f"fit-{i:05d}", fit)
            class_evidence.append(classes)
            fitted.append(i)
    choice = choose_classes(class_evidence, settings)
    del class_evidence
    evidence: list[BaselineEvidence] = []
    for i in fitted:
        fit = _load_object(ws, f"fit-{i:05d}")
        assert isinstance(fit, PartialFit)
        selected, ev = select_partition(fit, choice, settings)
        del fit
        ws.tree.remove(ws.path(PARTS, f"fit-{i:05d}.pkl"))
        _save_object(ws, f"partial-{i:05d}", selected)
        evidence.append(ev)
    pooled = pool_evidence(evidence, settings, ctx.horizon)
    del evidence
    for i in fitted:
        partial = _load_object(ws, f"partial-{i:05d}")
        assert isinstance(partial, PartialBaselines)
        result = finish_partition(partial, pooled, settings)
        del partial
        ws.tree.remove(ws.path(PARTS, f"partial-{i:05d}.pkl"))
        ws.save_frames(PARTS, {
            f"baseline_forecast-{i:05d}": result.forecast,
            f"selection-{i:05d}": result.selection,
            f"cleaning-{i:05d}": result.cleaning,
            f"forecast_error-{i:05d}": result.forecast_error,
        })
    for name in FRAMES:
        ws.tree.append_frames(ws.path("baseline", f"{name}.parquet"),
                              _parts(ws, [f"{name}-{i:05d}" for i in fitted]))
        for i in fitted:
            ws.tree.remove(ws.path(PARTS, f"{name}-{i:05d}.parquet"))
    ws.tree.remove(posixpath.join(ws.root, PARTS))


def _parts(ws: Workspace, names: list[str]) -> Iterator[pd.DataFrame]:
    """The part files in order, one at a time."""
    for name in names:
        yield ws.tree.read_frame(ws.path(PARTS, f"{name}.parquet")).reset_index(drop=True)


def _fill_cache(ws: Workspace, key: str) -> None:
    """Copy the stage's files into the cache entry of `key` (complete or absent)."""
    def copy(tmp: str) -> None:
        for name in FRAMES:
            ws.tree.fs.copy(ws.path("baseline", f"{name}.parquet"),
                            posixpath.join(tmp, f"{name}.parquet"))

    ws.tree.fill_cache("baselines", key, copy)


def _save_object(ws: Workspace, name: str, obj: Any) -> None:
    with ws.tree.fs.open(ws.path(PARTS, f"{name}.pkl"), "wb") as f:
        pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)


def _load_object(ws: Workspace, name: str) -> Any:
    with ws.tree.fs.open(ws.path(PARTS, f"{name}.pkl"), "rb") as f:
        return pickle.load(f)
