"""Safety stock per SKU x location from the baseline's own cross-validated error, where
products.safety_stock_units is empty.

    SS = z(service level) x sigma(L + 1)

sigma(k) is the standard deviation (here the RMSE) of the cumulative forecast error over k
months, and L + 1 months is the protection interval of a monthly periodic review with lead
time L: an order placed now lands at cycle + L, the next one can land a month later, so the
stock must last L + 1 months of forecast error (Silver, Pyke & Thomas, "Inventory and
Production Management in Supply Chains", 4th ed., 2017: safety stock of a periodic-review
system covers the review period plus the lead time). Using the variance of the cumulative
*forecast error* rather than of demand follows Prak, Teunter & Syntetos (2017), "On the
calculation of safety stocks when demand is forecasted", EJOR 256(2): with a forecast the
relevant uncertainty is the error over the protection interval, errors of different months
being correlated through the estimated level. z is the standard normal quantile: the
probability of no stock-out per protection interval (cycle service level) is the target.

Where sigma comes from, per series (column `error_method`):
* `cv`: the chosen model's RMSE of cumulative CV error over k months, shrunk toward the
  pooled estimate: sigma^2 = (w own^2 + n0 pooled^2) / (w + n0), w the series' CV windows,
  n0 = `safety_stock_prior_windows` (a few windows alone give a noisy sigma, and z x a noisy
  sigma falls short of the target on average);
* `pooled`: no CV of its own (history too short), the pooled relative error of its model
  group at the series' naive-MAE scale;
* `interval`: neither (new items, cold start): the baseline's 95 % upper half-width read as
  1.96 sigma per month, months taken as independent: sigma(k) = sqrt(sum of the first k).
k beyond the CV horizon (cv_h months): sigma(k) = sigma(cv_h) x sqrt(k / cv_h), the growth of
a sum of independent errors, a mild assumption where errors are positively correlated.

Given values (products.safety_stock_units filled in) always win. phase_out SKUs get none
computed: stock held for them would be left over.
"""

import numpy as np
import pandas as pd
from scipy.stats import norm

from data_contracts.tables import SAFETY_STOCK_COLUMNS
from reconciliation.inputs import get_table, products_frame
from reconciliation.settings import PlanSettings

WIDE_Z = float(norm.ppf(0.975))  # the 95 % interval's half-width in sigmas


def compute_safety_stock(
    tables: dict[str, pd.DataFrame], keys: pd.DataFrame, forecast_error: pd.DataFrame | None,
    baseline: pd.DataFrame, cycle: str, settings: PlanSettings,
) -> pd.DataFrame:
    """SAFETY_STOCK_COLUMNS for every planned (sku, location) of `keys`.

    `forecast_error` is fit_baselines' `forecast_error` (sku, location, months, sigma_cv,
    sigma_pooled, cv_windows); None = compute nothing (empty stays 0, as before). `baseline`
    is SPEC baseline_forecast (the interval fallback reads forecast and hi_95 from `cycle`).
    """
    products = products_frame(tables)
    raw = get_table(tables, "products").drop_duplicates("sku", keep="last").set_index("sku")
    out = keys[["sku", "location"]].reset_index(drop=True).copy()
    sku = out["sku"]
    given = sku.map(raw["safety_stock_units"]).to_numpy(float)
    lead = sku.map(products["lead_time_months"]).fillna(0).to_numpy(int)
    family = sku.map(products["family"]).fillna("")
    status = sku.map(products["status"]).fillna("active").to_numpy()
    level = family.map(settings.service_level_by_family).fillna(
        settings.service_level).to_numpy(float)
    has_given = np.isfinite(given)
    compute = ~has_given & (status != "phase_out") & (forecast_error is not None)
    months = lead + 1
    sigma = np.full(len(out), np.nan)
    method = np.full(len(out), None, dtype=object)
    if compute.any() and forecast_error is not None:
        sigma, method = _error_sigma(out, months, forecast_error, baseline, cycle, settings)
    z = norm.ppf(level)
    computed = np.ceil(np.nan_to_num(z * sigma) - 1e-9).clip(min=0.0)
    source = np.where(has_given, "given", np.where(compute, "computed", "none"))
    out["source"] = source
    out["service_level"] = np.where(compute, level, np.nan)
    out["z"] = np.where(compute, z, np.nan)
    out["lead_time_months"] = lead
    out["months_protected"] = months
    out["error_method"] = pd.Series(method, dtype=object).where(compute, None).to_numpy()
    out["error_sigma"] = np.where(compute, sigma, np.nan)
    out["safety_stock_units"] = np.where(has_given, np.nan_to_num(given),
                                         np.where(compute, computed, 0.0))
    return out[SAFETY_STOCK_COLUMNS]


