"""The journey map and blueprint figures over a small dataset, every figure worked out by hand.

The company's zone is Europe/Madrid; the period is October 2026 in local days and the
previous period the 31 days before it (31 August to 30 September) (see tests/services/test_insights.py).

October, per touchpoint (emotion = logged emotions and survey answers mapped onto −2..+2):

- Visita (discover, target emotion ≥ 1): 3 contacts × 5.00; logged +2, +1 (one not
  recorded) and an NPS 10 (+2) → (2 + 1 + 2) / 3 = 1.67, met.
- Reclamación (interact, target resolved by the second contact ≥ 90): 6 contacts × 18.00;
  logged −2, 0, −1 and a CSAT 2 (−1), a CES 6 (+1) → −3 / 5 = −0.6; incidents: A by the
  2nd contact, B by the 3rd, C on the 1st → 2 of 3 = 66.67 %, missed; commitments due:
  2 on time, 1 broken → 66.67 %. Pain point (emotion and objective).
- Entrega (interact, partner team, target on time ≥ 95): 2 contacts × 10.00; logged +1, −1
  → 0; commitments due: 1 late, 1 on time → 50 %, missed. Pain point (objective).
- Reseña (refer, target CSAT ≥ 80): 1 contact × 2.00; a CSAT 5 (+2), an NPS 9 (+1) → 1.5;
  CSAT 100 %, met. (A CSAT answer given in November does not count.)
- An NPS 0 about no contact belongs to no touchpoint.

September: Visita −1 (one contact), Renovación (retain) +2 (one contact).
"""
from __future__ import annotations

import itertools
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import event

from crm.auth.models import Team, User
from crm.customers.services import create_customer
from crm.domain import ValidationFailed
from crm.extensions import db
from crm.followups.models import OutboxMessage, SurveyResponse
from crm.insights import journey
from crm.moments.catalog import save_moment_type
from crm.moments.models import Commitment, MomentType
from crm.moments.services import log_moment
from tests.conftest import NOW

ZONE = "Europe/Madrid"
UTC = timezone.utc
_keys = itertools.count(1)


def at(month, day, hour=10):
    return datetime(2026, month, day, hour, tzinfo=UTC)


