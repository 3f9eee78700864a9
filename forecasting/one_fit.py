"""Cross-validation and the final forecast with one model search per series.

Plain statsforecast gets CV errors and a forecast from two calls: `cross_validation(
refit=False)` fits each model at the first CV origin and rolls it forward over the later
windows, and `forecast` fits every model again on the whole history. For AutoETS each fit is
a search over ~15 structures (error, trend, season, damping): the expensive part of a
baseline run, done twice per series.

`cv_and_forecast` searches once. Per series and model: one `fit` on the whole history and its
`predict` (exactly what `forecast` gives), then, for the CV windows, a model of the
structure that fit chose (`GuardedModel.for_origin`; AutoETS only, the other models have no
structure to keep and search at the origin as before) is fitted at the first origin and
rolled forward with `forward`, as statsforecast's refit=False CV does. The structure is thus
chosen with the whole history, while its parameters are estimated without the CV months:
the CV errors describe the model that makes the final forecast. The final forecasts are those
of plain statsforecast, bit for bit (tested), so accuracy does not change; what the CV errors
drive (conformal intervals, the guardrail's ranking) was checked on M3 (docs/benchmarks.md).

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
    """CV forecasts and final forecasts of `models` (GuardedModels) for
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
            whole = model.new().fit(y=y)
            res = whole.predict(h=h, level=levels or None)
            origin = whole.for_origin().fit(y=y[:cuts[0]])
            for k, c in enumerate(cuts):
                cv_vals[model.alias][i, k] = origin.forward(y=y[:c], h=cv_h)["mean"]
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
