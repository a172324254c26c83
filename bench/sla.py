"""Business-time arithmetic: crm.sla.BusinessCalendar.add against the `businesstimedelta` library.

    .venv/bin/python -m bench.sla          (bench.run runs it too, after the HTTP figures)

Target (issue 3): "add costs the same for a 400-hour delta as for a 4-hour one; at
least as fast as businesstimedelta for 4 hours and at least 10x faster for 400 hours".

Both libraries get the same calendar: weekdays 09:00-17:00 UTC with a lunch break
12:00-13:00, minus the Spanish national holidays (nine or ten a year). Both are asked
the same questions, `add(start, 4 h)` and `add(start, 400 h)` for the same few hundred
start instants, drawn with a fixed seed over two years at minute resolution (so most
fall at night, at weekends or on holidays, about a fifth in opening hours) plus the
edges (opening, lunch, closing, midnight, on a holiday), and every answer of one is
asserted equal to the other's before anything is timed.

Each figure is the median of repeated timeit runs, one run adding the delta to every
start; divided by the number of starts it is the time of one call. crm.sla builds
its open intervals one calendar year at a time, on the first call that needs that
year: the timed runs are warm (a first pass over every start has built the years),
and the one-off cost of a fresh calendar's first call is shown on its own line.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import timeit
from datetime import date, datetime, time, timedelta, timezone

UTC = timezone.utc
DELTAS = (timedelta(hours=4), timedelta(hours=400))
TARGET_SAME_COST = 1.25  # "costs the same": 400 h within 25% of 4 h (bisection: log of the intervals)
TARGET_SPEEDUP_4H = 1.0
TARGET_SPEEDUP_400H = 10.0
FIRST_YEAR, LAST_YEAR = 2025, 2026  # start instants are drawn from these years


def holidays() -> list[date]:
    """Spain's national holidays, 2024-2031: `businesstimedelta` walks day by day to the
    next holiday and gives up (crashes) when none comes within five years, so the list
    must reach past every instant it is asked about."""
    fixed = [(1, 1), (1, 6), (5, 1), (8, 15), (10, 12), (11, 1), (12, 6), (12, 8), (12, 25)]
    good_friday = {2024: (3, 29), 2025: (4, 18), 2026: (4, 3), 2027: (3, 26), 2028: (4, 14),
                   2029: (3, 30), 2030: (4, 19), 2031: (4, 11)}
    return sorted([date(y, m, d) for y in range(2024, 2032) for m, d in fixed]
                  + [date(y, m, d) for y, (m, d) in good_friday.items()])


def crm_calendar(closures: list[date]):
    from crm.sla import BusinessCalendar

    return BusinessCalendar("UTC", {day: [("09:00", "12:00"), ("13:00", "17:00")] for day in range(5)},
                            holidays=closures)


def btd_adder(closures: list[date]):
    """`start + BusinessTimeDelta(rules, hours=h)` on the same calendar, the way the
    library's README combines its rules."""
    import businesstimedelta as btd
    import pytz

    weekdays = [0, 1, 2, 3, 4]
    rules = [btd.WorkDayRule(start_time=time(9), end_time=time(17), working_days=weekdays, tz=pytz.utc),
             btd.LunchTimeRule(start_time=time(12), end_time=time(13), working_days=weekdays, tz=pytz.utc)]
    if closures:  # an empty HolidayRule fails: it finds no holiday within five years
        rules.append(btd.HolidayRule(frozenset(closures), tz=pytz.utc))  # a set: its fastest membership test
    rules = btd.Rules(rules)
    deltas = {delta: btd.BusinessTimeDelta(rules, timedelta=delta) for delta in DELTAS}
    return lambda start, delta: start + deltas[delta]


