"""Forecast value added: hand-computed stair-steps, biased teams, past plans, families."""

import numpy as np
import pandas as pd
import pytest

from data_contracts.periods import add_months
from data_contracts.tables import INPUT_COLUMNS
from reconciliation.fva import FVA_COLUMNS, STEPS, UNKNOWN_FAMILY, compute_fva
from reconciliation.trust import UNKNOWN_TEAM

CYCLE = "2024-12"
FH_COLUMNS = INPUT_COLUMNS["forecast_history"]


def history_frame(values: dict[str, float], sku: str = "A", location: str = "W") -> pd.DataFrame:
    return pd.DataFrame(
        {"sku": sku, "location": location, "period": list(values), "qty": list(values.values())}
    )


def submissions(rows: list[tuple[str, str, str, float, str | None]]) -> pd.DataFrame:
    """(cycle, sku, period, qty, submitted_by) at location W."""
    return pd.DataFrame([(c, s, "W", p, q, t) for c, s, p, q, t in rows], columns=FH_COLUMNS)


def row(fva: pd.DataFrame, level: str, key: str, step: str) -> pd.Series:
    hit = fva[(fva["level"] == level) & (fva["key"] == key) & (fva["step"] == step)]
    assert len(hit) == 1, f"{level}/{key}/{step}: {len(hit)} rows"
    return hit.iloc[0]


