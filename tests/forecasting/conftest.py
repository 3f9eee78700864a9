"""Synthetic demand histories for the forecasting tests (no network, deterministic)."""

import numpy as np
import pandas as pd
import pytest

from data_contracts.periods import horizon_periods


def seasonal_series(rng: np.random.Generator, months: int, level: float = 200.0,
                    noise: float = 0.1, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(months)
    phase = rng.uniform(0, 2 * np.pi)
    y = level * (1 + amplitude * np.sin(2 * np.pi * t / 12 + phase))
    return np.maximum(y + rng.normal(0, noise * level, months), 0.0)


def to_history(series: dict[tuple[str, str], np.ndarray], start: str = "2021-01") -> pd.DataFrame:
    """Long sales_history; zero months are left out, as the SPEC allows."""
    rows = []
    for (sku, loc), y in series.items():
        for period, qty in zip(horizon_periods(start, len(y)), y, strict=True):
            if qty > 0:
                rows.append((sku, loc, period, float(qty)))
    return pd.DataFrame(rows, columns=["sku", "location", "period", "qty"])


@pytest.fixture
def seasonal():  # type: ignore[no-untyped-def]
    return seasonal_series


@pytest.fixture
def history_of():  # type: ignore[no-untyped-def]
    return to_history


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


@pytest.fixture
def mixed_history(rng: np.random.Generator) -> pd.DataFrame:
    """Smooth, erratic, intermittent and lumpy series, 48 months from 2021-01."""
    months = 48
    series: dict[tuple[str, str], np.ndarray] = {}
    for i in range(4):
        series[(f"SM{i}", "DC1")] = seasonal_series(rng, months)
        series[(f"ER{i}", "DC1")] = rng.gamma(1.0, 100.0, months) + 1.0
        occ = rng.random(months) < 0.35
        series[(f"IN{i}", "DC2")] = np.where(occ, 10.0, 0.0)
        series[(f"LU{i}", "DC2")] = np.where(occ, rng.gamma(0.8, 30.0, months).round() + 1, 0.0)
    return to_history(series)
