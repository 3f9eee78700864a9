"""Input contracts: a catalogue of broken worlds, each broken in one way, and the valid world."""

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from data_contracts import ContractBreach, QuarantinePolicy, validate_history, validate_inputs
from data_contracts.periods import add_months

CYCLE = "2025-06"  # the cycle of the conftest world
World = dict[str, pd.DataFrame]
AsRead = Callable[[list[dict]], pd.DataFrame]


def setv(table: str, line: int, column: str, value: object) -> Callable[[World], None]:
    def mutate(world: World) -> None:
        world[table].loc[line, column] = value

    return mutate


def duplicate(table: str, line: int) -> Callable[[World], None]:
    def mutate(world: World) -> None:
        frame = world[table]
        row = frame.loc[[line]]
        row.index = pd.Index([frame.index.max() + 1], name="source_line")
        world[table] = pd.concat([frame, row])

    return mutate


def drop_column(table: str, column: str) -> Callable[[World], None]:
    def mutate(world: World) -> None:
        world[table] = world[table].drop(columns=[column])

    return mutate


def drop_table(table: str) -> Callable[[World], None]:
    def mutate(world: World) -> None:
        del world[table]

    return mutate


def only_dated_rows_for_dc_s(world: World) -> None:
    wh = world["warehouses"]
    world["warehouses"] = wh[~((wh["location"] == "DC-S") & wh["period"].isna())]
    extra = wh.loc[[3]].assign(location="DC-S", period=CYCLE)
    extra.index = pd.Index([99], name="source_line")
    world["warehouses"] = pd.concat([world["warehouses"], extra])


def empty_products(world: World) -> None:
    world["products"] = world["products"].iloc[0:0]


def header_only(table: str) -> Callable[[World], None]:
    def mutate(world: World) -> None:
        world[table] = world[table].iloc[0:0]

    return mutate


