"""Business time: opening hours, split shifts, holidays and time zones. Pure: no Flask, no database.

A calendar turns into a sorted list of open intervals in UTC (microseconds since the
epoch) with the running total of open time before each one. Then

* ``elapsed(a, b)`` is the difference of two running totals, and
* ``add(t, d)`` finds, by bisection, the interval where the running total reaches
  ``total(t) + d``,

so adding 400 hours costs what adding 4 costs: no walking day by day. Intervals are
built one calendar year at a time, on demand, and kept.

Business time is real elapsed time while open: intervals are real instants, so across
a daylight-saving change a 2-hour promise is 2 real hours. Intervals are half-open,
``[opens, closes)``: a deadline that lands exactly on closing time stays there, and
going back lands on the opening instant.
"""
from __future__ import annotations

import re
import threading
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["BusinessCalendar", "CalendarError", "parse_hours"]


def N_(message: str) -> str:
    """Marks a message for translation where it is shown."""
    return message


class CalendarError(ValueError):
    """A calendar or an instant the rules refuse; `message` is a gettext id with `params`."""

    def __init__(self, message: str, **params):
        super().__init__(message % params if params else message)
        self.message, self.params = message, params

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
_MAX_YEARS_WITHOUT_OPENING = 10
_MIN_YEAR, _MAX_YEAR = 1900, 2200

Hours = Mapping[int, Iterable[tuple[str, str]]]


def _minutes(text: str, weekday: int) -> int:
    match = _HHMM.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise CalendarError(N_("weekday %(day)s: %(text)s is not a time like 09:00"), day=weekday, text=text)
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours == 24 and minutes:
        raise CalendarError(N_("weekday %(day)s: %(text)s is past midnight; use 24:00 to close at midnight"), day=weekday,
                            text=text)
    return hours * 60 + minutes


def parse_hours(hours: Hours) -> dict[int, tuple[tuple[int, int], ...]]:
    """Validate opening hours: {weekday 0=Monday: [("09:00", "14:00"), ...]} → minutes.

    Raises CalendarError (a ValueError) naming the weekday and the problem: an unknown weekday, a
    malformed time, an end not after its start, or intervals that overlap.
    """
    if not isinstance(hours, Mapping):
        raise CalendarError(N_("opening hours must map weekdays (0=Monday … 6=Sunday) to intervals"))
    parsed: dict[int, tuple[tuple[int, int], ...]] = {}
    for key, intervals in hours.items():
        try:
            weekday = int(key)
        except (TypeError, ValueError):
            raise CalendarError(N_("unknown weekday %(day)s: use 0 (Monday) to 6 (Sunday)"), day=key) from None
        if not 0 <= weekday <= 6 or str(key).strip() not in {str(weekday)}:
            raise CalendarError(N_("unknown weekday %(day)s: use 0 (Monday) to 6 (Sunday)"), day=key)
        if weekday in parsed:
            raise CalendarError(N_("weekday %(day)s appears twice"), day=weekday)
        spans = []
        for interval in intervals or ():
            try:
                start_text, end_text = interval
            except (TypeError, ValueError):
                raise CalendarError(N_("weekday %(day)s: each interval is a (start, end) pair"), day=weekday) from None
            start, end = _minutes(start_text, weekday), _minutes(end_text, weekday)
            if start >= 24 * 60:
                raise CalendarError(N_("weekday %(day)s: an interval cannot start at 24:00"), day=weekday)
            if end <= start:
                raise CalendarError(N_("weekday %(day)s: %(start)s–%(end)s ends before it starts"), day=weekday,
                                    start=start_text, end=end_text)
            spans.append((start, end))
        spans.sort()
        for (_, previous_end), (next_start, _) in zip(spans, spans[1:], strict=False):
            if next_start < previous_end:
                raise CalendarError(N_("weekday %(day)s: intervals overlap"), day=weekday)
        parsed[weekday] = tuple(spans)
    if not any(parsed.values()):
        raise CalendarError(N_("the calendar has no open hours at all"))
    return parsed


def _to_micros(instant: datetime) -> int:
    delta = instant - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _require_aware(instant: datetime, name: str) -> None:
    if not isinstance(instant, datetime):
        raise CalendarError(N_("%(name)s must be a datetime"), name=name)
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise CalendarError(N_("%(name)s is a naive datetime; give it a time zone"), name=name)


