"""Hierarchy reconciliation total -> family -> sku x location: MinTrace with a shrunk covariance.

Pure numpy/pandas. The MinT-shrink estimator (Wickramasuriya, Athanasopoulos & Hyndman 2019;
Schäfer-Strimmer shrinkage of the residual covariance towards its diagonal) written so that
the n x n covariance is never formed: with T residual months, n series and m aggregates it
costs O(T·n·m + T²·n) time and O(n·m) memory, so 100k series stay cheap.

Notation: `agg` (m x n_b) sums bottoms into the aggregates (row 0 total, then one row per
family); U' = [I_m, -agg] maps a stacked vector (aggregates, bottoms) to its incoherence.
Reconciled bottoms  b~ = b^ - (W U)_b (U' W U)^-1 U' y^.
"""

import numpy as np
import pandas as pd

TOTAL_KEY = ("*", "TOTAL")  # (sku, location) of the total's pseudo series
FAMILY_LOCATION = "FAMILY"  # location of each family's pseudo series (sku = family)


def summing_rows(families: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Aggregation rows (total, then each family in sorted order) over the bottom series
    whose family is `families[i]`, and the aggregates' names."""
    fams = sorted(pd.unique(np.asarray(families, dtype=object)))
    rows = [np.ones(len(families))]
    rows += [(np.asarray(families, dtype=object) == f).astype(float) for f in fams]
    return np.vstack(rows), ["total", *map(str, fams)]


def shrinkage_intensity(residuals: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Schäfer-Strimmer λ for shrinking the sample covariance of `residuals` (T x n) towards
    its diagonal (as hierarchicalforecast computes it: correlations of the series
    standardised with the population sd); also the centred residuals and the variances
    (ddof 1)."""
    t = residuals.shape[0]
    centred = residuals - residuals.mean(axis=0)
    if t < 3:
        return 1.0, centred, np.var(residuals, axis=0)
    var = centred.var(axis=0, ddof=1)
    sd0 = np.sqrt(centred.var(axis=0)) + 2e-8
    x = centred / sd0
    x2 = x**2
    # Over i != j: a = Σ_ij Σ_t x_ti² x_tj², b = Σ_ij (Σ_t x_ti x_tj)²; no n x n matrix.
    a = float((x2.sum(axis=1) ** 2).sum() - (x2**2).sum())
    b = float(((x @ x.T) ** 2).sum() - (x2.sum(axis=0) ** 2).sum())
    var_corr = (a - b / t) / (t * (t - 1))  # Σ var of the correlations
    sq_corr = b / t**2  # Σ squared correlations
    lam = float(np.clip(var_corr / (sq_corr + 2e-8), 0.0, 1.0))
    return lam, centred, var


def mint_shrink(base_upper: np.ndarray, base_bottom: np.ndarray, agg: np.ndarray,
                resid_upper: np.ndarray, resid_bottom: np.ndarray,
                ridge: float = 2e-8) -> np.ndarray:
    """Reconciled bottom forecasts (n_b x h), floored at 0.

    base_upper (m x h) and base_bottom (n_b x h) are the base forecasts of the aggregates and
    the bottoms; resid_upper (T x m) and resid_bottom (T x n_b) their residuals (actual -
    forecast) over the same T past months; agg (m x n_b) the aggregation rows. W = (1-λ)·
    sample covariance off the diagonal, variances (at least `ridge`) on it."""
    m = agg.shape[0]
    resid = np.hstack([resid_upper, resid_bottom])  # T x (m + n_b), aggregates first
    lam, centred, var = shrinkage_intensity(resid)
    t = resid.shape[0]
    u = np.vstack([np.eye(m), -agg.T])  # (m + n_b) x m
    # W·U without forming W: diag part + (1-λ)·centred'(centred·U)/(T-1).
    wu = (np.maximum(var, ridge) - (1.0 - lam) * var)[:, None] * u
    if lam < 1.0 and t > 1:
        wu += (1.0 - lam) * centred.T @ (centred @ u) / (t - 1)
    incoherence = base_upper - agg @ base_bottom  # U' y^  (m x h)
    coef = u.T @ wu  # m x m
    try:
        step = np.linalg.solve(coef, incoherence)
    except np.linalg.LinAlgError:
        step = np.linalg.lstsq(coef, incoherence, rcond=None)[0]
    bottom = base_bottom - wu[m:] @ step
    return np.maximum(bottom, 0.0)


def aggregate_history(history: pd.DataFrame, family_of: pd.Series) -> pd.DataFrame:
    """sales_history of the aggregates: one pseudo series per family (sku = family, location
    `FAMILY_LOCATION`) and one for the total (`TOTAL_KEY`). SKUs without a family form the
    family ""."""
    hist = history.assign(family=history["sku"].map(family_of).fillna("").astype(str))
    fam = hist.groupby(["family", "period"], as_index=False)["qty"].sum()
    fam = fam.rename(columns={"family": "sku"}).assign(location=FAMILY_LOCATION)
    tot = hist.groupby("period", as_index=False)["qty"].sum()
    tot = tot.assign(sku=TOTAL_KEY[0], location=TOTAL_KEY[1])
    return pd.concat([tot, fam], ignore_index=True)[["sku", "location", "period", "qty"]]