@pytest.fixture
def tiny() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Jan-Sep 100, Oct 120, Nov 90; three past points with known hand-computed forecasts."""
    values = {f"2024-{m:02d}": 100.0 for m in range(1, 10)} | {"2024-10": 120.0, "2024-11": 90.0}
    fh = submissions(
        [
            ("2024-10", "A", "2024-10", 125.0, "north"),  # naive y[Sep]=100, baseline mean 100
            ("2024-10", "A", "2024-11", 110.0, "north"),  # naive 100, baseline 100
            ("2024-11", "A", "2024-11", 100.0, "north"),  # naive y[Oct]=120, baseline 1020/10=102
        ]
    )
    return history_frame(values), fh


def test_hand_computed_wape_bias_and_fva(tiny: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    history, fh = tiny
    fva = compute_fva(history, fh, CYCLE)
    total = fva[fva["level"] == "total"].set_index("step")
    assert list(total.index) == ["naive", "baseline", "sales"]
    actual = 120 + 90 + 90
    expected = {  # step: (sum |f - a|, sum f)
        "naive": (20 + 10 + 30, 100 + 100 + 120),
        "baseline": (20 + 10 + 12, 100 + 100 + 102),
        "sales": (5 + 20 + 10, 125 + 110 + 100),
    }
    for step, (abs_err, fsum) in expected.items():
        assert total.loc[step, "wape"] == pytest.approx(abs_err / actual)
        assert total.loc[step, "bias"] == pytest.approx((fsum - actual) / actual)
        assert total.loc[step, "n_obs"] == 3
    assert np.isnan(total.loc["naive", "fva"])
    assert total.loc["baseline", "fva"] == pytest.approx((60 - 42) / actual)
    assert total.loc["sales", "fva"] == pytest.approx((42 - 35) / actual)
    assert list(fva.columns) == FVA_COLUMNS
    assert set(fva["level"]) == {"total", "team", "family", "team_lag"}
    # One team, no products: team and family rows repeat the total.
    for level, key in (("team", "north"), ("family", UNKNOWN_FAMILY)):
        sub = fva[(fva["level"] == level) & (fva["key"] == key)].set_index("step")
        pd.testing.assert_frame_equal(
            sub[["wape", "bias", "n_obs", "fva"]], total[["wape", "bias", "n_obs", "fva"]]
        )


def test_only_points_with_known_actuals_count(tiny: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    history, fh = tiny
    later = submissions(
        [
            ("2024-11", "A", "2024-12", 999.0, "north"),  # the current cycle: no actual yet
            ("2024-12", "A", "2024-12", 999.0, "north"),  # not a past cycle
            ("2024-11", "A", "2024-10", 999.0, "north"),  # period before its cycle
            ("bad", "A", "2024-11", 999.0, "north"),
        ]
    )
    fva = compute_fva(history, pd.concat([fh, later], ignore_index=True), CYCLE)
    pd.testing.assert_frame_equal(fva, compute_fva(history, fh, CYCLE))


def test_naive_is_seasonal_when_last_year_was_known() -> None:
    months = [add_months("2023-01", i) for i in range(23)]  # 2023-01 .. 2024-11
    history = history_frame({m: float(i + 1) for i, m in enumerate(months)})  # y = 1, 2, ...
    fh = submissions(
        [
            ("2024-06", "A", "2024-07", 1.0, "lag1"),  # 2023-07 known at 2024-06: y = 7
            ("2023-05", "A", "2024-06", 1.0, "lag13"),  # 2023-06 unknown at 2023-05: y[2023-04] = 4
        ]
    )
    fva = compute_fva(history, fh, CYCLE)
    for team, actual, naive in (("lag1", 19.0, 7.0), ("lag13", 18.0, 4.0)):
        assert row(fva, "team", team, "naive")["bias"] == pytest.approx(naive / actual - 1)


def test_duplicate_submissions_are_summed_and_credited_to_the_first_team() -> None:
    history = history_frame({f"2024-{m:02d}": 100.0 for m in range(1, 12)})
    fh = submissions(
        [
            ("2024-10", "A", "2024-10", 60.0, "north"),
            ("2024-10", "A", "2024-10", 60.0, "south"),
            ("2024-10", "A", "2024-11", 100.0, None),
        ]
    )
    fva = compute_fva(history, fh, CYCLE)
    assert row(fva, "total", "ALL", "sales")["n_obs"] == 2
    assert row(fva, "team", "north", "sales")["bias"] == pytest.approx(0.2)
    assert row(fva, "team", UNKNOWN_TEAM, "sales")["bias"] == pytest.approx(0.0)
    assert "south" not in set(fva["key"])


def synthetic_world(seed: int = 0, n_skus: int = 40, bias: float = 0.3) -> dict[str, pd.DataFrame]:
    """Stable noisy demand; 'honest' sees the month's demand, 'optimistic' adds `bias`."""
    rng = np.random.default_rng(seed)
    months = [add_months("2022-01", i) for i in range(35)]  # .. 2024-11
    skus = [f"S{i:02d}" for i in range(n_skus)]
    level = rng.uniform(50, 500, n_skus)
    actual = level[:, None] * rng.lognormal(-0.045, 0.3, (n_skus, len(months)))
    hist = pd.DataFrame(
        {
            "sku": np.repeat(skus, len(months)),
            "location": "W",
            "period": np.tile(months, n_skus),
            "qty": actual.ravel(),
        }
    )
    rows = []
    for c in months[-12:]:
        for lag in range(3):
            p = add_months(c, lag)
            if p >= CYCLE:
                continue
            j = months.index(p)
            for i, s in enumerate(skus):
                team = "honest" if i % 2 == 0 else "optimistic"
                view = actual[i, j] * rng.lognormal(0, 0.1)
                rows.append((c, s, "W", p, view * (1 + bias if i % 2 else 1.0), team))
    products = pd.DataFrame({"sku": skus[:-1], "family": [f"F{i % 3}" for i in range(n_skus - 1)]})
    return {
        "sales_history": hist,
        "forecast_history": pd.DataFrame(rows, columns=FH_COLUMNS),
        "products": products,
    }


def test_optimistic_team_is_biased_and_destroys_value() -> None:
    w = synthetic_world()
    fva = compute_fva(w["sales_history"], w["forecast_history"], CYCLE, w["products"])
    opt = row(fva, "team", "optimistic", "sales")
    honest = row(fva, "team", "honest", "sales")
    assert opt["bias"] > 0.2
    assert opt["fva"] < 0  # worse than the baseline it was given
    assert abs(honest["bias"]) < 0.05
    assert honest["fva"] > 0
    assert "consensus" not in set(fva["step"])