# (id, mutation, regex the message must match: table, column and rule)
CASES: list[tuple[str, Callable[[World], None], str]] = [
    (
        "history_qty_text",
        setv("sales_history", 5, "qty", "12,5"),
        r"sales_history\.qty: must be a number \(1 row\), e\.g\. line 5: .*qty=12,5",
    ),
    (
        "history_qty_negative",
        setv("sales_history", 5, "qty", "-4"),
        r"sales_history\.qty: must be >= 0 \(1 row\), e\.g\. line 5: sku=A1 location=DC-N",
    ),
    (
        "history_qty_missing",
        setv("sales_history", 6, "qty", None),
        r"sales_history\.qty: must not be empty .*line 6: .*qty=<empty>",
    ),
    (
        "history_qty_inf",
        setv("sales_history", 7, "qty", "inf"),
        r"sales_history\.qty: must be a finite number \(1 row\)",
    ),
    (
        "history_qty_nan_text",
        setv("sales_history", 7, "qty", "nan"),
        r"sales_history\.qty: must be a number",
    ),
    (
        "history_month_format",
        setv("sales_history", 8, "period", "2025/03"),
        r"sales_history\.period: must be a month YYYY-MM .*period=2025/03",
    ),
    (
        "history_month_13",
        setv("sales_history", 8, "period", "2024-13"),
        r"sales_history\.period: must be a month YYYY-MM",
    ),
    (
        "history_at_cycle",
        setv("sales_history", 9, "period", CYCLE),
        r"sales_history\.period: must be before the cycle 2025-06 \(1 row\)",
    ),
    (
        "history_duplicate_key",
        duplicate("sales_history", 4),
        r"sales_history \(sku, location, period\): duplicate key \(2 rows\)",
    ),
    (
        "history_sku_empty",
        setv("sales_history", 4, "sku", "  "),
        r"sales_history\.sku: must not be empty",
    ),
    (
        "history_unknown_sku",
        setv("sales_history", 4, "sku", "ZZ9"),
        r"sales_history\.sku: sku not in products \(1 row\), e\.g\. line 4: sku=ZZ9",
    ),
    (
        "forecast_before_cycle",
        setv("sales_forecast", 2, "period", add_months(CYCLE, -1)),
        r"sales_forecast\.period: must be the cycle 2025-06 or later",
    ),
    (
        "forecast_no_sku_no_family",
        setv("sales_forecast", 3, "sku", None),
        r"sales_forecast \(sku, family\): a row needs a sku or a family",
    ),
    (
        "forecast_unknown_family",
        setv("sales_forecast", 26, "family", "F9"),
        r"sales_forecast\.family: family not in products",
    ),
    (
        "forecast_duplicate_key",
        duplicate("sales_forecast", 26),
        r"sales_forecast \(sku/family, location, period\): duplicate key",
    ),
    (
        "forecast_unknown_location",
        setv("sales_forecast", 2, "location", "DC-X"),
        r"sales_forecast\.location: location not in warehouses",
    ),
    (
        "products_units_per_pallet_zero",
        setv("products", 2, "units_per_pallet", "0"),
        r"products\.units_per_pallet: must be > 0",
    ),
    (
        "products_lead_time_fraction",
        setv("products", 2, "lead_time_months", "1.5"),
        r"products\.lead_time_months: must be a whole number",
    ),
    (
        "products_lead_time_negative",
        setv("products", 2, "lead_time_months", "-1"),
        r"products\.lead_time_months: must be >= 0",
    ),
    (
        "products_bad_status",
        setv("products", 3, "status", "retired"),
        r"products\.status: must be one of active, new, phase_out .*status=retired",
    ),
    (
        "products_duplicate_sku",
        duplicate("products", 2),
        r"products\.sku: duplicate key \(2 rows\)",
    ),
    (
        "products_cost_text",
        setv("products", 2, "unit_cost", "2.5 EUR"),
        r"products\.unit_cost: must be a number",
    ),
    ("products_empty", empty_products, r"products: has a header but no data rows"),
    *[
        (f"{table}_header_only", header_only(table),
         rf"{table}: has a header but no data rows; a required table needs at least one row")
        for table in ("sales_history", "sales_forecast", "warehouses", "inventory")
    ],
    (
        "warehouses_negative_overtime",
        setv("warehouses", 2, "overtime_pct", "-0.1"),
        r"warehouses\.overtime_pct: must be >= 0",
    ),
    (
        "warehouses_zero_storage",
        setv("warehouses", 2, "storage_pallets", "0"),
        r"warehouses\.storage_pallets: must be >= 0\.01",
    ),
    # Capacities too small to be meant: a unit mistake, and below the planner's tolerances.
    (
        "warehouses_inbound_1e-9",
        setv("warehouses", 3, "inbound_pallets", "1e-9"),
        r"warehouses\.inbound_pallets: must be >= 0\.01 \(1 row\), e\.g\. line 3: "
        r"location=DC-S .*inbound_pallets=1e-9 ",
    ),
    (
        "warehouses_storage_below_a_hundredth",
        setv("warehouses", 2, "storage_pallets", "0.009"),
        r"warehouses\.storage_pallets: must be >= 0\.01",
    ),
    (
        "warehouses_outbound_below_a_unit",
        setv("warehouses", 4, "outbound_units", "0.5"),
        r"warehouses\.outbound_units: must be >= 1 ",
    ),
    (
        "warehouses_duplicate_every_month",
        duplicate("warehouses", 2),
        r"warehouses \(location, period\): duplicate key",
    ),
    (
        "warehouses_no_every_month_row",
        only_dated_rows_for_dc_s,
        r"warehouses\.period: location needs an every-month row .*DC-S has only 2025-06",
    ),
    (
        "warehouses_bad_period",
        setv("warehouses", 4, "period", "Aug-25"),
        r"warehouses\.period: must be a month YYYY-MM",
    ),
    (
        "inventory_negative",
        setv("inventory", 2, "on_hand", "-1"),
        r"inventory\.on_hand: must be >= 0",
    ),
    (
        "inventory_unknown_location",
        setv("inventory", 3, "location", "DC-X"),
        r"inventory\.location: location not in warehouses",
    ),
    ("open_orders_zero_qty", setv("open_orders", 2, "qty", "0"), r"open_orders\.qty: must be > 0"),
    (
        "open_orders_past",
        setv("open_orders", 2, "period", add_months(CYCLE, -2)),
        r"open_orders\.period: must be the cycle 2025-06 or later",
    ),
    (
        "promotion_inverted",
        setv("promotions", 2, "end_period", add_months(CYCLE, -1)),
        r"promotions \(start_period, end_period\): start_period must be <= end_period",
    ),
    (
        "promotion_negative_uplift",
        setv("promotions", 3, "uplift_pct", "-5"),
        r"promotions\.uplift_pct: must be >= 0",
    ),
    (
        "promotion_unknown_sku",
        setv("promotions", 3, "sku", "Q7"),
        r"promotions\.sku: sku not in products",
    ),
    (
        "forecast_history_bad_cycle",
        setv("forecast_history", 2, "cycle", "25-05"),
        r"forecast_history\.cycle: must be a month YYYY-MM",
    ),
    (
        "override_without_reason",
        setv("overrides", 2, "reason", None),
        r"overrides\.reason: must not be empty .*reason=<empty>",
    ),
    (
        "override_without_approver",
        setv("overrides", 2, "approved_by", "   "),
        r"overrides\.approved_by: must not be empty",
    ),
    (
        "missing_required_column",
        drop_column("sales_history", "qty"),
        r"sales_history\.qty: required column is missing",
    ),
    (
        "missing_required_column_products",
        drop_column("products", "units_per_pallet"),
        r"products\.units_per_pallet: required column is missing",
    ),
    # Physical bounds: numbers no warehouse sees, and periods outside a sane calendar window.
    (
        "history_qty_1e308",
        setv("sales_history", 5, "qty", "1e308"),
        r"sales_history\.qty: must be <= 1e\+12 \(1 row\), e\.g\. line 5",
    ),
    (
        "capacity_1e300",
        setv("warehouses", 2, "inbound_pallets", "1e300"),
        r"warehouses\.inbound_pallets: must be <= 1e\+12",
    ),
    (
        "lead_time_1e15",
        setv("products", 2, "lead_time_months", "1000000000000000"),
        r"products\.lead_time_months: must be <= 120",
    ),
    (
        "overtime_pct_absurd",
        setv("warehouses", 2, "overtime_pct", "50"),
        r"warehouses\.overtime_pct: must be <= 10",
    ),
    (
        "history_period_1600",
        setv("sales_history", 5, "period", "1600-01"),
        r"sales_history\.period: must be a month YYYY-MM in 1900\.\.2199",
    ),
    ("missing_required_table", drop_table("products"), r"products: required table is missing"),
    (
        "missing_required_table_inventory",
        drop_table("inventory"),
        r"inventory: required table is missing",
    ),
]


