"""The monthly schedule as Prefect's scheduler evaluates it: first working day, holidays skipped."""

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest

from flows.deploy import MONTHLY, build_deployments, first_working_day_schedules
from flows.schedule import HolidayCalendar, first_working_day


def _fired(timezone: str, holidays: str, start: datetime, end: datetime,
           deployed_in: int | None = 2026) -> list[datetime]:
    """The dates the server's scheduler derives from the schedule deployed in `deployed_in`
    (None: this year, through the monthly deployment)."""
    from prefect.server.schemas.schedules import RRuleSchedule

    if deployed_in is None:
        monthly = next(d for d in build_deployments(timezone=timezone, holidays=holidays)
                       if d.full_name == MONTHLY)
        rrule = monthly.schedules[0].schedule.rrule
    else:
        [schedule] = first_working_day_schedules(timezone, holidays=holidays,
                                                 start_year=deployed_in)
        rrule = schedule.rrule
    server_side = RRuleSchedule(rrule=rrule, timezone=timezone)
    return list(asyncio.run(server_side.get_dates(n=1000, start=start, end=end)))


def _assert_first_working_days(fired: list[datetime], days_off: set[date]) -> None:
    months = [(d.year, d.month) for d in fired]
    assert len(months) == len(set(months)), "more than one run in a month"
    for d in fired:
        assert d.hour == 6 and d.minute == 0
        assert d.weekday() < 5 and d.date() not in days_off
        earlier = [date(d.year, d.month, day) for day in range(1, d.day)]
        assert all(day.weekday() >= 5 or day in days_off for day in earlier), d


def test_weekends_only_fires_on_each_months_first_weekday() -> None:
    this_year = datetime.now(UTC).year
    start = datetime(this_year + 1, 1, 1, tzinfo=UTC)
    fired = _fired("UTC", "", start, datetime(this_year + 2, 12, 31, tzinfo=UTC), None)
    assert len(fired) == 24
    _assert_first_working_days(fired, set())


@pytest.mark.parametrize("timezone", ["UTC", "Europe/Paris", "Asia/Tokyo"])
def test_french_holidays_move_the_run_to_the_next_working_day(timezone: str) -> None:
    from zoneinfo import ZoneInfo

    import holidays

    start = datetime(2026, 12, 15, tzinfo=UTC)
    fired = _fired(timezone, "FR", start, datetime(2028, 12, 31, tzinfo=UTC))
    local = [d.astimezone(ZoneInfo(timezone)) for d in fired]
    days = [d.date() for d in local]
    assert date(2027, 1, 1) not in days  # New Year's Day, a Friday
    assert days[0] == date(2027, 1, 4)  # the Monday after
    assert date(2027, 11, 2) in days  # All Saints' Day, Monday 1 November
    assert len(days) == 24
    _assert_first_working_days(local, set(holidays.country_holidays("FR", years=[2027, 2028])))


def test_explicit_dates_and_a_country_add_up() -> None:
    start = datetime(2026, 12, 15, tzinfo=UTC)
    fired = _fired("UTC", "FR, 2027-01-04,2027-02-01", start, datetime(2027, 3, 31, tzinfo=UTC))
    assert [d.date() for d in fired] == [date(2027, 1, 5), date(2027, 2, 2), date(2027, 3, 1)]


def test_explicit_dates_without_a_country_need_no_package() -> None:
    start = datetime(2026, 12, 15, tzinfo=UTC)
    fired = _fired("UTC", "2027-01-01", start, datetime(2027, 2, 28, tzinfo=UTC))
    assert [d.date() for d in fired] == [date(2027, 1, 4), date(2027, 2, 1)]


def test_past_the_holiday_years_the_rule_still_fires_monthly() -> None:
    """Holidays are resolved for ten years; later months fall back to the first weekday."""
    start = datetime(2036, 1, 1, tzinfo=UTC)
    fired = _fired("UTC", "FR", start, start + timedelta(days=365))
    assert len(fired) == 12
    _assert_first_working_days(fired, set())


@pytest.mark.parametrize(("spec", "message"), [
    ("France", "neither a date"),
    ("2027-02-30", "not a calendar date"),
    ("XX", "'XX': Country XX not available"),
    ("FR-ZZ", "'FR-ZZ'.*subdivision ZZ"),
])
def test_a_bad_holiday_setting_says_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"SOP_HOLIDAYS: .*{message}"):
        build_deployments(timezone="UTC", holidays=spec)


def test_sop_holidays_reaches_the_deployment(monkeypatch) -> None:
    monkeypatch.setenv("SOP_HOLIDAYS", "2027-01-01")
    monthly = next(d for d in build_deployments(timezone="UTC") if d.full_name == MONTHLY)
    assert "EXDATE:20270101T060000" in monthly.schedules[0].schedule.rrule
    assert HolidayCalendar.parse("fr,2027-01-01") == HolidayCalendar(
        ("FR",), frozenset({date(2027, 1, 1)}))


def test_an_explicit_date_years_ahead_counts_in_its_own_month_only() -> None:
    fired = _fired("UTC", "2040-01-02", datetime(2039, 12, 15, tzinfo=UTC),
                   datetime(2040, 2, 28, tzinfo=UTC))
    assert [d.date() for d in fired] == [date(2040, 1, 3), date(2040, 2, 1)]


def test_a_schedule_prefect_would_refuse_is_refused_here() -> None:
    every_first_weekday = ",".join(
        str(first_working_day(y, m)) for y in range(2026, 2100) for m in range(1, 13))
    with pytest.raises(ValueError, match=r"SOP_HOLIDAYS: .*longer than Prefect accepts"):
        first_working_day_schedules("UTC", holidays=every_first_weekday, start_year=2026)

