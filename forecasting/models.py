"""Candidate model sets (statsforecast models, ensembles, fallbacks) for each demand-class group."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import numpy as np
from statsforecast.models import (
    ADIDA,
    IMAPA,
    TSB,
    AutoCES,
    AutoETS,
    CrostonSBA,
    DynamicOptimizedTheta,
    HistoricAverage,
    Naive,
    SeasonalNaive,
)

from forecasting.pooled_ar import ALIAS as POOLED

# Weight of the pooled AR blended into a class combination: chosen on the validation splits
# of M3, M1 and Tourism (docs/benchmarks.md).
POOLED_WEIGHT = 0.25


class GuardedModel:
    """Wraps a statsforecast model so that a failure yields NaN instead of an exception.

    statsforecast's own `fallback_model` silently writes the fallback's numbers under the
    failing model's name, so nobody could tell which model produced a row. NaN marks the
    failure per series; selection then simply skips that candidate and the audit trail
    (`selection.model`) names the model that really produced the numbers.
    """

    uses_exog = False

    def __init__(self, model: Any, native_intervals: bool,
                 same_structure: Callable[[Any], Any] | None = None) -> None:
        self.model = model
        self.alias: str = model.alias
        # Only models whose own intervals are cheap and meaningful are asked for them;
        # the rest get conformal intervals from the cross-validation residuals.
        self.native_intervals = native_intervals
        # For a model that searches a structure (AutoETS): fitted model -> an unfitted model
        # of the structure it chose, so that CV refits only that structure's parameters
        # (forecasting/one_fit.py) instead of searching again.
        self.same_structure = same_structure
        self._fitted: Any = None

    def __repr__(self) -> str:
        return self.alias

    def new(self) -> "GuardedModel":
        clone = GuardedModel(self.model, self.native_intervals, self.same_structure)
        return clone

    def for_origin(self) -> "GuardedModel":
        """An unfitted model for a CV origin: the structure this fitted model chose where it
        has one to keep, else a new model that searches on its own."""
        if self.same_structure is None or self._fitted is None:
            return self.new()
        try:
            model = self.same_structure(self._fitted)
        except Exception:  # an unreadable structure: search at the origin instead
            return self.new()
        return GuardedModel(model, self.native_intervals)

    def _empty(self, h: int, level: Sequence[int] | None) -> dict[str, np.ndarray]:
        out = {"mean": np.full(h, np.nan)}
        for lv in sorted(level or ()):
            out[f"lo-{lv}"] = np.full(h, np.nan)
        for lv in sorted(level or ()):
            out[f"hi-{lv}"] = np.full(h, np.nan)
        return out

    def _normalise(
        self, res: dict[str, np.ndarray], h: int, level: Sequence[int] | None
    ) -> dict[str, np.ndarray]:
        # statsforecast names output columns from the *last* series' keys, so every series
        # must return the same keys in the same order, failed or not.
        out = self._empty(h, level)
        for key in out:
            if key in res:
                out[key] = np.asarray(res[key], dtype=float)
        return out

    def _call(
        self, method: str, y: np.ndarray, h: int, level: Sequence[int] | None, **kw: Any
    ) -> dict[str, np.ndarray]:
        target = self.model if method == "forecast" else self._fitted
        if target is None:
            return self._empty(h, level)
        try:
            kwargs: dict[str, Any] = {"h": h, **kw} if method == "predict" else {
                "y": y, "h": h, **kw}
            if level and self.native_intervals:
                kwargs["level"] = list(level)
            res = getattr(target, method)(**kwargs)
        except Exception:  # any model error is a per-series failure, handled by selection
            return self._empty(h, level)
        return self._normalise(res, h, level)

    def forecast(
        self,
        y: np.ndarray,
        h: int,
        X: np.ndarray | None = None,
        X_future: np.ndarray | None = None,
        level: Sequence[int] | None = None,
        fitted: bool = False,
    ) -> dict[str, np.ndarray]:
        return self._call("forecast", y, h, level, X=X, X_future=X_future)

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> "GuardedModel":
        try:
            self._fitted = self.model.new().fit(y=y, X=X)
        except Exception:  # a failed fit makes every later forward NaN
            self._fitted = None
        return self

    def predict(self, h: int, level: Sequence[int] | None = None) -> dict[str, np.ndarray]:
        """Forecast of the model fitted by `fit` (NaN if that fit failed)."""
        return self._call("predict", np.empty(0), h, level)

    def forward(
        self,
        y: np.ndarray,
        h: int,
        X: np.ndarray | None = None,
        X_future: np.ndarray | None = None,
        level: Sequence[int] | None = None,
        fitted: bool = False,
    ) -> dict[str, np.ndarray]:
        return self._call("forward", y, h, level, X=X, X_future=X_future)


@dataclass(frozen=True)
class Ensemble:
    """A combination of member forecasts, computed after the fact (no extra fitting)."""

    name: str
    members: tuple[str, ...]
    how: Literal["mean", "median"] = "mean"
    # > 0: the last member is not combined with the others but blended into their
    # combination with this weight, where it has a forecast (the pooled AR has none for a
    # series with a zero month; such a series keeps the others' combination).
    blend: float = 0.0

    def combine(self, columns: Sequence[np.ndarray]) -> np.ndarray:
        """Combine member arrays; a NaN member (failed model) makes the ensemble NaN, except
        a blended last member, which is left out where it is NaN."""
        if self.blend:
            base = self._combine(columns[:-1])
            extra = columns[-1]
            return np.where(np.isfinite(extra), (1 - self.blend) * base + self.blend * extra,
                            base)
        return self._combine(columns)

    def _combine(self, columns: Sequence[np.ndarray]) -> np.ndarray:
        stacked = np.stack(columns, axis=0)
        return stacked.mean(axis=0) if self.how == "mean" else np.median(stacked, axis=0)


@dataclass(frozen=True)
class ModelSet:
    """The candidates fitted for one group of series, and how to choose among them.

    `default` is used where a series is too short for cross-validation; `fallbacks` are
    tried in order where the chosen (or default) candidate failed for a series.
    """

    name: str
    models: tuple[GuardedModel, ...]
    ensembles: tuple[Ensemble, ...] = ()
    default: str = ""
    fallbacks: tuple[str, ...] = ()
    # Fitted and usable as fallbacks, but never picked by CV: a random walk can win a few
    # noisy windows without being a good 18-month forecast.
    fallback_only: tuple[str, ...] = ()
    cv_metric: Literal["mae", "rmse"] = "mae"
    # refit=False fits once per series at the first CV cutoff and rolls forward: CV then
    # costs about one fit; only models with a `forward` method allow it.
    cv_refit: bool = False
    # False: every series gets `default` (CV still scores all candidates, for the audit
    # trail and the conformal intervals); True: a clearly better candidate may replace it.
    per_series: bool = True
    # Candidates one of which each demand class of the group adopts in place of `default`:
    # the one with the lowest CV error pooled over the class's series (`fit_baselines`,
    # `class_selection`). Empty: `default` for every class.
    class_menu: tuple[str, ...] = ()
    # True: the group's series also get the pooled AR's forecasts (forecasting/pooled_ar.py),
    # a candidate named `pooled_ar.ALIAS` that ensembles may use but CV never picks alone.
    pooled: bool = False
    candidates: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = (tuple(m.alias for m in self.models) + ((POOLED,) if self.pooled else ())
                 + tuple(e.name for e in self.ensembles))
        object.__setattr__(self, "candidates", names)
        unknown = [c for c in self.class_menu if c not in names]
        if unknown or (self.class_menu and self.default not in self.class_menu):
            raise ValueError(f"class_menu {self.class_menu} must name candidates of {names} "
                             f"and include the default {self.default!r}")

    @property
    def statsforecast_models(self) -> list[GuardedModel]:
        return [m.new() for m in self.models]


def seasonal_set(season_length: int, with_ces: bool = False,
                 per_series: bool = False, pooled: bool = True) -> ModelSet:
    """Smooth/erratic series: AutoETS, DynamicOptimizedTheta, their mean (the default,
    blended with the pooled AR where `pooled`), SeasonalNaive as a floor and Naive as the
    last fallback; AutoCES optionally.
    `per_series=False` forecasts every series with the class's combination (see
    `ModelSet.per_series`, `ModelSet.class_menu`).

    The class menu holds combinations only: the ETS/DOTheta mean, and the mean and the median
    of ETS, DOTheta and SeasonalNaive, each blended with the pooled AR (`pooled`, 1/4 weight,
    forecasting/pooled_ar.py; without it, the three themselves). Seasonal naive is a poor
    forecast alone, but on long, strongly seasonal histories whose season drifts (Tourism)
    it pulls the smoothed models back to last year's shape, and the median of the three
    drops whichever member is off (M1's short, noisy histories).
    Single models stay out of the menu: on three data sets' validation splits adding them
    never helped (docs/forecasting.md).

    DynamicOptimizedTheta rather than AutoTheta: AutoTheta picks its variant in-sample and
    was clearly worse in rolling-origin CV on M3's training part. AutoCES is off by default:
    its `forward` (used by the one-fit CV) degrades badly after the first window in
    statsforecast 2.1, which makes its CV errors, and so selection and conformal intervals,
    unreliable.
    """
    models = [
        GuardedModel(AutoETS(season_length=season_length, alias="AutoETS"), True,
                     partial(ets_structure, season_length)),
        GuardedModel(
            DynamicOptimizedTheta(season_length=season_length, alias="DynamicOptimizedTheta"),
            True,
        ),
    ]
    members = ["AutoETS", "DynamicOptimizedTheta"]
    with_sn = (*members, "SeasonalNaive")
    ensembles = [Ensemble("Mean(ETS,DOTheta)", tuple(members), "mean"),
                 Ensemble("Mean(ETS,DOTheta,SNaive)", with_sn, "mean"),
                 Ensemble("Median(ETS,DOTheta,SNaive)", with_sn, "median")]
    menu = tuple(e.name for e in ensembles)
    if pooled:
        # Each combination blended with the warehouse's pooled AR; the class chooses among
        # the blends only. Letting it choose the plain ones too did worse on Tourism: the CV
        # windows (12 months) miss most of what the AR brings at 24 months ahead.
        blends = [Ensemble(f"{e.name}+{POOLED}", (*e.members, POOLED), e.how, POOLED_WEIGHT)
                  for e in ensembles]
        ensembles += blends
        menu = tuple(e.name for e in blends)
    if with_ces:
        # CES's own intervals are simulated and cost ~10x its fit: conformal instead.
        models.append(GuardedModel(AutoCES(season_length=season_length, alias="AutoCES"), False))
        ensembles.append(Ensemble("Mean(ETS,DOTheta,CES)", (*members, "AutoCES"), "mean"))
        ensembles.append(Ensemble("Median(ETS,DOTheta,CES)", (*members, "AutoCES"), "median"))
    models += [
        GuardedModel(SeasonalNaive(season_length=season_length, alias="SeasonalNaive"), True),
        GuardedModel(Naive(alias="Naive"), True),
    ]
    return ModelSet(
        name="seasonal",
        models=tuple(models),
        ensembles=tuple(ensembles),
        default=menu[0],
        fallbacks=("AutoETS", "DynamicOptimizedTheta", "SeasonalNaive", "Naive"),
        # The pooled AR alone is never picked: it is a combination member only.
        fallback_only=("Naive", *((POOLED,) if pooled else ())),
        cv_metric="mae",
        cv_refit=False,
        per_series=per_series,
        class_menu=menu,
        pooled=pooled,
    )


def ets_structure(season_length: int, fitted: AutoETS) -> AutoETS:
    """An AutoETS limited to the structure `fitted` chose (error, trend, season, damping):
    fitting it estimates that structure's parameters only, about 1/15 of the search."""
    components = fitted.model_["components"]
    return AutoETS(season_length=season_length, model=components[:3],
                   damped=components[3] == "D", alias=fitted.alias)


def intermittent_set() -> ModelSet:
    """Intermittent/lumpy series: Croston SBA, TSB, ADIDA, IMAPA; HistoricAverage as fallback."""
    models = [
        GuardedModel(CrostonSBA(alias="CrostonSBA"), False),
        GuardedModel(TSB(alpha_d=0.1, alpha_p=0.1, alias="TSB"), False),
        GuardedModel(ADIDA(alias="ADIDA"), False),
        GuardedModel(IMAPA(alias="IMAPA"), False),
        GuardedModel(HistoricAverage(alias="HistoricAverage"), False),
    ]
    return ModelSet(
        name="intermittent",
        models=tuple(models),
        ensembles=(Ensemble("Mean(SBA,TSB,ADIDA,IMAPA)", ("CrostonSBA", "TSB", "ADIDA", "IMAPA")),),
        default="CrostonSBA",
        fallbacks=("TSB", "ADIDA", "HistoricAverage"),
        # MAE rewards forecasting zero on intermittent data; squared error keeps the mean.
        cv_metric="rmse",
        # These models have no `forward`; they are cheap, so refitting per window is fine.
        cv_refit=True,
    )
