"""Lifecycle automation over hand-built data: each rule, the never-backwards rule both ways,
win-backs, disabled rules, idempotent runs, the history rows, and the query count.

NOW is Monday 16 November 2026, 10:00 UTC; the company's zone is Europe/Madrid, so
"today" is 16 November and the current calendar month is November 2026.
"""
from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from crm.audit import AuditEvent
from crm.auth.models import User
from crm.customers import automation
from crm.customers.models import Customer, LifecycleRule, Purchase, StageChange
from crm.customers.purchases import record_purchase
from crm.domain import NotFound, ValidationFailed
from crm.extensions import db
from crm.followups.models import OutboxMessage, SurveyResponse
from crm.moments.catalog import save_moment_type
from crm.moments.models import Commitment, Moment, MomentType
from tests.conftest import NOW

_keys = itertools.count(1)
TODAY = date(2026, 11, 16)


def days_ago(n: int) -> datetime:
    return NOW - timedelta(days=n)


RECENT = days_ago(3)


class World:
    """Rows built by hand; commits nothing."""

    def __init__(self, admin_id: int, agent_id: int):
        self.admin, self.agent = db.session.get(User, admin_id), db.session.get(User, agent_id)
        self.complaint = save_moment_type(self.admin, None, {
            "code": "complaint", "name": "Reclamación", "phase": "interact", "channel": "phone", "cost": "1.00"},
            days_ago(800))
        self.referral = save_moment_type(self.admin, None, {
            "code": "recomendacion", "name": "Recomendación", "phase": "refer", "channel": "social", "cost": "1.00"},
            days_ago(800))
        self._names = itertools.count(1)

    def customer(self, stage="prospect", loyalty="occasional", *, since=None, last_activity=RECENT) -> Customer:
        """A customer in `stage` since `since` (a person put them there), last active at `last_activity`."""
        since = since or days_ago(400)
        name = f"Cliente {next(self._names)}"
        customer = Customer(name=name, sort_name=name.lower(), stage=stage, loyalty=loyalty, created_at=since,
                            updated_at=since, last_activity_at=last_activity)
        db.session.add(customer)
        db.session.flush()
        db.session.add(StageChange(customer_id=customer.id, from_stage=None, to_stage=stage, at=since,
                                   user_id=self.agent.id, reason="created"))
        db.session.flush()
        return customer

    def purchase(self, customer, day: date, recorded: datetime | None = None):
        db.session.add(Purchase(customer_id=customer.id, amount=Decimal("20.00"), currency="EUR", purchased_on=day,
                                created_at=recorded or datetime.combine(day, time(12), tzinfo=timezone.utc)))
        db.session.flush()

    def survey(self, customer, kind, score, when):
        message = OutboxMessage(idempotency_key=f"lifecycle-test-{next(_keys)}", customer_id=customer.id,
                                kind="transactional", survey=kind, to_address="x@example.es", language="es",
                                subject="?", message=b"", due_at=when, status="sent")
        db.session.add(message)
        db.session.flush()
        db.session.add(SurveyResponse(outbox_id=message.id, customer_id=customer.id, kind=kind, score=score,
                                      comment="", answered_at=when))
        db.session.flush()

    def contact(self, customer, when, moment_type=None):
        moment = Moment(customer_id=customer.id, moment_type_id=(moment_type or self.complaint).id, channel="phone",
                        occurred_at=when, cost=Decimal("1.00"))
        db.session.add(moment)
        db.session.flush()
        return moment

    def breach(self, customer, due):
        moment = self.contact(customer, due - timedelta(hours=5))
        db.session.add(Commitment(moment_id=moment.id, customer_id=customer.id, kind="resolution",
                                  status="breached", starts_at=moment.occurred_at, due_at=due, breached_at=due))
        db.session.flush()

    def move(self, customer, stage, at, *, by_person=True, rule=None):
        db.session.add(StageChange(customer_id=customer.id, from_stage=customer.stage, to_stage=stage, at=at,
                                   user_id=self.agent.id if by_person else None, rule=rule, reason="x"))
        customer.stage = stage
        db.session.flush()


@pytest.fixture
def w(ctx, admin, agent):
    return World(admin.id, agent.id)


def run(now=NOW):
    return automation.apply_lifecycle_rules(now)


