"""/api/v1/webhooks: admins manage endpoints and read deliveries; the secret appears only when made."""
from __future__ import annotations

from sqlalchemy import func, select

from crm.auth.models import User
from crm.customers.services import create_customer
from crm.extensions import db
from crm.types import utc_now
from crm.webhooks import dispatch
from crm.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.webhook_receiver import WebhookReceiver

NEW = {"url": "https://shop.example.com/hooks", "description": "Tienda", "events": ["customer.created"]}


def endpoints(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(WebhookEndpoint.id)))


def test_an_admin_creates_lists_changes_and_deletes_an_endpoint(app, api_as, admin):
    api = api_as(admin)
    created = api.post("/api/v1/webhooks", json=NEW)
    assert created.status_code == 201
    body = created.get_json()
    assert body["secret"].startswith("whsec_") and body["events"] == ["customer.created"] and body["active"]
    listed = api.get("/api/v1/webhooks").get_json()
    assert listed["total"] == 1 and "secret" not in listed["items"][0]
    assert "secret" not in api.get(f"/api/v1/webhooks/{body['id']}").get_json()

    changed = api.patch(f"/api/v1/webhooks/{body['id']}", json={"active": False, "events": ["moment.logged"]})
    assert changed.status_code == 200
    assert (changed.get_json()["active"], changed.get_json()["events"]) == (False, ["moment.logged"])
    rotated = api.post(f"/api/v1/webhooks/{body['id']}/rotate-secret")
    assert rotated.status_code == 200 and rotated.get_json()["secret"] not in (None, body["secret"])
    assert api.delete(f"/api/v1/webhooks/{body['id']}").status_code == 204
    assert endpoints(app) == 0
    assert api.get(f"/api/v1/webhooks/{body['id']}").status_code == 404


def test_bad_input_is_refused_with_reasons_and_nothing_is_saved(app, api_as, admin):
    api = api_as(admin)
    refused = api.post("/api/v1/webhooks", json={"url": "http://shop.example.com/h", "events": ["nope"],
                                                 "active": "maybe"})
    assert refused.status_code == 422
    error = refused.get_json()["error"]
    assert error["fields"]["active"] == ["Not a valid boolean."]
    refused = api.post("/api/v1/webhooks", json={"url": "http://shop.example.com/h", "events": ["nope"]})
    fields = refused.get_json()["error"]["fields"]
    assert refused.status_code == 422 and set(fields) == {"url", "events"}
    assert fields["url"] == ["use https:// for receivers outside your own network"]
    assert api.post("/api/v1/webhooks", data="{", content_type="application/json").status_code == 400
    assert endpoints(app) == 0
    created = api.post("/api/v1/webhooks", json=NEW).get_json()
    refused = api.patch(f"/api/v1/webhooks/{created['id']}", json={"secret": "mine"})
    assert refused.status_code == 422


def test_only_admins(app, api_as, agent, supervisor):
    for user in (agent, supervisor):
        api = api_as(user)
        assert api.get("/api/v1/webhooks").status_code == 403
        assert api.post("/api/v1/webhooks", json=NEW).status_code == 403
    assert endpoints(app) == 0


def test_deliveries_with_their_attempts_and_a_retry(app, api_as, admin, agent):
    receiver = WebhookReceiver().start()
    try:
        api = api_as(admin)
        created = api.post("/api/v1/webhooks", json={**NEW, "url": receiver.url}).get_json()
        receiver.status, receiver.answer = 410, "gone for lunch"
        with app.app_context():
            create_customer(db.session.get(User, agent.id), {"name": "Ana"}, utc_now())
            db.session.commit()
            assert dispatch.deliver_due(utc_now()).retrying == 1
        page = api.get(f"/api/v1/webhooks/{created['id']}/deliveries?status=pending").get_json()
        assert page["total"] == 1
        (item,) = page["items"]
        assert (item["event_type"], item["attempts"], item["last_status_code"]) == ("customer.created", 1, 410)
        detail = api.get(f"/api/v1/webhook-deliveries/{item['id']}").get_json()
        assert detail["body"]["type"] == "customer.created" and detail["body"]["id"] == item["event_id"]
        assert [(a["status_code"], a["response_body"]) for a in detail["attempt_log"]] == [(410, "gone for lunch")]
        assert api.get(f"/api/v1/webhooks/{created['id']}/deliveries?status=lost").status_code == 422
        assert api.post(f"/api/v1/webhook-deliveries/{item['id']}/retry").status_code == 409  # not failed

        with app.app_context():
            db.session.execute(WebhookDelivery.__table__.update().values(status="failed"))
            db.session.commit()
        receiver.status = 200
        retried = api.post(f"/api/v1/webhook-deliveries/{item['id']}/retry")
        assert retried.status_code == 200 and retried.get_json()["status"] == "pending"
        test = api.post(f"/api/v1/webhooks/{created['id']}/test")
        assert test.status_code == 202 and test.get_json()["event_type"] == "webhook.ping"
        with app.app_context():
            assert dispatch.deliver_due(utc_now()).delivered == 2
        assert api.post(f"/api/v1/webhooks/{created['id']}/retry-failed").get_json() == {"retried": 0}
        assert api.get("/api/v1/webhook-deliveries/999999").status_code == 404
    finally:
        receiver.stop()