def past_plans_of(w: dict[str, pd.DataFrame], cycles: list[str]) -> pd.DataFrame:
    """Published plans of `cycles`: baseline = actual x 1.1, consensus halfway to sales."""
    fh = w["forecast_history"]
    fh = fh[fh["cycle"].isin(cycles)]
    plan = fh.merge(w["sales_history"], on=["sku", "location", "period"], suffixes=("", "_a"))
    baseline = plan["qty_a"] * 1.1
    return pd.DataFrame(
        {
            "cycle": plan["cycle"],
            "plan_version": 2,
            "sku": plan["sku"],
            "location": plan["location"],
            "period": plan["period"],
            "sales_forecast": plan["qty"],
            "baseline_forecast": baseline,
            "consensus_demand": (plan["qty"] + baseline) / 2,
            "submitted_by": plan["submitted_by"],
        }
    )


def test_consensus_step_only_with_past_plans() -> None:
    w = synthetic_world()
    cycles = sorted(w["forecast_history"]["cycle"].unique())
    plans = past_plans_of(w, cycles)
    stale = plans.assign(plan_version=1, consensus_demand=1e6)  # superseded version
    fva = compute_fva(
        w["sales_history"],
        w["forecast_history"],
        CYCLE,
        w["products"],
        past_plans=pd.concat([stale, plans], ignore_index=True),
    )
    for (_, _), g in fva.groupby(["level", "key"]):
        assert list(g["step"]) == list(STEPS)
        assert g["n_obs"].nunique() == 1  # one consistent sample per level x key
    # The plan's baseline (actual x 1.1) replaces the rebuilt one: WAPE 10%, bias +10%.
    base = row(fva, "total", "ALL", "baseline")
    assert base["wape"] == pytest.approx(0.1) and base["bias"] == pytest.approx(0.1)
    sales, cons = row(fva, "total", "ALL", "sales"), row(fva, "total", "ALL", "consensus")
    assert cons["fva"] == pytest.approx(sales["wape"] - cons["wape"])
    assert cons["wape"] < 0.2  # the superseded version's 1e6 was not used


def test_plans_of_some_cycles_restrict_the_sample_to_comparable_points() -> None:
    w = synthetic_world()
    cycles = sorted(w["forecast_history"]["cycle"].unique())
    fva = compute_fva(
        w["sales_history"],
        w["forecast_history"],
        CYCLE,
        w["products"],
        past_plans=past_plans_of(w, cycles[-2:]),
    )
    fh = w["forecast_history"]
    n_points = int(fh["cycle"].isin(cycles[-2:]).sum())
    assert (fva.loc[fva["level"] == "total", "n_obs"] == n_points).all()


def test_plans_alone_give_points_without_forecast_history() -> None:
    w = synthetic_world()
    plans = past_plans_of(w, sorted(w["forecast_history"]["cycle"].unique()))
    fva = compute_fva(w["sales_history"], None, CYCLE, w["products"], past_plans=plans)
    assert list(fva.loc[fva["level"] == "total", "step"]) == list(STEPS)
    assert {"honest", "optimistic"} <= set(fva.loc[fva["level"] == "team", "key"])


def test_family_aggregation() -> None:
    w = synthetic_world()
    fva = compute_fva(w["sales_history"], w["forecast_history"], CYCLE, w["products"])
    fam = fva[fva["level"] == "family"]
    assert set(fam["key"]) == {"F0", "F1", "F2", UNKNOWN_FAMILY}  # last SKU has no product row
    for step in ("naive", "baseline", "sales"):
        per = fam[fam["step"] == step]
        assert per["n_obs"].sum() == row(fva, "total", "ALL", step)["n_obs"]
    # Family F1 by hand on its own points.
    fh = w["forecast_history"].merge(w["products"], on="sku")
    fh = fh[fh["family"] == "F1"].merge(
        w["sales_history"], on=["sku", "location", "period"], suffixes=("", "_a")
    )
    sales = row(fva, "family", "F1", "sales")
    assert sales["n_obs"] == len(fh)
    assert sales["wape"] == pytest.approx((fh["qty"] - fh["qty_a"]).abs().sum() / fh["qty_a"].sum())
    assert sales["bias"] == pytest.approx(fh["qty"].sum() / fh["qty_a"].sum() - 1)


