"""API for follow-ups: templates, one-off messages, cancelling, and the admins' outbox."""
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, update

from crm.extensions import db
from crm.followups.models import OutboxMessage
from tests.api.errors import error_of

MESSAGE_FIELDS = {"id", "customer_id", "template", "rule_id", "kind", "survey", "status", "due_at", "sent_at",
                  "attempts", "subject", "to_address", "created_by_id", "moment_id", "compensation_id"}
OUTBOX_FIELDS = MESSAGE_FIELDS | {"last_error", "lease_until", "user_id"}

THANKS = {
    "code": "thanks", "name": "Thank you", "kind": "transactional",
    "subject_es": "Gracias, {{ first_name }}", "body_es": "Hola {{ customer_name }}:\n\nGracias.\n\n{{ company_name }}",
    "subject_en": "Thank you, {{ first_name }}", "body_en": "Hello {{ customer_name }},\n\nThanks.\n\n{{ company_name }}",
}
PROMO = {
    "code": "promo", "name": "Winter offer", "kind": "marketing",
    "subject_es": "Oferta de invierno", "body_es": "Hola {{ first_name }}.\n\nBaja: {{ unsubscribe_url }}",
    "subject_en": "Winter offer", "body_en": "Hello {{ first_name }}.\n\nUnsubscribe: {{ unsubscribe_url }}",
}
SURVEY = {
    "code": "how-did-we-do", "name": "How did we do?", "kind": "transactional", "survey": "nps",
    "subject_es": "¿Qué tal lo hicimos?", "body_es": "Puntúanos: {{ survey_url }}",
    "subject_en": "How did we do?", "body_en": "Rate us: {{ survey_url }}",
}


def outbox_rows(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(OutboxMessage))


def soon(**delta) -> str:
    return (datetime.now(timezone.utc) + timedelta(**delta)).isoformat()


@pytest.fixture
def templates(app, admin):
    from crm.auth.models import User
    from crm.followups.services import save_template

    with app.app_context():
        actor = db.session.get(User, admin.id)
        for data in (THANKS, PROMO, SURVEY):
            save_template(actor, data, datetime.now(timezone.utc))
        save_template(actor, {**THANKS, "code": "retired", "name": "Old thanks", "active": False},
                      datetime.now(timezone.utc))
        db.session.commit()


@pytest.fixture
def agent_api(api_as, agent):
    return api_as(agent)


@pytest.fixture
def admin_api(api_as, admin):
    return api_as(admin)


def schedule(api, customer, template="thanks", **extra):
    response = api.post("/api/v1/followups", json={"customer_id": customer, "template": template, **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def set_status(app, message_id, **values):
    with app.app_context():
        db.session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id).values(**values))
        db.session.commit()


@pytest.fixture
def staff_alert(app, agent_api, customer, supervisor, templates):
    """A survey answered 2 out of 10: the survey message, and the alert it sends the
    supervisor (an outbox row addressed to a user, not a customer)."""
    from crm.followups.render import survey_token
    from crm.followups.services import answer_survey

    survey = schedule(agent_api, customer, template="how-did-we-do")
    with app.app_context():
        key = db.session.get(OutboxMessage, survey["id"]).idempotency_key
        answer_survey(survey_token(key), {"score": 2}, datetime.now(timezone.utc))
        db.session.commit()
        [alert_id] = db.session.scalars(select(OutboxMessage.id).where(OutboxMessage.user_id == supervisor.id))
    return SimpleNamespace(id=alert_id, survey_id=survey["id"])


class TestTemplates:
    def test_every_template_with_its_languages(self, agent_api, templates):
        response = agent_api.get("/api/v1/templates")
        assert response.status_code == 200
        listed = {t["code"]: t for t in response.get_json()["items"]}
        assert set(listed) == {"thanks", "promo", "how-did-we-do", "retired"}
        assert {k: v for k, v in listed["how-did-we-do"].items() if k != "id"} == {
            "code": "how-did-we-do", "name": "How did we do?", "kind": "transactional", "survey": "nps",
            "languages": ["en", "es"], "active": True}
        assert listed["promo"]["kind"] == "marketing" and listed["promo"]["survey"] is None
        assert listed["retired"]["active"] is False

    def test_needs_a_token(self, client, templates):
        response = client.get("/api/v1/templates")
        assert response.status_code == 401 and error_of(response)["code"] == "unauthorized"