class BusinessCalendar:
    """Opening hours in a time zone, minus public holidays and the business's own closures."""

    def __init__(self, timezone: str, hours: Hours, holidays: Iterable[date] = (),
                 country: str | None = None, subdivision: str | None = None):
        try:
            self.zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise CalendarError(N_("unknown time zone %(zone)s"), zone=timezone) from None
        self.timezone = timezone
        self.hours = parse_hours(hours)
        closures = set()
        for day in holidays:
            if isinstance(day, datetime) or not isinstance(day, date):
                raise CalendarError(N_("closure %(day)s is not a date"), day=day)
            closures.add(day)
        self.closures = frozenset(closures)
        self.country, self.subdivision = country, subdivision
        self._public = None
        if country:
            import holidays as holiday_data

            try:
                self._public = holiday_data.country_holidays(country, subdiv=subdivision)
            except NotImplementedError:
                raise CalendarError(N_("no public holidays known for country %(country)s, region %(region)s"),
                                    country=country, region=subdivision or "—") from None
        # Built on demand, one calendar year at a time: parallel lists of interval
        # starts, ends and the open microseconds before each interval.
        self._first_year: int | None = None
        self._last_year: int | None = None
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._before: list[int] = []
        # One calendar is shared by every request of a process; building intervals
        # on demand must not interleave between threads.
        self._lock = threading.Lock()

    # --- public API ---------------------------------------------------------------

    def is_holiday(self, day: date) -> bool:
        return day in self.closures or (self._public is not None and day in self._public)

    def is_open(self, at: datetime) -> bool:
        with self._lock:
            return self._is_open(at)

    def _is_open(self, at: datetime) -> bool:
        _require_aware(at, "at")
        t = _to_micros(at)
        self._cover(t)
        i = bisect_right(self._starts, t) - 1
        return i >= 0 and t < self._ends[i]

    def next_open(self, at: datetime) -> datetime:
        """`at` itself when open, else the instant the business next opens."""
        with self._lock:
            return self._next_open(at)

    def _next_open(self, at: datetime) -> datetime:
        _require_aware(at, "at")
        t = _to_micros(at)
        self._cover(t)
        i = bisect_right(self._starts, t) - 1
        if i >= 0 and t < self._ends[i]:
            return at
        while i + 1 >= len(self._starts):
            self._extend_forward()
        return _from_micros(self._starts[i + 1]).astimezone(at.tzinfo)

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time between two instants (negative when `end` comes first)."""
        with self._lock:
            return self._elapsed(start, end)

    def _elapsed(self, start: datetime, end: datetime) -> timedelta:
        _require_aware(start, "start")
        _require_aware(end, "end")
        a, b = _to_micros(start), _to_micros(end)
        self._cover(min(a, b))
        self._cover(max(a, b))
        return timedelta(microseconds=self._total(b) - self._total(a))

    def add(self, start: datetime, delta: timedelta) -> datetime:
        """The instant `delta` of business time after `start` (before it, when negative)."""
        with self._lock:
            return self._add(start, delta)

    def _add(self, start: datetime, delta: timedelta) -> datetime:
        _require_aware(start, "start")
        if not isinstance(delta, timedelta):
            raise CalendarError(N_("delta must be a timedelta"))
        t = _to_micros(start)
        self._cover(t)
        step = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        if step == 0:
            return start
        target = self._total(t) + step
        if step > 0:
            while target > self._open_total():
                self._extend_forward()
            # The first interval whose running total at its end reaches the target:
            # landing exactly on a closing time stays there.
            i = self._first_reaching(target)
        else:
            while target < 0:
                self._extend_backward()
                target = self._total(t) + step
            # The last interval whose running total at its start is below the target,
            # or equal to it: going back lands on an opening time, never a closing one.
            i = bisect_right(self._before, target) - 1
        return _from_micros(self._starts[i] + target - self._before[i]).astimezone(start.tzinfo)

    def is_open_day(self, day: date) -> bool:
        """Whether the business opens at all on this local date."""
        return bool(self.hours.get(day.weekday())) and not self.is_holiday(day)

    def after_open_days(self, start: datetime, days: int) -> datetime:
        """The same local clock time on the `days`-th day the business opens after
        `start`'s date, moved on to the next opening when it is closed then.

        "Two business days after a Friday-evening contact" is Tuesday (Monday being
        the first), and a message due then goes out within opening hours.
        """
        _require_aware(start, "start")
        if not isinstance(days, int) or isinstance(days, bool) or days < 0:
            raise CalendarError(N_("days must be a whole number of days, zero or more"))
        local = start.astimezone(self.zone)
        day = local.date()
        found, looked = 0, 0
        while found < days:
            day += timedelta(days=1)
            looked += 1
            if self.is_open_day(day):
                found, looked = found + 1, 0
            elif looked > 366:
                # A whole year without an open day: the calendar never opens.
                raise CalendarError(N_("the calendar never opens"))
        wall = datetime.combine(day, local.time().replace(tzinfo=None)).replace(tzinfo=self.zone)
        # A wall time skipped by a daylight-saving change resolves forward via UTC.
        return self.next_open(wall.astimezone(timezone.utc)).astimezone(start.tzinfo)

    # --- internals ----------------------------------------------------------------

    def _total(self, t: int) -> int:
        """Open microseconds from the start of the built range up to instant `t`."""
        i = bisect_right(self._starts, t) - 1
        if i < 0:
            return 0
        return self._before[i] + min(t, self._ends[i]) - self._starts[i]

    def _first_reaching(self, target: int) -> int:
        lo, hi = 0, len(self._starts)
        before, starts, ends = self._before, self._starts, self._ends
        while lo < hi:
            mid = (lo + hi) // 2
            if before[mid] + ends[mid] - starts[mid] < target:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def _cover(self, t: int) -> None:
        """Build intervals so that instant `t` lies well inside the built range."""
        year = _from_micros(t).year
        if not _MIN_YEAR <= year <= _MAX_YEAR:
            raise CalendarError(N_("%(year)s is outside the years this calendar handles"), year=year)
        if self._first_year is None:
            self._build(year - 1, year + 1)
            return
        while year - 1 < self._first_year:
            self._extend_backward()
        while year + 1 > self._last_year:
            self._extend_forward()

    def _open_total(self) -> int:
        """Open microseconds in the built range (the interval count can stay the same
        when a new year only extends a run that is open across midnight)."""
        return self._before[-1] + self._ends[-1] - self._starts[-1] if self._starts else 0

    def _extend_forward(self) -> None:
        for _ in range(_MAX_YEARS_WITHOUT_OPENING):
            total = self._open_total()
            self._build(self._first_year, self._last_year + 1)
            if self._open_total() > total:
                return
        raise CalendarError(N_("the calendar has no opening for years ahead: every open day is a holiday"))

    def _extend_backward(self) -> None:
        for _ in range(_MAX_YEARS_WITHOUT_OPENING):
            total = self._open_total()
            self._build(self._first_year - 1, self._last_year)
            if self._open_total() > total:
                return
        raise CalendarError(N_("the calendar has no opening for years back: every open day is a holiday"))

    def _build(self, first_year: int, last_year: int) -> None:
        if not (_MIN_YEAR - 1 <= first_year and last_year <= _MAX_YEAR + 1):
            raise CalendarError(N_("%(year)s is outside the years this calendar handles"), year=first_year)
        spans: list[tuple[int, int]] = []
        day, stop = date(first_year, 1, 1), date(last_year + 1, 1, 1)
        one_day = timedelta(days=1)
        while day < stop:
            opening = self.hours.get(day.weekday())
            if opening and not self.is_holiday(day):
                for start, end in opening:
                    spans.append((self._local_micros(day, start), self._local_micros(day, end)))
            day += one_day
        starts, ends, before, total = [], [], [], 0
        for start, end in spans:
            if end <= start:
                continue  # a shift swallowed by a daylight-saving jump
            if ends and start <= ends[-1]:  # contiguous across midnight: one interval
                total += max(0, end - ends[-1])
                ends[-1] = max(ends[-1], end)
                continue
            starts.append(start)
            ends.append(end)
            before.append(total)
            total += end - start
        self._starts, self._ends, self._before = starts, ends, before
        self._first_year, self._last_year = first_year, last_year

    def _local_micros(self, day: date, minutes: int) -> int:
        """The real instant of a wall-clock time (`minutes` after local midnight; 1440 is 24:00).

        Aware arithmetic with one tzinfo is wall-clock arithmetic; the subtraction in
        `_to_micros` then applies that moment's UTC offset. A time inside a spring-forward
        gap takes the offset from before the jump, as the law of most countries reads it.
        """
        return _to_micros(datetime.combine(day, time(), tzinfo=self.zone) + timedelta(minutes=minutes))

    def __repr__(self) -> str:
        return f"BusinessCalendar({self.timezone!r}, country={self.country!r}, subdivision={self.subdivision!r})"