@pytest.mark.parametrize("fh", [None, pd.DataFrame(columns=FH_COLUMNS)])
def test_no_forecast_history_gives_an_empty_table(fh: pd.DataFrame | None) -> None:
    history = history_frame({"2024-01": 5.0})
    fva = compute_fva(history, fh, CYCLE)
    assert fva.empty and list(fva.columns) == FVA_COLUMNS


def test_empty_history_gives_an_empty_table(tiny: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, fh = tiny
    fva = compute_fva(pd.DataFrame(columns=["sku", "location", "period", "qty"]), fh, CYCLE)
    assert fva.empty and list(fva.columns) == FVA_COLUMNS


def test_bad_cycle_is_refused(tiny: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        compute_fva(*tiny, "2024-13")


def test_accuracy_by_team_and_lag() -> None:
    """Each team's numbers are also scored by how many months ahead they were submitted."""
    history = pd.DataFrame(
        {"sku": "A", "location": "W", "period": [f"2025-{m:02d}" for m in range(1, 13)],
         "qty": 100.0}
    )
    fh = pd.DataFrame(
        {"cycle": ["2025-10", "2025-10", "2025-11"], "sku": "A", "location": "W",
         "period": ["2025-10", "2025-12", "2025-12"], "qty": [110.0, 150.0, 120.0],
         "submitted_by": "north"}
    )
    fva = compute_fva(history, fh, "2026-01")
    lag = fva[(fva["level"] == "team_lag") & (fva["step"] == "sales")].set_index("key")
    assert set(lag.index) == {"north · lag 0", "north · lag 1", "north · lag 2"}
    assert lag.loc["north · lag 2", "bias"] == pytest.approx(0.5)
    assert lag.loc["north · lag 0", "bias"] == pytest.approx(0.1)
    assert lag.loc["north · lag 1", "bias"] == pytest.approx(0.2)


def test_partial_sums_of_locations_make_the_whole_table_even_where_a_step_exists_elsewhere(
) -> None:
    """A team's consensus step exists only in L2: its points in L1 (no consensus) leave the
    sample, whether L1 and L2 are summed together or one location at a time."""
    from reconciliation.fva import fva_from_sums, fva_sums, fva_table

    rng = np.random.default_rng(0)
    n = 40
    points = pd.DataFrame({
        "naive": rng.uniform(50, 150, n), "baseline": rng.uniform(50, 150, n),
        "sales": rng.uniform(50, 150, n),
        "consensus": np.where(np.arange(n) >= 20, rng.uniform(50, 150, n), np.nan),
        "actual": rng.uniform(50, 150, n), "submitted_by": ["T"] * n, "family": ["F"] * n,
        "lag": rng.integers(0, 3, n), "location": ["L1"] * 20 + ["L2"] * 20,
    })
    whole = fva_table(points)
    split = fva_from_sums(pd.concat([fva_sums(points[points["location"] == loc])
                                     for loc in ("L1", "L2")], ignore_index=True))
    pd.testing.assert_frame_equal(split, whole, check_exact=True)
    team = whole[(whole["level"] == "team") & (whole["step"] == "consensus")]
    assert team["n_obs"].tolist() == [20]  # only L2's points: the consistent sample
    l2 = points.iloc[20:]
    expected = float(np.abs(l2["consensus"] - l2["actual"]).sum() / l2["actual"].sum())
    assert team["wape"].iloc[0] == pytest.approx(expected, rel=1e-12)