class TestSchedule:
    def test_schedule_now_and_later(self, app, agent_api, agent, customer, templates):
        now_message = schedule(agent_api, customer)
        assert set(now_message) == MESSAGE_FIELDS
        assert {k: now_message[k] for k in ("customer_id", "template", "kind", "survey", "status", "attempts",
                                            "to_address", "created_by_id", "rule_id", "sent_at")} == {
            "customer_id": customer, "template": "thanks", "kind": "transactional", "survey": None,
            "status": "pending", "attempts": 0, "to_address": "maria.garcia@example.es",
            "created_by_id": agent.id, "rule_id": None, "sent_at": None}
        assert now_message["subject"] == "Gracias, María"  # the customer's language, Spanish by default
        due = datetime.fromisoformat(now_message["due_at"])
        assert abs(due - datetime.now(timezone.utc)) < timedelta(minutes=1)

        madrid = datetime.now(timezone(timedelta(hours=1))) + timedelta(days=3)
        later = schedule(agent_api, customer, template="how-did-we-do", due_at=madrid.isoformat())
        assert datetime.fromisoformat(later["due_at"]) == madrid
        assert later["survey"] == "nps"
        assert outbox_rows(app) == 2

    def test_marketing_needs_consent(self, app, agent_api, customer, templates):
        refused = agent_api.post("/api/v1/followups", json={"customer_id": customer, "template": "promo"})
        assert refused.status_code == 422 and "customer_id" in error_of(refused)["fields"]
        assert outbox_rows(app) == 0
        consent = agent_api.patch(f"/api/v1/customers/{customer}", json={"marketing_consent": True})
        assert consent.status_code == 200
        assert schedule(agent_api, customer, template="promo")["kind"] == "marketing"

    def test_customer_without_email(self, app, agent_api, templates):
        created = agent_api.post("/api/v1/customers", json={"name": "Sin Correo"}).get_json()
        refused = agent_api.post("/api/v1/followups", json={"customer_id": created["id"], "template": "thanks"})
        assert refused.status_code == 422 and "customer_id" in error_of(refused)["fields"]
        assert outbox_rows(app) == 0

    @pytest.mark.parametrize("payload, field", [
        ({"template": "thanks"}, "customer_id"),
        ({"customer_id": "1", "template": "thanks"}, "customer_id"),
        ({"customer_id": 987654, "template": "thanks"}, "customer_id"),
        ({"customer_id": 2**70, "template": "thanks"}, "customer_id"),
        ({"customer_id": True, "template": "thanks"}, "customer_id"),
        ({"template": "nope"}, "template"),
        ({"template": ""}, "template"),
        ({"template": ["thanks"]}, "template"),
        ({"template": None}, "template"),
        ({}, "template"),
        ({"template": "retired"}, "template"),
        # uses {{ compensation }}, which only its rule can fill
        ({"template": "compensation-notice"}, "template"),
        ({"due_at": "2026-12-01T10:00:00"}, "due_at"),
        ({"due_at": "tomorrow"}, "due_at"),
        ({"due_at": "2020-01-01T10:00:00+00:00"}, "due_at"),
        ({"due_at": "2999-01-01T10:00:00+00:00"}, "due_at"),
        ({"hacker": True}, "hacker"),
        ({"status": "sent"}, "status"),
    ])
    def test_bad_input_is_422_and_writes_nothing(self, app, agent_api, customer, templates, notice_rule,
                                                 payload, field):
        body = {"customer_id": customer, "template": "thanks", **payload}
        if field == "customer_id" and "customer_id" not in payload:
            body.pop("customer_id")
        if payload == {}:
            body.pop("template")
        response = agent_api.post("/api/v1/followups", json=body)
        assert response.status_code == 422, response.get_json()
        assert field in error_of(response)["fields"]
        assert outbox_rows(app) == 0

    def test_malformed_bodies_write_nothing(self, app, agent_api, customer, templates):
        bad_json = agent_api.post("/api/v1/followups", data="{nope", content_type="application/json")
        assert bad_json.status_code in (400, 422)
        assert agent_api.post("/api/v1/followups", json=["thanks"]).status_code == 422
        assert outbox_rows(app) == 0

    def test_needs_a_token(self, app, client, customer, templates):
        response = client.post("/api/v1/followups", json={"customer_id": customer, "template": "thanks"})
        assert response.status_code == 401
        assert outbox_rows(app) == 0


