"""crm.sla.BusinessCalendar: shared vectors, properties, and the cases people hit."""
import json
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, reject, settings
from hypothesis import strategies as st

from crm.sla import BusinessCalendar, CalendarError

MADRID = ZoneInfo("Europe/Madrid")
# The shared cases live in ../shared beside the checkout; a copy in tests/data keeps them
# running where that folder is absent (a clone elsewhere). The shared file wins when present.
SHARED_VECTORS = Path(__file__).resolve().parents[3] / "shared" / "sla-vectors.json"
VECTORS = SHARED_VECTORS if SHARED_VECTORS.exists() else Path(__file__).resolve().parents[1] / "data" / "sla-vectors.json"
WEEKDAYS_SPLIT = {d: [("09:00", "14:00"), ("16:00", "19:00")] for d in range(5)}


def madrid(*args):
    return datetime(*args, tzinfo=MADRID)


def real_time(a, b):
    # Subtracting two datetimes that share a tzinfo gives wall-clock time; compare in UTC.
    return b.astimezone(timezone.utc) - a.astimezone(timezone.utc)


# --- the shared vectors ------------------------------------------------------------

def load_vectors():
    return json.loads(VECTORS.read_text())


VECTOR_DATA = load_vectors()


def vector_calendar(name):
    spec = VECTOR_DATA["calendars"][name]
    return BusinessCalendar(timezone=spec["timezone"], hours={int(k): v for k, v in spec["hours"].items()},
                            holidays=[date.fromisoformat(d) for d in spec.get("holidays", [])],
                            country=spec.get("country"), subdivision=spec.get("subdivision"))


def test_the_vectors_are_there_and_the_copy_is_current():
    assert VECTOR_DATA["add"] and VECTOR_DATA["elapsed"]
    if SHARED_VECTORS.exists():  # keep tests/data in step with the shared file
        copy = Path(__file__).resolve().parents[1] / "data" / "sla-vectors.json"
        assert json.loads(copy.read_text()) == json.loads(SHARED_VECTORS.read_text()), \
            "refresh tests/data/sla-vectors.json from ../shared"


@pytest.mark.parametrize("case", VECTOR_DATA["add"], ids=lambda c: f"{c['calendar']}:{c['start']}{c['delta_seconds']:+}")
def test_vector_add(case):
    result = vector_calendar(case["calendar"]).add(datetime.fromisoformat(case["start"]),
                                                   timedelta(seconds=case["delta_seconds"]))
    assert result == datetime.fromisoformat(case["expect"])


@pytest.mark.parametrize("case", VECTOR_DATA["elapsed"], ids=lambda c: f"{c['calendar']}:{c['start']}→{c['end']}")
def test_vector_elapsed(case):
    result = vector_calendar(case["calendar"]).elapsed(datetime.fromisoformat(case["start"]),
                                                       datetime.fromisoformat(case["end"]))
    assert result == timedelta(seconds=case["expect_seconds"])


if VECTOR_DATA["next_open"]:  # the file has none yet; a test per case as soon as it does
    @pytest.mark.parametrize("case", VECTOR_DATA["next_open"], ids=lambda c: f"{c['calendar']}:{c['at']}")
    def test_vector_next_open(case):
        result = vector_calendar(case["calendar"]).next_open(datetime.fromisoformat(case["at"]))
        assert result == datetime.fromisoformat(case["expect"])


# --- the cases a business meets ------------------------------------------------------

