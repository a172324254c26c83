"""Webhooks end to end against a real HTTP receiver on loopback: events, signatures, retries, the down receiver."""
from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from crm.audit import AuditEvent
from crm.auth.models import User
from crm.compensations import services as comp
from crm.customers import services as customers
from crm.domain import Conflict, Forbidden, ValidationFailed
from crm.extensions import db
from crm.followups.models import OutboxMessage
from crm.moments import services as moments
from crm.moments.sweep import sweep_commitments
from crm.webhooks import dispatch, services
from crm.webhooks.models import RESPONSE_MAX, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from crm.webhooks.rules import EVENT_TYPES, SIGNATURE_HEADER, verify
from tests.webhook_receiver import WebhookReceiver


@pytest.fixture
def people(ctx, agent, supervisor, admin):
    return {role: db.session.get(User, u.id) for role, u in
            (("agent", agent), ("supervisor", supervisor), ("admin", admin))}


@pytest.fixture
def receiver(now):
    r = WebhookReceiver()
    r.clock = lambda: now.timestamp()  # deliveries are made "as of" the tests' fixed instant
    r.start()
    yield r
    r.stop()


def endpoint_for(people, receiver, now, events=EVENT_TYPES, url=None):
    endpoint, secret = services.create_endpoint(people["admin"], {
        "url": url or receiver.url, "description": "Tienda online", "events": list(events)}, now)
    db.session.commit()
    receiver.secret = secret
    return endpoint


def deliver(now, **kw):
    db.session.commit()  # the dispatcher opens its own connection: what it sends must be committed
    return dispatch.deliver_due(now, **kw)


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def complaint(people, customer, when):
    return moments.log_moment(people["agent"], {"customer_id": customer, "moment_type": "complaint",
                                                "occurred_at": when}, when)


def answer(customer_id, score, now):
    from crm.followups.render import survey_token
    from crm.followups.services import answer_survey

    key = f"webhook-answer-{customer_id}-{score}"
    db.session.add(OutboxMessage(idempotency_key=key, customer_id=customer_id, kind="transactional", survey="nps",
                                 to_address="x@example.es", language="es", subject="?", message=b"", due_at=now,
                                 sent_at=now, status="sent"))
    db.session.flush()
    return answer_survey(survey_token(key), {"score": str(score), "comment": "Muy amable, María"}, now)