class TestListAndCancel:
    def test_list_filters_and_pages(self, app, agent_api, customer, templates, staff_alert):
        other = agent_api.post("/api/v1/customers", json={"name": "Pedro Ruiz", "email": "pedro@example.es"})
        other_id = other.get_json()["id"]
        ids = [schedule(agent_api, customer, due_at=soon(days=n))["id"] for n in (1, 2, 3)]
        other_message = schedule(agent_api, other_id)["id"]
        set_status(app, ids[0], status="sent", sent_at=datetime.now(timezone.utc))

        everything = agent_api.get("/api/v1/followups").get_json()
        assert set(everything) == {"items", "total", "page", "per_page", "pages", "has_next"}
        # latest due first; the supervisor's alert is a staff message, not a follow-up
        assert [m["id"] for m in everything["items"]] == [ids[2], ids[1], ids[0], other_message,
                                                           staff_alert.survey_id]
        assert (everything["total"], everything["page"], everything["pages"]) == (5, 1, 1)

        mine = agent_api.get(f"/api/v1/followups?customer_id={customer}&per_page=3").get_json()
        assert (mine["total"], mine["page"], mine["per_page"], mine["pages"]) == (4, 1, 3, 2)
        assert [m["id"] for m in mine["items"]] == [ids[2], ids[1], ids[0]]
        second = agent_api.get(f"/api/v1/followups?customer_id={customer}&per_page=3&page=2").get_json()
        assert [m["id"] for m in second["items"]] == [staff_alert.survey_id] and second["page"] == 2

        sent = agent_api.get("/api/v1/followups?status=sent").get_json()
        assert [m["id"] for m in sent["items"]] == [ids[0]] and sent["items"][0]["sent_at"] is not None
        assert agent_api.get(f"/api/v1/followups?customer_id={other_id}&status=pending").get_json()["total"] == 1
        assert agent_api.get("/api/v1/followups?customer_id=987654").get_json()["total"] == 0

    def test_bad_queries(self, agent_api, templates):
        bad_status = agent_api.get("/api/v1/followups?status=lost")
        assert bad_status.status_code == 422 and "status" in error_of(bad_status)["fields"]
        bad_customer = agent_api.get("/api/v1/followups?customer_id=maria")
        assert bad_customer.status_code == 422 and "customer_id" in error_of(bad_customer)["fields"]
        assert agent_api.get("/api/v1/followups?page=abc").status_code == 422
        clamped = agent_api.get("/api/v1/followups?page=-3&per_page=100000").get_json()
        assert (clamped["page"], clamped["per_page"], clamped["total"]) == (1, 100, 0)

    def test_cancel(self, app, agent_api, customer, templates):
        message = schedule(agent_api, customer, due_at=soon(days=1))
        cancelled = agent_api.post(f"/api/v1/followups/{message['id']}/cancel")
        assert cancelled.status_code == 200
        assert cancelled.get_json()["status"] == "cancelled" and cancelled.get_json()["id"] == message["id"]
        again = agent_api.post(f"/api/v1/followups/{message['id']}/cancel")
        assert again.status_code == 409 and error_of(again)["code"] == "conflict"

        sent = schedule(agent_api, customer)
        set_status(app, sent["id"], status="sent", sent_at=datetime.now(timezone.utc))
        refused = agent_api.post(f"/api/v1/followups/{sent['id']}/cancel")
        assert refused.status_code == 409 and error_of(refused)["code"] == "conflict"
        with app.app_context():
            assert db.session.get(OutboxMessage, sent["id"]).status == "sent"

        missing = agent_api.post("/api/v1/followups/987654/cancel")
        assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
        assert agent_api.post("/api/v1/followups/0/cancel").status_code == 404

    def test_staff_alerts_are_not_followups(self, app, agent_api, admin_api, staff_alert):
        assert agent_api.post(f"/api/v1/followups/{staff_alert.id}/cancel").status_code == 404
        assert admin_api.post(f"/api/v1/followups/{staff_alert.id}/cancel").status_code == 404
        with app.app_context():
            assert db.session.get(OutboxMessage, staff_alert.id).status == "pending"

    def test_needs_a_token(self, app, client, agent_api, customer, templates):
        message = schedule(agent_api, customer)
        assert client.get("/api/v1/followups").status_code == 401
        assert client.post(f"/api/v1/followups/{message['id']}/cancel").status_code == 401
        with app.app_context():
            assert db.session.get(OutboxMessage, message["id"]).status == "pending"


