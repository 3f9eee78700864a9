"""Demand classification on constructed series."""

import numpy as np
import pytest

from forecasting.demand_class import (
    ERRATIC,
    INTERMITTENT,
    LUMPY,
    NEW,
    SMOOTH,
    classify_demand,
    demand_stats,
)

MONTHS = 36
ALT = np.tile([1.0, 0.0], MONTHS // 2)  # demand every other month: ADI = 2


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (np.full(MONTHS, 100.0) + np.tile([5.0, -5.0], MONTHS // 2), SMOOTH),
        (np.tile([10.0, 200.0, 30.0], MONTHS // 3), ERRATIC),
        (ALT * 10.0, INTERMITTENT),
        (ALT * np.tile([1.0, 1.0, 80.0, 80.0], MONTHS // 4), LUMPY),
    ],
    ids=["smooth", "erratic", "intermittent", "lumpy"],
)
def test_each_quadrant(row: np.ndarray, expected: str) -> None:
    assert classify_demand(row[None, :], min_history=24)[0] == expected


def test_short_history_is_new() -> None:
    row = np.full(MONTHS, np.nan)
    row[-10:] = 50.0
    assert classify_demand(row[None, :], min_history=24)[0] == NEW


def test_cutoffs_are_syntetos_boylan() -> None:
    stats = demand_stats(np.vstack([ALT * 10.0, np.full(MONTHS, 3.0)]))
    assert stats["adi"].tolist() == pytest.approx([2.0, 1.0])
    assert stats["cv2"].tolist() == pytest.approx([0.0, 0.0])