def state(customer):
    db.session.expire(customer)
    return customer.stage, customer.loyalty


def history(customer) -> list[tuple]:
    return [(c.from_stage, c.to_stage, c.rule, c.reason, c.user_id) for c in db.session.scalars(
        select(StageChange).where(StageChange.customer_id == customer.id, StageChange.reason != "created")
        .order_by(StageChange.id))]


def set_rule(code, enabled=True, **params):
    automation.save_rule(None, code, {"enabled": enabled, "params": params}, NOW)


# --- each rule --------------------------------------------------------------------------------

def test_rules_are_seeded_with_their_defaults(w):
    rows = automation.rules()
    assert [r.code for r in rows] == list(automation.CODES)
    assert all(r.enabled for r in rows)
    assert db.session.scalar(select(LifecycleRule.params).where(LifecycleRule.code == "regular_purchases")) == {
        "purchases": 3, "days": 180}
    assert len(automation.rules()) == 7 and db.session.scalar(select(func.count(LifecycleRule.id))) == 7


def test_first_purchase_makes_a_prospect_new(w):
    buyer, browser = w.customer(), w.customer()
    w.purchase(buyer, date(2026, 11, 10))
    result = run()
    assert state(buyer) == ("new", "occasional") and state(browser) == ("prospect", "occasional")
    assert history(buyer) == [("prospect", "new", "first_purchase", "purchase 2026-11-10", None)]
    assert history(browser) == []
    assert result.stage_moves == {"first_purchase": 1} and result.customers == 1
    summary = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "lifecycle.rules_applied"))
    assert (summary.user_id, summary.details) == (None, {"customers": 1, "stage_moves": {"first_purchase": 1},
                                                         "loyalty_changes": {}})


def test_regular_purchases_make_a_customer_active_and_regular(w):
    regular, too_old, too_few = w.customer("new"), w.customer("new"), w.customer("new")
    for n in (1, 60, 179):
        w.purchase(regular, TODAY - timedelta(days=n))
    for n in (1, 60, 180):  # the third is outside the 180 days that end today
        w.purchase(too_old, TODAY - timedelta(days=n))
    for n in (1, 2):
        w.purchase(too_few, TODAY - timedelta(days=n))
    run()
    assert state(regular) == ("active", "regular")
    assert history(regular) == [("new", "active", "regular_purchases", "3 purchases / 180 d", None)]
    assert state(too_old) == ("new", "occasional") and state(too_few) == ("new", "occasional")


def test_regular_purchases_settings_are_honoured(w):
    set_rule("regular_purchases", purchases=2, days=10)
    quick, slow = w.customer("new"), w.customer("new")
    for n in (1, 9):
        w.purchase(quick, TODAY - timedelta(days=n))
    for n in (1, 11):
        w.purchase(slow, TODAY - timedelta(days=n))
    run()
    assert state(quick) == ("active", "regular") and state(slow) == ("new", "occasional")
    assert history(quick)[0][3] == "2 purchases / 10 d"


def test_a_loyalty_change_alone_is_audited_and_writes_no_stage_history(w):
    customer = w.customer("loyal")  # put there by a person, loyalty never set
    for n in (1, 2, 3):
        w.purchase(customer, TODAY - timedelta(days=n))
    result = run()
    assert state(customer) == ("loyal", "regular") and history(customer) == []
    change = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "customer.loyalty_changed"))
    assert (change.entity_id, change.details) == (customer.id, {"from": "occasional", "to": "regular",
                                                                "rule": "regular_purchases"})
    assert result.loyalty_changes == {"regular_purchases": 1} and result.stage_moves == {}


def test_a_purchase_in_each_of_the_last_months_makes_a_customer_exclusive(w):
    monthly, gap, this_month = w.customer("active", "regular"), w.customer("active", "regular"), w.customer("new")
    for month in range(5, 11):  # May–October: the six months before November
        w.purchase(monthly, date(2026, month, 20))
        if month != 7:
            w.purchase(gap, date(2026, month, 20))
    w.purchase(gap, date(2026, 7, 31) + timedelta(days=100))  # November, but July is missing
    for month in range(6, 12):  # June–November: the six months ending with this one
        w.purchase(this_month, date(2026, month, 2))
    run()
    assert state(monthly) == ("loyal", "exclusive") and state(this_month) == ("loyal", "exclusive")
    assert state(gap) == ("active", "regular")
    assert history(monthly) == [("active", "loyal", "exclusive", "purchases in each of 6 months", None)]
    # one month fewer is enough once the admin says so
    set_rule("exclusive", months=3)
    run()
    assert state(gap) == ("loyal", "exclusive")