@pytest.mark.parametrize(("mutate", "pattern"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_broken_world_is_a_breach(
    world: World, mutate: Callable[[World], None], pattern: str
) -> None:
    mutate(world)
    with pytest.raises(ContractBreach, match=pattern) as info:
        validate_inputs(world, CYCLE)
    breach = info.value
    assert str(breach).startswith("Data contract breached: ")
    assert all(f.severity == "error" for f in breach.errors)
    assert list(breach.rejects.columns) == [
        "table",
        "source_line",
        "column",
        "rule",
        "value",
        "row",
    ]


def test_catalogue_is_large_enough() -> None:
    assert len(CASES) >= 25


def test_valid_world_passes_with_types(world: World) -> None:
    result = validate_inputs(world, CYCLE)
    assert result.rejects.empty
    assert [f for f in result.findings if f.severity != "info"] == []
    t = result.tables
    assert set(t) == set(world)
    assert t["sales_history"]["qty"].dtype == "float64"
    assert t["products"]["lead_time_months"].dtype == "int64"
    assert t["products"]["units_per_pallet"].dtype == "float64"
    assert t["sales_history"]["period"].map(type).eq(str).all()
    assert t["warehouses"]["period"].isna().sum() == 2  # every-month rows stay empty
    assert t["sales_forecast"]["sku"].isna().sum() == 6  # family rows
    assert t["sales_history"].index.name == "source_line"
    assert len(t["sales_history"]) == len(world["sales_history"])


def test_optional_columns_are_added_and_optional_tables_may_be_absent(world: World) -> None:
    world["sales_forecast"] = world["sales_forecast"].drop(columns=["submitted_by"])
    world["products"] = world["products"].drop(columns=["status", "min_order_qty"])
    world["warehouses"] = world["warehouses"].drop(columns=["overtime_cost_per_pallet"])
    for table in ("open_orders", "promotions", "forecast_history", "overrides"):
        del world[table]
    result = validate_inputs(world, CYCLE)
    assert "open_orders" not in result.tables
    assert result.tables["products"]["status"].isna().all()
    assert result.tables["sales_forecast"]["submitted_by"].isna().all()
    assert "overtime_cost_per_pallet" in result.tables["warehouses"]


def test_extra_columns_are_kept_with_an_info_finding(world: World) -> None:
    world["products"]["colour"] = "red"
    result = validate_inputs(world, CYCLE)
    info = [f for f in result.findings if f.rule == "extra columns"]
    assert info and info[0].severity == "info" and info[0].column == "colour"
    assert "colour" in result.tables["products"]


def test_unknown_tables_are_reported_not_used(world: World, as_read: AsRead) -> None:
    world["notes"] = as_read([{"text": "hello"}])
    result = validate_inputs(world, CYCLE)
    assert "notes" not in result.tables
    assert any(f.table == "notes" and f.severity == "info" for f in result.findings)


def test_message_format_and_rejects_path(world: World) -> None:
    world["sales_history"].loc[5, "qty"] = "-4"
    world["sales_history"].loc[9, "qty"] = "-1"
    world["overrides"].loc[2, "reason"] = None
    with pytest.raises(ContractBreach) as info:
        validate_inputs(world, CYCLE)
    breach = info.value
    lines = str(breach).splitlines()
    assert lines[0] == "Data contract breached: 2 rules, 3 rows."
    assert lines[1].startswith("- sales_history.qty: must be >= 0 (2 rows), e.g. line 5: sku=A1")
    assert "; line 9: " in lines[1]
    assert lines[2].startswith("- overrides.reason: must not be empty (1 row), e.g. line 2:")
    finding = breach.findings[0]
    assert finding.table == "sales_history" and finding.column == "qty" and finding.count == 2
    assert finding.sample[0]["source_line"] == 5 and finding.sample[0]["qty"] == "-4"
    rejects = breach.rejects
    assert set(rejects["table"]) == {"sales_history", "overrides"}
    assert sorted(rejects.loc[rejects["table"] == "sales_history", "source_line"]) == [5, 9]
    assert '"qty": "-4"' in rejects.iloc[0]["row"] or '"qty": "-4"' in rejects.iloc[1]["row"]
    breach.rejects_path = "/tmp/run/check/rejects.csv"
    assert str(breach).endswith("Offending rows written to /tmp/run/check/rejects.csv")


def test_quarantine_within_share_drops_rows_and_warns(world: World) -> None:
    world["sales_history"].loc[5, "qty"] = "-4"
    world["sales_history"].loc[6, "sku"] = "ZZ9"  # cross-table, row-level too
    policy = QuarantinePolicy(max_share={"sales_history": 0.05})
    result = validate_inputs(world, CYCLE, policy)
    history = result.tables["sales_history"]
    assert len(history) == len(world["sales_history"]) - 2
    assert 5 not in history.index and 6 not in history.index
    assert sorted(result.rejects["source_line"]) == [5, 6]
    assert set(result.rejects["rule"]) == {"must be >= 0", "sku not in products"}
    (warning,) = [f for f in result.findings if f.rule == "quarantine"]
    assert warning.severity == "warning" and warning.table == "sales_history"
    assert warning.count == 2
    assert "2 of 72 rows (2.8%) quarantined" in warning.message


def test_quarantine_beyond_share_is_a_breach_naming_the_share(world: World) -> None:
    for line in (2, 3, 4, 5, 6):
        world["sales_history"].loc[line, "qty"] = "-1"
    policy = QuarantinePolicy(max_share={"sales_history": 0.05})
    with pytest.raises(
        ContractBreach,
        match=r"sales_history: 5 of 72 rows \(6\.9%\) break the contract, more than the 5\.0%",
    ):
        validate_inputs(world, CYCLE, policy)


def test_quarantine_of_a_product_cascades_to_rows_that_need_it(world: World) -> None:
    world["products"].loc[3, "units_per_pallet"] = "0"  # A2
    policy = QuarantinePolicy(max_share={"products": 0.5})
    cascade = r"sales_history\.sku: sku is only in rejected products"
    with pytest.raises(ContractBreach, match=cascade):
        validate_inputs(world, CYCLE, policy)
    policy = QuarantinePolicy(max_share={"products": 0.5, "sales_history": 0.5, "inventory": 0.5})
    result = validate_inputs(world, CYCLE, policy)
    assert "A2" not in set(result.tables["products"]["sku"])
    assert "A2" not in set(result.tables["sales_history"]["sku"])
    assert "A2" not in set(result.tables["inventory"]["sku"])
    assert {f.table for f in result.findings if f.rule == "quarantine"} == {
        "products",
        "sales_history",
        "inventory",
    }


def test_table_level_breaches_are_never_quarantined(world: World) -> None:
    del world["products"]
    policy = QuarantinePolicy(max_share={"products": 1.0})
    with pytest.raises(ContractBreach, match="products: required table is missing"):
        validate_inputs(world, CYCLE, policy)


def test_horizon_lets_dated_rows_cover_a_location(world: World, as_read: AsRead) -> None:
    wh = world["warehouses"]
    dc_s = wh[(wh["location"] == "DC-S") & wh["period"].isna()].iloc[0]
    rows = [dict(dc_s, period=add_months(CYCLE, m)) for m in range(3)]
    world["warehouses"] = pd.concat(
        [
            wh[wh["location"] != "DC-S"],
            as_read(rows).set_axis(pd.Index([10, 11, 12], name="source_line")),
        ]
    )
    validate_inputs(world, CYCLE, horizon=3)
    with pytest.raises(ContractBreach, match="or rows for all 4 months of the horizon"):
        validate_inputs(world, CYCLE, horizon=4)


def test_typed_frames_without_line_index_are_accepted(world: World) -> None:
    """Parquet-like input: numeric dtypes, integer SKU codes, default RangeIndex."""
    products = world["products"].reset_index(drop=True)
    products["units_per_pallet"] = products["units_per_pallet"].astype(float)
    products["lead_time_months"] = products["lead_time_months"].astype(int)
    world["products"] = products
    history = world["sales_history"].reset_index(drop=True)
    history["qty"] = history["qty"].astype(float)
    history.loc[3, "qty"] = -1.0
    world["sales_history"] = history
    with pytest.raises(ContractBreach, match=r"line 5: sku=A1") as info:
        validate_inputs(world, CYCLE)
    assert info.value.rejects["source_line"].tolist() == [5]


def test_validate_history_alone(world: World) -> None:
    history = world["sales_history"]
    clean = validate_history(history)
    assert clean["qty"].dtype == "float64"
    history.loc[4, "period"] = "2099-01"  # no cycle given: no cycle rule
    validate_history(history)
    with pytest.raises(ContractBreach, match="must be before the cycle"):
        validate_history(history, CYCLE)


def test_restated_history_warns_against_previous_cycle(world: World) -> None:
    previous = {"sales_history": world["sales_history"].copy()}
    world["sales_history"].loc[2, "qty"] = "500"
    result = validate_inputs(world, CYCLE, previous=previous)
    (finding,) = [f for f in result.findings if f.rule == "history restated"]
    assert finding.severity == "warning" and finding.count == 1


def test_bad_cycle_argument_is_a_usage_error(world: World) -> None:
    with pytest.raises(ValueError, match="cycle"):
        validate_inputs(world, "2025-6")
    with pytest.raises(ValueError, match="cycle"):
        validate_inputs(world, "2300-01")  # beyond the calendar window: pandas ends in 2262


def test_100k_history_rows_all_pass(world: World, as_read: AsRead) -> None:
    """A large valid table loses no row (its speed is measured in benchmarks/contracts.py)."""
    rng = np.random.default_rng(0)
    skus = [f"S{i:04d}" for i in range(500)]
    months = [add_months(CYCLE, -m) for m in range(20, 0, -1)]
    keys = pd.MultiIndex.from_product([skus, ["DC-N", "DC-S"], months]).to_frame(index=False)
    keys.columns = ["sku", "location", "period"]
    keys = pd.concat([keys, keys.assign(period=keys["period"].str.replace("2024", "2023"))])
    keys = keys.drop_duplicates().head(100_000)
    keys["qty"] = rng.integers(0, 100, len(keys)).astype(str)
    keys.index = pd.RangeIndex(2, len(keys) + 2, name="source_line")
    world["sales_history"] = keys
    world["products"] = as_read(
        [
            {"sku": s, "family": "F1", "units_per_pallet": 1, "lead_time_months": 0, "unit_cost": 1}
            for s in [*skus, "A1", "A2", "B1", "N1"]
        ]
    )
    result = validate_inputs(world, CYCLE)
    assert len(result.tables["sales_history"]) == len(keys)
    assert result.rejects.empty


@pytest.mark.parametrize(("row", "pattern"), [
    ({"sku": "A1", "location": "DC-N", "period": add_months(CYCLE, -1), "qty": "5"},
     r"customer_orders\.period: must be the cycle 2025-06 or later"),
    ({"sku": "A1", "location": "DC-N", "period": CYCLE, "qty": "0"},
     r"customer_orders\.qty: must be > 0"),
    ({"sku": "ZZ", "location": "DC-N", "period": CYCLE, "qty": "5"},
     r"customer_orders\.sku: sku not in products"),
    ({"sku": "A1", "location": "NOWHERE", "period": CYCLE, "qty": "5"},
     r"customer_orders\.location: location not in warehouses"),
])
def test_customer_orders_contract(world: World, as_read: AsRead, row: dict,
                                  pattern: str) -> None:
    good = {"sku": "A1", "location": "DC-N", "period": add_months(CYCLE, 1), "qty": "30"}
    assert "customer_orders" in validate_inputs(
        {**world, "customer_orders": as_read([good])}, CYCLE).tables
    with pytest.raises(ContractBreach, match=pattern):
        validate_inputs({**world, "customer_orders": as_read([good, row])}, CYCLE)
    with pytest.raises(ContractBreach, match=r"customer_orders.*duplicate|unique|duplicate"):
        validate_inputs({**world, "customer_orders": as_read([good, good])}, CYCLE)


def test_rows_read_past_are_reported_not_dropped_silently(world: World) -> None:
    """A sales number after the horizon and a submission of a later cycle are not used; an
    info finding (published as an exception) says so, naming the lines."""
    forecast = world["sales_forecast"]
    late = forecast.loc[[forecast.index[0]]].assign(period="9999-12")
    late.index = pd.Index([forecast.index.max() + 1], name="source_line")
    world["sales_forecast"] = pd.concat([forecast, late])
    with pytest.raises(ContractBreach, match=r"sales_forecast\.period: must be a month"):
        validate_inputs(world, CYCLE, horizon=6)  # 9999 is outside the calendar window
    world["sales_forecast"].loc[late.index, "period"] = add_months(CYCLE, 6)
    world["forecast_history"].loc[world["forecast_history"].index[0], "cycle"] = CYCLE
    result = validate_inputs(world, CYCLE, horizon=6)
    info = {(f.table, f.column): f for f in result.findings if f.severity == "info"}
    after = info[("sales_forecast", "period")]
    assert after.count == 1 and str(late.index[0]) in after.message
    assert add_months(CYCLE, 5) in after.message
    assert info[("forecast_history", "cycle")].count >= 1
    assert len(result.tables["sales_forecast"]) == len(world["sales_forecast"])  # kept, told


def test_unicode_spellings_of_one_sku_are_one_sku(world: World) -> None:
    """"Café" as one code point (NFC) and as e + combining accent (NFD) name one product: the
    duplicate is refused rather than planned side by side."""
    products = world["products"]
    first, second = products.index[0], products.index[1]
    world["products"].loc[first, "sku"] = "Caf\u00e9"
    world["products"].loc[second, "sku"] = "Cafe\u0301"
    with pytest.raises(ContractBreach, match=r"products\.sku: duplicate key"):
        validate_inputs(world, CYCLE)


@pytest.mark.parametrize("value", ["A\x001", "A\t1", "A\x7f1"])
def test_control_characters_in_a_key_are_refused(world: World, value: str) -> None:
    line = world["sales_history"].index[0]
    world["sales_history"].loc[line, "sku"] = value
    with pytest.raises(ContractBreach, match=r"sales_history\.sku: must not contain control"):
        validate_inputs(world, CYCLE)


def test_a_huge_cell_does_not_make_a_huge_message(world: World) -> None:
    line = world["sales_history"].index[0]
    world["sales_history"].loc[line, "qty"] = "9" * 4_000_000 + "x"
    with pytest.raises(ContractBreach) as info:
        validate_inputs(world, CYCLE)
    assert len(str(info.value)) < 5_000
    assert "4,000,001 characters" in str(info.value)


def test_a_sku_row_naming_another_family_is_refused(world: World) -> None:
    forecast = world["sales_forecast"]
    line = forecast.index[forecast["sku"].notna()][0]
    if "family" not in forecast.columns:
        forecast["family"] = None
    forecast.loc[line, "family"] = "NOT-ITS-FAMILY"
    with pytest.raises(ContractBreach, match=r"sales_forecast\.family: family differs from the "
                       r"sku's family in products \(1 row\)"):
        validate_inputs(world, CYCLE)