def build_journey(admin_id: int, agent_id: int) -> dict:
    """The dataset of the module docstring. Commits, so other requests see it."""
    admin, agent = db.session.get(User, admin_id), db.session.get(User, agent_id)
    care, sales = Team(name="Atención al cliente"), Team(name="Ventas")
    courier = Team(name="Envíos Levante", kind="partner")
    db.session.add_all([care, sales, courier])
    db.session.flush()

    def kind(code, name, phase, cost, team, metric=None, target=None, **extra):
        return save_moment_type(admin, None, {
            "code": code, "name": name, "phase": phase, "channel": "phone", "cost": cost, "team_id": team.id,
            "objective_metric": metric, "objective_target": target, **extra}, NOW)

    visit = kind("visit", "Visita", "discover", "5.00", sales, "emotion", "1")
    complaint = kind("complaint", "Reclamación", "interact", "18.00", care, "fcr_second", "90",
                     owner_role="supervisor", process="Escuchar y resolver",
                     participants=[{"who": "Taller", "does": "revisa el caso"}],
                     physical_evidence="Correo con número de incidencia", customer_action="Llama con una queja",
                     frontstage_action="Escucha activa", backstage_action="Revisión con el taller",
                     support_process="Política de compensaciones")
    delivery = kind("delivery", "Entrega", "interact", "10.00", courier, "sla", "95")
    review = kind("review", "Reseña", "refer", "2.00", care, "csat", "80")
    renewal = kind("renewal", "Renovación", "retain", "4.00", care)

    a = create_customer(agent, {"name": "Ana Particular", "segment": "Particular", "stage": "active"}, at(1, 1))
    b = create_customer(agent, {"name": "Bruno Empresa", "segment": "Empresa", "stage": "active"}, at(1, 1))

    def contact(who, type_, when, emotion=None, outcome="pending", follows=None):
        return log_moment(agent, {"customer_id": who.id, "moment_type": type_.code, "occurred_at": when,
                                  "emotion": emotion, "outcome": outcome,
                                  "follows_moment_id": follows.id if follows else None}, NOW)

    v1 = contact(a, visit, at(10, 2), 2)
    contact(b, visit, at(10, 3), 1)
    contact(a, visit, at(10, 4))
    a1 = contact(a, complaint, at(10, 5), -2)
    a2 = contact(a, complaint, at(10, 6), 0, "resolved", a1)
    b1 = contact(b, complaint, at(10, 7), -1)
    b2 = contact(b, complaint, at(10, 8), follows=b1)
    b3 = contact(b, complaint, at(10, 9), outcome="resolved", follows=b2)
    contact(b, complaint, at(10, 10), outcome="resolved")
    d1 = contact(a, delivery, at(10, 15), 1)
    d2 = contact(b, delivery, at(10, 16), -1)
    r1 = contact(b, review, at(10, 20))
    contact(a, visit, at(9, 10), -1)
    contact(a, renewal, at(9, 15), 2)

    def commitment(moment, kind_, due, status, met=None):
        db.session.add(Commitment(moment_id=moment.id, customer_id=moment.customer_id, kind=kind_, status=status,
                                  starts_at=moment.occurred_at, due_at=due, met_at=met,
                                  breached_at=due if status == "breached" else None))

    commitment(a1, "first_response", at(10, 5, 14), "met", at(10, 5, 11))      # on time
    commitment(a1, "resolution", at(10, 8), "met", at(10, 6))                  # on time
    commitment(b1, "first_response", at(10, 7, 14), "breached")
    commitment(d1, "resolution", at(10, 17), "met", at(10, 18))                # late
    commitment(d2, "resolution", at(10, 18), "met", at(10, 17))                # on time
    commitment(d2, "first_response", at(11, 20), "open")                      # due after the period

    def survey(who, kind_, score, when, moment=None):
        message = OutboxMessage(idempotency_key=f"journey-test-{next(_keys)}", customer_id=who.id,
                                kind="transactional", survey=kind_, to_address="x@example.es", language="es",
                                subject="¿Qué tal?", message=b"", due_at=when, status="sent",
                                moment_id=moment.id if moment else None)
        db.session.add(message)
        db.session.flush()
        db.session.add(SurveyResponse(outbox_id=message.id, customer_id=who.id, kind=kind_, score=score,
                                      moment_id=moment.id if moment else None, answered_at=when))

    survey(a, "nps", 10, at(10, 5), v1)          # +2
    survey(b, "csat", 2, at(10, 12), b3)         # −1
    survey(a, "ces", 6, at(10, 7), a2)           # +1
    survey(b, "csat", 5, at(10, 21), r1)         # +2
    survey(b, "nps", 9, at(10, 21), r1)          # +1
    survey(b, "csat", 4, at(11, 5), r1)          # November: not this period
    survey(a, "nps", 0, at(10, 22))              # about no contact
    db.session.commit()
    return {"a": a.id, "b": b.id, "visit": visit.id, "complaint": complaint.id, "delivery": delivery.id,
            "review": review.id, "renewal": renewal.id, "courier": courier.id}


@pytest.fixture
def data(ctx, admin, agent):
    return build_journey(admin.id, agent.id)


def october(scope=None):
    return journey.journey_report("2026-10-01", "2026-10-31", scope, zone=ZONE, now=NOW)


def by_code(report, key="phases"):
    return {t["moment_type"].code: t for p in report[key] for t in p["touchpoints"]}


def test_every_touchpoint_figure(data):
    report = october()
    assert [p["phase"] for p in report["phases"]] == ["discover", "evaluate", "interact", "retain", "refer"]
    assert [[t["moment_type"].code for t in p["touchpoints"]] for p in report["phases"]] == [
        ["visit"], [], ["delivery", "complaint"], [], ["review"]]
    t = by_code(report)
    visit, complaint, delivery, review = t["visit"], t["complaint"], t["delivery"], t["review"]
    assert (visit["volume"], visit["cost"], visit["emotions_logged"], visit["survey_answers"]) == (
        3, Decimal("15.00"), 2, 1)
    assert visit["emotion"] == pytest.approx(5 / 3)
    assert visit["objective"] == {"metric": "emotion", "target": 1.0, "actual": pytest.approx(5 / 3), "met": True}
    assert (visit["pain"], visit["sla"]) == (False, None)

    assert (complaint["volume"], complaint["cost"], complaint["emotions_logged"], complaint["survey_answers"]) == (
        6, Decimal("108.00"), 3, 2)
    assert complaint["emotion"] == pytest.approx(-0.6)
    assert (complaint["sla_met"], complaint["sla_breached"]) == (2, 1)
    assert complaint["sla"] == pytest.approx(200 / 3)
    assert (complaint["incidents_resolved"], complaint["csat"], complaint["csat_answers"]) == (3, 0.0, 1)
    assert complaint["objective"]["actual"] == pytest.approx(200 / 3)
    assert (complaint["objective"]["met"], complaint["pain"], complaint["pain_reasons"]) == (
        False, True, ["emotion", "objective"])

    assert (delivery["volume"], delivery["cost"], delivery["emotion"]) == (2, Decimal("20.00"), 0.0)
    assert (delivery["sla_met"], delivery["sla_breached"], delivery["sla"]) == (1, 1, 50.0)
    assert delivery["objective"] == {"metric": "sla", "target": 95.0, "actual": 50.0, "met": False}
    assert (delivery["pain"], delivery["pain_reasons"]) == (True, ["objective"])

    assert (review["volume"], review["emotion"], review["csat"], review["csat_answers"]) == (1, 1.5, 100.0, 1)
    assert review["objective"]["met"] is True and not review["pain"]
    assert [p["moment_type"].code for p in report["pain_points"]] == ["delivery", "complaint"]


