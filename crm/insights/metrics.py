"""The experience metrics as pure formulas: no Flask, no database.

Every function returns a float at full precision (the pages and the API round
to two decimals when they show it), or None when there is nothing to measure:
an empty survey has no NPS, which is not the same as an NPS of zero.

Rates are percentages (0–100); NPS is in points (−100..100); CES is a mean on
its own 1–7 scale. The definitions are the standard ones in DESIGN.md.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

NPS_SCALE = range(0, 11)
CSAT_SCALE = range(1, 6)
CES_SCALE = range(1, 8)
PROMOTER_MIN = 9  # 9–10 recommend us
DETRACTOR_MAX = 6  # 0–6 would warn others off; 7–8 are passives
SATISFIED_MIN = 4  # 4–5 on the CSAT scale count as satisfied


def _histogram(scores: Iterable[int], scale: range, name: str) -> Counter:
    counts = Counter(scores)
    return _checked(counts, scale, name)


def _checked(histogram: Mapping[int, int], scale: range, name: str) -> Mapping[int, int]:
    for score, count in histogram.items():
        if isinstance(score, bool) or not isinstance(score, int) or score not in scale:
            raise ValueError(f"{name} score {score!r} is outside {scale.start}..{scale.stop - 1}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"{name} count for {score} must be a whole number ≥ 0, not {count!r}")
    return histogram


def _percent(part: int | float, whole: int | float) -> float | None:
    return None if not whole else 100.0 * part / whole


def _counts(*values: int) -> None:
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"counts must be whole numbers ≥ 0, not {value!r}")


# --- surveys ----------------------------------------------------------------------

def nps(scores: Iterable[int]) -> float | None:
    """Net Promoter Score of 0–10 answers: % promoters (9–10) − % detractors (0–6).

    One answer at each score 0..10 gives 2/11 − 7/11 = −45.45…; 100 promoters,
    30 passives and 80 detractors give 20/210 = 9.52….
    """
    return nps_from_histogram(_histogram(scores, NPS_SCALE, "NPS"))


def nps_from_histogram(histogram: Mapping[int, int]) -> float | None:
    """NPS from {score: number of answers}, which is what a GROUP BY gives."""
    _checked(histogram, NPS_SCALE, "NPS")
    promoters = sum(n for score, n in histogram.items() if score >= PROMOTER_MIN)
    detractors = sum(n for score, n in histogram.items() if score <= DETRACTOR_MAX)
    return nps_from_counts(promoters, sum(histogram.values()) - promoters - detractors, detractors)


def nps_from_counts(promoters: int, passives: int, detractors: int) -> float | None:
    _counts(promoters, passives, detractors)
    answers = promoters + passives + detractors
    return None if not answers else 100.0 * (promoters - detractors) / answers


def csat(scores: Iterable[int]) -> float | None:
    """Customer satisfaction: the share of 4–5 answers on the 1–5 scale, as a percentage.

    10 fives, 20 fours, 10 threes, 5 twos and 5 ones: 30 of 50 are satisfied, 60 %.
    """
    return csat_from_histogram(_histogram(scores, CSAT_SCALE, "CSAT"))


def csat_from_histogram(histogram: Mapping[int, int]) -> float | None:
    _checked(histogram, CSAT_SCALE, "CSAT")
    satisfied = sum(n for score, n in histogram.items() if score >= SATISFIED_MIN)
    return _percent(satisfied, sum(histogram.values()))


def ces(scores: Iterable[int]) -> float | None:
    """Customer effort score: the mean answer on the 1–7 scale."""
    return ces_from_histogram(_histogram(scores, CES_SCALE, "CES"))


def ces_from_histogram(histogram: Mapping[int, int]) -> float | None:
    _checked(histogram, CES_SCALE, "CES")
    answers = sum(histogram.values())
    return None if not answers else sum(score * n for score, n in histogram.items()) / answers


# --- first-contact resolution --------------------------------------------------------

@dataclass(frozen=True)
class FCR:
    """Of the incidents resolved: the share resolved on the first contact, and by the second."""

    first: float | None
    by_second: float | None


def fcr(resolution_contacts: Iterable[int]) -> FCR:
    """First-contact resolution from, for each resolved incident, the number of the
    contact that resolved it (1 = the first contact, 2 = the one after it, …).

    FCR = incidents resolved on the first contact ÷ incidents resolved; "by the
    second contact" counts those resolved on the first or the second.
    """
    contacts = list(resolution_contacts)
    for n in contacts:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"a resolving contact number is a whole number ≥ 1, not {n!r}")
    return fcr_from_counts(len(contacts), sum(1 for n in contacts if n == 1), sum(1 for n in contacts if n <= 2))


def fcr_from_counts(resolved: int, on_first_contact: int, by_second_contact: int) -> FCR:
    _counts(resolved, on_first_contact, by_second_contact)
    if not on_first_contact <= by_second_contact <= resolved:
        raise ValueError("need on_first_contact ≤ by_second_contact ≤ resolved")
    return FCR(_percent(on_first_contact, resolved), _percent(by_second_contact, resolved))


def meets_target(value: float | None, target_percent: float) -> bool | None:
    """Whether a percentage reaches its target; unknown (None) when there is no value."""
    return None if value is None else value >= target_percent


# --- service levels, churn, retention ----------------------------------------------------

def sla_compliance(met_on_time: int, breached: int) -> float | None:
    """Share of the commitments that fell due which were kept on time, as a percentage."""
    _counts(met_on_time, breached)
    return _percent(met_on_time, met_on_time + breached)


def churn_rate(lost: int, at_start: int) -> float | None:
    """Customers lost in the period ÷ customers at its start, as a percentage."""
    _counts(lost, at_start)
    if lost > at_start:
        raise ValueError("cannot lose more customers than there were at the start")
    return _percent(lost, at_start)


def retention(cohort_size: int, still_customers: int) -> float | None:
    """Share of a signup cohort that is still a customer, as a percentage."""
    _counts(cohort_size, still_customers)
    if still_customers > cohort_size:
        raise ValueError("a cohort cannot keep more customers than it had")
    return _percent(still_customers, cohort_size)


# --- trends -------------------------------------------------------------------------

def change(current, previous):
    """How much a figure moved since the previous period: current − previous, in its own
    unit (points for NPS and rates, money for money). None when either side is unknown."""
    if current is None or previous is None or isinstance(current, bool) or isinstance(previous, bool):
        return None
    if isinstance(current, Decimal) or isinstance(previous, Decimal):
        return Decimal(str(current)) - Decimal(str(previous))
    return current - previous
