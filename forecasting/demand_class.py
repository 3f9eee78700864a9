"""Demand classification by ADI / CV² (Syntetos-Boylan) plus `new` for too little history."""

import numpy as np
import pandas as pd

SMOOTH, ERRATIC, INTERMITTENT, LUMPY, NEW = "smooth", "erratic", "intermittent", "lumpy", "new"
DEMAND_CLASSES = (SMOOTH, ERRATIC, INTERMITTENT, LUMPY, NEW)
# Syntetos, Boylan & Croston (2005) cut-offs.
ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49


def demand_stats(values: np.ndarray) -> pd.DataFrame:
    """Per row of a (series x month) matrix (NaN = before the series started): span (months),
    n_nonzero, ADI (span / n_nonzero) and CV² of the non-zero demand sizes."""
    present = ~np.isnan(values)
    span = present.sum(axis=1)
    nonzero = np.where(present, values, 0.0) > 0
    n_nonzero = nonzero.sum(axis=1)
    sizes = np.where(nonzero, values, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(sizes, axis=1) / n_nonzero
        var = np.nansum((sizes - mean[:, None]) ** 2, axis=1) / n_nonzero
        cv2 = np.where(n_nonzero > 0, var / mean**2, np.nan)
        adi = np.where(n_nonzero > 0, span / n_nonzero, np.inf)
    return pd.DataFrame({"span": span, "n_nonzero": n_nonzero, "adi": adi, "cv2": cv2})


def classify_demand(values: np.ndarray, min_history: int) -> np.ndarray:
    """Demand class per row: `new` when the series has sold for fewer than `min_history`
    months (too short to estimate a season or an interval), else the ADI/CV² quadrant."""
    stats = demand_stats(values)
    adi, cv2 = stats["adi"].to_numpy(), stats["cv2"].to_numpy()
    classes = np.where(
        adi < ADI_CUTOFF,
        np.where(cv2 < CV2_CUTOFF, SMOOTH, ERRATIC),
        np.where(cv2 < CV2_CUTOFF, INTERMITTENT, LUMPY),
    ).astype(object)
    classes[stats["span"].to_numpy() < min_history] = NEW
    return classes