def test_phase_totals_weigh_what_was_measured(data):
    phases = {p["phase"]: p for p in october()["phases"]}
    interact = phases["interact"]
    assert (interact["volume"], interact["cost"], interact["emotion_points"]) == (8, Decimal("128.00"), 7)
    assert interact["emotion"] == pytest.approx(-3 / 7)
    assert (interact["sla_met"], interact["sla_breached"], interact["sla"]) == (3, 2, 60.0)
    assert (interact["pain"], interact["pain_points"]) == (True, 2)
    assert phases["discover"]["pain"] is False
    assert (phases["retain"]["volume"], phases["retain"]["emotion"], phases["retain"]["pain"]) == (0, None, False)


def test_the_previous_period_and_the_curve(data):
    report = october()
    assert (report["previous_period"].first_day, report["previous_period"].last_day) == (
        date(2026, 8, 31), date(2026, 9, 30))
    before = by_code(report, "previous_phases")
    assert set(before) == {"visit", "renewal"}
    assert (before["visit"]["emotion"], before["renewal"]["emotion"]) == (-1.0, 2.0)
    curve = [(p["moment_type"].code, p["emotion"], p["previous_emotion"], p["pain"]) for p in report["curve"]]
    assert curve == [("visit", pytest.approx(5 / 3), -1.0, False), ("delivery", 0.0, None, True),
                     ("complaint", -0.6, None, True), ("renewal", None, 2.0, False), ("review", 1.5, None, False)]


def test_a_segment(data):
    t = by_code(october({"segment": "Particular"}))
    assert set(t) == {"visit", "complaint", "delivery"}
    assert (t["visit"]["volume"], t["visit"]["emotion"]) == (2, 2.0)
    complaint = t["complaint"]
    assert (complaint["volume"], complaint["incidents_resolved"], complaint["fcr_second"]) == (2, 1, 100.0)
    assert complaint["emotion"] == pytest.approx(-1 / 3)
    assert (complaint["sla"], complaint["objective"]["met"], complaint["pain_reasons"]) == (100.0, True, ["emotion"])
    assert (t["delivery"]["sla"], t["delivery"]["emotion"]) == (0.0, 1.0)


def test_one_customer(data):
    report = october({"customer_id": str(data["b"])})
    assert report["scope"] == journey.Scope(customer_id=data["b"])
    t = by_code(report)
    assert set(t) == {"visit", "complaint", "delivery", "review"}
    complaint = t["complaint"]
    assert (complaint["volume"], complaint["incidents_resolved"], complaint["fcr_second"]) == (4, 2, 50.0)
    assert complaint["emotion"] == -1.0  # logged −1 and a CSAT 2
    assert (complaint["sla_met"], complaint["sla_breached"]) == (0, 1)
    assert (t["visit"]["volume"], t["visit"]["emotion"]) == (1, 1.0)
    assert by_code(report, "previous_phases") == {}


@pytest.mark.parametrize("scope, field", [
    ({"customer_id": "999999"}, "customer_id"), ({"customer_id": "abc"}, "customer_id"),
    ({"customer_id": "0"}, "customer_id"), ({"customer_id": "9" * 30}, "customer_id"),
    ({"segment": "x" * 61}, "segment"), ({"segment": "a\x00b"}, "segment"),
])
def test_bad_scopes_are_refused(data, scope, field):
    with pytest.raises(ValidationFailed) as exc:
        october(scope)
    assert field in exc.value.fields


