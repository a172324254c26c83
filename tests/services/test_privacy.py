"""Data rights: the access export holds every kind of record of one customer and nobody
else's; erasure removes every personal datum and keeps every figure."""
from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm.audit import AuditEvent
from crm.auth.models import User
from crm.compensations.models import Compensation
from crm.customers import search_index
from crm.customers.models import Customer, Purchase, StageChange
from crm.domain import Conflict, Forbidden, ValidationFailed
from crm.extensions import db
from crm.followups.models import OutboxMessage, SurveyResponse
from crm.moments.models import Commitment, Moment
from crm.privacy import services
from tests.conftest import NOW

PLAIN = {"code": "hello", "name": "Hello", "kind": "transactional",
         "subject_es": "Hola {{ first_name }}", "body_es": "Hola {{ first_name }}, gracias por venir.",
         "subject_en": "Hello {{ first_name }}", "body_en": "Hello {{ first_name }}, thanks for coming."}
SECRETS = ("María", "maria.garcia@example.es", "612 345 678", "612345678", "Talleres", "Núñez", "alérgica",
           "odio esperar", "bici roja", "me mudé a Cádiz", "perdón por la espera de María", "le debemos",
           "Hola María")


def populate(app, agent_id: int, admin_id: int, customer_id: int, moment_type_id: int) -> dict:
    """One customer with a record of every kind, and another customer with records of their own."""
    from crm.compensations.services import grant_goodwill, set_goodwill_limit
    from crm.customers.purchases import record_purchase
    from crm.customers.services import change_stage, create_customer
    from crm.followups.services import save_template, schedule_followup
    from crm.moments.services import log_moment

    with app.app_context():
        agent, admin = db.session.get(User, agent_id), db.session.get(User, admin_id)
        customer = db.session.get(Customer, customer_id)
        customer.marketing_consent = True
        change_stage(agent, customer, "at_risk", "Dice que se mudó; me mudé a Cádiz", NOW)
        first = log_moment(agent, {"customer_id": customer_id, "moment_type": moment_type_id, "emotion": -2,
                                   "notes": "Es alérgica al látex; odio esperar, dijo"}, NOW)
        log_moment(agent, {"customer_id": customer_id, "moment_type": moment_type_id, "emotion": 1,
                           "notes": "Todo bien", "follows_moment_id": first.id, "outcome": "resolved"},
                   NOW + timedelta(hours=1))
        set_goodwill_limit(admin, "agent", "50", NOW)
        grant_goodwill(agent, first, {"kind": "gift", "value": "12.50", "reason": "perdón por la espera de María"},
                       NOW)
        record_purchase(agent, {"customer_id": customer_id, "amount": "99.90", "purchased_on": "2026-11-10",
                                "description": "bici roja"}, NOW)
        save_template(admin, PLAIN, NOW)
        pending = schedule_followup(admin, {"customer_id": customer_id, "template": "hello",
                                            "due_at": NOW + timedelta(days=3)}, NOW)
        sent = OutboxMessage(idempotency_key="test:survey", customer_id=customer_id, moment_id=first.id,
                             kind="transactional", survey="nps", to_address="maria.garcia@example.es",
                             language="es", subject="¿Nos recomendarías, María?", message=b"Subject: x\n\nHola",
                             due_at=NOW, status="sent", sent_at=NOW, created_at=NOW)
        db.session.add(sent)
        db.session.flush()
        db.session.add(SurveyResponse(outbox_id=sent.id, customer_id=customer_id, moment_id=first.id, kind="nps",
                                      score=4, comment="odio esperar; le debemos una", answered_at=NOW))
        other = create_customer(agent, {"name": "Pedro Otero", "email": "pedro@example.es", "phone": "+34 699 000 111",
                                        "stage": "active"}, NOW)
        log_moment(agent, {"customer_id": other.id, "moment_type": moment_type_id, "notes": "Nota de Pedro"}, NOW)
        record_purchase(agent, {"customer_id": other.id, "amount": "5.00", "purchased_on": "2026-11-11",
                                "description": "compra de Pedro"}, NOW)
        db.session.commit()
        return {"other": other.id, "pending": pending.id, "sent": sent.id, "first": first.id}


@pytest.fixture
def world(app, agent, admin, customer, moment_type):
    return populate(app, agent.id, admin.id, customer, moment_type)