def test_a_promoter_answer_and_a_referral_make_a_promoter(w):
    promoter, no_referral, passive, old_referral = (w.customer("active", "regular") for _ in range(4))
    for customer, score in ((promoter, 9), (no_referral, 10), (passive, 8), (old_referral, 10)):
        w.survey(customer, "nps", score, days_ago(5))
    w.contact(promoter, days_ago(30), w.referral)
    w.contact(no_referral, days_ago(30))  # a complaint is no referral
    w.contact(passive, days_ago(30), w.referral)
    w.contact(old_referral, days_ago(91), w.referral)
    run()
    assert state(promoter) == ("promoter", "promoter")
    assert history(promoter) == [("active", "promoter", "promoter", "NPS 9 + referral 2026-10-17", None)]
    assert [state(c) for c in (no_referral, passive, old_referral)] == [("active", "regular")] * 3
    set_rule("promoter", days=120)
    run()
    assert state(old_referral) == ("promoter", "promoter")


def test_the_referral_types_are_configurable(w):
    review = save_moment_type(w.admin, None, {"code": "resena", "name": "Reseña", "phase": "refer",
                                              "channel": "web", "cost": "0"}, NOW)
    customer = w.customer("active")
    w.survey(customer, "nps", 10, days_ago(1))
    w.contact(customer, days_ago(1), review)
    run()
    assert state(customer)[0] == "active"
    set_rule("promoter", referral_types="recomendacion, resena")
    run()
    assert state(customer) == ("promoter", "promoter")


def test_a_detractor_answer_puts_a_customer_at_risk(w):
    unhappy, prospect, answered_before = w.customer("active"), w.customer("prospect"), w.customer("loyal")
    w.survey(unhappy, "nps", 3, days_ago(2))
    w.survey(prospect, "nps", 0, days_ago(2))
    w.survey(answered_before, "csat", 1, days_ago(3))
    w.move(answered_before, "active", days_ago(1))  # a person looked at it since: the answer is spent
    run()
    assert state(unhappy)[0] == "at_risk"
    assert history(unhappy) == [("active", "at_risk", "survey_detractor", "NPS 3", None)]
    assert state(prospect)[0] == "prospect" and state(answered_before)[0] == "active"


def test_repeated_breaches_put_a_customer_at_risk(w):
    twice, once, long_ago = w.customer("loyal", "exclusive"), w.customer("active"), w.customer("active")
    w.breach(twice, days_ago(3))
    w.breach(twice, days_ago(20))
    w.breach(once, days_ago(3))
    w.breach(long_ago, days_ago(31))
    w.breach(long_ago, days_ago(40))
    run()
    assert state(twice) == ("at_risk", "exclusive")  # loyalty is what they bought: it stays
    assert history(twice) == [("loyal", "at_risk", "repeated_breaches", "2 breaches / 30 d", None)]
    assert state(once)[0] == "active" and state(long_ago)[0] == "active"


def test_inactivity_churns(w):
    quiet = w.customer("active", last_activity=days_ago(181))
    recent = w.customer("active", last_activity=days_ago(179))
    never_seen = w.customer("new", since=days_ago(200), last_activity=None)  # no contact ever, created long ago
    prospect = w.customer("prospect", last_activity=days_ago(300))
    looked_at = w.customer("active", last_activity=days_ago(300))
    w.move(looked_at, "loyal", days_ago(10))  # a person moved them lately
    at_risk = w.customer("at_risk", last_activity=days_ago(200))
    run()
    assert state(quiet)[0] == "churned" and state(never_seen)[0] == "churned" and state(at_risk)[0] == "churned"
    assert history(quiet) == [("active", "churned", "inactivity", "no activity 180 d (last 2026-05-19)", None)]
    assert state(recent)[0] == "active" and state(prospect)[0] == "prospect" and state(looked_at)[0] == "loyal"


# --- never backwards ------------------------------------------------------------------------------

