"""The supervisor's dashboard queries over small, hand-built data: every count and sum by hand.

The company's zone is Europe/Madrid. NOW is Monday 16 November 2026, 10:00 UTC (11:00 in
Madrid, winter time), so "today" is [15 Nov 23:00 UTC, 16 Nov 23:00 UTC).
"""
from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import event

from crm.auth.models import User
from crm.compensations.models import Compensation
from crm.customers.models import StageChange
from crm.customers.services import create_customer
from crm.extensions import db
from crm.followups.models import OutboxMessage, SurveyResponse
from crm.followups.rules import SCORE_RANGE, is_detractor
from crm.insights import dashboard, services
from crm.moments.catalog import save_moment_type
from crm.moments.models import Commitment
from crm.moments.services import log_moment
from tests.conftest import NOW

ZONE = "Europe/Madrid"
UTC = timezone.utc
_keys = itertools.count(1)


def utc(month, day, hour=10, minute=0, year=2026):
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


class Data:
    """Builds rows by hand (commits nothing: the caller does)."""

    def __init__(self, admin_id: int, agent_id: int):
        self.admin, self.agent = db.session.get(User, admin_id), db.session.get(User, agent_id)
        self.complaint = save_moment_type(self.admin, None, {
            "code": "complaint", "name": "Reclamación", "phase": "interact", "channel": "phone", "cost": "18.00"},
            NOW - timedelta(days=400))
        self._names = itertools.count(1)

    def customer(self, name=None, created=None):
        return create_customer(self.agent, {"name": name or f"Cliente {next(self._names)}", "stage": "active"},
                               created or NOW - timedelta(days=300))

    def contact(self, customer, when):
        return log_moment(self.agent, {"customer_id": customer.id, "moment_type": "complaint", "occurred_at": when},
                          max(when, NOW))

    def commitment(self, customer, kind, status, due, *, warn=None, contact_at=None):
        moment = self.contact(customer, contact_at or min(due, NOW) - timedelta(hours=5))
        commitment = Commitment(moment_id=moment.id, customer_id=customer.id, owner_id=self.agent.id, kind=kind,
                                status=status, starts_at=moment.occurred_at, due_at=due, warn_at=warn,
                                breached_at=due if status == "breached" else None)
        db.session.add(commitment)
        db.session.flush()
        return commitment

    def survey(self, customer, kind, score, when, comment=""):
        message = OutboxMessage(idempotency_key=f"dashboard-test-{next(_keys)}", customer_id=customer.id,
                                kind="transactional", survey=kind, to_address="x@example.es", language="es",
                                subject="¿Qué tal?", message=b"", due_at=when, status="sent")
        db.session.add(message)
        db.session.flush()
        answer = SurveyResponse(outbox_id=message.id, customer_id=customer.id, kind=kind, score=score,
                                comment=comment, answered_at=when)
        db.session.add(answer)
        db.session.flush()
        return answer

    def compensation(self, customer, status, value, cost):
        db.session.add(Compensation(customer_id=customer.id, kind="gift", value=Decimal(value), cost=Decimal(cost),
                                    status=status, proposed_at=NOW - timedelta(days=1)))
        db.session.flush()

    def stage(self, customer, to_stage, at):
        db.session.add(StageChange(customer_id=customer.id, from_stage="active", to_stage=to_stage, at=at))
        db.session.flush()


@pytest.fixture
def data(ctx, admin, agent):
    return Data(admin.id, agent.id)


def today(now=NOW):
    return dashboard.today_panel(now, ZONE)


# --- pure parts ------------------------------------------------------------------------

@pytest.mark.parametrize(("now", "day", "start", "end"), [
    (NOW, date(2026, 11, 16), utc(11, 15, 23), utc(11, 16, 23)),                # winter: UTC+1
    (utc(11, 15, 23, 30), date(2026, 11, 16), utc(11, 15, 23), utc(11, 16, 23)),  # already Monday in Madrid
    (utc(7, 10), date(2026, 7, 10), utc(7, 9, 22), utc(7, 10, 22)),             # summer: UTC+2
    (utc(10, 25, 12), date(2026, 10, 25), utc(10, 24, 22), utc(10, 25, 23)),    # 25-hour day: summer time ends
])
def test_today_is_the_company_local_day_in_utc(now, day, start, end):
    assert dashboard.day_bounds(now, ZONE) == (day, start, end)


