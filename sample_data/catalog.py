"""The synthetic assortment: families, SKUs, locations, sales teams, what is stocked where."""

from dataclasses import dataclass
from typing import Final

import numpy as np

# name, peak month (1-12), seasonal amplitude, relative share of the assortment.
# Peaks differ per family so the warehouses see overlapping, not identical, seasons.
FAMILIES: Final[tuple[tuple[str, int, float, float], ...]] = (
    ("BEVERAGES", 7, 0.35, 0.20),
    ("SNACKS", 11, 0.20, 0.18),
    ("DAIRY", 1, 0.08, 0.14),
    ("FROZEN", 8, 0.40, 0.12),
    ("HOUSEHOLD", 4, 0.15, 0.14),
    ("PERSONAL_CARE", 6, 0.12, 0.12),
    ("CONFECTIONERY", 12, 0.45, 0.10),
)
# Typical pallet sizes per family (units per pallet); heavy/bulky goods have fewer units.
PALLET_SIZES: Final[dict[str, tuple[int, ...]]] = {
    "BEVERAGES": (60, 80, 96, 120),
    "SNACKS": (144, 200, 240),
    "DAIRY": (80, 96, 120),
    "FROZEN": (48, 60, 80),
    "HOUSEHOLD": (36, 48, 60),
    "PERSONAL_CARE": (144, 200, 240, 288),
    "CONFECTIONERY": (200, 240, 288),
}
NAMED_LOCATIONS: Final[tuple[str, ...]] = (
    "DC-NORTH",
    "DC-SOUTH",
    "DC-EAST",
    "DC-WEST",
    "DC-CENTRAL",
)
# Relative size of each location: the first warehouses are the big ones.
LOCATION_WEIGHTS: Final[tuple[float, ...]] = (1.0, 0.85, 0.65, 0.5, 0.4)
# Sales teams' systematic bias (submitted / true expected demand - 1), per named location.
# team-north is the honest one, team-south the notorious optimist.
TEAM_BIASES: Final[tuple[float, ...]] = (0.02, 0.32, 0.10, -0.05, 0.15)

SHARE_NEW: Final = 0.03
SHARE_PHASE_OUT: Final = 0.04
SHARE_INTERMITTENT: Final = 0.15
SHARE_LATE_START: Final = 0.08  # active items launched during the history window
LOCATIONS_PER_SKU_P: Final = (0.25, 0.35, 0.40)  # P(stocked at 1, 2, 3 locations)


@dataclass(frozen=True)
class Catalog:
    """Per-SKU and per-series attributes as parallel numpy arrays (index = position)."""

    skus: np.ndarray  # object array of SKU ids
    family_names: tuple[str, ...]
    sku_family: np.ndarray  # int index into family_names
    sku_status: np.ndarray  # object: active / new / phase_out
    sku_intermittent: np.ndarray  # bool
    sku_late_start: np.ndarray  # bool: active but launched inside the history window
    locations: tuple[str, ...]
    teams: tuple[str, ...]  # one sales team per location, same order
    team_bias: np.ndarray  # float per location
    series_sku: np.ndarray  # int index into skus
    series_loc: np.ndarray  # int index into locations

    @property
    def n_series(self) -> int:
        return int(self.series_sku.size)


def location_names(n_locations: int) -> tuple[str, ...]:
    """DC-NORTH, DC-SOUTH, DC-EAST, ... then DC-06, DC-07 for larger networks."""
    named = list(NAMED_LOCATIONS[:n_locations])
    extra = [f"DC-{i:02d}" for i in range(len(named) + 1, n_locations + 1)]
    return tuple(named + extra)


def team_name(location: str) -> str:
    """The sales team owning a location's forecast: DC-SOUTH -> team-south."""
    return "team-" + location.removeprefix("DC-").lower()


def _exact_count(n: int, share: float, minimum: int) -> int:
    # Small worlds still get at least one of each kind so tests see every case.
    return min(n, max(minimum, round(n * share)))


def build_catalog(rng: np.random.Generator, n_skus: int, n_locations: int) -> Catalog:
    """Draw families, statuses, demand patterns and the SKU x location layout."""
    if n_skus < 1 or n_locations < 1:
        raise ValueError("need at least one SKU and one location")
    width = max(4, len(str(n_skus)))
    skus = np.array([f"SKU-{i:0{width}d}" for i in range(1, n_skus + 1)], dtype=object)

    n_families = min(len(FAMILIES), n_skus)
    fam = FAMILIES[:n_families]
    shares = np.array([f[3] for f in fam])
    # Every family gets at least one SKU; the rest are drawn by share.
    sku_family = np.concatenate(
        [
            np.arange(n_families),
            rng.choice(n_families, size=n_skus - n_families, p=shares / shares.sum()),
        ]
    )
    sku_family = rng.permutation(sku_family)

    order = rng.permutation(n_skus)
    minimum = 1 if n_skus >= 10 else 0
    n_new = _exact_count(n_skus, SHARE_NEW, minimum)
    n_phase = _exact_count(n_skus - n_new, SHARE_PHASE_OUT, minimum)
    n_int = _exact_count(n_skus - n_new - n_phase, SHARE_INTERMITTENT, minimum)
    n_late = _exact_count(n_skus - n_new - n_phase - n_int, SHARE_LATE_START, 0)
    status = np.full(n_skus, "active", dtype=object)
    status[order[:n_new]] = "new"
    status[order[n_new : n_new + n_phase]] = "phase_out"
    intermittent = np.zeros(n_skus, dtype=bool)
    intermittent[order[n_new + n_phase : n_new + n_phase + n_int]] = True
    late = np.zeros(n_skus, dtype=bool)
    start = n_new + n_phase + n_int
    late[order[start : start + n_late]] = True

    locations = location_names(n_locations)
    weights = np.array(
        [LOCATION_WEIGHTS[i] if i < len(LOCATION_WEIGHTS) else 0.3 for i in range(n_locations)]
    )
    k = rng.choice(np.arange(1, 4), size=n_skus, p=LOCATIONS_PER_SKU_P)
    k = np.minimum(k, n_locations)
    # Weighted sampling without replacement in one shot: exponential race keys, smallest first.
    keys = rng.exponential(size=(n_skus, n_locations)) / weights[None, :]
    ranked = np.argsort(keys, axis=1)
    sku_idx, rank = np.nonzero(np.arange(n_locations)[None, :] < k[:, None])
    loc_idx = ranked[sku_idx, rank]
    # Stable, readable ordering: by SKU then location.
    order_series = np.lexsort((loc_idx, sku_idx))
    series_sku, series_loc = sku_idx[order_series], loc_idx[order_series]

    extra_bias = rng.uniform(-0.05, 0.20, size=max(0, n_locations - len(TEAM_BIASES)))
    team_bias = np.concatenate([np.array(TEAM_BIASES[:n_locations]), extra_bias])

    return Catalog(
        skus=skus,
        family_names=tuple(f[0] for f in fam),
        sku_family=sku_family,
        sku_status=status,
        sku_intermittent=intermittent,
        sku_late_start=late,
        locations=locations,
        teams=tuple(team_name(loc) for loc in locations),
        team_bias=team_bias,
        series_sku=series_sku.astype(np.int64),
        series_loc=series_loc.astype(np.int64),
    )