@pytest.mark.parametrize("first, last, field", [
    ("2026-10-31", "2026-10-01", "to"), ("yesterday", "2026-10-01", "from"), ("2024-01-01", "2026-10-01", "to"),
])
def test_bad_periods_are_refused(data, first, last, field):
    with pytest.raises(ValidationFailed) as exc:
        journey.journey_report(first, last, None, zone=ZONE, now=NOW)
    assert field in exc.value.fields


def test_a_constant_number_of_queries(data, app, monkeypatch):
    # The source tables alone (the daily rollup has its own tests: tests/services/test_rollup.py).
    monkeypatch.setitem(app.config, "CRM_ROLLUPS", False)
    def count():
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            october()
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(statements)

    first = count()
    admin = db.session.scalar(db.select(User).where(User.role == "admin"))
    for n in range(5):  # more types and contacts: the same number of queries
        extra = save_moment_type(admin, None, {"code": f"extra{n}", "name": f"Extra {n}", "phase": "evaluate",
                                               "channel": "web"}, NOW)
        log_moment(admin, {"customer_id": data["a"], "moment_type": extra.code, "occurred_at": at(10, 3),
                           "emotion": 1}, NOW)
    db.session.commit()
    db.session.expire_all()
    assert count() == first <= 10


def test_blueprint_figures_of_one_type(data):
    complaint = db.session.get(MomentType, data["complaint"])
    report = journey.blueprint_report(complaint, "2026-10-01", "2026-10-31", None, zone=ZONE, now=NOW)
    f = report["figures"]
    assert (f["volume"], f["cost"], f["sla"], f["emotion"]) == (6, Decimal("108.00"), pytest.approx(200 / 3), -0.6)
    assert f["objective"]["met"] is False
    assert report["previous"]["volume"] == 0 and report["previous"]["emotion"] is None
    listing = journey.blueprints_report("2026-10-01", "2026-10-31", None, zone=ZONE, now=NOW)
    rows = {t["moment_type"].code: t for t in listing["touchpoints"]}
    assert [t["moment_type"].code for t in listing["touchpoints"]] == [
        "visit", "delivery", "complaint", "renewal", "review"]
    assert rows["renewal"]["volume"] == 0 and rows["complaint"]["emotion"] == pytest.approx(-0.6)


# --- objectives in the catalog -------------------------------------------------------------

@pytest.mark.parametrize("metric, target, error_field", [
    ("emotion", "2.5", "objective_target"), ("emotion", "-3", "objective_target"),
    ("sla", "101", "objective_target"), ("csat", "-1", "objective_target"), ("fcr_second", "abc", "objective_target"),
    ("fcr_second", "NaN", "objective_target"), ("fcr_second", None, "objective_target"),
    (None, "50", "objective_metric"), ("speed", "50", "objective_metric"), (["sla"], "50", "objective_metric"),
])
def test_objective_targets_are_checked(ctx, admin, metric, target, error_field):
    actor = db.session.get(User, admin.id)
    with pytest.raises(ValidationFailed) as exc:
        save_moment_type(actor, None, {"code": "x", "name": "X", "phase": "discover", "channel": "web",
                                       "objective_metric": metric, "objective_target": target}, NOW)
    assert error_field in exc.value.fields
    assert db.session.scalar(db.select(db.func.count()).select_from(MomentType)) == 0


def test_objective_targets_are_saved_and_updated(ctx, admin):
    actor = db.session.get(User, admin.id)
    mt = save_moment_type(actor, None, {"code": "x", "name": "X", "phase": "discover", "channel": "web",
                                        "objective_metric": "emotion", "objective_target": "-0,5"}, NOW)
    assert (mt.objective_metric, mt.objective_target) == ("emotion", Decimal("-0.50"))
    save_moment_type(actor, mt, {"objective_target": "1.25"}, NOW)  # the metric it keeps
    assert mt.objective_target == Decimal("1.25")
    with pytest.raises(ValidationFailed):
        save_moment_type(actor, mt, {"objective_metric": "sla", "objective_target": "150"}, NOW)
    save_moment_type(actor, mt, {"objective_metric": "", "objective_target": ""}, NOW)
    assert (mt.objective_metric, mt.objective_target) == (None, None)