def figures(customer_id: int) -> dict:
    """Every count and sum erasure must leave as it was, plus the period's metrics."""
    from crm.insights.services import compute_metrics

    def one(stmt):
        return db.session.execute(stmt).one()

    metrics = compute_metrics(NOW - timedelta(days=30), NOW + timedelta(days=1))
    return {
        "moments": one(select(func.count(), func.sum(Moment.cost), func.sum(Moment.emotion))
                       .where(Moment.customer_id == customer_id)),
        "commitments": sorted(db.session.execute(select(Commitment.kind, Commitment.status, Commitment.due_at)
                                                 .where(Commitment.customer_id == customer_id)).all()),
        "compensations": one(select(func.count(), func.sum(Compensation.cost), func.sum(Compensation.value))
                             .where(Compensation.customer_id == customer_id)),
        "purchases": one(select(func.count(), func.sum(Purchase.amount)).where(Purchase.customer_id == customer_id)),
        "stages": db.session.execute(select(StageChange.from_stage, StageChange.to_stage, StageChange.at)
                                     .where(StageChange.customer_id == customer_id).order_by(StageChange.id)).all(),
        "surveys": one(select(func.count(), func.sum(SurveyResponse.score))
                       .where(SurveyResponse.customer_id == customer_id)),
        "messages": one(select(func.count()).where(OutboxMessage.customer_id == customer_id)),
        "metrics": {k: v for k, v in metrics.items() if k not in ("start", "end")},
    }


def erase(customer_id: int, reason="Petición del cliente por email, 2026-11-20", actor_id=None, **kw):
    actor = db.session.get(User, actor_id) if actor_id else None
    counts = services.erase_customer(actor, db.session.get(Customer, customer_id), reason,
                                     NOW + timedelta(days=1), **kw)
    db.session.commit()
    return counts


class TestExport:
    def test_every_kind_of_record_and_nobody_else(self, ctx, world, customer):
        document = services.customer_record(db.session.get(Customer, customer), NOW)
        text = json.dumps(document, ensure_ascii=False)
        c = document["customer"]
        assert (c["id"], c["name"], c["email"], c["phone"], c["company"]) == (
            customer, "María García Núñez", "maria.garcia@example.es", "+34 612 345 678", "Talleres Núñez")
        assert document["consent"]["marketing_consent"] is True
        assert [s["to_stage"] for s in document["stage_history"]] == ["active", "at_risk"]
        assert document["stage_history"][1]["reason"].endswith("me mudé a Cádiz")
        assert [(m["notes"], m["emotion"], m["moment_type"]) for m in document["moments"]] == [
            ("Es alérgica al látex; odio esperar, dijo", -2, "complaint"), ("Todo bien", 1, "complaint")]
        assert {(x["kind"], x["status"]) for x in document["commitments"]} == {("first_response", "met"),
                                                                              ("resolution", "met")}
        assert [(x["kind"], x["value"], x["reason"]) for x in document["compensations"]] == [
            ("gift", "12.50", "goodwill:perdón por la espera de María")]
        assert [(p["amount"], p["description"]) for p in document["purchases"]] == [("99.90", "bici roja")]
        assert [(s["score"], s["comment"]) for s in document["survey_responses"]] == [
            (4, "odio esperar; le debemos una")]
        messages = {m["id"]: m for m in document["messages"]}
        assert set(messages) == {world["pending"], world["sent"]}
        pending = messages[world["pending"]]
        assert (pending["status"], pending["to_address"], pending["template"], pending["subject"]) == (
            "pending", "maria.garcia@example.es", "hello", "Hola María")
        assert pending["body"].startswith("Hola María, gracias por venir.")
        actions = {e["action"] for e in document["audit_events"]}
        assert {"customer.created", "customer.stage_changed", "moment.logged", "purchase.recorded",
                "compensation.goodwill", "followup.scheduled"} <= actions
        assert "Pedro" not in text and "pedro@example.es" not in text and "compra de Pedro" not in text
        assert document["customer"]["erased_at"] is None

    def test_queries_are_one_per_table(self, app, ctx, world, customer):
        from sqlalchemy import event

        seen = []

        def listener(_conn, _cursor, statement, *_args):
            seen.append(statement)

        customer_row = db.session.get(Customer, customer)
        _ = customer_row.owner
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            services.customer_record(customer_row, NOW)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        assert len(seen) == 10  # messages, stages, tiers, decisions, moments, commitments, compensations,
        # purchases, survey answers, audit events


