"""The monthly schedule: the first working day of each month, weekends and holidays skipped.

Prefect's Cron cannot skip a holiday, so the schedule is one iCalendar rule set: the rule
"first Monday-to-Friday of the month", then, for the holiday years computed at deploy time,
EXDATE for each month whose first weekday is a holiday and RDATE for the working day that
replaces it. Past those years the rule still fires on the first weekday (redeploy to extend).
"""

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

# Prefect refuses longer rrule strings (prefect.client.schemas.schedules.MAX_RRULE_LENGTH),
# counting the DTSTART line it puts in front.
MAX_RRULE_LENGTH = 6500 - len("DTSTART:20200101T000000\n")
HOLIDAY_YEARS = 10
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COUNTRY = re.compile(r"^([A-Za-z]{2,3})(?:-([A-Za-z0-9]{1,5}))?$")


class HolidayCalendarError(ValueError):
    """SOP_HOLIDAYS (or --holidays) names no calendar we can build: wrong usage."""


@dataclass(frozen=True)
class HolidayCalendar:
    """Days off besides weekends: the public holidays of `countries` (`holidays` package
    codes, optionally with a subdivision as in `DE-BY`) and explicit `dates`."""

    countries: tuple[str, ...] = ()
    dates: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, spec: str | None) -> "HolidayCalendar":
        """Read SOP_HOLIDAYS: comma-separated country codes and ISO dates, e.g.
        `FR`, `DE-BY,2027-12-24` or `2027-01-01,2027-05-07`; empty = weekends only."""
        countries: list[str] = []
        dates: set[date] = set()
        for item in (part.strip() for part in (spec or "").split(",")):
            if not item:
                continue
            if _ISO_DATE.match(item):
                try:
                    dates.add(date.fromisoformat(item))
                except ValueError:
                    raise HolidayCalendarError(
                        f"SOP_HOLIDAYS: {item!r} is not a calendar date") from None
            elif _COUNTRY.match(item):
                countries.append(item.upper())
            else:
                raise HolidayCalendarError(
                    f"SOP_HOLIDAYS: {item!r} is neither a date (YYYY-MM-DD) nor a country "
                    "code of the `holidays` package (FR, DE-BY, …)")
        return cls(tuple(countries), frozenset(dates))

    def __bool__(self) -> bool:
        return bool(self.countries or self.dates)

    def days_off(self, years: Iterable[int]) -> set[date]:
        """Every holiday of `years` (explicit dates of other years included as given)."""
        off = set(self.dates)
        if self.countries:
            import holidays  # only when a country is configured: a large package

            years = list(years)
            for code in self.countries:
                country, _, subdiv = code.partition("-")
                try:
                    calendar = holidays.country_holidays(country, subdiv=subdiv or None,
                                                         years=years)
                except NotImplementedError as exc:
                    raise HolidayCalendarError(f"SOP_HOLIDAYS: {code!r}: {exc}") from None
                off |= set(calendar)
        return off


def first_working_day(year: int, month: int, days_off: Collection[date] = ()) -> date:
    """The first Monday-to-Friday of the month that is not in `days_off`."""
    day = date(year, month, 1)
    while day.weekday() >= 5 or day in days_off:
        day += timedelta(days=1)
    return day


def _stamp(day: date, hour: int) -> str:
    # Floating local time: Prefect gives the rule set the schedule's timezone.
    return f"{day:%Y%m%d}T{hour:02d}0000"


def first_working_day_rrule(calendar: HolidayCalendar, start_year: int,
                            years: int = HOLIDAY_YEARS, hour: int = 6) -> str:
    """The rule set firing at `hour`:00 on each month's first working day.

    Holidays count for `start_year` and the `years - 1` after it, and in the years of later
    explicit dates; other months fall back to the first weekday."""
    rule = (f"RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1;"
            f"BYHOUR={hour};BYMINUTE=0;BYSECOND=0")
    if not calendar:
        return rule
    span = sorted({*range(start_year, start_year + years),
                   *(d.year for d in calendar.dates if d.year >= start_year)})
    days_off = calendar.days_off(span)
    moved = [(first_working_day(y, m), first_working_day(y, m, days_off))
             for y in span for m in range(1, 13)]
    moved = [(weekday, working) for weekday, working in moved if weekday != working]
    lines = [rule]
    if moved:
        lines.append("EXDATE:" + ",".join(_stamp(weekday, hour) for weekday, _ in moved))
        lines.append("RDATE:" + ",".join(_stamp(working, hour) for _, working in moved))
    text = "\n".join(lines)
    if len(text) > MAX_RRULE_LENGTH:
        raise HolidayCalendarError(f"SOP_HOLIDAYS: the schedule for {span[0]}-{span[-1]} is longer "
                         f"than Prefect accepts ({len(text)} > {MAX_RRULE_LENGTH} characters); "
                         "list fewer explicit dates")
    return text
