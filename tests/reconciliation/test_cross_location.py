"""A group of locations planned with every location's evidence gets its part of the whole plan."""

from typing import Any

import pandas as pd
import pytest

from reconciliation import build_plan
from reconciliation.cross_location import collect, combine
from reconciliation.fva import compute_fva, fva_points, fva_table


def _of(tables: dict[str, pd.DataFrame], locations: list[str]) -> dict[str, pd.DataFrame]:
    return {name: df[df["location"].isin(locations)] if "location" in df else df
            for name, df in tables.items()}


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(list(df.columns), key=lambda s: s.astype(str), kind="stable"
                          ).reset_index(drop=True)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_groups_planned_with_cross_location_evidence_make_the_whole_plan(
    world: Any, seed: int
) -> None:
    w = world(seed=seed, n_skus=8, n_locs=3, capacity=1.2, history_months=30)
    whole = build_plan(w.tables, w.baseline, w.cycle, w.horizon)
    groups = [["L0"], ["L1", "L2"]]
    history = w.tables["sales_history"]
    past = history[history["period"] < w.cycle]["period"]
    months = (past.min(), past.max())
    cross = combine([collect(_of(w.tables, g), w.cycle, months=months) for g in groups])
    parts = [build_plan(_of(w.tables, g), w.baseline[w.baseline["location"].isin(g)],
                        w.cycle, w.horizon, cross=cross) for g in groups]
    for name in ("consensus_plan", "capacity_report", "exceptions", "family_plan",
                 "promotion_load"):
        joined = pd.concat([getattr(p, name) for p in parts], ignore_index=True)
        pd.testing.assert_frame_equal(_sorted(joined), _sorted(getattr(whole, name)),
                                      check_exact=True, check_dtype=False, obj=name)
    trust = pd.concat([p.trust for p in parts]).drop_duplicates(["submitted_by", "direction"])
    pd.testing.assert_frame_equal(_sorted(trust), _sorted(whole.trust), check_exact=True)
    points = pd.concat([fva_points(_of(w.tables, g)["sales_history"],
                                   _of(w.tables, g)["forecast_history"], w.cycle,
                                   w.tables["products"], months=months) for g in groups],
                       ignore_index=True)
    fva = compute_fva(history, w.tables["forecast_history"], w.cycle, w.tables["products"])
    pd.testing.assert_frame_equal(fva_table(points), fva, check_exact=True)