def test_rules_never_move_a_customer_down_the_ladder_nor_down_in_loyalty(w):
    top = w.customer("promoter", "promoter")
    loyal = w.customer("loyal", "exclusive")
    for customer in (top, loyal):
        for n in (1, 2, 3):
            w.purchase(customer, TODAY - timedelta(days=n))
    result = run()
    assert state(top) == ("promoter", "promoter") and state(loyal) == ("loyal", "exclusive")
    assert history(top) == history(loyal) == [] and result.customers == 0


def test_at_risk_and_churned_are_reached_from_any_stage_but_churned_is_not_put_at_risk(w):
    promoter = w.customer("promoter", "promoter")
    churned = w.customer("churned", since=days_ago(50), last_activity=days_ago(10))
    for customer in (promoter, churned):
        w.breach(customer, days_ago(2))
        w.breach(customer, days_ago(4))
    run()
    assert state(promoter) == ("at_risk", "promoter") and state(churned)[0] == "churned"


def test_a_win_back_needs_a_purchase_made_after_the_fall(w):
    customer = w.customer("active", "regular", last_activity=days_ago(5))
    for n in (20, 40, 60):
        w.purchase(customer, TODAY - timedelta(days=n))
    w.survey(customer, "nps", 2, days_ago(10))
    run(days_ago(9))
    assert state(customer) == ("at_risk", "regular")
    # the purchases before the fall still count as "regular", but win nobody back
    assert run().customers == 0 and state(customer)[0] == "at_risk"
    # a purchase recorded now but dated before the fall is no comeback either
    w.purchase(customer, TODAY - timedelta(days=12), recorded=days_ago(1))
    assert run().customers == 0
    w.purchase(customer, TODAY - timedelta(days=1))
    run()
    assert state(customer) == ("active", "regular")
    assert history(customer)[-1] == ("at_risk", "active", "regular_purchases", "5 purchases / 180 d; win-back", None)
    # the answer that put them at risk is spent: the next runs leave them be
    assert run().customers == 0 and run(NOW + timedelta(days=1)).customers == 0


def test_a_churned_customer_who_buys_again_is_won_back(w):
    customer = w.customer("active", last_activity=days_ago(400))
    run(days_ago(30))
    assert state(customer)[0] == "churned"
    record_purchase(None, {"customer_id": customer.id, "amount": "30", "purchased_on": "2026-11-16"}, NOW)
    assert state(customer)[0] == "new"
    assert history(customer)[-1] == ("churned", "new", "first_purchase", "purchase 2026-11-16; win-back", None)


def test_fresh_evidence_keeps_an_at_risk_customer_there_despite_a_purchase(w):
    customer = w.customer("at_risk", since=days_ago(10), last_activity=days_ago(1))
    w.purchase(customer, TODAY - timedelta(days=1))
    w.survey(customer, "ces", 1, days_ago(1))
    assert run().customers == 0 and state(customer)[0] == "at_risk"


# --- switches, idempotency, history ---------------------------------------------------------------

def test_a_disabled_rule_does_nothing(w):
    buyer = w.customer()
    w.purchase(buyer, TODAY)
    unhappy = w.customer("active")
    w.survey(unhappy, "nps", 0, days_ago(1))
    set_rule("first_purchase", enabled=False)
    set_rule("survey_detractor", enabled=False)
    result = run()
    assert state(buyer)[0] == "prospect" and state(unhappy)[0] == "active"
    assert {"first_purchase", "survey_detractor"} <= set(result.disabled)
    assert "first_purchase: off" in str(result)
    set_rule("first_purchase")
    run()
    assert state(buyer)[0] == "new" and state(unhappy)[0] == "active"


def _a_bit_of_everything(w, n: int):
    """`n` customers of each kind the rules act on."""
    for i in range(n):
        w.purchase(w.customer(), TODAY - timedelta(days=i % 30))
        regular = w.customer("new")
        for d in (1, 2, 3):
            w.purchase(regular, TODAY - timedelta(days=d + i % 5))
        loyal = w.customer("active", "regular")
        for month in range(5, 11):
            w.purchase(loyal, date(2026, month, 1 + i % 28))
        promoter = w.customer("loyal", "exclusive")
        w.survey(promoter, "nps", 10, days_ago(3))
        w.contact(promoter, days_ago(4), w.referral)
        unhappy = w.customer("active")
        w.survey(unhappy, "nps", i % 7, days_ago(1))
        breached = w.customer("active")
        w.breach(breached, days_ago(1))
        w.breach(breached, days_ago(2))
        w.customer("loyal", last_activity=days_ago(200 + i))
        w.customer("active", last_activity=days_ago(5))  # nothing to do


