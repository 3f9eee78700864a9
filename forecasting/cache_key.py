"""The key of cached baselines: the same key means the same baselines, so no refit."""

import hashlib
import json
from collections.abc import Mapping
from importlib.metadata import version as package_version

import pandas as pd

from forecasting.settings import BaselineSettings

# The input tables the baselines read; the others matter only through the planned pairs.
BASELINE_TABLES = ("sales_history", "promotions", "products")
# The frames a cache entry holds; raised when one is added (2: forecast_error), so entries
# written before are never read as complete.
CACHE_FORMAT = 2
# The frames of a cache entry (one Parquet file each), and those an entry must have to be used
# (an entry without forecast_error, hand-copied from an older release, is refit rather than
# planned without computed safety stocks).
CACHE_FRAMES = ("baseline_forecast", "selection", "cleaning", "forecast_error")
REQUIRED_FRAMES = frozenset({"baseline_forecast", "forecast_error"})


def baseline_cache_key(
    input_hashes: Mapping[str, str], keys: pd.DataFrame, cycle: str, horizon: int,
    settings: BaselineSettings, quarantined: Mapping[str, int] | None = None,
) -> str:
    """Hash of what decides the baselines: history, promotions and products files, the planned
    sku x location pairs, the cycle, horizon, settings, rows quarantined from those tables and
    the code versions.

    A new sales forecast with the same pairs (new quantities) reuses the baselines; how many
    processes fit does not enter (same numbers on any count)."""
    pairs = keys["sku"].astype(str) + "\x1f" + keys["location"].astype(str)
    planned = hashlib.sha256("\n".join(sorted(pairs)).encode()).hexdigest()
    payload = json.dumps(
        {
            "inputs": {t: h for t, h in input_hashes.items() if t in BASELINE_TABLES},
            "planned_keys": planned,
            "cycle": cycle,
            "horizon": horizon,
            "settings": settings.model_dump(mode="json"),
            "quarantined": {t: n for t, n in (quarantined or {}).items()
                            if t in BASELINE_TABLES},
            "statsforecast": package_version("statsforecast"),
            "sop": package_version("sop-consensus"),
            "format": CACHE_FORMAT,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:32]