class TestOutbox:
    def test_admins_only(self, app, client, agent_api, api_as, supervisor, customer, templates):
        message = schedule(agent_api, customer)
        set_status(app, message["id"], status="failed", last_error="550 no such mailbox")
        for api in (agent_api, api_as(supervisor)):
            listing = api.get("/api/v1/outbox")
            assert listing.status_code == 403 and error_of(listing)["code"] == "forbidden"
            assert api.post(f"/api/v1/outbox/{message['id']}/retry").status_code == 403
            assert api.post(f"/api/v1/outbox/{message['id']}/cancel").status_code == 403
        assert client.get("/api/v1/outbox").status_code == 401
        assert client.post(f"/api/v1/outbox/{message['id']}/retry").status_code == 401
        with app.app_context():
            assert db.session.get(OutboxMessage, message["id"]).status == "failed"

    def test_everything_with_delivery_details(self, app, admin_api, agent_api, supervisor, customer, templates,
                                              staff_alert):
        message = schedule(agent_api, customer, due_at=soon(days=1))
        set_status(app, message["id"], status="failed", attempts=5, last_error="550 no such mailbox")
        listing = admin_api.get("/api/v1/outbox").get_json()
        assert set(listing) == {"items", "total", "page", "per_page", "pages", "has_next"}
        by_id = {m["id"]: m for m in listing["items"]}
        assert listing["total"] == 3 and set(by_id) == {message["id"], staff_alert.survey_id, staff_alert.id}
        assert set(by_id[message["id"]]) == OUTBOX_FIELDS
        assert by_id[message["id"]]["last_error"] == "550 no such mailbox" and by_id[message["id"]]["attempts"] == 5
        alert = by_id[staff_alert.id]
        assert alert["user_id"] == supervisor.id and alert["template"] is None
        assert alert["to_address"] == supervisor.email and by_id[message["id"]]["user_id"] is None
        failed = admin_api.get("/api/v1/outbox?status=failed&per_page=1").get_json()
        assert [m["id"] for m in failed["items"]] == [message["id"]] and failed["pages"] == 1
        pending = admin_api.get("/api/v1/outbox?status=pending&per_page=1&page=2").get_json()
        assert (pending["total"], pending["pages"], len(pending["items"])) == (2, 2, 1)
        bad = admin_api.get("/api/v1/outbox?status=lost")
        assert bad.status_code == 422 and "status" in error_of(bad)["fields"]

    def test_retry_only_failed(self, app, admin_api, agent_api, customer, templates):
        message = schedule(agent_api, customer, due_at=soon(days=1))
        pending = admin_api.post(f"/api/v1/outbox/{message['id']}/retry")
        assert pending.status_code == 409 and error_of(pending)["code"] == "conflict"
        set_status(app, message["id"], status="failed", attempts=5, last_error="timeout")
        retried = admin_api.post(f"/api/v1/outbox/{message['id']}/retry")
        assert retried.status_code == 200, retried.get_json()
        body = retried.get_json()
        assert body["status"] == "pending" and body["attempts"] == 0
        assert datetime.fromisoformat(body["due_at"]) <= datetime.now(timezone.utc)
        set_status(app, message["id"], status="sent", sent_at=datetime.now(timezone.utc))
        assert admin_api.post(f"/api/v1/outbox/{message['id']}/retry").status_code == 409
        assert admin_api.post("/api/v1/outbox/987654/retry").status_code == 404

    def test_retry_refuses_marketing_after_unsubscribe(self, app, admin_api, agent_api, customer, templates):
        from crm.customers.models import Customer
        from crm.followups.services import unsubscribe

        agent_api.patch(f"/api/v1/customers/{customer}", json={"marketing_consent": True})
        message = schedule(agent_api, customer, template="promo")
        set_status(app, message["id"], status="failed")
        with app.app_context():
            unsubscribe(db.session.get(Customer, customer), datetime.now(timezone.utc), how="link")
            db.session.commit()
            # unsubscribing cancels what was waiting; put it back to failed to try the retry
        set_status(app, message["id"], status="failed")
        refused = admin_api.post(f"/api/v1/outbox/{message['id']}/retry")
        assert refused.status_code == 409
        with app.app_context():
            assert db.session.get(OutboxMessage, message["id"]).status == "failed"

    def test_cancel_any_message_staff_alerts_too(self, app, admin_api, agent_api, customer, templates,
                                                 staff_alert):
        cancelled = admin_api.post(f"/api/v1/outbox/{staff_alert.id}/cancel")
        assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
        assert cancelled.get_json()["last_error"]  # says who cancelled it
        assert admin_api.post(f"/api/v1/outbox/{staff_alert.id}/cancel").status_code == 409
        message = schedule(agent_api, customer)
        assert admin_api.post(f"/api/v1/outbox/{message['id']}/cancel").get_json()["status"] == "cancelled"
        assert admin_api.post("/api/v1/outbox/987654/cancel").status_code == 404