class TestSplitShiftsAndHolidays:
    cal = BusinessCalendar("Europe/Madrid", WEEKDAYS_SPLIT, holidays=[date(2026, 12, 24)],
                           country="ES", subdivision="MD")

    def test_lunch_break_does_not_count(self):
        assert self.cal.add(madrid(2026, 11, 23, 13, 0), timedelta(hours=2)) == madrid(2026, 11, 23, 17, 0)
        assert self.cal.elapsed(madrid(2026, 11, 23, 13, 0), madrid(2026, 11, 23, 17, 0)) == timedelta(hours=2)

    def test_weekend_and_night_skipped(self):
        # Friday 18:00 + 4h: 1h on Friday, then Monday 09:00 + 3h.
        assert self.cal.add(madrid(2026, 11, 27, 18, 0), timedelta(hours=4)) == madrid(2026, 11, 30, 12, 0)

    def test_public_and_own_holidays_are_closed(self):
        # 1 May 2026 (Friday) is Labour Day; 2 May is Madrid's own day (a Saturday).
        assert self.cal.add(madrid(2026, 4, 30, 18, 0), timedelta(hours=2)) == madrid(2026, 5, 4, 10, 0)
        # 24 December is the shop's own closure; 25 December a public holiday.
        assert not self.cal.is_open(madrid(2026, 12, 24, 10, 0))
        assert self.cal.next_open(madrid(2026, 12, 23, 20, 0)) == madrid(2026, 12, 28, 9, 0)
        assert self.cal.is_holiday(date(2026, 12, 25)) and not self.cal.is_holiday(date(2026, 12, 22))

    def test_deadline_on_closing_time_stays_there(self):
        assert self.cal.add(madrid(2026, 11, 23, 18, 0), timedelta(hours=1)) == madrid(2026, 11, 23, 19, 0)
        assert self.cal.add(madrid(2026, 11, 23, 12, 0), timedelta(hours=2)) == madrid(2026, 11, 23, 14, 0)

    def test_going_back_lands_on_opening_time(self):
        assert self.cal.add(madrid(2026, 11, 23, 17, 0), timedelta(hours=-1)) == madrid(2026, 11, 23, 16, 0)
        assert self.cal.add(madrid(2026, 11, 23, 10, 0), timedelta(hours=-2)) == madrid(2026, 11, 20, 18, 0)

    def test_open_and_next_open(self):
        assert self.cal.is_open(madrid(2026, 11, 23, 9, 0)) and not self.cal.is_open(madrid(2026, 11, 23, 14, 0))
        assert self.cal.next_open(madrid(2026, 11, 23, 14, 30)) == madrid(2026, 11, 23, 16, 0)
        at = madrid(2026, 11, 23, 10, 0)
        assert self.cal.next_open(at) is at

    def test_aware_in_aware_out_in_the_callers_zone(self):
        start = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)  # 13:00 in Madrid
        result = self.cal.add(start, timedelta(hours=2))
        assert result.tzinfo is timezone.utc and result == madrid(2026, 11, 23, 17, 0)

    def test_four_hundred_hours(self):
        start = madrid(2026, 1, 5, 9, 0)
        end = self.cal.add(start, timedelta(hours=400))
        assert self.cal.elapsed(start, end) == timedelta(hours=400)
        assert end.year == 2026 and end.month == 3


class TestDaylightSaving:
    always = BusinessCalendar("Europe/Madrid", {d: [("00:00", "24:00")] for d in range(7)})
    shop = BusinessCalendar("Europe/Madrid", {d: [("09:00", "19:00")] for d in range(7)})

    def test_a_two_hour_promise_is_two_real_hours(self):
        # 29 March 2026: clocks jump from 02:00 to 03:00 in Madrid.
        start = madrid(2026, 3, 29, 1, 0)
        result = self.always.add(start, timedelta(hours=2))
        assert real_time(start, result) == timedelta(hours=2)
        assert result.astimezone(MADRID).hour == 4  # 01:00 + 2 real hours, past the missing 02:00–03:00
        # 25 October 2026: clocks go back from 03:00 to 02:00.
        start = madrid(2026, 10, 25, 1, 0)
        result = self.always.add(start, timedelta(hours=2))
        assert real_time(start, result) == timedelta(hours=2)
        assert result.astimezone(MADRID).hour == 2

    def test_opening_hours_follow_the_wall_clock(self):
        # Opening at 09:00 local is 08:00 UTC in winter and 07:00 UTC in summer.
        assert self.shop.next_open(madrid(2026, 3, 27, 20, 0)).astimezone(timezone.utc).hour == 8
        assert self.shop.next_open(madrid(2026, 3, 29, 6, 0)).astimezone(timezone.utc).hour == 7

    def test_midnight_closing_joins_the_next_day(self):
        night = BusinessCalendar("UTC", {0: [("20:00", "24:00")], 1: [("00:00", "02:00")]})
        start = datetime(2026, 11, 23, 23, 0, tzinfo=timezone.utc)
        assert night.add(start, timedelta(hours=2)) == datetime(2026, 11, 24, 1, 0, tzinfo=timezone.utc)
        assert night.is_open(datetime(2026, 11, 24, 0, 0, tzinfo=timezone.utc))


