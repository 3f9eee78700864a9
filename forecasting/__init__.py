"""Statistical baselines per SKU x location (statsforecast): pure functions on DataFrames."""

from forecasting.baseline import BaselineResult, BaselineSettings, fit_baselines

__all__ = ["BaselineResult", "BaselineSettings", "fit_baselines"]
