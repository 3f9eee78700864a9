"""Property tests: on any generated world the plan keeps every SPEC rule."""

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from data_contracts.plan_rules import check_plan_rules
from reconciliation import build_plan
from reconciliation.settings import PlanSettings

WORLDS = st.fixed_dictionaries({
    "seed": st.integers(0, 10_000),
    "n_skus": st.integers(1, 6),
    "n_locs": st.integers(1, 3),
    "horizon": st.integers(1, 8),
    "capacity": st.sampled_from([0.3, 0.8, 1.5, 10.0]),
    "lead_max": st.integers(0, 3),
    "open_orders": st.booleans(),
    "promos": st.booleans(),
    "overrides": st.booleans(),
    "family_rows": st.booleans(),
    "safety_stock": st.booleans(),
    "moq": st.booleans(),
})
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(params=WORLDS)
# Whole-unit receipts left inbound a fraction of a unit below full while outbound cut 100
# units: a limit with less than one unit of room is full, for the plan and the rules alike.
@example(params={"seed": 5, "n_skus": 5, "n_locs": 3, "horizon": 5, "capacity": 0.8,
                 "lead_max": 0, "open_orders": False, "promos": False, "overrides": False,
                 "family_rows": False, "safety_stock": False, "moq": False})
def test_plan_keeps_the_rules(world: Callable[..., Any], params: dict) -> None:
    w = world(**params)
    res = build_plan(w.tables, w.baseline, w.cycle, w.horizon)
    violations = check_plan_rules(res.consensus_plan, res.capacity_report, w.tables, w.cycle,
                                  w.horizon)
    errors = res.exceptions[res.exceptions["severity"] == "error"]
    if errors.empty:
        assert violations == []
    else:
        # Only breaches the inputs force (open orders above inbound, stock above storage),
        # each announced by an error exception.
        assert all("forced_by_inputs=True" in v for v in violations), violations
        assert set(errors["type"]) <= {"CAPACITY_INFEASIBLE"}
    fam = res.family_plan.groupby(["location", "period"])["consensus_demand"].sum()
    sku = res.consensus_plan.groupby(["location", "period"])["consensus_demand"].sum()
    assert np.allclose(fam.sort_index(), sku.sort_index())


@SETTINGS
@given(params=WORLDS.map(lambda p: {**p, "capacity": 50.0}))
def test_ample_capacity_cuts_only_what_lead_time_forbids(
    world: Callable[..., Any], params: dict
) -> None:
    w = world(**params)
    res = build_plan(w.tables, w.baseline, w.cycle, w.horizon)
    plan = res.consensus_plan
    assert not (res.exceptions["severity"] == "error").any()
    assert (res.exceptions["type"] != "CAPACITY_SHORTFALL").all()
    cut = plan[plan["shortfall"] > 1e-6]
    # Lead time is not capacity: every cut is a lead-time gap, and no month is `short`.
    assert set(cut["reason"]) <= {"LEAD_TIME_SHORTFALL", "OVERRIDE"}
    lt = res.exceptions[res.exceptions["type"] == "LEAD_TIME_SHORTFALL"]
    assert len(lt) == (cut["shortfall"] >= PlanSettings().shortfall_tolerance_units).sum()
    assert set(res.capacity_report["status"]) <= {"ok"}
    lost = cut.groupby(["location", "period"])["shortfall"].sum()
    rep = res.capacity_report.set_index(["location", "period"])["lead_time_shortfall_units"]
    assert np.allclose(rep.reindex(lost.index), lost)
    assert np.allclose(rep.drop(lost.index).to_numpy(), 0.0)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=WORLDS)
def test_order_release_only_where_something_is_ordered(
    world: Callable[..., Any], params: dict
) -> None:
    w = world(**params)
    p = build_plan(w.tables, w.baseline, w.cycle, w.horizon).consensus_plan
    ordered = p["planned_receipts"] > 0
    assert p.loc[~ordered, "order_release_period"].isna().all()
    release = p.loc[ordered, "order_release_period"]
    assert release.notna().all() and (release >= w.cycle).all()