def test_a_second_run_changes_nothing_and_every_move_names_its_rule(w):
    _a_bit_of_everything(w, 3)
    first = run()
    assert first.customers == 21
    assert first.stage_moves == {"first_purchase": 3, "regular_purchases": 3, "exclusive": 3, "promoter": 3,
                                 "survey_detractor": 3, "repeated_breaches": 3, "inactivity": 3}
    moves = db.session.scalars(select(StageChange).where(StageChange.reason != "created")).all()
    assert len(moves) == 21 and all(m.rule in automation.CODES and m.user_id is None and m.reason for m in moves)
    rows = db.session.scalar(select(func.count(StageChange.id)))
    second = run()
    assert second.customers == 0 and second.stage_moves == {} and second.loyalty_changes == {}
    assert db.session.scalar(select(func.count(StageChange.id))) == rows
    summary = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "lifecycle.rules_applied")).all()
    assert [s.details["customers"] for s in summary] == [21, 0]


def count_queries(action) -> int:
    statements = []

    def before(conn, cursor, statement, *args):
        statements.append(statement)

    engine = db.session.get_bind()
    event.listen(engine, "before_cursor_execute", before)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return len(statements)


def test_the_nightly_run_costs_the_same_queries_for_many_customers(w):
    automation.rules()
    _a_bit_of_everything(w, 2)
    db.session.flush()
    few = count_queries(run)
    _a_bit_of_everything(w, 60)  # the first ones are done: the second run moves just these
    db.session.flush()
    many = count_queries(run)
    assert many == few and many < 40
    assert db.session.scalar(select(func.count(Customer.id)).where(Customer.stage == "churned")) == 62


def test_many_changes_are_written_in_chunks(w, monkeypatch):
    monkeypatch.setattr(automation, "CHUNK", 7)
    buyers = [w.customer() for _ in range(30)]
    for buyer in buyers:
        w.purchase(buyer, TODAY)
    commits = []
    result = automation.apply_lifecycle_rules(NOW, checkpoint=lambda: commits.append(1))
    assert result.customers == 30 and len(commits) == 5
    assert {state(b)[0] for b in buyers} == {"new"}


# --- one customer at once ------------------------------------------------------------------------------

def test_recording_a_purchase_applies_the_rules_to_that_customer_only(w):
    buyer, other = w.customer(), w.customer()
    w.purchase(other, TODAY)
    record_purchase(w.agent, {"customer_id": buyer.id, "amount": "12.50", "purchased_on": "2026-11-15"}, NOW)
    assert buyer.stage == "new"  # the loaded customer is refreshed
    assert state(other)[0] == "prospect"
    for day in ("2026-11-01", "2026-11-10"):
        record_purchase(w.agent, {"customer_id": buyer.id, "amount": "9", "purchased_on": day}, NOW)
    assert state(buyer) == ("active", "regular")
    assert [h[2] for h in history(buyer)] == ["first_purchase", "regular_purchases"]


def test_evaluate_customer_answers_what_it_did(w):
    customer = w.customer("active")
    w.survey(customer, "nps", 4, NOW)
    decision = automation.evaluate_customer(customer.id, NOW)
    assert (decision.stage, decision.stage_rule, decision.reason) == ("at_risk", "survey_detractor", "NPS 4")
    assert automation.evaluate_customer(customer.id, NOW) is None


def test_a_prospect_who_bought_long_ago_becomes_new_then_churned_in_one_run(w):
    customer = w.customer("prospect", last_activity=days_ago(250))
    w.purchase(customer, TODAY - timedelta(days=250))
    result = run()
    assert state(customer)[0] == "churned"
    assert [(h[0], h[1], h[2]) for h in history(customer)] == [("prospect", "new", "first_purchase"),
                                                               ("new", "churned", "inactivity")]
    assert result.customers == 1 and result.stage_moves == {"first_purchase": 1, "inactivity": 1}
    assert run().customers == 0