@pytest.mark.parametrize(("change", "higher_is_better", "direction", "good"), [
    (12.5, True, "up", True),
    (-3.0, True, "down", False),
    (Decimal("4.00"), False, "up", False),         # cost to serve went up: worse
    (Decimal("-4.00"), False, "down", True),
    (0.004, True, "flat", None),                    # shown as 0 at two decimals
    (-0.004, False, "flat", None),
    (None, True, None, None),                       # one period had nothing to measure
])
def test_trend(change, higher_is_better, direction, good):
    assert dashboard.trend(change, higher_is_better) == dashboard.Trend(direction, good)


# --- today -----------------------------------------------------------------------------

def test_breaches_count_in_the_company_local_day(data):
    ana, bruno = data.customer("Ana"), data.customer("Bruno")
    counted = [
        data.commitment(ana, "resolution", "breached", utc(11, 15, 23, 30)),     # 00:30 on Monday in Madrid
        data.commitment(bruno, "first_response", "breached", utc(11, 16, 9)),
        data.commitment(ana, "first_response", "breached", utc(11, 15, 23)),    # midnight exactly
    ]
    data.commitment(bruno, "resolution", "breached", utc(11, 15, 22, 59))       # 23:59 on Sunday in Madrid
    data.commitment(ana, "resolution", "breached", utc(11, 14, 9))
    data.commitment(bruno, "first_response", "met", utc(11, 16, 8))             # kept: not a breach
    data.commitment(bruno, "resolution", "open", utc(11, 16, 9))                # overdue, not swept yet
    panel = today()
    assert panel["breached"] == 3
    assert [c.id for c in panel["breached_list"]] == [counted[1].id, counted[0].id, counted[2].id]
    first = panel["breached_list"][0]
    assert (first.moment.customer.name, first.moment.moment_type.name, first.kind) == (
        "Bruno", "Reclamación", "first_response")


def test_a_breach_at_2330_utc_belongs_to_the_next_day_in_summer_too(data):
    ana = data.customer("Ana")
    data.commitment(ana, "resolution", "breached", utc(7, 9, 22, 30))   # 00:30 on 10 July in Madrid
    data.commitment(ana, "first_response", "breached", utc(7, 9, 21, 30))  # 23:30 on 9 July
    assert today(utc(7, 10, 8))["breached"] == 1
    assert today(utc(7, 9, 21, 45))["breached"] == 1                    # on the 9th, only the earlier one


def test_the_latest_ten_breaches_are_listed_and_all_counted(data):
    ana = data.customer("Ana")
    made = [data.commitment(data.customer(), "resolution", "breached", utc(11, 16, 0, minute))
            for minute in range(12)]
    data.commitment(ana, "resolution", "breached", utc(11, 15, 10))
    panel = today()
    assert panel["breached"] == 12
    assert [c.id for c in panel["breached_list"]] == [c.id for c in reversed(made)][:10]


def test_commitments_at_risk_now(data):
    ana = data.customer("Ana")
    risky = [
        data.commitment(ana, "resolution", "open", NOW + timedelta(hours=5), warn=NOW - timedelta(hours=1)),
        data.commitment(data.customer(), "first_response", "open", NOW + timedelta(hours=1), warn=NOW),  # warn ≤ now
    ]
    data.commitment(data.customer(), "resolution", "open", NOW + timedelta(hours=3), warn=NOW + timedelta(minutes=1))
    data.commitment(data.customer(), "resolution", "open", NOW, warn=NOW - timedelta(hours=2))  # due: overdue
    data.commitment(data.customer(), "resolution", "paused", NOW + timedelta(hours=2),
                    warn=NOW - timedelta(hours=2))                   # the clock is stopped
    data.commitment(data.customer(), "resolution", "open", NOW + timedelta(hours=2))  # no warning instant
    data.commitment(data.customer(), "resolution", "met", NOW + timedelta(hours=2), warn=NOW - timedelta(hours=2))
    panel = today()
    assert panel["at_risk"] == 2
    assert [c.id for c in panel["at_risk_list"]] == [risky[1].id, risky[0].id]  # soonest due first
    db.session.expire_all()
    assert all(c.is_at_risk(NOW) for c in today()["at_risk_list"])