class TestBadInput:
    @pytest.mark.parametrize("hours, message", [
        ({0: [("10:00", "09:00")]}, "ends before it starts"),
        ({0: [("09:00", "09:00")]}, "ends before it starts"),
        ({0: [("09:00", "14:00"), ("13:00", "18:00")]}, "overlap"),
        ({7: [("09:00", "14:00")]}, "unknown weekday"),
        ({"monday": [("09:00", "14:00")]}, "unknown weekday"),
        ({0: [("9am", "14:00")]}, "not a time"),
        ({0: [("09:00", "24:30")]}, "24:00"),
        ({0: [("24:00", "24:00")]}, "cannot start at 24:00"),
        ({0: [("09:00",)]}, "pair"),
        ({}, "no open hours"),
        ({0: [], 6: []}, "no open hours"),
    ])
    def test_malformed_hours(self, hours, message):
        with pytest.raises(ValueError, match=message):
            BusinessCalendar("UTC", hours)

    def test_naive_datetimes(self):
        cal = BusinessCalendar("UTC", {0: [("09:00", "17:00")]})
        for call in (lambda: cal.add(datetime(2026, 1, 5, 9), timedelta(hours=1)),
                     lambda: cal.elapsed(datetime(2026, 1, 5, 9), datetime(2026, 1, 5, 10, tzinfo=timezone.utc)),
                     lambda: cal.is_open(datetime(2026, 1, 5, 9)),
                     lambda: cal.next_open(datetime(2026, 1, 5, 9))):
            with pytest.raises(ValueError, match="naive"):
                call()

    def test_unknown_zone_country_and_bad_closures(self):
        with pytest.raises(ValueError, match="time zone"):
            BusinessCalendar("Mars/Olympus", {0: [("09:00", "17:00")]})
        with pytest.raises(ValueError, match="public holidays"):
            BusinessCalendar("UTC", {0: [("09:00", "17:00")]}, country="XX")
        with pytest.raises(ValueError, match="not a date"):
            BusinessCalendar("UTC", {0: [("09:00", "17:00")]}, holidays=["2026-12-24"])

    def test_a_calendar_closed_forever_fails_instead_of_looping(self):
        monday_only = BusinessCalendar("UTC", {0: [("09:00", "17:00")]},
                                       holidays=[date(2026, 1, 5) + timedelta(weeks=w) for w in range(700)])
        with pytest.raises(ValueError, match="no opening"):
            monday_only.add(datetime(2026, 1, 5, 9, tzinfo=timezone.utc), timedelta(hours=1))


# --- properties ------------------------------------------------------------------------

@st.composite
def calendars(draw):
    """Random valid calendars: up to three shifts a day, random zone, some closures."""
    hours = {}
    for weekday in range(7):
        cuts = sorted(draw(st.sets(st.integers(0, 96), max_size=6)))
        spans = [(a * 15, b * 15) for a, b in zip(cuts[::2], cuts[1::2], strict=False) if b > a]
        hours[weekday] = [(f"{a // 60:02d}:{a % 60:02d}", f"{b // 60:02d}:{b % 60:02d}") for a, b in spans]
    assume(any(hours.values()))
    zone = draw(st.sampled_from(["UTC", "Europe/Madrid", "America/Mexico_City", "America/Los_Angeles",
                                 "Australia/Lord_Howe"]))
    closures = draw(st.lists(st.dates(date(2025, 1, 1), date(2027, 12, 31)), max_size=20))
    return BusinessCalendar(zone, hours, holidays=closures)


instants = st.datetimes(datetime(2025, 1, 1), datetime(2027, 12, 31), timezones=st.just(timezone.utc))
deltas = st.timedeltas(timedelta(0), timedelta(hours=2000)).map(lambda d: timedelta(seconds=int(d.total_seconds())))
PROPERTY = settings(max_examples=150, deadline=None)


def test_a_sparse_calendar_stops_at_the_years_it_handles():
    """Open a quarter of an hour on Mondays: 2,000 business hours are 153 years away, 4,000
    twice that."""
    sparse = BusinessCalendar("UTC", {0: [("09:00", "09:15")]})
    start = datetime(2025, 6, 2, 9, tzinfo=timezone.utc)
    for delta in (timedelta(hours=4000), timedelta(hours=-2000)):
        with pytest.raises(CalendarError, match="outside the years"):
            sparse.add(start, delta)
    assert sparse.add(start, timedelta(hours=-100)).year == 2017  # 400 Mondays back: still in range


@contextmanager
def supported_years():
    """A sparse calendar (open a quarter of an hour a week) reaches beyond the years a
    calendar handles (1900-2200) within 2,000 business hours of 2025: that answer is a
    CalendarError of its own (test_a_sparse_calendar_stops_at_the_years_it_handles), not
    a counterexample."""
    try:
        yield
    except CalendarError:
        reject()


def in_closed_period(cal, instant, forward):
    """Strictly inside a closed stretch: not open, and not the closing instant reached going forward."""
    if cal.is_open(instant):
        return False
    return not (forward and cal.is_open(instant - timedelta(microseconds=1)))


@PROPERTY
@given(calendars(), instants, deltas)
def test_elapsed_undoes_add(cal, t, d):
    with supported_years():
        assert cal.elapsed(t, cal.add(t, d)) == d
        assert cal.elapsed(cal.add(t, -d), t) == d


@PROPERTY
@given(calendars(), instants, deltas, deltas)
def test_add_is_additive(cal, t, a, b):
    with supported_years():
        assert cal.add(cal.add(t, a), b) == cal.add(t, a + b)
        assert cal.add(cal.add(t, -a), -b) == cal.add(t, -(a + b))


