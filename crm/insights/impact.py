"""Impact: what customers did after a moment of truth or a compensation, beside comparable
customers who had none. The evidence that a retention measure pays (or does not).

The treatment is a moment type (its contacts) or ``compensation`` (compensations issued).
The **exposed** customers are those with the treatment in a period of local days; a
customer's exposure is their first such event in the period.

Windows are whole local days around the day D of the exposure, since purchases carry a
date and no time: *after* is D+1 … D+90, *before* is D−90 … D−1. A purchase on the day of
the exposure is in neither (it may have come before or after it). A move to ``churned`` is
an instant: it counts *after* when it came after the exposure and by the end of D+90,
*before* when it came before the exposure and not before D−90. A window is complete when
its last day is over; the exposed customers whose window is still open are counted apart
and left out of every figure.

Figures per window: the share of customers who bought at all, purchases per customer (any
currency), revenue per customer (the company's currency only; purchases in others are
counted apart) and the share who moved to churned.

**Comparison.** Per stratum (segment, and the *current* service tier): the customers of
the stratum with no treatment in the period nor in the 90 days before it, created before
the stratum's reference instant and not churned at it. The reference instant is the
median exposure of the stratum's exposed customers (those in the figures), and their
windows are taken around it. The comparison figures are reweighted to the exposed
group's mix (direct standardisation: each stratum's rates weighted by its exposed
customers); strata with no comparable customer are listed and left out of both sides,
so the difference (exposed − comparable) compares like with like.

Three queries, whatever the number of customers: the exposures (counts and the medians'
rows, per stratum), the exposed outcomes and the comparison outcomes, each grouped per
stratum. Each customer's purchases are one range on the (customer, date) index and their
moves to churned two lookups on the (customer, instant) index. An exposure's local day and
windows come from a binary CASE over the period's local midnights (``pick_by_bounds``), so
no engine's date functions are used and both engines give the same numbers. The
arithmetic on the per-stratum sums is pure (``Tally``, ``rates``, ``standardised``,
``summarise``) and tested without a database.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from sqlalchemy import Date, String, and_, case, exists, func, literal, select, text, union_all

from crm.compensations.models import Compensation
from crm.customers.lifecycle import TIERS
from crm.customers.models import Customer, Purchase, StageChange
from crm.domain import N_, Cleaner, NotFound, ValidationFailed
from crm.extensions import db
from crm.insights.churn import CHURNED, stage_at
from crm.insights.filters import (
    EARLIEST_DAY,
    LATEST_DAY,
    Period,
    local_midnight,
    make_period,
    parse_day,
    setting,
    today,
)
from crm.moments.catalog import get_moment_type
from crm.moments.models import Moment, MomentType
from crm.queries import typed_id
from crm.types import UTCDateTime

WINDOW_DAYS = 90
COMPENSATION = "compensation"
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
WINDOWS = ("before", "after")
GROUPS = ("exposed", "comparable")
# The figures of a window: shares in percent, purchases and revenue per customer.
FIGURES = ("bought", "purchases", "revenue", "churned")


# --- pure arithmetic ---------------------------------------------------------------------

@dataclass(frozen=True)
class Tally:
    """What a group of customers did in one window, as sums (not yet rates)."""

    customers: int = 0
    buyers: int = 0
    purchases: int = 0
    revenue: Decimal = ZERO
    churned: int = 0
    other_currency: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.customers + other.customers, self.buyers + other.buyers,
                     self.purchases + other.purchases, self.revenue + other.revenue,
                     self.churned + other.churned, self.other_currency + other.other_currency)


def _nothing() -> dict:
    return {key: None for key in FIGURES}


def _money(value) -> Decimal:
    # SQLite sums NUMERIC as floating point: back to cents.
    return Decimal(str(value or 0)).quantize(CENT)


def standardised(weighted: Iterable[tuple[int, Tally]]) -> dict:
    """Each tally's rates weighted by its weight: Σ wᵢ·rateᵢ / Σ wᵢ (direct standardisation).

    Pairs without weight or without customers count for nothing; all None when nothing
    counts. With each tally weighted by its own customers this is the pooled rate.
    Shares are percentages (float), purchases per customer a float, revenue per customer
    Decimal in cents."""
    total = 0
    sums = {key: Fraction(0) for key in FIGURES}
    for weight, tally in weighted:
        if weight <= 0 or tally.customers <= 0:
            continue
        total += weight
        share = Fraction(weight, tally.customers)
        sums["bought"] += share * tally.buyers
        sums["purchases"] += share * tally.purchases
        sums["revenue"] += share * Fraction(tally.revenue)
        sums["churned"] += share * tally.churned
    if not total:
        return _nothing()
    revenue = sums["revenue"] / total
    return {"bought": float(100 * sums["bought"] / total), "purchases": float(sums["purchases"] / total),
            "revenue": (Decimal(revenue.numerator) / Decimal(revenue.denominator)).quantize(CENT),
            "churned": float(100 * sums["churned"] / total)}


def rates(tally: Tally) -> dict:
    """One group's own rates (the pooled ones)."""
    return standardised([(tally.customers, tally)])