def test_the_ten_soonest_due_of_many_at_risk(data):
    made = [data.commitment(data.customer(), "resolution", "open", NOW + timedelta(hours=20 - i),
                            warn=NOW - timedelta(hours=1)) for i in range(13)]
    panel = today()
    assert panel["at_risk"] == 13
    assert [c.id for c in panel["at_risk_list"]] == [c.id for c in reversed(made)][:10]


def test_pending_compensations_count_value_and_cost(data):
    ana, bruno = data.customer("Ana"), data.customer("Bruno")
    data.compensation(ana, "proposed", "10.50", "4.25")
    data.compensation(bruno, "proposed", "0.10", "0.20")
    data.compensation(bruno, "approved", "20.00", "12.00")
    data.compensation(ana, "issued", "99.00", "99.00")
    data.compensation(ana, "rejected", "50.00", "50.00")
    assert today()["pending"] == {"count": 3, "value": Decimal("30.60"), "cost": Decimal("16.45")}


def test_no_pending_compensations_is_zero_money(data):
    assert today()["pending"] == {"count": 0, "value": Decimal("0.00"), "cost": Decimal("0.00")}


def test_detractors_follow_the_survey_rule_for_every_kind_and_score(data):
    ana = data.customer("Ana")
    expected = 0
    for kind, (low, high) in SCORE_RANGE.items():
        for score in range(low, high + 1):
            data.survey(ana, kind, score, NOW - timedelta(days=1))
            expected += is_detractor(kind, score)
    assert expected == 7 + 2 + 3  # NPS 0–6, CSAT 1–2, CES 1–3
    assert today()["detractors"] == expected


def test_new_detractors_are_those_of_the_last_seven_days(data):
    ana, bruno = data.customer("Ana"), data.customer("Bruno")
    recent = [data.survey(ana, "nps", 2, NOW - timedelta(days=6, hours=23), "Nadie me llamó"),
              data.survey(bruno, "csat", 1, NOW - timedelta(hours=1), "Muy mal"),
              data.survey(bruno, "nps", 6, NOW)]
    data.survey(ana, "nps", 0, NOW - timedelta(days=7))                  # a week ago exactly: out
    data.survey(ana, "nps", 7, NOW - timedelta(hours=2))                 # a passive
    data.survey(bruno, "ces", 4, NOW - timedelta(hours=3))
    panel = today()
    assert panel["detractors"] == 3
    listed = panel["detractor_list"]
    assert [a.id for a in listed] == [recent[2].id, recent[1].id, recent[0].id]
    assert (listed[1].customer.name, listed[1].score, listed[1].comment) == ("Bruno", 1, "Muy mal")


def test_customers_who_moved_to_at_risk_in_the_last_seven_days(data):
    ana, bruno, clara, diego = (data.customer(n) for n in ("Ana", "Bruno", "Clara", "Diego"))
    data.stage(ana, "at_risk", NOW - timedelta(days=1))
    data.stage(ana, "at_risk", NOW - timedelta(days=3))                 # the same customer twice: once
    data.stage(bruno, "at_risk", NOW - timedelta(days=6))
    data.stage(clara, "at_risk", NOW - timedelta(days=8))               # too long ago
    data.stage(diego, "churned", NOW - timedelta(days=1))               # another stage
    assert today()["moved_at_risk"] == 2


def test_an_empty_database(ctx):
    panel = today()
    assert (panel["breached"], panel["at_risk"], panel["detractors"], panel["moved_at_risk"]) == (0, 0, 0, 0)
    assert panel["breached_list"] == panel["at_risk_list"] == panel["detractor_list"] == []


# --- key figures -----------------------------------------------------------------------

