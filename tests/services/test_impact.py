"""Impact of a moment type or a compensation over a small dataset: who is exposed, who is
comparable and every figure worked out by hand.

Zone Europe/Madrid (UTC+2 in summer), today 16 November 2026 (tests' NOW): a window is
complete when the exposure's day is at most 17 August (today − 91). Period: 1 April to
31 August 2026. Treatment: the moment type "complaint". Everybody was created on
1 January unless said otherwise.

Particular / standard (stratum S1):
- E1: complaints 10 Apr 10:00 UTC (D = 10 Apr: after = 11 Apr … 9 Jul, before = 10 Jan … 9 Apr)
  and 20 Apr; bought 100 € on 10 Apr (the exposure day: neither window), 50 € on 1 May,
  30 € on 1 Jun, 999 € on 10 Jul (day 91: outside), 20 € on 1 Mar (before). Churned on
  1 Feb and back to active on 1 Mar (a churn before; not churned at the exposure).
- E2: complaint 20 Apr 10:00 UTC (after = 21 Apr … 19 Jul); bought 40 USD on 5 May
  (another currency: bought, one purchase, no revenue); churned on 1 Jun.
- E5: complaint 25 Aug: window still open; a purchase on 1 Sep does not count anywhere.
  Median exposure of E1 and E2: 15 Apr 10:00 UTC → R = 15 Apr, after = 16 Apr … 14 Jul,
  before = 15 Jan … 14 Apr.
- C1: bought 500 € on 15 Apr (R: neither), 60 € on 20 May, 40 € on 14 Jul (day 90: in),
  10 € on 15 Jul (out), 30 € on 15 Jan (day −90: in), 5 € on 14 Jan (out).
- C2: no purchase, a "visit" (another type) in April, churned on 10 May.
- C3: bought 20 € on 1 Jun; churned on 15 Apr 11:00 UTC (after the reference, same day).
- X1 created 16 Apr (after the reference), X2 churned on 1 Mar (churned at the reference),
  X3 churned with no history at all, X4 had a complaint on 15 Feb (the 90 days before the
  period): none of them is comparable.
  Exposed after: 2 customers, 2 bought, 3 purchases, 80 €, 1 churned (E2), 1 other currency;
  before: 1 bought, 1 purchase, 20 €, 1 churned (E1).
  Comparable (C1, C2, C3) after: 2 bought, 3 purchases, 120 €, 2 churned; before: 1 bought,
  1 purchase, 30 €, 0 churned.

Empresa / standard (S4): E6 complaint 10 Jun 09:00 UTC (R = 10 Jun, after = 11 Jun … 8 Sep,
before = 12 Mar … 9 Jun), bought 200 € on 1 Jul. C4 bought 100 € on 1 Aug and 50 € on
1 Apr; C5 nothing, churned on 9 Sep (day 91: outside).

Empresa / premium (S2): E3 complaint 5 May; the only other customer (X7) was created on
1 Jun, after the reference: no comparable customer, the stratum is left out.
No segment / basic (S3): E4 complaint 25 Aug, window still open.

Standardised over S1 (2 exposed) and S4 (1 exposed), after: exposed bought 100 %,
4/3 purchases, 280/3 = 93.33 €, churned 33.33 %; comparable bought (2·2/3 + 1·1/2)/3 =
61.11 %, purchases (2·1 + 1·0.5)/3 = 0.8333, revenue (2·40 + 50)/3 = 43.33 €, churned
(2·2/3)/3 = 44.44 %. Before: exposed 33.33 %, 1/3, 6.67 €, 33.33 %; comparable (2·1/3 +
1/2)/3 = 38.89 %, 0.3889, (2·10 + 25)/3 = 15.00 €, 0 %.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete

from crm.compensations.models import Compensation
from crm.customers.models import Customer, Purchase, StageChange
from crm.domain import ValidationFailed
from crm.extensions import db
from crm.insights import impact
from crm.moments.models import Moment, MomentType
from tests.conftest import NOW

ZONE = "Europe/Madrid"
UTC = timezone.utc
APRIL_TO_AUGUST = ("2026-04-01", "2026-08-31")


def at(month, day, hour=10, minute=0, year=2026):
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def build_impact() -> dict:
    """The module docstring's dataset; commits, so other requests see it. Rows are written
    directly: the figures depend on nothing but them."""
    complaint = MomentType(code="complaint", name="Reclamación", phase="interact", channel="phone")
    visit = MomentType(code="visit", name="Visita", phase="discover", channel="in_person")
    db.session.add_all([complaint, visit])
    db.session.flush()
    people = {}

    def customer(key, segment, tier, created=at(1, 1), stage="active", history=True):
        c = Customer(name=key, sort_name=key.lower(), segment=segment, tier=tier, stage=stage, created_at=created,
                     updated_at=created)
        db.session.add(c)
        db.session.flush()
        if history:
            db.session.add(StageChange(customer_id=c.id, from_stage=None, to_stage=stage, at=created, reason="created"))
        people[key] = c.id
        return c

    def contact(key, when, kind=complaint):
        db.session.add(Moment(customer_id=people[key], moment_type_id=kind.id, channel="phone", occurred_at=when))

    def bought(key, day, amount, currency="EUR"):
        db.session.add(Purchase(customer_id=people[key], amount=Decimal(amount), currency=currency, purchased_on=day))

    def moved(key, stage, when):
        db.session.add(StageChange(customer_id=people[key], from_stage=None, to_stage=stage, at=when, reason="test"))
        db.session.get(Customer, people[key]).stage = stage

    for key in ("E1", "E2", "E5", "C1", "C2", "C3", "X2", "X4"):
        customer(key, "Particular", "standard")
    customer("X1", "Particular", "standard", created=at(4, 16))
    customer("X3", "Particular", "standard", stage="churned", history=False)
    for key in ("E6", "C4", "C5"):
        customer(key, "Empresa", "standard")
    customer("E3", "Empresa", "premium")
    customer("X7", "Empresa", "premium", created=at(6, 1))
    customer("E4", None, "basic")

    contact("E1", at(4, 10)), contact("E1", at(4, 20, 12)), contact("E1", at(3, 1))
    bought("E1", date(2026, 4, 10), "100"), bought("E1", date(2026, 5, 1), "50"), bought("E1", date(2026, 6, 1), "30")
    bought("E1", date(2026, 7, 10), "999"), bought("E1", date(2026, 3, 1), "20")
    moved("E1", "churned", at(2, 1)), moved("E1", "active", at(3, 1))
    contact("E2", at(4, 20))
    bought("E2", date(2026, 5, 5), "40", "USD")
    moved("E2", "churned", at(6, 1))
    contact("E5", at(8, 25))
    bought("E5", date(2026, 9, 1), "70")
    bought("C1", date(2026, 4, 15), "500"), bought("C1", date(2026, 5, 20), "60"), bought("C1", date(2026, 7, 14), "40")
    bought("C1", date(2026, 7, 15), "10"), bought("C1", date(2026, 1, 15), "30"), bought("C1", date(2026, 1, 14), "5")
    contact("C2", at(4, 12), visit)
    moved("C2", "churned", at(5, 10))
    bought("C3", date(2026, 6, 1), "20")
    moved("C3", "churned", at(4, 15, 11))
    moved("X2", "churned", at(3, 1))
    contact("X4", at(2, 15))
    contact("E6", at(6, 10, 9))
    bought("E6", date(2026, 7, 1), "200")
    bought("C4", date(2026, 8, 1), "100"), bought("C4", date(2026, 4, 1), "50")
    moved("C5", "churned", at(9, 9))
    contact("E3", at(5, 5))
    bought("E3", date(2026, 5, 20), "300")
    contact("E4", at(8, 25))
    db.session.commit()
    return {"complaint": complaint.id, "visit": visit.id, **people}


@pytest.fixture
def data(ctx):
    return build_impact()


def report(treatment="complaint", first=APRIL_TO_AUGUST[0], last=APRIL_TO_AUGUST[1], now=NOW, **filters):
    return impact.impact_report(treatment, first, last, filters, zone=ZONE, now=now, currency="EUR")


def stratum(result, segment, tier):
    rows = [row for row in result["strata"] if (row["segment"], row["tier"]) == (segment, tier)]
    assert len(rows) == 1, result["strata"]
    return rows[0]


def close(figures: dict, expected: dict):
    assert set(figures) == set(expected)
    for key, value in expected.items():
        if value is None or isinstance(value, Decimal):
            assert figures[key] == value, key
        else:
            assert figures[key] == pytest.approx(value), key


def test_who_is_exposed_and_who_is_comparable(data):
    result = report()
    assert [(r["segment"], r["tier"]) for r in result["strata"]] == [
        ("Empresa", "standard"), ("Empresa", "premium"), ("Particular", "standard"), (None, "basic")]
    s1 = stratum(result, "Particular", "standard")
    assert (s1["exposed"], s1["window_open"], s1["comparable"], s1["matched"]) == (2, 1, 3, True)
    assert s1["reference"] == at(4, 15)  # the median of 10 and 20 April, 10:00 UTC
    s4 = stratum(result, "Empresa", "standard")
    assert (s4["exposed"], s4["window_open"], s4["comparable"], s4["reference"]) == (1, 0, 2, at(6, 10, 9))
    s2 = stratum(result, "Empresa", "premium")
    assert (s2["exposed"], s2["comparable"], s2["matched"]) == (1, 0, False)
    s3 = stratum(result, None, "basic")
    assert (s3["exposed"], s3["window_open"], s3["reference"]) == (0, 1, None)
    assert result["unmatched_strata"] == [{"segment": "Empresa", "tier": "premium", "exposed": 1}]
    assert (result["exposed_customers"], result["window_open"], result["in_figures"], result["unmatched"],
            result["comparable_customers"]) == (6, 2, 3, 1, 5)
    assert result["complete_until"] == date(2026, 8, 17)
    assert result["treatment"].moment_type.id == data["complaint"]


def test_per_stratum_rates(data):
    s1 = stratum(report(), "Particular", "standard")
    close(s1["after"]["exposed"], {"bought": 100.0, "purchases": 1.5, "revenue": Decimal("40.00"), "churned": 50.0})
    close(s1["before"]["exposed"], {"bought": 50.0, "purchases": 0.5, "revenue": Decimal("10.00"), "churned": 50.0})
    close(s1["after"]["comparable"], {"bought": 200 / 3, "purchases": 1.0, "revenue": Decimal("40.00"),
                                      "churned": 200 / 3})
    close(s1["before"]["comparable"], {"bought": 100 / 3, "purchases": 1 / 3, "revenue": Decimal("10.00"),
                                       "churned": 0.0})
    close(s1["difference"], {"bought": 100 / 3, "purchases": 0.5, "revenue": Decimal("0.00"), "churned": -50 / 3})
    s2 = stratum(report(), "Empresa", "premium")
    close(s2["after"]["exposed"], {"bought": 100.0, "purchases": 1.0, "revenue": Decimal("300.00"), "churned": 0.0})
    close(s2["after"]["comparable"], dict.fromkeys(impact.FIGURES))
    close(s2["difference"], dict.fromkeys(impact.FIGURES))


def test_standardised_headline(data):
    result = report()
    close(result["after"]["exposed"], {"bought": 100.0, "purchases": 4 / 3, "revenue": Decimal("93.33"),
                                       "churned": 100 / 3})
    close(result["after"]["comparable"], {"bought": 1100 / 18, "purchases": 2.5 / 3, "revenue": Decimal("43.33"),
                                          "churned": 400 / 9})
    close(result["after"]["difference"], {"bought": 100 - 1100 / 18, "purchases": 0.5, "revenue": Decimal("50.00"),
                                          "churned": 100 / 3 - 400 / 9})
    close(result["before"]["exposed"], {"bought": 100 / 3, "purchases": 1 / 3, "revenue": Decimal("6.67"),
                                        "churned": 100 / 3})
    close(result["before"]["comparable"], {"bought": 700 / 18, "purchases": 7 / 18, "revenue": Decimal("15.00"),
                                           "churned": 0.0})
    # how the gap moved from before to after
    close(result["change"]["difference"], {
        "bought": (100 - 1100 / 18) - (100 / 3 - 700 / 18), "purchases": 0.5 - (1 / 3 - 7 / 18),
        "revenue": Decimal("50.00") - Decimal("-8.33"), "churned": (100 / 3 - 400 / 9) - 100 / 3})
    # USD 40 of E2 is a purchase, not revenue
    assert result["other_currency"] == {"exposed": 1, "comparable": 0}
    assert result["currency"] == "EUR"


def test_filters_narrow_the_strata(data):
    result = report(segment="Empresa")
    assert {(r["segment"], r["tier"]) for r in result["strata"]} == {("Empresa", "standard"), ("Empresa", "premium")}
    close(result["after"]["exposed"], {"bought": 100.0, "purchases": 1.0, "revenue": Decimal("200.00"),
                                       "churned": 0.0})
    close(result["after"]["comparable"], {"bought": 50.0, "purchases": 0.5, "revenue": Decimal("50.00"),
                                          "churned": 0.0})
    only_premium = report(tier="premium")
    assert [(r["segment"], r["tier"]) for r in only_premium["strata"]] == [("Empresa", "premium")]
    assert only_premium["in_figures"] == 0 and only_premium["after"]["exposed"]["bought"] is None


def test_windows_still_open_move_with_today(data):
    # On 23 November every exposure up to 24 August is complete: E5 and E4 (25 August) still are not.
    later = report(now=datetime(2026, 11, 23, 10, tzinfo=UTC))
    assert later["window_open"] == 2
    # From 24 November (25 August + 91) they are in: E5 with its purchase of 1 September,
    # E4 alone in a stratum with no comparable customer.
    done = report(now=datetime(2026, 11, 24, 10, tzinfo=UTC))
    assert done["window_open"] == 0 and done["exposed_customers"] == 6
    s1 = stratum(done, "Particular", "standard")
    assert (s1["exposed"], s1["window_open"]) == (3, 0)
    # the median of three exposures is the middle one: 20 April
    assert s1["reference"] == at(4, 20)
    assert stratum(done, None, "basic")["exposed"] == 1
    # Everything still open: no figures at all, only the count.
    early = report(first="2026-08-20", last="2026-08-31")
    assert (early["window_open"], early["in_figures"], early["exposed_customers"]) == (2, 0, 2)
    assert early["after"]["exposed"] == dict.fromkeys(impact.FIGURES)


def test_compensations_issued(data):
    def compensation(key, status, when):
        db.session.add(Compensation(customer_id=data[key], kind="discount", value=Decimal("10"), cost=Decimal("5"),
                                    status=status, proposed_at=when, issued_at=when if status == "issued" else None))

    compensation("E2", "issued", at(4, 25))
    compensation("C4", "issued", at(4, 12))
    compensation("C2", "proposed", at(4, 5))      # never issued: not a treatment
    compensation("X4", "issued", at(1, 20))       # in the 90 days before April: not comparable
    db.session.commit()
    result = report("compensation", "2026-04-01", "2026-04-30")
    assert result["treatment"].kind == "compensation" and result["treatment"].moment_type is None
    s1 = stratum(result, "Particular", "standard")
    # Comparable at 25 April: E1, E5, C1, C2 and X1 (created 16 April); not C3 (churned 15 April),
    # X2 and X3 (churned), X4 (compensated in January), E2 (the exposed one).
    assert (s1["exposed"], s1["comparable"], s1["reference"]) == (1, 5, at(4, 25))
    close(s1["after"]["exposed"], {"bought": 100.0, "purchases": 1.0, "revenue": Decimal("0.00"), "churned": 100.0})
    s4 = stratum(result, "Empresa", "standard")
    assert (s4["exposed"], s4["comparable"]) == (1, 2)
    assert result["exposed_customers"] == 2 and result["other_currency"]["exposed"] == 1


def test_the_default_period_has_every_window_complete(data):
    result = impact.impact_report("complaint", None, None, {}, zone=ZONE, now=NOW)
    assert (result["period"].first_day, result["period"].last_day) == (date(2026, 5, 20), date(2026, 8, 17))
    assert result["period"].days == 90 and result["window_open"] == 0
    # E3 (5 May) is before the default period; E6 (10 June) is in it
    assert {(r["segment"], r["tier"]) for r in result["strata"]} == {("Empresa", "standard")}
    only_end = impact.impact_report("complaint", None, "2026-06-30", {}, zone=ZONE, now=NOW)
    assert (only_end["period"].first_day, only_end["period"].days) == (date(2026, 4, 2), 90)


def test_treatment_by_id_or_code(data):
    assert report(str(data["complaint"])) == report("complaint")
    assert report(data["complaint"])["in_figures"] == 3


@pytest.mark.parametrize("treatment, first, last, filters, fields", [
    (None, None, None, {}, {"treatment"}),
    ("", None, None, {}, {"treatment"}),
    ("nope", None, None, {}, {"treatment"}),
    ("99999", None, None, {}, {"treatment"}),
    ("-1", None, None, {}, {"treatment"}),
    ("\x00", None, None, {}, {"treatment"}),
    ("x" * 41, None, None, {}, {"treatment"}),
    ("9" * 40, None, None, {}, {"treatment"}),
    ("complaint", "2026-02-30", None, {}, {"from"}),
    ("complaint", "2026-05-01", "2026-04-01", {}, {"to"}),
    ("complaint", "2025-01-01", "2026-01-02", {}, {"to"}),
    ("complaint", "yesterday", "0001-01-01", {}, {"from", "to"}),
    ("complaint", None, None, {"tier": "gold"}, {"tier"}),
    ("complaint", None, None, {"segment": "a\x00b"}, {"segment"}),
    ("complaint", None, None, {"segment": "s" * 61}, {"segment"}),
    ("nope", "bad", None, {"tier": "gold"}, {"treatment", "from", "tier"}),
])
def test_bad_input_every_problem_at_once(data, treatment, first, last, filters, fields):
    with pytest.raises(ValidationFailed) as caught:
        impact.impact_report(treatment, first, last, filters, zone=ZONE, now=NOW)
    assert set(caught.value.fields) == fields


def test_a_year_long_period_and_an_empty_one(data):
    year = report(first="2025-09-01", last="2026-09-01")
    # X4 (15 February) and E1 (1 March) are exposed earlier in a longer period
    assert year["period"].days == 366 and year["exposed_customers"] == 7
    empty = report(first="2020-01-01", last="2020-01-31")
    assert empty["strata"] == [] and empty["exposed_customers"] == 0
    assert empty["after"]["comparable"] == dict.fromkeys(impact.FIGURES)


def test_a_handful_of_queries_whatever_the_data(data, app):
    from sqlalchemy import event

    statements = []

    def count(*args):
        statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        report()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    # the moment type, the exposures, the exposed outcomes, the comparable outcomes
    assert len([s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]) <= 4, statements


def test_a_churned_customer_without_history_is_churned_at_the_reference(data):
    # With no stage change before the reference, the stage now is the stage then.
    db.session.execute(delete(StageChange).where(StageChange.customer_id == data["C2"]))
    db.session.get(Customer, data["C2"]).stage = "churned"
    db.session.commit()
    s1 = stratum(report(), "Particular", "standard")
    assert s1["comparable"] == 2  # C2 now counts as churned at the reference: left out


def test_local_days_across_summer_time(ctx):
    # Madrid leaves summer time on 25 October 2026 at 03:00 (01:00 UTC): that day has 25 hours.
    from sqlalchemy import Date, literal, select

    from crm.insights.services import local_midnight
    from crm.types import UTCDateTime

    days = [date(2026, 10, 20) + timedelta(days=i) for i in range(10)]
    bounds = [local_midnight(day, ZONE) for day in days[1:]]
    for hours in range(0, 10 * 24 + 1, 1):
        instant = local_midnight(days[0], ZONE) + timedelta(hours=hours, minutes=30)
        expected = instant.astimezone(ZoneInfo(ZONE)).date()
        if expected > days[-1]:
            break
        picked = db.session.scalar(select(impact.pick_by_bounds(literal(instant, UTCDateTime), bounds, days,
                                                                UTCDateTime, Date)))
        assert picked == expected, instant


def test_the_exposure_day_is_the_local_one_and_windows_end_at_local_midnight(data):
    late = MomentType(code="late", name="Llamada nocturna", phase="interact", channel="phone")
    db.session.add(late)
    db.session.flush()
    ids = {}
    for key in ("L1", "L2"):
        c = Customer(name=key, sort_name=key.lower(), segment="Noche", tier="standard", stage="active",
                     created_at=at(1, 1), updated_at=at(1, 1))
        db.session.add(c)
        db.session.flush()
        ids[key] = c.id
    # 30 April 22:30 UTC is 1 May 00:30 in Madrid: D = 1 May, after = 2 May … 30 Jul, before = 31 Jan … 30 Apr.
    db.session.add(Moment(customer_id=ids["L1"], moment_type_id=late.id, channel="phone", occurred_at=at(4, 30, 22, 30)))
    for day in (date(2026, 4, 30), date(2026, 5, 1), date(2026, 7, 30), date(2026, 7, 31)):
        db.session.add(Purchase(customer_id=ids["L1"], amount=Decimal("10"), currency="EUR", purchased_on=day))
    # 30 July 23:59 in Madrid is in the window; 31 July 00:00 is not.
    db.session.add(StageChange(customer_id=ids["L1"], to_stage="churned", at=at(7, 30, 21, 59), reason="test"))
    db.session.add(StageChange(customer_id=ids["L2"], to_stage="churned", at=at(7, 30, 22, 0), reason="test"))
    db.session.commit()
    result = report("late", "2026-05-01", "2026-05-31")
    row = stratum(result, "Noche", "standard")
    assert (row["exposed"], row["comparable"], row["reference"]) == (1, 1, at(4, 30, 22, 30))
    close(row["after"]["exposed"], {"bought": 100.0, "purchases": 1.0, "revenue": Decimal("10.00"), "churned": 100.0})
    close(row["before"]["exposed"], {"bought": 100.0, "purchases": 1.0, "revenue": Decimal("10.00"), "churned": 0.0})
    close(row["after"]["comparable"], {"bought": 0.0, "purchases": 0.0, "revenue": Decimal("0.00"), "churned": 0.0})
    # 30 April 22:30 UTC is not in a period of April in Madrid
    assert report("late", "2026-04-01", "2026-04-30")["exposed_customers"] == 0