def difference(a: Mapping, b: Mapping) -> dict:
    """a − b figure by figure: points for shares, per customer for the rest; None when either is."""
    return {key: None if a.get(key) is None or b.get(key) is None else a[key] - b[key] for key in FIGURES}


def median_instant(instants: Iterable[datetime]) -> datetime | None:
    ordered = sorted(instants)
    if not ordered:
        return None
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    low, high = ordered[middle - 1], ordered[middle]
    return low + (high - low) / 2


@dataclass(frozen=True)
class Stratum:
    """One (segment, tier) cell: its exposed customers (those in the figures, and those whose
    window is still open), its comparable customers and what each group did in each window."""

    segment: str | None
    tier: str
    window_open: int = 0
    reference: datetime | None = None
    exposed_before: Tally = field(default_factory=Tally)
    exposed_after: Tally = field(default_factory=Tally)
    comparable_before: Tally = field(default_factory=Tally)
    comparable_after: Tally = field(default_factory=Tally)

    @property
    def exposed(self) -> int:
        return self.exposed_after.customers

    @property
    def comparable(self) -> int:
        return self.comparable_after.customers

    @property
    def matched(self) -> bool:
        """Both groups have somebody: the stratum counts in the comparison."""
        return self.exposed > 0 and self.comparable > 0

    def tally(self, group: str, window: str) -> Tally:
        return getattr(self, f"{group}_{window}")

    @property
    def key(self) -> tuple:
        return (self.segment is None, self.segment or "", TIERS.index(self.tier) if self.tier in TIERS else 99,
                self.tier)


def summarise(strata: Iterable[Stratum]) -> dict:
    """The report's figures from the per-stratum sums: both groups' rates over the strata
    that have comparable customers (exposed pooled, comparable reweighted to the exposed
    mix), their difference in each window, and how each changed from before to after."""
    strata = sorted(strata, key=lambda s: s.key)
    matched = [s for s in strata if s.matched]
    out: dict = {}
    for window in WINDOWS:
        exposed = standardised((s.exposed, s.tally("exposed", window)) for s in matched)
        comparable = standardised((s.exposed, s.tally("comparable", window)) for s in matched)
        out[window] = {"exposed": exposed, "comparable": comparable, "difference": difference(exposed, comparable)}
    out["change"] = {group: difference(out["after"][group], out["before"][group])
                     for group in ("exposed", "comparable", "difference")}
    out["strata"] = [
        {"segment": s.segment, "tier": s.tier, "exposed": s.exposed, "window_open": s.window_open,
         "comparable": s.comparable, "reference": s.reference, "matched": s.matched,
         **{window: {group: rates(s.tally(group, window)) for group in GROUPS} for window in WINDOWS},
         "difference": difference(rates(s.exposed_after), rates(s.comparable_after)) if s.matched else _nothing()}
        for s in strata]
    out["unmatched_strata"] = [{"segment": s.segment, "tier": s.tier, "exposed": s.exposed}
                               for s in strata if s.exposed and not s.matched]
    out["exposed_customers"] = sum(s.exposed + s.window_open for s in strata)
    out["window_open"] = sum(s.window_open for s in strata)
    out["in_figures"] = sum(s.exposed for s in matched)
    out["unmatched"] = sum(s.exposed for s in strata if s.exposed and not s.matched)
    out["comparable_customers"] = sum(s.comparable for s in matched)
    out["other_currency"] = {
        "exposed": sum(s.exposed_before.other_currency + s.exposed_after.other_currency for s in matched),
        "comparable": sum(s.comparable_before.other_currency + s.comparable_after.other_currency for s in matched)}
    return out