def _error_sigma(keys: pd.DataFrame, months: np.ndarray, forecast_error: pd.DataFrame,
                 baseline: pd.DataFrame, cycle: str, settings: PlanSettings,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """sigma of the cumulative error over `months` per key, and which estimate gave it."""
    n = len(keys)
    idx = pd.MultiIndex.from_frame(keys[["sku", "location"]])
    cv_h = int(forecast_error["months"].max()) if len(forecast_error) else 0
    sigma = np.full(n, np.nan)
    method = np.full(n, "interval", dtype=object)
    if cv_h:
        fe = forecast_error.astype({"sku": str, "location": str})
        wide = fe.pivot_table(index=["sku", "location"], columns="months",
                              values=["sigma_cv", "sigma_pooled"], aggfunc="first",
                              dropna=False)
        own = wide["sigma_cv"].reindex(index=idx, columns=range(1, cv_h + 1)).to_numpy(float)
        pooled = wide["sigma_pooled"].reindex(index=idx, columns=range(1, cv_h + 1)
                                              ).to_numpy(float)
        windows = fe.groupby(["sku", "location"])["cv_windows"].max().reindex(idx).fillna(0)
        w = windows.to_numpy(float)
        k = np.minimum(months, cv_h)
        grow = np.sqrt(np.maximum(months, cv_h) / cv_h)
        rows = np.arange(n)
        own_k, pooled_k = own[rows, k - 1], pooled[rows, k - 1]
        n0 = settings.safety_stock_prior_windows
        with np.errstate(invalid="ignore", divide="ignore"):
            shrunk = np.sqrt((w * own_k**2 + n0 * pooled_k**2) / (w + n0))
        both = np.isfinite(own_k) & np.isfinite(pooled_k) & (w > 0)
        only_own = np.isfinite(own_k) & ~both
        only_pooled = ~np.isfinite(own_k) & np.isfinite(pooled_k)
        pick = np.where(both, shrunk, np.where(only_own, own_k, pooled_k))
        scaled = np.where(months > cv_h, pick * grow, pick)
        sigma = np.where(both | only_own | only_pooled, scaled, np.nan)
        method[both | only_own] = "cv"
        method[only_pooled] = "pooled"
    fallback = ~np.isfinite(sigma)
    if fallback.any():
        sigma[fallback] = _interval_sigma(keys[fallback], months[fallback], baseline, cycle)
    return sigma, method


def _interval_sigma(keys: pd.DataFrame, months: np.ndarray, baseline: pd.DataFrame,
                    cycle: str) -> np.ndarray:
    """sigma over `months` from the baseline's upper 95 % half-width per month (independent
    months); 0 where the baseline has no row."""
    b = baseline[baseline["period"] >= cycle]
    per_month = ((b["hi_95"].astype(float) - b["forecast"].astype(float)).clip(lower=0)
                 / WIDE_Z) ** 2
    frame = b[["sku", "location", "period"]].assign(var=per_month.to_numpy()).sort_values(
        ["sku", "location", "period"])
    frame["k"] = frame.groupby(["sku", "location"]).cumcount() + 1
    frame["cum"] = frame.groupby(["sku", "location"])["var"].cumsum()
    horizon = int(frame["k"].max()) if len(frame) else 1
    cum = frame.set_index(["sku", "location", "k"])["cum"]
    # Beyond the baseline's horizon the last month's variance keeps adding.
    k = np.minimum(months, horizon)
    look = pd.MultiIndex.from_arrays([keys["sku"].to_numpy(), keys["location"].to_numpy(), k])
    var = cum.reindex(look).to_numpy(float)
    last = frame.set_index(["sku", "location", "k"])["var"].reindex(look).to_numpy(float)
    var = var + np.maximum(months - horizon, 0) * np.nan_to_num(last)
    return np.sqrt(np.nan_to_num(var))
