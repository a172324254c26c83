"""Opening hours and closures as people type them, turned into what the calendar service takes.

The calendar service speaks {"0": [["09:00", "14:00"], ...]} and ISO dates; an admin
sees a grid of weekdays with two shifts each (a split shift is two) and a list of dates
written the Spanish way (24/12/2026) or as ISO.
"""
from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from zoneinfo import available_timezones

from babel import Locale
from babel.dates import get_day_names
from flask_babel import get_locale
from flask_babel import gettext as _
from wtforms import Field, TextAreaField
from wtforms.utils import unset_value

from crm.domain import ValidationFailed

SHIFTS_PER_DAY = 2
MAX_SHIFTS = 8
# <input type="time"> cannot hold 24:00: a shift that ends at 00:00 closes at midnight.
MIDNIGHT = "24:00"
_TIME = re.compile(r"^(\d{1,2})[:.h](\d{2})(?::\d{2})?$")
_DAY_FIRST = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_CLOSURE_LINES = 1000


def day_names(width: str = "wide", capitalised: bool = True) -> dict[int, str]:
    """Weekday names in the page's language, 0 = Monday; capitalised for a label, as the language
    writes them ("lunes", "Monday") inside a sentence."""
    names = get_day_names(width, locale=get_locale())
    return {day: names[day][:1].upper() + names[day][1:] if capitalised else names[day] for day in range(7)}


def _typed_time(text: str) -> str:
    """What a person typed, tidied: 9:00 → 09:00, 09:00:00 → 09:00; anything else is left for the service."""
    text = (text or "").strip()
    match = _TIME.match(text)
    return f"{int(match.group(1)):02d}:{match.group(2)}" if match else text


class WeeklyHoursField(Field):
    """Opening hours as a grid: for each weekday up to two shifts, each a start and an end.

    Inputs are named ``<name>-<day>-<shift>-start`` and ``-end``; ``data`` is the service's
    mapping with closed days left out. Half-filled shifts are refused here, everything else
    (a shift that ends before it starts, overlapping shifts, a malformed time) by the service.
    """

    def process(self, formdata, data=unset_value, extra_filters=None):
        self.process_errors = []
        if data is unset_value:
            data = self.default() if callable(self.default) else self.default
        self.object_data = data
        self.invalid_days: set[int] = set()  # the rows to mark when showing errors
        if formdata is not None:
            self.cells = {(day, shift): (_typed_time(formdata.get(self._input(day, shift, "start"), "")),
                                         _typed_time(formdata.get(self._input(day, shift, "end"), "")))
                          for day in range(7) for shift in range(MAX_SHIFTS)
                          if shift < SHIFTS_PER_DAY or self._input(day, shift, "start") in formdata}
        else:
            self.cells = self._cells_from(data or {})
        # Calendars written through the API may have more shifts a day: show them all, lose none.
        self.shift_count = max(shift for _, shift in self.cells) + 1
        self.data = self._hours()

    def _input(self, day: int, shift: int, edge: str) -> str:
        return f"{self.name}-{day}-{shift}-{edge}"

    @staticmethod
    def _cells_from(hours: dict) -> dict:
        cells = {(day, shift): ("", "") for day in range(7) for shift in range(SHIFTS_PER_DAY)}
        for day, spans in hours.items():
            for shift, (start, end) in enumerate(list(spans)[:MAX_SHIFTS]):
                cells[(int(day), shift)] = (start, "00:00" if end == MIDNIGHT else end)
        return cells

    def _hours(self) -> dict[str, list[list[str]]]:
        hours: dict[str, list[list[str]]] = {}
        names = None
        for day in range(7):
            spans = []
            for shift in range(self.shift_count):
                start, end = self.cells.get((day, shift), ("", ""))
                if not start and not end:
                    continue
                if not start or not end:
                    self.invalid_days.add(day)
                    names = names or day_names()
                    self.process_errors.append(
                        _("%(day)s: give both the start and the end of each shift.", day=names[day]))
                    continue
                spans.append([start, MIDNIGHT if end == "00:00" else end])
            if spans:
                hours[str(day)] = spans
        return hours

    def rows(self) -> list[dict]:
        """One row per weekday for the template: its name and each shift's inputs."""
        names = day_names()
        return [{"day": day, "name": names[day], "invalid": day in self.invalid_days,
                 "shifts": [{"start_name": self._input(day, shift, "start"),
                             "start": self.cells.get((day, shift), ("", ""))[0],
                             "end_name": self._input(day, shift, "end"),
                             "end": self.cells.get((day, shift), ("", ""))[1]}
                            for shift in range(self.shift_count)]}
                for day in range(7)]