# --- input -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Treatment:
    """A moment type, or the compensations issued."""

    moment_type: MomentType | None = None

    @property
    def kind(self) -> str:
        return COMPENSATION if self.moment_type is None else "moment_type"

    def as_dict(self) -> dict:
        mt = self.moment_type
        return {"kind": self.kind, "moment_type_id": mt.id if mt else None, "code": mt.code if mt else None,
                "name": mt.name if mt else None}

    def source(self):
        """(customer column, instant column, conditions) of the treatment's events."""
        if self.moment_type is None:
            return Compensation.customer_id, Compensation.issued_at, [Compensation.status == "issued"]
        return Moment.customer_id, Moment.occurred_at, [Moment.moment_type_id == self.moment_type.id]


def complete_until_day(today_: date) -> date:
    """The last exposure day whose 90 days after are over by the start of today."""
    return today_ - timedelta(days=WINDOW_DAYS + 1)


def default_period(today_: date) -> tuple[date, date]:
    """The 90 days whose windows have all just closed: the last one ends today − 91, so the
    90 days after any exposure in it are over by the start of today."""
    last = complete_until_day(today_)
    return last - timedelta(days=WINDOW_DAYS - 1), last


def clean_query(treatment, first_day, last_day, filters: Mapping | None, *, zone: str, today_: date):
    """(Treatment, Period, segment, tier), every problem at once as a ValidationFailed.

    `treatment` is ``compensation`` or a moment type's id or code; the period is local
    days (at most 366), by default the 90 days ending 91 days before today; with only one
    end given, the 90 days ending or starting there."""
    filters = dict(filters or {})
    c = Cleaner()
    chosen = None
    ref = typed_id(treatment)
    if isinstance(ref, str) or ref is None:
        # Checked as text before it reaches a query: PostgreSQL refuses NUL bytes.
        ref = c.text("treatment", ref, max_len=40, required=True)
    if ref == COMPENSATION:
        chosen = Treatment()
    elif ref not in (None, ""):
        try:
            chosen = Treatment(get_moment_type(ref))
        except NotFound:
            c.fail("treatment", N_("no such moment type"))
    segment = c.text("segment", filters.get("segment"), max_len=60) or None
    tier = c.choice("tier", filters.get("tier") or None, TIERS, required=False)
    first, last = parse_day(first_day), parse_day(last_day)
    given = {"from": first is not None, "to": last is not None}
    span = timedelta(days=WINDOW_DAYS - 1)
    if first is None and last is None:
        first, last = default_period(today_)
    elif first is None and isinstance(last, date):
        # Out-of-range ends stay as given for make_period to refuse (no date arithmetic overflow).
        first = last - span if last >= EARLIEST_DAY + span else last
    elif last is None and isinstance(first, date):
        last = first + span if first <= LATEST_DAY - span else first
    period = None
    try:
        period = make_period(first, last, zone)
    except ValidationFailed as exc:
        # An end left out is only wrong because the given one is: name the given one.
        for name, error in exc.fields.items():
            if given.get(name, True) or not any(given.values()):
                c.errors.setdefault(name, error)
        if not c.errors:
            c.errors.update(exc.fields)
    c.check()
    return chosen, period, segment, tier


# --- the queries ---------------------------------------------------------------------------

def pick_by_bounds(column, bounds: list, leaves: list, bound_type, leaf_type):
    """leaves[i] where i is how many of the sorted `bounds` are ≤ the column's value, as
    nested CASEs: about log₂(n) comparisons a row instead of n, in plain SQL on every engine."""
    if len(leaves) != len(bounds) + 1:
        raise ValueError("one more leaf than bounds")

    def tree(lo: int, hi: int):
        if lo == hi:
            return literal(leaves[lo], leaf_type)
        mid = (lo + hi) // 2
        return case((column < literal(bounds[mid], bound_type), tree(lo, mid)), else_=tree(mid + 1, hi))

    return tree(0, len(bounds))


# The columns every population (exposed or comparable) has, besides customer_id, segment and
# tier: the exposure (or reference) instant `at`, its local day and the windows around it.
WINDOW_COLUMNS = ("day", "before_first", "after_last", "before_start", "after_end")


def windows(day: date, zone: str) -> dict:
    """The windows around an exposure on local `day`: purchase dates before_first … day − 1
    and day + 1 … after_last; churn instants from before_start, and up to after_end."""
    span, one = timedelta(days=WINDOW_DAYS), timedelta(days=1)
    return {"day": day, "before_first": day - span, "after_last": day + span,
            "before_start": local_midnight(day - span, zone), "after_end": local_midnight(day + span + one, zone)}


WINDOW_TYPES = {"day": Date, "before_first": Date, "after_last": Date, "before_start": UTCDateTime,
                "after_end": UTCDateTime}


