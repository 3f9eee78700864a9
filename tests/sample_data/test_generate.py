"""Properties of the generated S&OP world: contract shape, realism and referential integrity."""

import numpy as np
import pandas as pd
import pytest

from data_contracts.checks import MIN_CAPACITY_PALLETS, MIN_CAPACITY_UNITS
from data_contracts.periods import add_months, horizon_periods, is_month
from data_contracts.tables import INPUT_COLUMNS, INPUT_TABLES
from sample_data.generate import World, generate_world

CYCLE = "2026-12"
HORIZON = 18


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(n_skus=200, cycle=CYCLE, horizon=HORIZON, seed=7)


def test_same_seed_gives_identical_frames(world: World) -> None:
    again = generate_world(n_skus=200, cycle=CYCLE, horizon=HORIZON, seed=7)
    for name, df in world.tables.items():
        pd.testing.assert_frame_equal(df, again.tables[name], obj=name)
    pd.testing.assert_frame_equal(world.truth, again.truth)


def test_other_seed_gives_other_world(world: World) -> None:
    other = generate_world(n_skus=200, cycle=CYCLE, horizon=HORIZON, seed=8)
    assert not world.tables["sales_history"].equals(other.tables["sales_history"])


def test_every_spec_table_with_exactly_its_columns(world: World) -> None:
    assert set(world.tables) == set(INPUT_TABLES)
    for name, df in world.tables.items():
        assert list(df.columns) == INPUT_COLUMNS[name], name
        assert len(df) > 0, name
    assert list(world.truth.columns) == ["sku", "location", "period", "qty"]


def test_keys_are_strings_and_periods_are_months(world: World) -> None:
    t = world.tables
    for name in ("sales_history", "open_orders", "forecast_history", "overrides", "inventory"):
        assert t[name]["sku"].map(type).eq(str).all(), name
        assert t[name]["location"].map(type).eq(str).all(), name
    for name, col in [
        ("sales_history", "period"),
        ("sales_forecast", "period"),
        ("open_orders", "period"),
        ("promotions", "start_period"),
        ("promotions", "end_period"),
        ("forecast_history", "cycle"),
        ("forecast_history", "period"),
        ("overrides", "period"),
    ]:
        assert t[name][col].map(is_month).all(), f"{name}.{col}"
    assert t["products"]["sku"].str.fullmatch(r"SKU-\d{4}").all()


def test_keys_are_referentially_consistent(world: World) -> None:
    t = world.tables
    skus = set(t["products"]["sku"])
    locations = set(t["warehouses"]["location"])
    assert t["products"]["sku"].is_unique
    for name in (
        "sales_history",
        "inventory",
        "open_orders",
        "promotions",
        "forecast_history",
        "overrides",
    ):
        assert set(t[name]["sku"]) <= skus, name
        assert set(t[name]["location"]) <= locations, name
    sf = t["sales_forecast"]
    sku_rows = sf[sf["sku"].notna()]
    fam_rows = sf[sf["sku"].isna()]
    assert set(sku_rows["sku"]) <= skus
    assert set(sf["location"]) <= locations
    assert len(fam_rows) > 0, "expected a few family-level rows"
    assert fam_rows["family"].notna().all()
    assert set(fam_rows["family"]) <= set(t["products"]["family"])
    assert set(world.truth["sku"]) <= skus


def test_table_keys_are_unique(world: World) -> None:
    t = world.tables
    keys = {
        "sales_history": ["sku", "location", "period"],
        "inventory": ["sku", "location"],
        "open_orders": ["sku", "location", "period"],
        "promotions": ["promo_id"],
        "forecast_history": ["cycle", "sku", "location", "period", "submitted_by"],
        "overrides": ["sku", "location", "period"],
    }
    for name, key in keys.items():
        assert not t[name].duplicated(key).any(), name
    sf = t["sales_forecast"]
    assert not sf.duplicated(["sku", "family", "location", "period"]).any()
    assert not world.truth.duplicated(["sku", "location", "period"]).any()


def test_no_negative_quantities(world: World) -> None:
    t = world.tables
    for name, col in [
        ("sales_history", "qty"),
        ("sales_forecast", "qty"),
        ("inventory", "on_hand"),
        ("forecast_history", "qty"),
        ("overrides", "qty"),
        ("promotions", "uplift_pct"),
        ("products", "unit_cost"),
        ("products", "safety_stock_units"),
        ("products", "min_order_qty"),
    ]:
        assert (t[name][col] >= 0).all(), f"{name}.{col}"
    assert (t["open_orders"]["qty"] > 0).all()
    assert (world.truth["qty"] >= 0).all()
    assert (t["products"]["units_per_pallet"] > 0).all()
    wh = t["warehouses"]
    for col, least in [("storage_pallets", MIN_CAPACITY_PALLETS),
                       ("inbound_pallets", MIN_CAPACITY_PALLETS),
                       ("outbound_units", MIN_CAPACITY_UNITS)]:
        assert (wh[col] >= least).all(), col