class TestCustomerRenewalDate:
    def test_renewal_date_is_read_and_written(self, app, agent_api, customer):
        assert agent_api.get(f"/api/v1/customers/{customer}").get_json()["renewal_date"] is None
        created = agent_api.post("/api/v1/customers", json={"name": "Lola Flores", "renewal_date": "2027-03-01"})
        assert created.status_code == 201 and created.get_json()["renewal_date"] == "2027-03-01"
        patched = agent_api.patch(f"/api/v1/customers/{customer}", json={"renewal_date": "2027-01-15"})
        assert patched.status_code == 200 and patched.get_json()["renewal_date"] == "2027-01-15"
        with app.app_context():
            from crm.customers.models import Customer

            assert db.session.get(Customer, customer).renewal_date == date(2027, 1, 15)
        cleared = agent_api.patch(f"/api/v1/customers/{customer}", json={"renewal_date": None})
        assert cleared.status_code == 200 and cleared.get_json()["renewal_date"] is None

    @pytest.mark.parametrize("value", ["next year", "2027-02-30", "2027-03-01T10:00:00+00:00", 20270301])
    def test_bad_renewal_date(self, agent_api, customer, value):
        response = agent_api.patch(f"/api/v1/customers/{customer}", json={"renewal_date": value})
        assert response.status_code == 422 and "renewal_date" in error_of(response)["fields"]
        assert agent_api.get(f"/api/v1/customers/{customer}").get_json()["renewal_date"] is None


class TestOpenAPI:
    def test_document_has_the_followup_paths(self, client):
        doc = client.get("/api/v1/openapi.json").get_json()
        paths = doc["paths"]
        expected = {
            "/api/v1/templates": {"get"},
            "/api/v1/followups": {"get", "post"},
            "/api/v1/followups/{message_id}/cancel": {"post"},
            "/api/v1/outbox": {"get"},
            "/api/v1/outbox/{message_id}/retry": {"post"},
            "/api/v1/outbox/{message_id}/cancel": {"post"},
        }
        for path, methods in expected.items():
            assert methods <= set(paths[path]), path
        schemas = doc["components"]["schemas"]
        assert {"FollowUpCreate", "FollowUp", "OutboxMessage", "Template", "FollowUpPage", "OutboxPage"} <= set(
            schemas)
        assert "renewal_date" in schemas["Customer"]["properties"]
        assert {"customer_id", "template"} <= set(schemas["FollowUpCreate"]["required"])


@pytest.mark.parametrize("code", ["hello\x00", "x" * 5000, "'; DROP TABLE outbox; --"])
def test_hostile_template_codes_are_unknown_templates(app, api_as, agent, customer, code):
    response = api_as(agent).post("/api/v1/followups", json={"customer_id": customer, "template": code})
    assert response.status_code == 422
    assert "template" in response.json["error"]["fields"]