@PROPERTY
@given(calendars(), instants, deltas)
def test_add_and_negative_add_are_inverse(cal, t, d):
    with supported_years():
        assume(d > timedelta(0))
        assert cal.add(cal.add(t, d), -d) == cal.next_open(t)


@PROPERTY
@given(calendars(), instants, deltas)
def test_results_never_fall_inside_a_closed_period(cal, t, d):
    with supported_years():
        assume(d > timedelta(0))
        assert not in_closed_period(cal, cal.add(t, d), forward=True)
        assert not in_closed_period(cal, cal.add(t, -d), forward=False)


@PROPERTY
@given(calendars(), instants, instants)
def test_elapsed_is_antisymmetric_and_bounded_by_real_time(cal, a, b):
    with supported_years():
        assert cal.elapsed(a, b) == -cal.elapsed(b, a)
        assert abs(cal.elapsed(a, b)) <= abs(b - a)


class TestRoundTheClock:
    """Open all day, every day: intervals merge across midnight into one run."""

    always = BusinessCalendar("UTC", {d: [("00:00", "24:00")] for d in range(7)})

    def test_deadlines_in_later_years(self):
        start = datetime(2026, 6, 1, tzinfo=timezone.utc)
        assert self.always.add(start, timedelta(hours=4)) == start + timedelta(hours=4)
        later = datetime(2027, 6, 1, tzinfo=timezone.utc)
        assert self.always.add(later, timedelta(hours=4)) == later + timedelta(hours=4)
        assert self.always.add(later, timedelta(days=800)) == later + timedelta(days=800)
        assert self.always.add(later, timedelta(days=-800)) == later - timedelta(days=800)

    def test_elapsed_is_real_time(self):
        a, b = datetime(2025, 3, 1, tzinfo=timezone.utc), datetime(2028, 9, 1, tzinfo=timezone.utc)
        assert BusinessCalendar("UTC", {d: [("00:00", "24:00")] for d in range(7)}).elapsed(a, b) == b - a


# --- "N business days later", for follow-up messages ---------------------------------

class TestAfterOpenDays:
    cal = BusinessCalendar("Europe/Madrid", WEEKDAYS_SPLIT, country="ES", subdivision="VC")

    def test_same_clock_time_on_the_nth_open_day(self):
        # Friday 4 Dec 2026, 12:00: Monday 7 is the first open day, Tuesday 8 is a holiday.
        friday = madrid(2026, 12, 4, 12, 0)
        assert self.cal.after_open_days(friday, 1) == madrid(2026, 12, 7, 12, 0)
        assert self.cal.after_open_days(friday, 2) == madrid(2026, 12, 9, 12, 0)

    def test_a_closed_hour_moves_to_the_next_opening(self):
        # 15:00 falls in the lunch break; 20:30 after closing.
        assert self.cal.after_open_days(madrid(2026, 12, 9, 15, 0), 1) == madrid(2026, 12, 10, 16, 0)
        assert self.cal.after_open_days(madrid(2026, 12, 9, 20, 30), 1) == madrid(2026, 12, 11, 9, 0)

    def test_zero_days_is_the_next_open_instant(self):
        assert self.cal.after_open_days(madrid(2026, 12, 5, 10, 0), 0) == madrid(2026, 12, 7, 9, 0)
        assert self.cal.after_open_days(madrid(2026, 12, 9, 10, 0), 0) == madrid(2026, 12, 9, 10, 0)

    def test_christmas(self):
        # Thursday 24 Dec: 25 is a holiday, then the weekend.
        assert self.cal.after_open_days(madrid(2026, 12, 24, 10, 0), 1) == madrid(2026, 12, 28, 10, 0)

    def test_bad_input(self):
        for days in (-1, 1.5, True, "2"):
            with pytest.raises(CalendarError):
                self.cal.after_open_days(madrid(2026, 12, 9, 10, 0), days)
        # Open on Mondays only, and every Monday for two years is closed.
        mondays = [date(2026, 1, 5) + timedelta(weeks=n) for n in range(110)]
        never = BusinessCalendar("UTC", {0: [("09:00", "17:00")]}, holidays=mondays)
        with pytest.raises(CalendarError):
            never.after_open_days(datetime(2026, 1, 1, tzinfo=timezone.utc), 1)


@PROPERTY
@given(calendars(), instants, st.integers(min_value=0, max_value=30))
def test_after_open_days_lands_open_and_after_the_start(cal, t, days):
    due = cal.after_open_days(t, days)
    assert cal.is_open(due) and due >= t
    local_start, local_due = t.astimezone(cal.zone).date(), due.astimezone(cal.zone).date()
    # At least `days` open days lie after the start's date up to the due date.
    open_days = sum(cal.is_open_day(local_start + timedelta(days=n))
                    for n in range(1, (local_due - local_start).days + 1))
    assert open_days >= days
