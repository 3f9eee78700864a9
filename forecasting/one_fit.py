"""Cross-validation and the final forecast from one fit per series and model.

statsforecast's `cross_validation(refit=False)` fits each model once, at the first CV origin,
and rolls the fitted model forward over the later windows with `forward` (the model's
parameters kept, its states re-filtered on the longer history). Its `forecast` then fits every
model again on the whole history. For AutoETS that second fit is the expensive part of a
baseline run: the model search runs twice per series.

`cv_and_forecast` does what those two calls do, with the final forecast rolled forward from
the same fit: per series and model one `fit` at the first origin, one `forward` per CV window
(exactly statsforecast's own refit=False loop, so the CV numbers are the same) and one more
`forward` over the whole history for the final forecast. The final forecast thus uses
parameters estimated without the last `test_size` months, with states updated through the
last month. Whether that costs accuracy was measured on M3's validation split before it was
made the default (docs/benchmarks.md, "Baseline accuracy on M3 monthly").

The function runs on one chunk of whole series; engines call it like statsforecast's own
calls, so every engine gives the same numbers.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

# Window index of the final forecast's rows in the frame `cv_and_forecast` returns.
FINAL = -1


def cv_and_forecast(models: Sequence[Any], df: pd.DataFrame, h: int, level: list[int] | None,
                    cv_h: int, n_windows: int, step_size: int) -> pd.DataFrame:
    """CV forecasts and final forecasts of `models` (GuardedModel-like: new/fit/forward) for
    every series of the long frame `df` (unique_id, ds, y; rows of a series contiguous and in
    time order, every series longer than the CV test size).

    Returns one long frame: unique_id, ds, cutoff, window (0.. for CV windows, FINAL for the
    final forecast), y (NaN on final rows), one column per model alias and, on final rows,
    `alias-lo-L` / `alias-hi-L` per level (NaN where a model has no intervals).
    """
    test_size = cv_h + step_size * (n_windows - 1)
    ids = df["unique_id"].to_numpy()
    y_all = df["y"].to_numpy(dtype=float)
    months = df["ds"].to_numpy().astype("datetime64[M]")
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    ends = np.r_[starts[1:], len(ids)]
    n = starts.size
    aliases = [m.alias for m in models]
    levels = sorted(level or [])
    rows_per = n_windows * cv_h + h
    cv_vals = {a: np.full((n, n_windows, cv_h), np.nan) for a in aliases}
    final = {a: np.full((n, h), np.nan) for a in aliases}
    bounds = {(a, side, lv): np.full((n, h), np.nan)
              for a in aliases for side in ("lo", "hi") for lv in levels}
    actual = np.full((n, n_windows, cv_h), np.nan)
    back = np.empty((n, n_windows), dtype=int)  # months from each origin to the series' end
    for i, (a, b) in enumerate(zip(starts, ends, strict=True)):
        y = y_all[a:b]
        if y.size <= test_size:
            raise ValueError(f"series {ids[a]!r} has {y.size} months, needs > {test_size}")
        cuts = [y.size - test_size + k * step_size for k in range(n_windows)]
        back[i] = [y.size - c for c in cuts]
        for k, c in enumerate(cuts):
            actual[i, k] = y[c:c + cv_h]
        for model in models:
            fitted = model.new().fit(y=y[:cuts[0]])
            for k, c in enumerate(cuts):
                cv_vals[model.alias][i, k] = fitted.forward(y=y[:c], h=cv_h)["mean"]
            res = fitted.forward(y=y, h=h, level=levels or None)
            final[model.alias][i] = res["mean"]
            for lv in levels:
                bounds[(model.alias, "lo", lv)][i] = res[f"lo-{lv}"]
                bounds[(model.alias, "hi", lv)][i] = res[f"hi-{lv}"]

    # Long frame: per series n_windows * cv_h CV rows, then h final rows.
    last = months[ends - 1]
    cut_month = last[:, None] - back  # month of each origin's last observation
    steps_cv = np.arange(1, cv_h + 1)
    ds_cv = cut_month[:, :, None] + steps_cv[None, None, :]
    ds_final = last[:, None] + np.arange(1, h + 1)[None, :]
    ds = np.concatenate([ds_cv.reshape(n, -1), ds_final], axis=1)
    cutoff = np.concatenate([np.repeat(cut_month, cv_h, axis=1),
                             np.repeat(last[:, None], h, axis=1)], axis=1)
    window = np.concatenate([np.repeat(np.arange(n_windows)[None, :], n, axis=0).repeat(
        cv_h, axis=1), np.full((n, h), FINAL)], axis=1)
    out: dict[str, Any] = {
        "unique_id": np.repeat(ids[starts], rows_per),
        "ds": ds.ravel().astype("datetime64[ns]"),
        "cutoff": cutoff.ravel().astype("datetime64[ns]"),
        "window": window.ravel(),
        "y": np.concatenate([actual.reshape(n, -1), np.full((n, h), np.nan)], axis=1).ravel(),
    }
    for al in aliases:
        out[al] = np.concatenate([cv_vals[al].reshape(n, -1), final[al]], axis=1).ravel()
    for (al, side, lv), arr in bounds.items():
        out[f"{al}-{side}-{lv}"] = np.concatenate(
            [np.full((n, n_windows * cv_h), np.nan), arr], axis=1).ravel()
    return pd.DataFrame(out)