def answer(w, customer, score, kind="nps"):
    """The customer answers a survey through its link, as on the public page."""
    from crm.followups.render import survey_token
    from crm.followups.services import answer_survey

    key = f"lifecycle-answer-{next(_keys)}"
    db.session.add(OutboxMessage(idempotency_key=key, customer_id=customer.id, kind="transactional", survey=kind,
                                 to_address="x@example.es", language="es", subject="?", message=b"", due_at=NOW,
                                 sent_at=NOW, status="sent"))
    db.session.flush()
    return answer_survey(survey_token(key), {"score": str(score)}, NOW)


def alerts() -> int:
    return db.session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.user_id.is_not(None)))


def test_a_detractor_answer_acts_at_once_and_alerts_even_with_the_rule_off(supervisor, w):
    on, off = w.customer("active"), w.customer("active")
    answer(w, on, 3)
    assert state(on)[0] == "at_risk" and history(on) == [("active", "at_risk", "survey_detractor", "NPS 3", None)]
    assert alerts() == 1
    set_rule("survey_detractor", enabled=False)
    answer(w, off, 1, kind="csat")
    assert state(off)[0] == "active" and history(off) == []
    assert alerts() == 2  # supervisors hear about it all the same
    set_rule("survey_detractor")
    run()
    assert state(off)[0] == "at_risk"  # the nightly run catches up once the rule is back on


def test_a_promoter_answer_from_someone_who_recommended_us_acts_at_once(supervisor, w):
    customer = w.customer("loyal", "exclusive")
    w.contact(customer, days_ago(20), w.referral)
    answer(w, customer, 10)
    assert state(customer) == ("promoter", "promoter") and alerts() == 0
    assert history(customer) == [("loyal", "promoter", "promoter", "NPS 10 + referral 2026-10-27", None)]


# --- settings ------------------------------------------------------------------------------------

def test_saving_a_rule_is_audited_and_checked(w):
    row = automation.save_rule(w.admin, "inactivity", {"enabled": False, "params": {"days": "365"}}, NOW)
    assert (row.enabled, row.params, row.updated_by_id) == (False, {"days": 365}, w.admin.id)
    assert db.session.scalar(select(AuditEvent.details).where(AuditEvent.action == "lifecycle_rule.saved")) == {
        "code": "inactivity", "enabled": False, "params": {"days": 365}}
    with pytest.raises(NotFound):
        automation.save_rule(w.admin, "nope", {}, NOW)
    for data, field in (({"enabled": "yes"}, "enabled"), ({"params": {"days": 0}}, "days"),
                        ({"params": {"hours": 3}}, "hours"), ({"params": []}, "params"), ({"colour": 1}, "colour")):
        with pytest.raises(ValidationFailed) as failure:
            automation.save_rule(w.admin, "inactivity", data, NOW)
        assert field in failure.value.fields


def test_referral_types_must_exist_unless_already_stored(w):
    with pytest.raises(ValidationFailed) as failure:
        automation.save_rule(w.admin, "promoter", {"params": {"referral_types": "recomendacion, resenya"}}, NOW)
    assert failure.value.fields["referral_types"].params == {"codes": "resenya"}
    db.session.rollback()
    # A database without the demo catalog: the stored default names a type it lacks, and may stay.
    db.session.execute(MomentType.__table__.delete().where(MomentType.code == "recomendacion"))
    row = automation.save_rule(w.admin, "promoter", {"params": {"referral_types": ["recomendacion"], "days": 30}},
                               NOW)
    assert row.params == {"days": 30, "referral_types": ["recomendacion"]}
    with pytest.raises(ValidationFailed):
        automation.save_rule(w.admin, "promoter", {"params": {"referral_types": "complaint, nada"}}, NOW)


def test_save_rules_keys_errors_by_rule_and_setting(w):
    with pytest.raises(ValidationFailed) as failure:
        automation.save_rules(w.admin, {"inactivity": {"enabled": True, "params": {"days": "x"}},
                                        "exclusive": {"enabled": True, "params": {"months": "99"}}}, NOW)
    assert set(failure.value.fields) == {"inactivity_days", "exclusive_months"}
    db.session.rollback()
    automation.save_rules(w.admin, {"inactivity": {"enabled": False, "params": {"days": "90"}}}, NOW)
    assert automation.configs()["inactivity"].params == {"days": 90}
    assert automation.configs()["inactivity"].enabled is False