class TestEvents:
    def test_every_event_type_reaches_the_receiver_signed_and_without_personal_data(
            self, people, receiver, moment_type, now):
        endpoint_for(people, receiver, now)
        comp.save_policy(people["admin"], None, {"kind": "apology", "value": "0", "requires_approval": False}, now)
        earlier = now - timedelta(days=30)
        customer = customers.create_customer(people["agent"], {
            "name": "Íñigo Peñalver", "email": "inigo@example.es", "phone": "+34 611 222 333", "stage": "prospect"},
            earlier)
        customers.change_stage(people["agent"], customer, "new", "Primera compra por teléfono", earlier)
        moment = complaint(people, customer.id, earlier)
        sweep_commitments(now)  # both commitments broke long ago; the policy issues at once
        answer(customer.id, 10, now)

        result = deliver(now)

        types = receiver.types()
        assert sorted(set(types)) == sorted(EVENT_TYPES)
        assert types.count("commitment.breached") == 2 and types.count("compensation.issued") == 2
        assert result.delivered == len(types) and result.retrying == result.failed == 0
        assert all(r["valid"] for r in receiver.requests)
        assert len({r["headers"]["Fideliza-Event-Id"] for r in receiver.requests}) == len(types)
        raw = b"".join(r["body"] for r in receiver.requests).decode()
        for personal in ("Íñigo", "Peñalver", "inigo@example.es", "611 222 333", "Primera compra", "María"):
            assert personal not in raw
        events = {e["type"]: e for e in receiver.events()}
        assert events["customer.created"]["data"]["customer"] == {
            "id": customer.id, "stage": "prospect", "loyalty": customer.loyalty, "segment": None,
            "tier": customer.tier, "owner_id": people["agent"].id, "created_at": "2026-10-17T10:00:00Z"}
        manual = [e for e in receiver.events() if e["type"] == "customer.stage_changed"][0]
        assert manual["data"] == {
            "customer": {"id": customer.id}, "from_stage": "prospect", "to_stage": "new",
            "at": "2026-10-17T10:00:00Z", "by_user_id": people["agent"].id, "rule": None}
        logged = events["moment.logged"]["data"]["moment"]
        assert (logged["id"], logged["type"], logged["customer_id"], logged["cost"]) == (
            moment.id, "complaint", customer.id, "18.00")
        assert events["survey.answered"]["data"]["survey"]["score"] == 10
        assert events["survey.answered"]["data"]["survey"]["has_comment"] is True
        issued = events["compensation.issued"]["data"]["compensation"]
        assert issued["kind"] == "apology" and issued["reason"] == "breach"
        # The lifecycle rules' moves are events too: the two breaches put the customer at risk.
        rule_moves = [e["data"] for e in receiver.events() if e["type"] == "customer.stage_changed"
                      and e["data"]["rule"] is not None]
        assert [(m["from_stage"], m["to_stage"], m["rule"], m["by_user_id"]) for m in rule_moves] == [
            ("new", "at_risk", "repeated_breaches", None)]

    def test_nothing_is_written_without_a_subscribed_active_endpoint(self, people, receiver, now):
        customers.create_customer(people["agent"], {"name": "Sin suscriptores"}, now)
        assert count(WebhookEvent) == 0
        endpoint = endpoint_for(people, receiver, now, events=["moment.logged"])
        customers.create_customer(people["agent"], {"name": "Tampoco"}, now)
        assert count(WebhookEvent) == 0  # the endpoint does not want customer.created
        services.update_endpoint(people["admin"], endpoint, {"events": ["customer.created"], "active": False}, now)
        customers.create_customer(people["agent"], {"name": "Inactivo"}, now)
        assert count(WebhookEvent) == 0

    def test_an_inactive_endpoint_keeps_its_queue_until_it_is_active_again(self, people, receiver, now):
        endpoint = endpoint_for(people, receiver, now, events=["customer.created"])
        customers.create_customer(people["agent"], {"name": "Ana"}, now)
        services.update_endpoint(people["admin"], endpoint, {"active": False}, now)
        assert not deliver(now)
        assert receiver.requests == [] and count(WebhookDelivery, WebhookDelivery.status == "pending") == 1
        services.update_endpoint(people["admin"], endpoint, {"active": True}, now)
        assert deliver(now).delivered == 1 and receiver.types() == ["customer.created"]

    def test_each_endpoint_gets_its_own_delivery_with_its_own_signature(self, people, receiver, now):
        first = endpoint_for(people, receiver, now, events=["customer.created"])
        first_secret = receiver.secret
        second, second_secret = services.create_endpoint(people["admin"], {
            "url": receiver.url + "?second=1", "events": ["customer.created"]}, now)
        customers.create_customer(people["agent"], {"name": "Ana"}, now)
        assert deliver(now).delivered == 2
        by_path = {r["path"]: r for r in receiver.requests}
        assert first_secret != second_secret
        for path, secret in (("/hooks/fideliza", first_secret), ("/hooks/fideliza?second=1", second_secret)):
            request = by_path[path]
            assert verify(secret, request["headers"][SIGNATURE_HEADER], request["body"], now.timestamp() + 5)
        assert {first.id, second.id} == set(db.session.scalars(select(WebhookDelivery.endpoint_id)))