def test_history_before_cycle_forecasts_from_cycle(world: World) -> None:
    t = world.tables
    assert (t["sales_history"]["period"] < CYCLE).all()
    assert t["sales_history"]["period"].min() == add_months(CYCLE, -48)
    horizon = set(horizon_periods(CYCLE, HORIZON))
    assert set(t["sales_forecast"]["period"]) <= horizon
    assert set(t["open_orders"]["period"]) <= set(horizon_periods(CYCLE, 3))
    assert set(world.truth["period"]) == horizon
    assert set(t["overrides"]["period"]) <= horizon
    fh = t["forecast_history"]
    assert (fh["cycle"] < CYCLE).all() and (fh["period"] < CYCLE).all()
    assert (fh["period"] >= fh["cycle"]).all()
    assert fh["cycle"].nunique() == 12


def test_product_master_is_realistic(world: World) -> None:
    p = world.tables["products"]
    assert 5 <= p["family"].nunique() <= 8
    assert set(p["status"]) == {"active", "new", "phase_out"}
    assert set(p["lead_time_months"]) <= {0, 1, 2, 3}
    assert p["lead_time_months"].dtype.kind == "i"


def test_new_items_have_no_history_but_a_sales_number(world: World) -> None:
    t = world.tables
    new = set(t["products"].loc[t["products"]["status"] == "new", "sku"])
    assert len(new) >= 3
    assert not set(t["sales_history"]["sku"]) & new
    assert new <= set(t["sales_forecast"]["sku"].dropna())


def test_every_sku_stocked_at_one_to_three_locations(world: World) -> None:
    per_sku = world.truth.groupby("sku")["location"].nunique()
    assert len(per_sku) == 200
    assert per_sku.between(1, 3).all()
    assert set(per_sku) == {1, 2, 3}


def test_about_fifteen_percent_of_items_are_intermittent(world: World) -> None:
    hist = world.tables["sales_history"]
    active = world.tables["products"].query("status == 'active'")["sku"]
    months = (
        hist[hist["sku"].isin(active)].groupby(["sku", "location"])["period"].agg(["count", "min"])
    )
    # Share of months with a sale since the series started: intermittent items sell rarely.
    span = months["min"].map(lambda p: 48 - (int(p[:4]) * 12 + int(p[5:]) - (2022 * 12 + 12)))
    sparse = (months["count"] / span < 0.6).groupby(level="sku").all()
    assert 0.08 <= sparse.mean() <= 0.25


def test_history_shows_family_seasonality_and_promo_uplift(world: World) -> None:
    t = world.tables
    hist = t["sales_history"].merge(t["products"][["sku", "family"]], on="sku")
    hist["month"] = hist["period"].str[5:].astype(int)
    bev = hist[hist["family"] == "BEVERAGES"].groupby("month")["qty"].sum()
    assert bev.idxmax() in (6, 7, 8)
    assert bev.max() > 1.3 * bev.min()

    # Promo months sell more than the same series' months around them.
    promos = t["promotions"]
    past = promos[promos["end_period"] < CYCLE]
    assert len(past) > 0 and (promos["start_period"] >= CYCLE).any()
    assert (promos["uplift_pct"] >= 10).all(), "uplift_pct is a percentage, not a fraction"
    h = t["sales_history"].set_index(["sku", "location", "period"])["qty"]
    ratios = []
    for row in past.head(60).itertuples():
        in_promo = h.get((row.sku, row.location, row.start_period), 0.0)
        around = [
            h.get((row.sku, row.location, add_months(row.start_period, d)), np.nan)
            for d in (-2, -3, 3, 4)
        ]
        ratios.append(in_promo / np.nanmean(around))
    assert np.nanmedian(ratios) > 1.1


def _measured_bias(world: World) -> pd.Series:
    fh = world.tables["forecast_history"]
    hist = world.tables["sales_history"]
    joined = fh.merge(hist, on=["sku", "location", "period"], how="left", suffixes=("", "_actual"))
    joined["qty_actual"] = joined["qty_actual"].fillna(0.0)
    totals = joined.groupby("submitted_by")[["qty", "qty_actual"]].sum()
    return totals["qty"] / totals["qty_actual"] - 1.0


def test_teams_bias_measured_from_forecast_history(world: World) -> None:
    bias = _measured_bias(world)
    assert len(bias) >= 2
    assert abs(bias["team-north"]) < 0.08
    assert 0.2 <= bias["team-south"] <= 0.45


def test_sales_forecast_vs_truth_carries_the_same_bias(world: World) -> None:
    sf = world.tables["sales_forecast"].dropna(subset=["sku"])
    joined = sf.merge(world.truth, on=["sku", "location", "period"], suffixes=("", "_true"))
    totals = joined.groupby("submitted_by")[["qty", "qty_true"]].sum()
    bias = totals["qty"] / totals["qty_true"] - 1.0
    assert abs(bias["team-north"]) < 0.1
    assert 0.2 <= bias["team-south"] <= 0.45


def test_truth_continues_the_history_level(world: World) -> None:
    hist = world.tables["sales_history"]
    last_year = hist[hist["period"] >= add_months(CYCLE, -12)]["qty"].sum()
    next_year = world.truth[world.truth["period"] < add_months(CYCLE, 12)]["qty"].sum()
    assert 0.85 < next_year / last_year < 1.3


