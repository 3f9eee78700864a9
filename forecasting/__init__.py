"""Statistical baselines per SKU x location (statsforecast): pure functions on DataFrames."""