def starts(count: int, seed: int, closures: list[date]) -> list[datetime]:
    """`count` instants: the edges of the calendar first, then random minutes."""
    rng = random.Random(seed)
    holiday = next(d for d in closures if d.year == FIRST_YEAR and d.weekday() < 5)
    edges = [datetime.combine(date(2025, 3, 12), t, UTC)  # a Wednesday
             for t in (time(0, 0), time(8, 59), time(9, 0), time(10, 30), time(11, 59, 59), time(12, 0),
                       time(12, 30), time(13, 0), time(16, 59), time(17, 0), time(23, 59, 59))]
    edges += [datetime(2025, 3, 15, 11, 0, tzinfo=UTC),  # Saturday
              datetime(2025, 3, 16, 23, 0, tzinfo=UTC),  # Sunday night
              datetime(2025, 3, 14, 16, 30, tzinfo=UTC),  # Friday, half an hour before closing
              datetime.combine(holiday, time(10, 0), UTC),  # a weekday holiday, in opening hours
              datetime(2025, 12, 31, 16, 0, tzinfo=UTC),  # the year ends within the delta
              datetime(2026, 12, 24, 15, 0, tzinfo=UTC)]  # Christmas Day within the 4 hours
    first = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
    minutes = int((datetime(LAST_YEAR + 1, 1, 1, tzinfo=UTC) - first).total_seconds() // 60)
    randoms = [first + timedelta(minutes=rng.randrange(minutes)) for _ in range(max(count - len(edges), 0))]
    return edges + randoms


def per_call_us(function, instants: list[datetime], delta: timedelta, repeat: int) -> float:
    """Median over `repeat` timeit runs of one call per start, in microseconds per call."""
    def run():
        for start in instants:
            function(start, delta)

    runs = timeit.Timer(run).repeat(repeat=repeat, number=1)
    return statistics.median(runs) / len(instants) * 1e6


def first_call_us(closures: list[date], start: datetime, delta: timedelta, repeat: int) -> tuple[float, float]:
    """(fresh calendar's first add, the same calendar's second add) in µs: the first builds
    the intervals of three calendar years (the start's, the one before and the one after)."""
    firsts, seconds = [], []
    for _ in range(repeat):
        calendar = crm_calendar(closures)
        timer = timeit.default_timer
        t0 = timer()
        calendar.add(start, delta)
        t1 = timer()
        calendar.add(start, delta)
        t2 = timer()
        firsts.append((t1 - t0) * 1e6)
        seconds.append((t2 - t1) * 1e6)
    return statistics.median(firsts), statistics.median(seconds)


def compare(closures: list[date], instants: list[datetime], repeat: int) -> dict:
    """Both libraries on one calendar: answers asserted equal, then µs per add for each delta."""
    calendar = crm_calendar(closures)
    btd_add = btd_adder(closures)
    # Same answer from both, for every start and delta that is timed (this is also the
    # warm-up that builds crm.sla's years).
    for delta in DELTAS:
        for start in instants:
            mine, theirs = calendar.add(start, delta), btd_add(start, delta)
            assert mine == theirs, f"add({start.isoformat()}, {delta}): crm.sla {mine}, businesstimedelta {theirs}"
    return {
        "open": sum(calendar.is_open(s) for s in instants),
        "built": (calendar._first_year, calendar._last_year, len(calendar._starts)),
        "sla": {delta: per_call_us(calendar.add, instants, delta, repeat) for delta in DELTAS},
        "btd": {delta: per_call_us(btd_add, instants, delta, max(3, repeat // 2)) for delta in DELTAS},
    }


def measure(count: int = 400, repeat: int = 7, seed: int = 3) -> tuple[list[str], bool]:
    closures = holidays()
    instants = starts(count, seed, closures)
    judged = compare(closures, instants, repeat)
    # Informative: the same weekly hours without holidays, businesstimedelta's cheapest case
    # (its HolidayRule walks day by day to the next holiday, several times per open interval).
    plain = compare([], instants, repeat)
    cold, second = first_call_us(closures, instants[0], DELTAS[0], repeat)

    sla, btd = judged["sla"], judged["btd"]
    short, long = DELTAS
    same_cost = sla[long] / sla[short]
    checks = [
        (f"crm.sla: 400 h costs the same as 4 h (ratio <= {TARGET_SAME_COST:g})", same_cost <= TARGET_SAME_COST,
         f"{same_cost:.2f}"),
        ("crm.sla at least as fast as businesstimedelta for 4 h", btd[short] / sla[short] >= TARGET_SPEEDUP_4H,
         f"{btd[short] / sla[short]:.1f}x"),
        (f"crm.sla at least {TARGET_SPEEDUP_400H:g}x faster for 400 h", btd[long] / sla[long] >= TARGET_SPEEDUP_400H,
         f"{btd[long] / sla[long]:.1f}x"),
    ]
    passed = all(ok for _, ok, _ in checks)

    import businesstimedelta

    version = getattr(businesstimedelta, "__version__", None) or _version("businesstimedelta")
    built = judged["built"]
    lines = [
        "Business time (issue 3): crm.sla.BusinessCalendar.add vs businesstimedelta " + version,
        f"  calendar: Mon-Fri 09:00-12:00 and 13:00-17:00 UTC, {len(closures)} holidays 2024-2031 "
        "(Spain's national ones)",
        f"  {len(instants)} start instants {FIRST_YEAR}-{LAST_YEAR} (seed {seed}; {judged['open']} open, "
        f"{len(instants) - judged['open']} closed, edge cases included); both libraries answer the same "
        "for every start and delta (asserted)",
        f"  median of {repeat} timeit runs for crm.sla, {max(3, repeat // 2)} for businesstimedelta; "
        "crm.sla warm (its years already built)",
        "",
        f"{'calendar':<22} {'delta':>6} {'crm.sla µs/add':>15} {'businesstimedelta µs/add':>25} {'ratio':>8}",
        "-" * 80,
    ]
    for label, result in (("with holidays", judged), ("no holidays (info)", plain)):
        for delta in DELTAS:
            hours = int(delta.total_seconds() // 3600)
            a, b = result["sla"][delta], result["btd"][delta]
            lines.append(f"{label:<22} {hours:>4} h {a:>15.2f} {b:>25.1f} {b / a:>7.1f}x")
    lines += [
        "(ratio = businesstimedelta time / crm.sla time; the rows with holidays are the ones judged)",
        f"crm.sla one-off build: a fresh calendar's first add takes {cold:,.0f} µs (it builds {FIRST_YEAR - 1}-"
        f"{FIRST_YEAR + 1}, three years of intervals), its second {second:.1f} µs; a start or deadline in a "
        "year not built yet rebuilds the whole range plus that year (after the warm-up here: "
        f"{built[0]}-{built[1]}, {built[2]:,} intervals)",
        "",
    ]
    lines += [f"  {'PASS' if ok else 'FAIL'}  {text}: {figure}" for text, ok, figure in checks]
    lines += ["", f"RESULT (issue 3, business time): {'PASS' if passed else 'FAIL'}"]
    return lines, passed


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sla", description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=400, help="start instants (edges included)")
    parser.add_argument("--repeat", type=int, default=7, help="timeit runs per figure (median taken)")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)
    lines, passed = measure(args.starts, args.repeat, args.seed)
    print("\n".join(lines))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
