"""BaselineSettings: how baselines are fitted. Pydantic only, so a config file is checked
without loading statsforecast."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class BaselineSettings(BaseModel):
    """How baselines are fitted; every field has a default that suits monthly S&OP data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    season_length: int = Field(default=12, ge=1, description="Months per seasonal cycle.")
    levels: tuple[int, int] = Field(
        default=(80, 95),
        description="Prediction-interval levels (%), narrow then wide; output columns are "
        "lo_<level>/hi_<level> (SPEC: 80 and 95).")
    min_history_months: int | None = Field(
        default=None, ge=1,
        description="A series that has sold for fewer months (first sale to the month before "
        "the cycle) is `new` and gets a cold-start forecast; None = 2 x season_length, the "
        "least that lets a model estimate a season.")
    cv_windows: int = Field(default=3, ge=1, description="Rolling-origin CV windows.")
    cv_horizon: int | None = Field(
        default=None, ge=1,
        description="Months forecast per CV window; None = min(horizon, season_length) so "
        "that 3-year histories still get validated.")
    cv_step: int | None = Field(
        default=None, ge=1,
        description="Months between CV origins; None = max(1, cv_horizon // 4).")
    min_cv_train_months: int | None = Field(
        default=None, ge=2,
        description="Least history before the first CV origin; shorter series skip CV and "
        "take the group's default model; None = 1.5 x season_length.")
    selection_margin: float = Field(
        default=0.2, ge=0.0, lt=1.0,
        description="A candidate replaces the group's default ensemble for a series only when "
        "its CV error is this much (relative) lower: CV over a few windows is noisy and "
        "combinations are the safer bet.")
    cv_structure: Literal["final", "search"] = Field(
        default="final",
        description="What the CV origins of the smooth/erratic group fit for AutoETS: "
        "`final` refits, at each series' first CV origin, the structure (error, trend, "
        "season, damping) that AutoETS chose on the whole history, so the model search runs "
        "once per series (forecasting/one_fit.py; the final forecasts are unchanged); "
        "`search` searches again at the origin, as plain statsforecast's "
        "`cross_validation` after `forecast` does (about twice the cost).")
    structure_min_months: int | None = Field(
        default=None, ge=2,
        description="With `cv_structure: final`, least history before the first CV origin "
        "for a series to refit the whole history's structure there; shorter origins search "
        "on their own (a seasonal structure needs about two seasons of data to be "
        "estimated; short searches are cheap). None = 2 x season_length.")
    seasonal_selection: bool = Field(
        default=False,
        description="Pick per series among the smooth/erratic candidates (with "
        "`selection_margin`); False = the class's combination (`class_selection`), every "
        "candidate still scored and the runner-up recorded. Off because on M3's training "
        "part (validation on its last 18 months) per-series picking raised sMAPE from 13.99 "
        "to 14.34.")
    class_selection: bool = Field(
        default=True,
        description="Per demand class (smooth, erratic), forecast every series with the "
        "combination (ETS/DOTheta mean; mean or median of ETS, DOTheta and SeasonalNaive) "
        "whose CV error, scaled per series by its seasonal-naive MAE and averaged over the "
        "class's series, is lowest. Pooled over a class the choice is steady where a choice "
        "per series is noise, and it follows the data: on the validation splits it took the "
        "median on M3 and M1 and the mean with seasonal naive on Tourism, better than the "
        "ETS/DOTheta mean on all three (each blended with the pooled AR, `pooled_ar`). "
        "False = always the ETS/DOTheta mean (blended likewise).")
    class_min_series: int = Field(
        default=30, ge=1,
        description="Least series with CV a demand class needs for its own "
        "`class_selection`; a smaller class takes the choice pooled over the whole group "
        "(smooth and erratic together), a smaller group keeps the ETS/DOTheta mean.")
    with_ces: bool = Field(default=False, description="Add AutoCES and ETS/Theta/CES ensembles.")
    pooled_ar: bool = Field(
        default=True,
        description="Blend a pooled autoregression (one linear map from the last 24 months "
        "to the next ones, fitted over each warehouse's smooth/erratic series, "
        "forecasting/pooled_ar.py) into each class combination with weight 1/4, where the "
        "warehouse has enough history for it and the series has no zero month among its "
        "last 24. On the validation splits it lowered sMAPE on M3 (13.74 to 13.66), M1 "
        "(16.84 to 16.29) and Tourism (23.53 to 22.80). False = the combinations alone.")
    interval_method: Literal["model", "conformal"] = Field(
        default="model",
        description="`model`: the chosen model's own intervals where it has them, conformal "
        "from CV residuals otherwise; `conformal`: always conformal.")
    conformal_scale: Literal["cv_mae", "naive"] = Field(
        default="naive",
        description="What CV errors are divided by before their quantiles are pooled over "
        "series, and what those quantiles are multiplied back by. `naive`: the series' "
        "one-step naive MAE of the history before the first CV origin (for the forecast: of "
        "the whole history), a scale that does not come from the CV errors themselves; "
        "`cv_mae`: the series' own CV MAE (narrower, but self-normalised errors understate "
        "the tails, so coverage falls short).")
    clean_promotions: bool = Field(default=True, description="De-uplift past promotion months.")
    clean_outliers: bool = Field(
        default=False,
        description="Clip outliers of smooth/erratic series (see docs/forecasting.md). Off by "
        "default: on the validation splits of three real data sets it never helped and "
        "once hurt — M3 monthly sMAPE 13.99 off vs 14.01 on, M1 monthly neutral, Tourism "
        "monthly MASE 1.909 off vs 1.949 on (plain AutoETS 1.924): on long, strongly "
        "seasonal histories whose season drifts it moved whole seasons' peaks. Turn it on "
        "for histories with one-off spikes (a single huge order) that no season explains.")
    outlier_threshold: float = Field(
        default=3.5, gt=0, description="Clip beyond rolling median ± this many robust sigmas.")
    cleaning_window: int = Field(
        default=7, ge=3, description="Months in the centred rolling median (odd).")
    envelope_factor: float | None = Field(
        default=3.0, gt=1.0,
        description="Guardrail: a model forecast whose maximum exceeds this many times the "
        "maximum of the series' raw history over the last `envelope_months` is implausible; "
        "the series falls back to the best single candidate on its CV windows that stays "
        "inside, and `selection.guardrail` says why. None = off.")
    envelope_months: int | None = Field(
        default=None, ge=1,
        description="Months of recent history the envelope's maximum is taken over; None = "
        "3 x season_length.")
    hierarchy: Literal["none", "mint_shrink"] = Field(
        default="none",
        description="`mint_shrink`: reconcile the sku x location forecasts with forecasts of "
        "each family and of the total (hierarchy total -> family -> sku x location, needs "
        "`products`) by MinTrace with a shrunk covariance of backtest residuals; about "
        "doubles the cost (a backtest of every series one season earlier, plus the few "
        "aggregate series). Lowered sku-level WAPE by 2-6 % on six generated worlds "
        "(docs/benchmarks.md, docs/forecasting.md).")

    @field_validator("levels")
    @classmethod
    def _levels_increasing(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not (0 < v[0] < v[1] < 100):
            raise ValueError(f"levels must be increasing and within (0, 100), got {v}")
        return v

    @field_validator("cleaning_window")
    @classmethod
    def _odd_window(cls, v: int) -> int:
        if v % 2 == 0:
            raise ValueError(f"cleaning_window must be odd, got {v}")
        return v
