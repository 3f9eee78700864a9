"""The what-if scenario file: typed actions a planner writes (YAML or JSON), checked on their own.

What the actions mean and how they change the input tables is `reconciliation.scenario`; checks
against the data (unknown sku, outside the horizon) are there too. Here: shape, months, ranges.
"""

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from data_contracts.month import is_month
from data_contracts.periods import add_months, months_between

SCENARIO_TEAM = "what-if"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def _month(value: str) -> str:
    if not is_month(value):
        raise ValueError(f"{value!r} is not a month in YYYY-MM form")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PeriodRange(_Strict):
    """A closed range of months; `to_period` defaults to `from_period`."""

    from_period: str = Field(..., description="First month, YYYY-MM")
    to_period: str | None = Field(None, description="Last month (inclusive), YYYY-MM")

    _check_from = field_validator("from_period")(_month)

    @field_validator("to_period")
    @classmethod
    def _check_to(cls, v: str | None) -> str | None:
        return None if v is None else _month(v)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.to_period is not None and self.to_period < self.from_period:
            raise ValueError(f"to_period {self.to_period} is before from_period {self.from_period}")
        return self

    @property
    def last(self) -> str:
        return self.to_period or self.from_period

    def months(self) -> list[str]:
        return [add_months(self.from_period, i)
                for i in range(months_between(self.from_period, self.last) + 1)]


class PromotionChange(_Strict):
    """Add a promotion, change one (same promo_id, sku, location) or cancel it.

    `family` instead of `sku` promotes every SKU of the family sold or stocked at the location
    (one promotions row per SKU, same promo_id).
    """

    promo_id: str = Field(..., min_length=1)
    sku: str | None = Field(None, min_length=1)
    family: str | None = Field(None, min_length=1)
    location: str = Field(..., min_length=1)
    start_period: str | None = None
    end_period: str | None = None
    uplift_pct: float | None = Field(None, ge=0, le=1000, description="Percent over baseline")
    cancel: bool = Field(False, description="Remove this existing promotion")

    @field_validator("start_period", "end_period")
    @classmethod
    def _months(cls, v: str | None) -> str | None:
        return None if v is None else _month(v)

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if (self.sku is None) == (self.family is None):
            raise ValueError("give either sku or family")
        if self.cancel:
            return self
        if self.start_period and self.end_period and self.end_period < self.start_period:
            raise ValueError(
                f"end_period {self.end_period} is before start_period {self.start_period}")
        return self


class SalesScaling(PeriodRange):
    """Multiply sales numbers of a family and/or a team over a period range."""

    family: str | None = Field(None, min_length=1)
    submitted_by: str | None = Field(None, min_length=1, description="Sales team")
    location: str | None = Field(None, min_length=1, description="Only this warehouse")
    sku: str | None = Field(None, min_length=1, description="Only this SKU")
    factor: float = Field(..., ge=0, le=100, description="2 doubles the sales numbers")

    @model_validator(mode="after")
    def _selects(self) -> Self:
        if not (self.family or self.submitted_by or self.sku):
            raise ValueError("name a family, a submitted_by team or a sku to scale")
        return self


class LaunchSales(_Strict):
    location: str = Field(..., min_length=1)
    period: str
    qty: float = Field(..., ge=0)

    _check_period = field_validator("period")(_month)


class Launch(_Strict):
    """A new SKU in an existing family, with its sales numbers per location x month."""

    sku: str = Field(..., min_length=1)
    family: str = Field(..., min_length=1)
    units_per_pallet: float = Field(..., gt=0)
    lead_time_months: int = Field(..., ge=0, le=36)
    unit_cost: float = Field(..., ge=0)
    safety_stock_units: float = Field(0.0, ge=0)
    min_order_qty: float = Field(0.0, ge=0)
    submitted_by: str = Field(SCENARIO_TEAM, min_length=1)
    sales: list[LaunchSales] = Field(..., min_length=1)


class CapacityChange(PeriodRange):
    """Extra shift (+% inbound and outbound) and/or temporary storage at a location."""

    location: str = Field(..., min_length=1)
    extra_shift_pct: float = Field(
        0.0, ge=0, le=500, description="Percent more inbound pallets and outbound units")
    extra_storage_pallets: float = Field(0.0, ge=0, description="Temporary storage, pallets")

    @model_validator(mode="after")
    def _changes(self) -> Self:
        if self.extra_shift_pct == 0 and self.extra_storage_pallets == 0:
            raise ValueError("give extra_shift_pct and/or extra_storage_pallets")
        return self


class Scenario(_Strict):
    """A what-if scenario file (YAML or JSON)."""

    name: str | None = Field(None, pattern=NAME_PATTERN,
                             description="Folder name of the stored scenario")
    description: str = ""
    demand: Literal["consensus", "as_submitted"] = Field(
        "consensus",
        description="consensus: the S&OP policy weighs changed sales numbers as usual; "
        "as_submitted: take them as decided",
    )
    promotions: list[PromotionChange] = Field(default_factory=list)
    scale_sales: list[SalesScaling] = Field(default_factory=list)
    launches: list[Launch] = Field(default_factory=list)
    capacity: list[CapacityChange] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not (self.promotions or self.scale_sales or self.launches or self.capacity):
            raise ValueError(
                "the scenario changes nothing: give promotions, scale_sales, launches or capacity")
        return self