class TestDelivery:
    def test_a_receiver_that_is_down_gets_every_event_once_it_is_back(self, people, now):
        receiver = WebhookReceiver()
        receiver.clock = lambda: now.timestamp()
        endpoint_for(people, receiver, now, events=["customer.created"])  # nothing listens on its port yet
        for n in range(5):
            customers.create_customer(people["agent"], {"name": f"Cliente {n}"}, now)

        down = deliver(now)
        # One probe per endpoint and retry, not one failed request per queued event.
        assert (down.delivered, down.retrying, down.deferred) == (0, 1, 4)
        assert count(WebhookAttempt) == 1
        attempt = db.session.scalars(select(WebhookAttempt)).one()
        assert attempt.status_code is None and attempt.error.startswith("could not connect")
        assert not deliver(now + timedelta(seconds=10))  # backing off: nothing due yet
        later = deliver(now + timedelta(seconds=31))
        assert (later.retrying, later.deferred) == (1, 4)  # still down at the second try

        receiver.start()
        try:
            back = deliver(now + timedelta(seconds=95))
            assert back.delivered == 5 and back.retrying == 0
            created = db.session.scalars(select(WebhookEvent.uid)).all()
            assert sorted(e["id"] for e in receiver.events()) == sorted(created)
            assert len(receiver.requests) == 5 and all(r["valid"] for r in receiver.requests)
            assert len({r["headers"]["Fideliza-Event-Id"] for r in receiver.requests}) == 5
            assert count(WebhookDelivery, WebhookDelivery.status == "delivered") == 5
            assert not deliver(now + timedelta(hours=2))  # and nothing goes twice
            assert len(receiver.requests) == 5
        finally:
            receiver.stop()

    def test_an_error_answer_is_retried_with_back_off_and_logged(self, people, receiver, now):
        endpoint_for(people, receiver, now, events=["customer.created"])
        customers.create_customer(people["agent"], {"name": "Ana"}, now)
        receiver.status, receiver.answer = 503, "mantenimiento"
        first = deliver(now)
        assert (first.delivered, first.retrying) == (0, 1)
        delivery = db.session.scalars(select(WebhookDelivery)).one()
        db.session.refresh(delivery)
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 503)
        assert now + timedelta(seconds=30) <= delivery.due_at < now + timedelta(seconds=32)
        assert not deliver(now + timedelta(seconds=29))
        assert deliver(now + timedelta(seconds=31)).retrying == 1
        db.session.refresh(delivery)
        assert now + timedelta(seconds=31 + 60) <= delivery.due_at < now + timedelta(seconds=93)  # doubled
        receiver.status, receiver.answer = 204, ""
        assert deliver(now + timedelta(minutes=5)).delivered == 1
        db.session.refresh(delivery)
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 204)
        log = services.attempts_of(delivery)
        assert [(a.status_code, a.response_body) for a in log] == [(204, ""), (503, "mantenimiento"),
                                                                  (503, "mantenimiento")]
        assert len(receiver.requests) == 3
        # The same body each time (the event id lets the receiver deduplicate); a fresh signature.
        assert len({r["body"] for r in receiver.requests}) == 1

    def test_redirects_are_not_followed_and_long_answers_are_cut(self, people, receiver, now):
        endpoint_for(people, receiver, now, events=["customer.created"])
        customers.create_customer(people["agent"], {"name": "Ana"}, now)
        receiver.status, receiver.headers = 302, {"Location": "http://127.0.0.1:9/elsewhere"}
        receiver.answer = b"x" * 1_000_000
        assert deliver(now).retrying == 1
        attempt = db.session.scalars(select(WebhookAttempt)).one()
        assert attempt.status_code == 302 and "redirects are not followed" in attempt.error
        assert len(attempt.response_body) == RESPONSE_MAX
        assert len(receiver.requests) == 1

    def test_a_delivery_gives_up_after_its_attempts_and_an_admin_sends_it_again(self, people, receiver, now):
        endpoint = endpoint_for(people, receiver, now, events=["customer.created"])
        customers.create_customer(people["agent"], {"name": "Ana"}, now)
        receiver.status = 500
        db.session.execute(update(WebhookDelivery).values(attempts=dispatch.MAX_ATTEMPTS - 1))
        assert deliver(now).failed == 1
        delivery = db.session.scalars(select(WebhookDelivery)).one()
        db.session.refresh(delivery)
        assert delivery.status == "failed"
        assert not deliver(now + timedelta(days=1))  # a failed delivery waits for a person

        with pytest.raises(Forbidden):
            services.retry_delivery(people["supervisor"], delivery, now)
        receiver.status = 200
        assert services.retry_failed(people["admin"], endpoint, now) == 1
        assert deliver(now).delivered == 1
        db.session.refresh(delivery)
        with pytest.raises(Conflict):
            services.retry_delivery(people["admin"], delivery, now)  # delivered: nothing to retry
        assert count(AuditEvent, AuditEvent.action == "webhook.retried") == 1

    def test_two_dispatchers_at_once_deliver_each_event_once(self, app, people, receiver, now):
        endpoint_for(people, receiver, now, events=["customer.created"])
        for n in range(60):
            customers.create_customer(people["agent"], {"name": f"Cliente {n}"}, now)
        db.session.commit()
        results = []

        def run():
            with app.app_context():
                results.append(dispatch.deliver_due(now, batch=7))
                db.session.remove()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(r.delivered for r in results) == 60
        ids = [r["headers"]["Fideliza-Event-Id"] for r in receiver.requests]
        assert len(ids) == 60 and len(set(ids)) == 60

    def test_a_dispatcher_that_died_mid_batch_is_replaced_after_its_lease(self, people, receiver, now):
        endpoint_for(people, receiver, now, events=["customer.created"])
        customers.create_customer(people["agent"], {"name": "Ana"}, now)
        db.session.execute(update(WebhookDelivery).values(status="sending", claimed_by="dead", attempts=1,
                                                          lease_until=now + dispatch.LEASE))
        assert not deliver(now + timedelta(minutes=1))  # still leased to the dead one
        assert deliver(now + dispatch.LEASE + timedelta(seconds=1)).delivered == 1
        assert len(receiver.requests) == 1

    def test_a_test_event_goes_to_its_endpoint_only(self, people, receiver, now):
        endpoint = endpoint_for(people, receiver, now, events=["customer.created"])
        other, _ = services.create_endpoint(people["admin"], {"url": receiver.url + "?other",
                                                              "events": ["customer.created"]}, now)
        delivery = services.send_test(people["admin"], endpoint, now)
        assert delivery.endpoint_id == endpoint.id
        assert deliver(now).delivered == 1
        (event,) = receiver.events()
        assert event["type"] == "webhook.ping" and event["data"] == {"endpoint_id": endpoint.id}
        assert receiver.requests[0]["path"] == "/hooks/fideliza"


