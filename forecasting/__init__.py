"""Statistical baselines per SKU x location (statsforecast): pure functions on DataFrames.

`BaselineSettings` is light; the fitting code (and statsforecast) loads on first use of
`fit_baselines` or `BaselineResult`, so checking a config file does not pay for it.
"""

from typing import TYPE_CHECKING, Any

from forecasting.settings import BaselineSettings

if TYPE_CHECKING:
    from forecasting.baseline import BaselineResult, fit_baselines

__all__ = ["BaselineResult", "BaselineSettings", "fit_baselines"]


def __getattr__(name: str) -> Any:
    if name in ("BaselineResult", "fit_baselines"):
        from forecasting import baseline

        value = getattr(baseline, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'forecasting' has no attribute {name!r}")
