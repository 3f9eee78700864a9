"""PlanSettings: every knob of the consensus policy and the capacity plan, with defaults."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class PlanSettings(BaseModel):
    """Settings of `build_plan`; every field has a default so `PlanSettings()` is a working plan."""

    model_config = ConfigDict(extra="forbid")

    # --- consensus policy: how far to move from the baseline toward the sales number ---------
    prior_weight_up: float = Field(
        default=0.35, ge=0, le=1,
        description="Prior share of an upward sales adjustment that is kept when a team has little "
        "track record (Fildes et al. 2009: upward adjustments add little accuracy).",
    )
    prior_weight_down: float = Field(
        default=0.75, ge=0, le=1,
        description="Prior share of a downward sales adjustment that is kept (downward adjustments "
        "are usually informed and improve accuracy).",
    )
    small_adjustment_pct: float = Field(
        default=10.0, ge=0,
        description="Adjustments smaller than this % of the reference count as 'small'; small "
        "adjustments get a lower prior (large adjustments are the useful ones).",
    )
    small_adjustment_prior_factor: float = Field(
        default=0.6, ge=0, le=1,
        description="Multiplier on the prior weight for small adjustments.",
    )
    prior_strength: float = Field(
        default=24.0, gt=0,
        description="Pseudo-observations behind the prior: the weight is "
        "(n*fitted + prior_strength*prior)/(n + prior_strength): evidence takes over as n grows.",
    )
    trust_reference_months: int = Field(
        default=12, ge=1, le=36,
        description="Months of history before a past cycle averaged into the reference level that "
        "past sales submissions are judged against.",
    )
    trust_min_actual_months: int = Field(
        default=3, ge=1,
        description="A past submission is used only when the series had at least this many months "
        "of history before that cycle (otherwise no reference can be computed).",
    )
    new_item_sales_weight: float = Field(
        default=0.8, ge=0, le=1,
        description="Share of the sales number kept for new items (status 'new' or demand_class "
        "'new'): their baseline is a cold start, so the sales number carries most information.",
    )
    # --- plausibility ------------------------------------------------------------------------
    promo_plausibility_factor: float = Field(
        default=1.5, ge=1,
        description="A planned uplift is implausible above factor x the best uplift past "
        "promotions of the SKU (or family) delivered, plus promo_plausibility_margin_pct.",
    )
    promo_plausibility_margin_pct: float = Field(
        default=10.0, ge=0, description="Absolute slack in percentage points for the promo check."
    )
    promo_reference_months: int = Field(
        default=6, ge=1,
        description="Non-promo months before a past promotion averaged as the level its realised "
        "uplift is measured against.",
    )
    # --- safety stock where products.safety_stock_units is empty (reconciliation/safety_stock.py)
    service_level: float = Field(
        default=0.95, gt=0.5, lt=1.0,
        description="Cycle service level the computed safety stocks aim at: the probability "
        "that stock lasts until the next order can land (lead time + one monthly review), "
        "judged against the baseline's own cross-validated cumulative error.",
    )
    service_level_by_family: dict[str, float] = Field(
        default_factory=dict,
        description="Service level per product family, overriding `service_level` there.",
    )
    safety_stock_prior_windows: float = Field(
        default=3.0, ge=0,
        description="Weight, in CV windows, of the pooled error estimate (over the series fitted "
        "with the same model set) against "
        "a series' own CV error (a few windows give a noisy error alone): the variance used "
        "is (w * own^2 + this * pooled^2) / (w + this), w the series' CV windows.",
    )
    # --- capacity plan -----------------------------------------------------------------------
    cut_rule: Literal["value", "units"] = Field(
        default="value",
        description="Which demand is cut first when capacity is short: 'value' cuts the cheapest "
        "units first (penalty per unit grows with unit_cost), 'units' maximises units served.",
    )
    holding_cost_rate: float = Field(
        default=0.02, ge=0,
        description="Monthly carrying cost as a fraction of unit_cost; with pallet_month_cost it "
        "ranks which SKUs are pre-built first (the cheapest to hold).",
    )
    pallet_month_cost: float = Field(
        default=1.0, ge=0,
        description="Warehouse cost of one pallet held for one month (same currency).",
    )
    default_overtime_cost_per_pallet: float = Field(
        default=0.0, ge=0,
        description="Overtime cost per pallet where warehouses.overtime_cost_per_pallet is empty.",
    )
    tier_ratio: float = Field(
        default=2.0, ge=1.5,
        description="How much each objective tier outweighs the worst case of the tier below "
        "(serve demand > safety stock > overtime > holding); larger = more strictly lexicographic.",
    )
    slack_penalty_factor: float = Field(
        default=100.0, ge=10,
        description="Penalty on capacity slack (only used when inputs make the plan infeasible, "
        "e.g. stock on hand above storage) relative to the largest unserved-demand penalty.",
    )
    solver_time_limit_s: float = Field(
        default=300.0, gt=0, description="Time limit for each location's LP."
    )
    moq_time_budget_s: float = Field(
        default=60.0, ge=0,
        description="Seconds for lot sizing's polish rounds over the whole plan, shared by the "
        "warehouses by size. Receipts are whole units, 0 or >= min_order_qty, within capacity "
        "either way; when the budget runs out a cut a further round could serve may remain, "
        "and the manifest's supply_plan says so (budget_exhausted, open_cuts).",
    )
    lot_polish_rounds: int = Field(
        default=8, ge=0,
        description="Most polish rounds per warehouse (serve cuts from stock kept to the horizon "
        "end, receive cuts whose lot still fits); rounds stop earlier once nothing changes.",
    )
    capacity_workers: int = Field(
        default=1, ge=1,
        description="Warehouses solved at the same time (threads; HiGHS releases the GIL). "
        "Each solve holds its own LP in memory (about 55 kB per SKU-location at 18 months), "
        "so memory grows with the number of workers; results do not depend on it.",
    )
    shortfall_tolerance_units: float = Field(
        default=1.0, ge=0,
        description="Cuts smaller than this many units per SKU-month raise no exception and do "
        "not make a location-month `short` (a fraction of a unit is no decision for a meeting).",
    )
    tolerance: float = Field(
        default=1e-6, gt=0,
        description="Quantities below this are treated as zero when labelling rows.",
    )

    @field_validator("service_level_by_family")
    @classmethod
    def _levels_in_range(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {f: x for f, x in v.items() if not 0.5 < x < 1.0}
        if bad:
            raise ValueError(f"service levels must lie in (0.5, 1), got {bad}")
        return v