class TestEndpoints:
    def test_creating_checks_every_field_and_writes_nothing_when_refused(self, people, now):
        with pytest.raises(ValidationFailed) as refused:
            services.create_endpoint(people["admin"], {"url": "http://example.com/hook", "events": ["nope"],
                                                       "description": "x" * 201}, now)
        assert set(refused.value.fields) == {"url", "events", "description"}
        with pytest.raises(ValidationFailed) as refused:
            services.create_endpoint(people["admin"], {"url": "https://example.com/h", "events": []}, now)
        assert set(refused.value.fields) == {"events"}
        with pytest.raises(Forbidden):
            services.create_endpoint(people["supervisor"], {"url": "https://example.com/h",
                                                            "events": ["moment.logged"]}, now)
        assert count(WebhookEndpoint) == 0 and count(AuditEvent) == 0

    def test_rotating_the_secret_signs_later_deliveries_with_the_new_one(self, people, receiver, now):
        endpoint = endpoint_for(people, receiver, now, events=["customer.created"])
        old = receiver.secret
        new = services.rotate_secret(people["admin"], endpoint, now)
        assert new != old and new.startswith("whsec_")
        receiver.secret = new
        customers.create_customer(people["agent"], {"name": "Ana"}, now)
        deliver(now)
        request = receiver.requests[0]
        assert request["valid"]
        assert not verify(old, request["headers"][SIGNATURE_HEADER], request["body"], now.timestamp())

    def test_deleting_an_endpoint_takes_its_queue(self, people, receiver, now):
        endpoint = endpoint_for(people, receiver, now, events=["customer.created"])
        customers.create_customer(people["agent"], {"name": "Ana"}, now)
        services.delete_endpoint(people["admin"], endpoint, now)
        db.session.commit()
        assert count(WebhookDelivery) == 0 and not deliver(now)
        assert count(AuditEvent, AuditEvent.action == "webhook.deleted") == 1

    def test_old_finished_events_are_pruned_and_waiting_ones_kept(self, people, receiver, now):
        endpoint_for(people, receiver, now, events=["customer.created"])
        customers.create_customer(people["agent"], {"name": "Entregado"}, now)
        deliver(now)
        receiver.stop()
        customers.create_customer(people["agent"], {"name": "En cola"}, now)
        db.session.commit()
        assert services.prune(now + timedelta(days=31), keep_days=30) == 1
        remaining = db.session.scalars(select(WebhookEvent)).all()
        assert len(remaining) == 1 and json.loads(remaining[0].body)["type"] == "customer.created"
        assert count(WebhookDelivery, WebhookDelivery.status == "pending") == 1
        assert count(WebhookAttempt) == 0  # the delivered one's log went with it
