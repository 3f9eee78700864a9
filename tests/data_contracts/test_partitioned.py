"""Checked location group by location group, the inputs get validate_inputs' verdict exactly.

Every broken world of test_inputs.py (duplicate keys, unknown SKUs and locations, bad cells,
missing columns and tables...) and quarantines within and beyond their share give the same
findings (in the same order, same words), the same rejects and the same kept rows, whatever
the size of the groups.
"""

from collections.abc import Callable, Mapping

import pandas as pd
import pytest

from data_contracts import ContractBreach, QuarantinePolicy, validate_inputs
from data_contracts.partitioned import (
    SPLIT_TABLES,
    check_group,
    check_whole,
    location_keys,
    merge_verdict,
)
from data_contracts.periods import add_months
from data_contracts.quality import (
    forecast_totals,
    prepare_suites,
    prepare_summary_suites,
    summarize,
)
from data_contracts.validate import previous_history_totals
from flows.partitions import location_groups
from tests.data_contracts.test_inputs import CASES, CYCLE, duplicate, setv

World = dict[str, pd.DataFrame]
Outcome = tuple[list[dict], pd.DataFrame, dict[str, pd.DataFrame] | None]


def by_groups(tables: Mapping[str, pd.DataFrame], size: int, policy: QuarantinePolicy,
              previous: Mapping[str, pd.DataFrame] | None = None,
              horizon: int | None = None) -> Outcome:
    """What flows/check_parts.py does, in memory: split by location group (rows of no
    warehouses location in one more group), check each group, merge."""
    whole = check_whole(tables, CYCLE)
    groups = location_groups(whole.locations(), size)
    group_of = {loc: i for i, g in enumerate(groups) for loc in g}
    parts: list[dict[str, pd.DataFrame]] = [{} for _ in range(len(groups) + 1)]
    for table in SPLIT_TABLES:
        if table not in tables:
            continue
        frame = tables[table]
        column = next((c for c in frame.columns if str(c).strip() == "location"), None)
        index = (pd.Series(len(groups), index=frame.index) if column is None else
                 location_keys(frame[column]).map(group_of).fillna(len(groups)).astype(int))
        for i, part in enumerate(parts):
            part[table] = frame[index.to_numpy() == i]
    checks = [check_group(p, whole, policy, CYCLE, horizon) for p in parts]
    totals = previous_history_totals(previous["sales_history"]) if previous else None
    try:
        merged = merge_verdict(list(tables), whole, checks, policy, CYCLE, horizon, totals)
    except ContractBreach as breach:
        return [f.model_dump() for f in breach.findings], breach.rejects, None
    kept = {**whole.kept(policy, CYCLE)}
    for table in SPLIT_TABLES:
        frames = [c.checked[table] for c in checks if table in c.checked]
        if frames:
            kept[table] = pd.concat(frames).sort_index()
    return [f.model_dump() for f in merged.findings], merged.rejects, kept


def whole_table(tables: Mapping[str, pd.DataFrame], policy: QuarantinePolicy,
                previous: Mapping[str, pd.DataFrame] | None = None,
                horizon: int | None = None) -> Outcome:
    try:
        done = validate_inputs(tables, CYCLE, policy, previous, horizon=horizon)
    except ContractBreach as breach:
        return [f.model_dump() for f in breach.findings], breach.rejects, None
    return [f.model_dump() for f in done.findings], done.rejects, done.tables


def assert_same(tables: World, policy: QuarantinePolicy | None = None,
                previous: Mapping[str, pd.DataFrame] | None = None,
                horizon: int | None = None) -> None:
    policy = policy or QuarantinePolicy()
    expected = whole_table(tables, policy, previous, horizon)
    for size in (1, 2):
        found = by_groups(tables, size, policy, previous, horizon)
        assert found[0] == expected[0], f"partition size {size}"
        pd.testing.assert_frame_equal(found[1].reset_index(drop=True),
                                      expected[1].reset_index(drop=True), check_dtype=False)
        assert (found[2] is None) == (expected[2] is None)
        if expected[2] is not None and found[2] is not None:
            assert found[2].keys() == expected[2].keys()
            for name, frame in expected[2].items():
                pd.testing.assert_frame_equal(found[2][name], frame, check_index_type=False)