class TestErase:
    def test_every_personal_datum_goes(self, ctx, world, customer, admin):
        from crm.customers.services import search_customers

        counts = erase(customer, actor_id=admin.id)
        assert counts["moment_notes"] == 2 and counts["survey_comments"] == 1 and counts["messages_cancelled"] == 1
        assert counts["messages_blanked"] == 2 and counts["compensation_reasons"] == 1
        assert counts["stage_reasons"] == 1 and counts["purchase_descriptions"] == 1 and counts["search_terms"] > 0
        row = db.session.get(Customer, customer)
        assert (row.name, row.email, row.phone, row.company) == (f"— erased #{customer}", None, None, None)
        assert row.sort_name == row.name and row.marketing_consent is False and row.unsubscribed_at is not None
        assert row.erased_at == NOW + timedelta(days=1)
        assert (row.segment, row.stage, row.tier) == ("Particular", "at_risk", "standard")
        for query in ("María", "maria.garcia@example.es", "garcia", "612 345 678", "Talleres", "nunez"):
            assert search_customers(query).total == 0, query
        assert search_customers("Pedro").total == 1
        assert search_index.terms_of([customer]) == {}
        text = json.dumps(services.customer_record(row, NOW), ensure_ascii=False)
        for secret in SECRETS:
            assert secret not in text, secret
        pending = db.session.get(OutboxMessage, world["pending"])
        assert (pending.status, pending.to_address, pending.subject, pending.message) == ("cancelled", "", "", b"")
        assert db.session.scalar(select(Compensation.reason)) == "goodwill:"
        # The other customer keeps everything.
        other = db.session.get(Customer, world["other"])
        assert (other.name, other.email) == ("Pedro Otero", "pedro@example.es")
        assert db.session.scalar(select(Moment.notes).where(Moment.customer_id == other.id)) == "Nota de Pedro"

    def test_figures_and_costs_stay_the_same(self, ctx, world, customer, admin):
        before = figures(customer)
        assert before["compensations"][1] == Decimal("12.50") and before["purchases"][1] == Decimal("99.90")
        m = before["metrics"]
        assert (m["contacts"], m["cost_to_serve"], m["revenue"], m["nps_answers"], m["fcr_second"]) == (
            3, Decimal("66.50"), Decimal("104.90"), 1, 100.0)
        erase(customer, actor_id=admin.id)
        db.session.expire_all()
        assert figures(customer) == before

    def test_the_erasure_is_audited_without_personal_data(self, ctx, world, customer, admin):
        counts = erase(customer, reason="Solicitud RGPD art. 17 (ticket 881)", actor_id=admin.id)
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "customer.erased"))
        assert (event.user_id, event.entity, event.entity_id) == (admin.id, "customer", customer)
        assert event.details == {"reason": "Solicitud RGPD art. 17 (ticket 881)", "counts": counts}
        assert "María" not in json.dumps(event.details, ensure_ascii=False)

    def test_twice_is_a_conflict_and_changes_nothing(self, ctx, world, customer, admin):
        erase(customer, actor_id=admin.id)
        with pytest.raises(Conflict):
            erase(customer, actor_id=admin.id)
        db.session.rollback()
        assert db.session.scalar(select(func.count()).where(AuditEvent.action == "customer.erased")) == 1

    def test_only_admins(self, ctx, world, customer, supervisor, agent):
        for user in (supervisor, agent):
            with pytest.raises(Forbidden):
                erase(customer, actor_id=user.id)
        assert db.session.get(Customer, customer).erased_at is None

    @pytest.mark.parametrize("reason, confirmation, field", [
        ("", None, "reason"), ("   ", None, "reason"), ("x" * 501, None, "reason"), ("ok\x00", None, "reason"),
        ("ok", "Maria Garcia", "confirmation"), ("ok", "", "confirmation")])
    def test_refusals_write_nothing(self, ctx, world, customer, admin, reason, confirmation, field):
        with pytest.raises(ValidationFailed) as refused:
            erase(customer, reason=reason, actor_id=admin.id, confirmation=confirmation)
        assert field in refused.value.fields
        db.session.rollback()
        row = db.session.get(Customer, customer)
        assert row.erased_at is None and row.email == "maria.garcia@example.es"

    def test_the_right_confirmation_erases(self, ctx, world, customer, admin):
        erase(customer, actor_id=admin.id, confirmation="  María García Núñez ")
        assert db.session.get(Customer, customer).erased_at is not None

    def test_no_email_goes_out_after_erasure(self, ctx, world, customer, admin):
        from crm.followups.services import schedule_followup

        erase(customer, actor_id=admin.id)
        with pytest.raises(ValidationFailed):
            schedule_followup(db.session.get(User, admin.id), {"customer_id": customer, "template": "hello"},
                              NOW + timedelta(days=1))
        assert db.session.scalar(select(func.count()).where(OutboxMessage.customer_id == customer,
                                                           OutboxMessage.status == "pending")) == 0

    def test_nothing_personal_can_be_added_back(self, ctx, world, customer, admin):
        from crm.customers.services import update_customer
        from crm.moments.services import log_moment

        erase(customer, actor_id=admin.id)
        row = db.session.get(Customer, customer)
        with pytest.raises(Conflict):
            update_customer(db.session.get(User, admin.id), row, {"email": "nueva@example.es"}, NOW + timedelta(days=2))
        with pytest.raises(ValidationFailed) as refused:
            log_moment(db.session.get(User, admin.id), {"customer_id": customer, "moment_type": "complaint",
                                                        "notes": "Llamó María"}, NOW + timedelta(days=2))
        assert "customer_id" in refused.value.fields
        db.session.rollback()
        assert db.session.get(Customer, customer).email is None


def test_purchases_keep_their_dates(ctx, world, customer, admin):
    erase(customer, actor_id=admin.id)
    assert db.session.scalar(select(Purchase.purchased_on).where(Purchase.customer_id == customer)) \
        == date(2026, 11, 10)