def parse_day(text: str) -> date:
    """24/12/2026, 24-12-2026, 24.12.26 or 2026-12-24; ValueError otherwise."""
    text = text.strip()
    if _ISO.match(text):
        return date.fromisoformat(text)
    match = _DAY_FIRST.match(text)
    if not match:
        raise ValueError(text)
    day, month, year = (int(part) for part in match.groups())
    return date(year + 2000 if year < 100 else year, month, day)


class DateListField(TextAreaField):
    """Dates, one a line (commas and semicolons also separate them)."""

    raw: str | None = None

    def process_data(self, value):
        self.data = [date.fromisoformat(d) if isinstance(d, str) else d for d in value or []]

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        self.raw = valuelist[0] or ""
        lines = [line.strip() for line in re.split(r"[\n,;]", self.raw) if line.strip()]
        if len(lines) > MAX_CLOSURE_LINES:
            self.data = []
            raise ValueError(_("Give at most %(max)d dates.", max=MAX_CLOSURE_LINES))
        days = []
        for line in lines:
            try:
                days.append(parse_day(line))
            except ValueError:
                self.data = []
                raise ValueError(_("%(value)s is not a date: write it as 24/12/2026 or 2026-12-24.",
                                   value=line[:20])) from None
        self.data = sorted(set(days))

    def _value(self) -> str:
        if self.raw is not None:
            return self.raw
        return "\n".join(day.strftime("%d/%m/%Y") for day in self.data or [])


def with_day_names(error, form):
    """The service names weekdays by number (0 = Monday); people read names, and see the row marked."""
    if isinstance(error, ValidationFailed) and "hours" in error.fields:
        params = error.fields["hours"].params
        day = params.get("day")
        if isinstance(day, int) and 0 <= day <= 6:
            params["day"] = day_names(capitalised=False)[day]
            if isinstance(getattr(form, "hours", None), WeeklyHoursField):
                form.hours.invalid_days.add(day)
    return error


def hours_summary(hours: dict) -> list[str]:
    """Mon–Fri 09:00–14:00, 16:00–19:00 · Sat 10:00–14:00: consecutive days with the same shifts together."""
    names = day_names("abbreviated")
    spans = [tuple(tuple(span) for span in hours.get(str(day), [])) for day in range(7)]
    parts, day = [], 0
    while day < 7:
        last = day
        while last + 1 < 7 and spans[last + 1] == spans[day]:
            last += 1
        if spans[day]:
            days = names[day] if last == day else f"{names[day]}–{names[last]}"
            parts.append(f"{days} {', '.join(f'{start}–{end}' for start, end in spans[day])}")
        day = last + 1
    return parts


# --- choices that cost something to build: once per process (and language) --------------

@lru_cache(maxsize=1)
def time_zones() -> list[str]:
    return sorted(zone for zone in available_timezones() if "/" in zone and not zone.startswith("Etc/"))


@lru_cache(maxsize=1)
def _holiday_countries() -> dict[str, list[str]]:
    import holidays

    return {code: [sub for sub in subdivisions if len(sub) <= 10]
            for code, subdivisions in holidays.list_supported_countries().items() if len(code) == 2}


@lru_cache(maxsize=8)
def _country_names(locale: str) -> tuple[tuple[str, str], ...]:
    territories = Locale.parse(locale).territories
    named = [(code, territories.get(code, code)) for code in _holiday_countries()]
    return tuple(sorted(named, key=lambda pair: pair[1].casefold()))


def country_choices() -> list[tuple[str, str]]:
    """(code, "España (ES)") for every country whose public holidays we know, by name."""
    return [(code, f"{name} ({code})") for code, name in _country_names(str(get_locale()))]


def country_name(code: str | None) -> str:
    if not code:
        return ""
    return dict(_country_names(str(get_locale()))).get(code, code)


def regions_of(country: str | None) -> list[str]:
    return _holiday_countries().get(country or "", [])