def _count_if(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _exposed(treatment: Treatment, period: Period, segment, tier):
    """customer_id, segment, tier, at (the first event in the period) and its windows."""
    customer, instant, conditions = treatment.source()
    first = (select(customer.label("customer_id"), func.min(instant).label("at"))
             .where(*conditions, instant >= period.start, instant < period.end)
             .group_by(customer).subquery("first_events"))
    days = [period.first_day + timedelta(days=i) for i in range(period.days)]
    bounds = [local_midnight(day, period.zone) for day in days[1:]]
    around = [windows(day, period.zone) for day in days]
    stmt = (select(first.c.customer_id, Customer.segment, Customer.tier, first.c.at,
                   *[pick_by_bounds(first.c.at, bounds, [w[name] for w in around], UTCDateTime, WINDOW_TYPES[name])
                     .label(name) for name in WINDOW_COLUMNS])
            .join(Customer, Customer.id == first.c.customer_id))
    if segment is not None:
        stmt = stmt.where(Customer.segment == segment)
    if tier is not None:
        stmt = stmt.where(Customer.tier == tier)
    return stmt.subquery("exposed")


def _exposure_counts(exposed, complete_until: date) -> dict:
    """Per stratum: the exposed customers whose window is over, those whose window is still
    open, and the middle exposures of the former (for the median), in one query."""
    complete = case((exposed.c.day <= complete_until, 1), else_=0)
    cell = (exposed.c.segment, exposed.c.tier, complete)
    ranked = select(exposed.c.segment, exposed.c.tier, complete.label("complete"), exposed.c.at,
                    func.row_number().over(partition_by=cell, order_by=(exposed.c.at, exposed.c.customer_id))
                    .label("rn"),
                    func.count().over(partition_by=cell).label("n")).subquery("ranked")
    # The middle row (odd n) or the two middle rows (even n): 2·rn ∈ {n, n+1, n+2}.
    rows = db.session.execute(select(ranked).where(2 * ranked.c.rn >= ranked.c.n, 2 * ranked.c.rn <= ranked.c.n + 2))
    cells: dict[tuple, dict] = {}
    for row in rows:
        entry = cells.setdefault((row.segment, row.tier), {"complete": 0, "open": 0, "middle": []})
        if row.complete:
            entry["complete"] = row.n
            entry["middle"].append(row.at)
        else:
            entry["open"] = row.n
    return cells


def _outcomes(pop, currency: str) -> dict[tuple, tuple[Tally, Tally]]:
    """(before, after) tallies per (segment, tier) of a population (a subquery with
    customer_id, segment, tier, at and the WINDOW_COLUMNS).

    Each customer's purchases are read through the (customer, date) index within their two
    windows and summed per customer; each customer's moves to churned are two indexed
    lookups on (customer, instant); the outer query adds the customers up per stratum."""
    after = and_(Purchase.purchased_on > pop.c.day, Purchase.purchased_on <= pop.c.after_last)
    before = and_(Purchase.purchased_on < pop.c.day, Purchase.purchased_on >= pop.c.before_first)
    ours = Purchase.currency == currency
    columns = []
    for window, inside in (("before", before), ("after", after)):
        columns += [_count_if(inside).label(f"{window}_purchases"),
                    func.coalesce(func.sum(case((and_(inside, ours), Purchase.amount), else_=0)), 0)
                    .label(f"{window}_revenue"),
                    _count_if(and_(inside, Purchase.currency != currency)).label(f"{window}_other")]
    keys = (pop.c.customer_id, pop.c.segment, pop.c.tier, pop.c.at, pop.c.before_start, pop.c.after_end)
    per_customer = (select(*keys, *columns)
                    .select_from(pop)
                    .outerjoin(Purchase, and_(Purchase.customer_id == pop.c.customer_id,
                                              Purchase.purchased_on >= pop.c.before_first,
                                              Purchase.purchased_on <= pop.c.after_last))
                    .group_by(*keys).subquery("per_customer"))
    c = per_customer.c

    def churned(*within):
        return case((exists().where(StageChange.customer_id == c.customer_id, StageChange.to_stage == CHURNED,
                                    *within), 1), else_=0)

    moves = {"before": churned(StageChange.at >= c.before_start, StageChange.at < c.at),
             "after": churned(StageChange.at > c.at, StageChange.at < c.after_end)}
    sums = []
    for window, moved in moves.items():
        sums += [_count_if(c[f"{window}_purchases"] > 0), func.sum(c[f"{window}_purchases"]),
                 func.sum(c[f"{window}_revenue"]), func.sum(moved), func.sum(c[f"{window}_other"])]
    stmt = select(c.segment, c.tier, func.count(), *sums).group_by(c.segment, c.tier)
    out = {}
    for segment, tier, customers, *figures in db.session.execute(stmt):
        tallies = []
        for i in range(len(WINDOWS)):
            buyers, count, revenue, moved, other = figures[5 * i:5 * i + 5]
            tallies.append(Tally(int(customers), int(buyers), int(count or 0), _money(revenue), int(moved or 0),
                                 int(other or 0)))
        out[(segment, tier)] = (tallies[0], tallies[1])
    return out


def _comparable(treatment: Treatment, period: Period, references: Mapping[tuple, datetime]):
    """The comparison population: per stratum, the customers with no treatment in the period
    nor the 90 days before it, created before the reference instant and not churned at it."""
    cells = []
    for (segment, tier), reference in sorted(references.items(), key=lambda item: (item[0][0] or "", item[0][1])):
        around = windows(reference.astimezone(ZoneInfo(period.zone)).date(), period.zone)
        cells.append(select(literal(segment, String).label("segment"), literal(tier, String).label("tier"),
                            literal(reference, UTCDateTime).label("at"),
                            *[literal(around[name], WINDOW_TYPES[name]).label(name) for name in WINDOW_COLUMNS]))
    strata = (cells[0] if len(cells) == 1 else union_all(*cells)).subquery("strata")
    customer, instant, conditions = treatment.source()
    # One range read of the (instant, type, customer) index for everybody, not a lookup per customer.
    treated = select(customer).where(
        *conditions, instant >= local_midnight(period.first_day - timedelta(days=WINDOW_DAYS), period.zone),
        instant < period.end)
    return (select(Customer.id.label("customer_id"), Customer.segment, Customer.tier, strata.c.at,
                   *[strata.c[name] for name in WINDOW_COLUMNS])
            .join(strata, and_(Customer.tier == strata.c.tier, Customer.segment.is_not_distinct_from(strata.c.segment)))
            # With no change before the reference, a customer is judged by their stage now.
            .where(Customer.created_at < strata.c.at, stage_at(strata.c.at, Customer.stage) != CHURNED,
                   Customer.id.not_in(treated))
            .subquery("comparable"))


def _without_jit() -> None:
    """PostgreSQL would compile the CASE trees to machine code before running a query that
    takes a second (14 s of LLVM optimisation for a year-long period): not in this transaction."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL jit = off"))


def compute_strata(treatment: Treatment, period: Period, *, segment=None, tier=None, now: datetime,
                   currency: str) -> list[Stratum]:
    complete_until = complete_until_day(today(period.zone, now))
    _without_jit()
    exposed = _exposed(treatment, period, segment, tier)
    cells = _exposure_counts(exposed, complete_until)
    references = {key: median_instant(cell["middle"]) for key, cell in cells.items() if cell["complete"]}
    if not references:
        exposed_outcomes = comparable_outcomes = {}
    else:
        complete = select(exposed).where(exposed.c.day <= complete_until).subquery("exposed_complete")
        exposed_outcomes = _outcomes(complete, currency)
        comparable_outcomes = _outcomes(_comparable(treatment, period, references), currency)
    strata = []
    for key, cell in cells.items():
        before, after = exposed_outcomes.get(key, (Tally(), Tally()))
        stratum = Stratum(segment=key[0], tier=key[1], window_open=cell["open"], reference=references.get(key),
                          exposed_before=before, exposed_after=after)
        if key in comparable_outcomes:
            before, after = comparable_outcomes[key]
            stratum = replace(stratum, comparable_before=before, comparable_after=after)
        strata.append(stratum)
    return sorted(strata, key=lambda s: s.key)


def impact_report(treatment, first_day, last_day, filters: Mapping | None, *, zone: str, now: datetime,
                  currency: str | None = None) -> dict:
    """What the page and the API show (see the module docstring)."""
    today_ = today(zone, now)
    chosen, period, segment, tier = clean_query(treatment, first_day, last_day, filters, zone=zone, today_=today_)
    currency = currency or setting("CRM_CURRENCY", "EUR")
    strata = compute_strata(chosen, period, segment=segment, tier=tier, now=now, currency=currency)
    report = summarise(strata)
    for row in report["strata"]:
        row["reference_day"] = row["reference"].astimezone(ZoneInfo(zone)).date() if row["reference"] else None
    report.update(treatment=chosen, period=period, window_days=WINDOW_DAYS, currency=currency, today=today_,
                  filters={"segment": segment, "tier": tier},
                  complete_until=complete_until_day(today_))
    return report