@pytest.mark.parametrize("mutate", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_every_broken_world_gets_the_same_breach(world: World,
                                                 mutate: Callable[[World], None]) -> None:
    mutate(world)
    assert_same(world)


def test_the_valid_world_keeps_the_same_rows(world: World) -> None:
    assert_same(world, horizon=6)


def test_quarantine_within_and_beyond_the_share(world: World) -> None:
    world["sales_history"].loc[5, "qty"] = "-4"  # DC-N
    world["sales_history"].loc[20, "sku"] = "ZZ9"  # DC-S: the share adds up over groups
    world["inventory"].loc[3, "location"] = "DC-MARS"  # no warehouse: the group of others
    assert_same(world, QuarantinePolicy(max_share={"sales_history": 0.05, "inventory": 0.2}))
    assert_same(world, QuarantinePolicy(max_share={"sales_history": 0.02, "inventory": 0.2}))


def test_duplicate_keys_unknown_location_and_empty_location(world: World) -> None:
    duplicate("sales_history", 3)(world)
    duplicate("inventory", 9)(world)
    setv("open_orders", 2, "location", "DC-MARS")(world)
    setv("overrides", 2, "location", None)(world)
    setv("sales_forecast", 4, "location", " DC-S ")(world)  # one location once stripped
    assert_same(world)


def test_a_quarantined_product_cascades_across_groups(world: World) -> None:
    world["products"].loc[3, "units_per_pallet"] = "0"  # A2, sold at both locations
    assert_same(world, QuarantinePolicy(max_share={"products": 0.5}))
    assert_same(world, QuarantinePolicy(
        max_share={"products": 0.5, "sales_history": 0.5, "inventory": 0.5}))


def test_rows_read_past_and_restated_history(world: World) -> None:
    previous = {t: f.copy() for t, f in world.items()}
    previous["sales_history"].loc[previous["sales_history"].index[:30], "qty"] = "500"
    history = world["forecast_history"]
    world["forecast_history"] = pd.concat([history, history.assign(cycle=CYCLE).set_axis(
        pd.Index(history.index + 100, name="source_line"))])
    assert_same(world, previous=previous, horizon=3)


def _suites(tables: World, size: int, previous: World | None) -> tuple[list, list]:
    """The quality suites of the whole checked tables, and of the groups' summaries."""
    policy = QuarantinePolicy()
    checked = validate_inputs(tables, CYCLE, policy).tables
    whole = prepare_suites(checked, CYCLE, previous)
    check = check_whole(tables, CYCLE)
    groups = location_groups(check.locations(), size)
    parts = []
    for group in [*groups, None]:
        part = {}
        for table in SPLIT_TABLES:
            if table in tables:
                keys = location_keys(tables[table]["location"])
                inside = keys.isin(group) if group is not None else ~keys.isin(
                    check.locations())
                part[table] = tables[table][inside.to_numpy()]
        parts.append(check_group(part, check, policy, CYCLE).summary)
    before = None
    if previous is not None:
        before = {"products": previous["products"],
                  "forecast_totals": forecast_totals(previous["sales_forecast"])}
    summary = prepare_summary_suites(summarize(parts), checked["products"], CYCLE, before)
    return whole, summary


def _lagging_world(world: World) -> None:
    history = world["sales_history"]
    late = (history["location"] == "DC-S") & (history["period"] >= add_months(CYCLE, -3))
    world["sales_history"] = history[~late]
    history = world["sales_history"]
    world["sales_history"] = history[~((history["sku"] == "B1") & (history["location"] == "DC-N"))]


def _bigger_forecast(world: World) -> World:
    previous = {t: f.copy() for t, f in world.items()}
    forecast = world["sales_forecast"]
    forecast.loc[forecast["location"] == "DC-S", "qty"] = "40"
    return previous


@pytest.mark.parametrize("case", ["valid", "lagging", "drift"])
def test_quality_suites_on_summaries_have_the_same_verdicts(world: World, case: str) -> None:
    previous = None
    if case == "lagging":
        _lagging_world(world)
    if case == "drift":
        previous = _bigger_forecast(world)
    for size in (1, 2):
        whole, summary = _suites(world, size, previous)
        assert [s.name for s in summary] == [s.name for s in whole]
        for a, b in zip(whole, summary, strict=True):
            if a.name == "freshness":  # one row per SKU x location: the same minimum
                column = "months_before_cycle"
                assert a.frame[column].min() == b.frame[column].min()
                assert b.frame[column].max() <= a.frame[column].max()
            else:
                pd.testing.assert_frame_equal(b.frame, a.frame, check_dtype=False, obj=a.name)
            for check in a.checks:  # the same words for the same failure
                result = {"unexpected_index_list": [0, 1], "unexpected_count": 2}
                assert b.finding(check.rule, result) == a.finding(check.rule, result)