def test_key_figures_are_the_metrics_of_the_last_30_days_against_the_30_before(data):
    # Last 30 local days up to Monday 16 November: 18 October to 16 November; before: 18 Sep – 17 Oct.
    ana, bruno = data.customer("Ana"), data.customer("Bruno")
    for score in (10, 10, 0):
        data.survey(ana, "nps", score, utc(11, 10))                       # NPS 33.33
    data.survey(bruno, "nps", 0, utc(10, 17, 12))                         # before: NPS −100
    data.survey(bruno, "csat", 5, utc(10, 17, 21, 59))                    # still 17 October in Madrid
    data.survey(bruno, "csat", 5, utc(10, 17, 22, 30))                    # 18 October: this period
    data.contact(ana, utc(11, 2))                                         # this period: cost 18.00
    data.compensation(ana, "proposed", "1.00", "1.00")                    # not issued: no cost
    figures = dashboard.key_figures(NOW, ZONE)
    assert (figures["period"].first_day, figures["period"].last_day) == (date(2026, 10, 18), date(2026, 11, 16))
    assert figures["previous_period"].last_day == date(2026, 10, 17)
    rows = {row["key"]: row for row in figures["rows"]}
    assert list(rows) == [f.key for f in dashboard.KEY_FIGURES]
    assert round(rows["nps"]["current"], 2) == 33.33 and rows["nps"]["previous"] == -100.0
    assert rows["nps"]["trend"] == dashboard.Trend("up", True)
    assert (rows["csat"]["current"], rows["csat"]["previous"]) == (100.0, 100.0)
    assert rows["csat"]["trend"] == dashboard.Trend("flat", None)
    assert (rows["cost_to_serve"]["current"], rows["cost_to_serve"]["previous"]) == (Decimal("18.00"),
                                                                                    Decimal("0.00"))
    assert rows["cost_to_serve"]["trend"] == dashboard.Trend("up", False)
    assert rows["fcr_first"]["trend"] == dashboard.Trend(None, None)      # nothing resolved in either
    # The same figures the metrics page shows for the same period.
    report = services.metrics_report(None, None, None, zone=ZONE, now=NOW)
    for key, row in rows.items():
        assert (row["current"], row["previous"], row["change"]) == (
            report["current"][key], report["previous"][key], report["change"][key])


# --- cost -------------------------------------------------------------------------------

def _statements(call) -> list[str]:
    seen = []

    def listener(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    return seen


def _add_a_bit_of_everything(data: Data, n: int) -> None:
    for i in range(n):
        customer = data.customer()
        data.commitment(customer, "resolution", "breached", utc(11, 16, 1, i % 60))
        data.commitment(customer, "first_response", "open", NOW + timedelta(hours=1 + i),
                        warn=NOW - timedelta(minutes=5))
        data.survey(customer, "nps", i % 7, NOW - timedelta(hours=i + 1), f"Comentario {i}")
        data.compensation(customer, "proposed", "5.00", "2.00")
        data.stage(customer, "at_risk", NOW - timedelta(days=1))


def test_a_constant_number_of_queries_as_the_data_grows(data, app, monkeypatch):
    # The source tables alone (the daily rollup has its own tests: tests/services/test_rollup.py).
    monkeypatch.setitem(app.config, "CRM_ROLLUPS", False)
    _add_a_bit_of_everything(data, 2)
    db.session.commit()
    db.session.expire_all()
    small = _statements(lambda: dashboard.dashboard(NOW, ZONE))
    _add_a_bit_of_everything(data, 25)
    db.session.commit()
    db.session.expire_all()
    result = {}
    large = _statements(lambda: result.update(dashboard.dashboard(NOW, ZONE)))
    assert len(small) == len(large) == 4 + 16  # today's panel, then two periods of 8 metric queries
    # Touching what the page shows loads nothing more.
    panel = result["today"]
    shown = _statements(lambda: [(c.moment.customer.name, c.moment.moment_type.name, c.owner and c.owner.name)
                                 for c in panel["breached_list"] + panel["at_risk_list"]]
                        + [a.customer.name for a in panel["detractor_list"]])
    assert shown == []
    assert (panel["breached"], panel["at_risk"], panel["detractors"], panel["moved_at_risk"]) == (27, 27, 27, 27)