def test_capacity_squeeze_at_one_warehouse_in_peak_months(world: World) -> None:
    wh = world.tables["warehouses"]
    every = wh[wh["period"].isna()]
    specific = wh[wh["period"].notna()]
    assert every["location"].is_unique and len(every) == 3
    assert len(specific) >= 2
    assert specific["location"].nunique() == 1
    loc = specific["location"].iloc[0]
    normal = every.set_index("location").loc[loc]
    assert (specific["inbound_pallets"] < normal["inbound_pallets"]).all()
    assert every["overtime_pct"].between(0.1, 0.25).all()
    assert specific["period"].min() >= add_months(CYCLE, 4)
    assert world.facts["squeeze_location"] == loc


def test_inventory_covers_about_one_to_two_months(world: World) -> None:
    inv = world.tables["inventory"]
    first = world.truth[world.truth["period"] == CYCLE]
    joined = inv.merge(first, on=["sku", "location"])
    cover = joined["on_hand"].sum() / joined["qty"].sum()
    assert 0.8 < cover < 2.5


def test_overrides_have_reason_and_approver(world: World) -> None:
    ov = world.tables["overrides"]
    assert 1 <= len(ov) <= 5
    assert ov["reason"].str.len().gt(0).all() and ov["approved_by"].str.len().gt(0).all()


@pytest.mark.parametrize("n_skus,n_locations", [(1, 1), (12, 2), (30, 5)])
def test_small_and_odd_worlds(n_skus: int, n_locations: int) -> None:
    world = generate_world(
        n_skus=n_skus, n_locations=n_locations, history_months=24, horizon=6, seed=1
    )
    assert len(world.tables["products"]) == n_skus
    assert world.tables["warehouses"]["location"].nunique() == n_locations
    assert set(world.truth["location"]) <= set(world.tables["warehouses"]["location"])
    for name, df in world.tables.items():
        assert list(df.columns) == INPUT_COLUMNS[name]


def test_locations_beyond_three_are_named() -> None:
    world = generate_world(n_skus=40, n_locations=7, seed=3)
    locs = world.tables["warehouses"]["location"].unique().tolist()
    assert locs[:3] == ["DC-NORTH", "DC-SOUTH", "DC-EAST"]
    assert len(locs) == 7 and len(set(locs)) == 7


@pytest.mark.slow
def test_scales_to_many_series_quickly() -> None:
    import time

    start = time.perf_counter()
    world = generate_world(n_skus=10_000, seed=2)
    elapsed = time.perf_counter() - start
    assert world.facts["n_series"] > 20_000  # type: ignore[operator]
    assert elapsed < 20


def test_open_orders_fill_the_lead_time_pipeline(world: World) -> None:
    t = world.tables
    lead = t["products"].set_index("sku")["lead_time_months"]
    oo = t["open_orders"]
    months_ahead = oo["period"].map(lambda p: (int(p[:4]) - 2026) * 12 + int(p[5:]) - 12)
    active_oo = oo[t["products"].set_index("sku").loc[oo["sku"], "status"].to_numpy() != "new"]
    # Orders already placed arrive before a new order could (within the lead time).
    assert (months_ahead[active_oo.index] < lead.loc[active_oo["sku"]].to_numpy()).all()
    long_lead = t["inventory"][t["inventory"]["sku"].map(lead) >= 2]
    first = oo[oo["period"] == CYCLE].merge(long_lead, on=["sku", "location"])
    assert len(first) >= 0.7 * len(long_lead)


def test_world_passes_the_input_contracts(world: World) -> None:
    from data_contracts import validate_inputs

    validated = validate_inputs(world.tables, CYCLE)
    assert not [f for f in validated.findings if f.severity == "error"]


def test_a_month_earlier_is_the_world_as_planners_saw_it_then(world: World) -> None:
    from data_contracts import validate_inputs
    from sample_data import tables_a_month_earlier

    earlier = add_months(CYCLE, -1)
    t = tables_a_month_earlier(world.tables, CYCLE, HORIZON)
    history = world.tables["sales_history"]
    assert t["sales_history"]["period"].max() == add_months(earlier, -1)
    assert len(t["sales_history"]) == (history["period"] < earlier).sum()
    # The earlier month's sales number is what was submitted in its own cycle.
    own = t["sales_forecast"][t["sales_forecast"]["period"] == earlier]
    past = world.tables["forecast_history"]
    assert len(own) == ((past["cycle"] == earlier) & (past["period"] == earlier)).sum() > 0
    assert t["sales_forecast"]["period"].max() == add_months(earlier, HORIZON - 1)
    assert (t["forecast_history"]["cycle"] < earlier).all() and t["overrides"].empty
    # Stock at the start of the earlier month: today's plus what sold in it.
    sold = history[history["period"] == earlier]["qty"].sum()
    assert t["inventory"]["on_hand"].sum() == pytest.approx(
        world.tables["inventory"]["on_hand"].sum() + sold)
    validated = validate_inputs(t, earlier, horizon=HORIZON)
    assert not [f for f in validated.findings if f.severity == "error"]
