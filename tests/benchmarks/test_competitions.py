"""The competition benchmarks' scoring, and M1/Tourism/M3 end to end on a few series."""

import numpy as np
import pytest

from benchmarks import competition as comp
from benchmarks.competition import Series


def test_smape_counts_a_zero_month_forecast_as_zero_as_perfect() -> None:
    actual = np.array([[0.0, 10.0]])
    forecast = np.array([[0.0, 30.0]])
    assert comp.smape_matrix(actual, forecast).tolist() == [[0.0, 100.0]]


def test_mase_scales_by_the_in_sample_seasonal_naive_and_skips_undefined_scales() -> None:
    season = np.arange(12.0)
    trending = Series("a", np.concatenate([season, season + 2]), np.full(3, 20.0))
    too_short = Series("b", season, np.full(3, 5.0))
    flat = Series("c", np.tile(season, 2), np.full(3, 5.0))
    mean = np.array([[19.0] * 3, [5.0] * 3, [6.0] * 3])
    scores = comp.score([trending, too_short, flat], mean, None)
    # Series a: MAE 1 over a seasonal-naive MAE of 2; b (12 months) and c (zero scale) skipped.
    assert scores.mase == pytest.approx(0.5)
    assert scores.mase_missing == 2
    assert scores.smape == pytest.approx(np.mean([200 / 39] * 3 + [0.0] * 3 + [200 / 11] * 3))


def test_mape_leaves_out_months_with_a_zero_actual() -> None:
    s = Series("a", np.arange(1.0, 26.0), np.array([0.0, 10.0]))
    assert comp.score([s], np.array([[5.0, 12.0]]), None).mape == pytest.approx(20.0)


def test_validation_split_scores_the_last_training_months_without_the_test_part() -> None:
    test = comp.load(comp.TOURISM, "test", limit=1)[0]
    val = comp.load(comp.TOURISM, "validation", limit=1)[0]
    assert len(test.test) == comp.TOURISM.horizon == 24
    assert np.array_equal(val.test, test.train[-24:])
    assert np.array_equal(val.train, test.train[:-24])


@pytest.mark.slow
def test_competitions_run_end_to_end_on_two_series_per_data_set(
        capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.competitions import main

    main(["--limit", "2", "--no-doc"])
    out = capsys.readouterr().out
    for title, h in (("M1 monthly", 18), ("Tourism monthly", 24)):
        for split in ("test", "validation"):
            assert f"{title}, 2 series, horizon {h}, split `{split}`" in out
    assert "| ours: sop forecast (validate_history + fit_baselines) |" in out
    assert "| published Tourism: SNaive" in out
    assert "Guardrail fallbacks:" in out


@pytest.mark.slow
def test_m3_keeps_its_command_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.m3 import main

    main(["--limit", "2", "--no-cli", "--no-overhead", "--no-doc", "--no-plain"])
    out = capsys.readouterr().out
    assert out.startswith("M3 monthly, 2 series, horizon 18, split `test`")
    assert "| published M3: Theta (M3 winner)" in out
