"""The webhook pages: admins register endpoints (secret shown once), watch deliveries, retry, rotate, delete."""
from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import func, select

from crm.auth.models import User
from crm.customers.services import create_customer
from crm.extensions import db
from crm.types import utc_now
from crm.webhooks import dispatch
from crm.webhooks.models import WebhookDelivery, WebhookEndpoint
from crm.webhooks.rules import verify
from tests.webhook_receiver import WebhookReceiver

SECRET_RE = re.compile(r'id="webhook-secret">(whsec_[A-Za-z0-9_-]+)<')


def text(response) -> str:
    return response.get_data(as_text=True)


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def receiver():
    r = WebhookReceiver().start()
    yield r
    r.stop()


def register(browser, url, events=("customer.created",), **extra):
    return browser.post("/admin/webhooks/new", {"url": url, "description": "Tienda", "events": list(events),
                                                "active": "y", **extra}, csrf_from_url="/admin/webhooks/new")


class TestEndpointPages:
    def test_an_admin_registers_an_endpoint_and_sees_its_secret_once(self, app, login, admin, receiver):
        browser = login(admin)
        response = register(browser, receiver.url, events=("customer.created", "moment.logged"))
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
        secret = SECRET_RE.search(text(response)).group(1)
        with app.app_context():
            endpoint = db.session.scalars(select(WebhookEndpoint)).one()
            assert (endpoint.url, endpoint.events, endpoint.secret) == (
                receiver.url, ["customer.created", "moment.logged"], secret)
            endpoint_id = endpoint.id
        page = text(browser.get(f"/admin/webhooks/{endpoint_id}"))
        assert secret not in page and "Fideliza-Signature" in page
        assert secret not in text(browser.get("/admin/webhooks"))

    @pytest.mark.parametrize("form, message", [
        ({"url": "http://shop.example.com/hook"}, "use https:// for receivers outside your own network"),
        ({"url": "ftp://example.com/x"}, "the address must start with https:// and name a host"),
        ({"url": "https://shop.example.com/h", "events": []}, "choose at least one event"),
        ({"url": "https://shop.example.com/h", "events": ["customer.deleted"]}, "is not a valid choice for this field"),
        ({"url": "https://shop.example.com/" + "a" * 2100}, "Field cannot be longer than 2000 characters."),
        ({"url": "https://shop.example.com/h\x00"}, "contains characters that are not allowed"),
    ])
    def test_a_bad_form_is_answered_with_its_reason_and_nothing_is_saved(self, app, login, admin, form, message):
        data = {"events": ["customer.created"], **form}
        response = register(login(admin), **data)
        assert response.status_code == 400
        assert message in text(response)
        assert count(app, WebhookEndpoint) == 0

    def test_only_admins_see_the_webhook_pages(self, app, login, agent, supervisor):
        for user in (agent, supervisor):
            browser = login(user)
            assert browser.get("/admin/webhooks").status_code == 403
            assert register(browser, "https://shop.example.com/h").status_code == 403
        assert count(app, WebhookEndpoint) == 0

    def test_editing_rotating_and_deleting(self, app, login, admin, receiver):
        browser = login(admin)
        first = SECRET_RE.search(text(register(browser, receiver.url))).group(1)
        with app.app_context():
            endpoint_id = db.session.scalar(select(WebhookEndpoint.id))
        edit = f"/admin/webhooks/{endpoint_id}"
        response = browser.post(edit, {"url": receiver.url, "description": "Centralita",
                                       "events": ["survey.answered"]}, csrf_from_url=edit)
        assert response.status_code == 302
        with app.app_context():
            endpoint = db.session.get(WebhookEndpoint, endpoint_id)
            assert (endpoint.description, endpoint.events, endpoint.active) == ("Centralita", ["survey.answered"],
                                                                                False)
        rotated = browser.post(f"{edit}/rotate", csrf_from_url=edit)
        assert rotated.status_code == 200 and rotated.headers["Cache-Control"] == "no-store"
        second = SECRET_RE.search(text(rotated)).group(1)
        assert second != first
        assert browser.post(f"{edit}/delete", csrf_from_url=edit).status_code == 302
        assert count(app, WebhookEndpoint) == 0


class TestDeliveryPages:
    def test_a_test_event_shows_the_receivers_answer(self, app, login, admin, receiver):
        browser = login(admin)
        receiver.secret = SECRET_RE.search(text(register(browser, receiver.url))).group(1)
        receiver.status, receiver.answer = 500, "<b>boom</b> caído"
        with app.app_context():
            endpoint_id = db.session.scalar(select(WebhookEndpoint.id))
        edit = f"/admin/webhooks/{endpoint_id}"
        response = browser.post(f"{edit}/test", csrf_from_url=edit)
        assert response.status_code == 302
        delivery_url = response.headers["Location"]
        waiting = text(browser.get(delivery_url))
        assert "webhook.ping" in waiting and 'http-equiv="refresh"' in waiting and "Not attempted yet." in waiting
        with app.app_context():
            assert dispatch.deliver_due(utc_now()).retrying == 1
        page = text(browser.get(delivery_url))
        assert "HTTP 500" in page and "&lt;b&gt;boom&lt;/b&gt; caído" in page and "<b>boom</b>" not in page
        assert receiver.requests[0]["valid"]

    def test_a_failed_delivery_is_retried_from_its_page(self, app, login, admin, agent, receiver):
        browser = login(admin)
        register(browser, receiver.url)
        with app.app_context():
            create_customer(db.session.get(User, agent.id), {"name": "Ana"}, utc_now())
            db.session.execute(WebhookDelivery.__table__.update().values(status="failed", attempts=80))
            db.session.commit()
            delivery_id = db.session.scalar(select(WebhookDelivery.id))
        url = f"/admin/webhooks/deliveries/{delivery_id}"
        assert "Failed" in text(browser.get(url))
        assert "Failed" in text(browser.get("/admin/webhooks?status=failed"))
        assert browser.post(f"{url}/retry", csrf_from_url=url).status_code == 302
        with app.app_context():
            delivery = db.session.get(WebhookDelivery, delivery_id)
            assert (delivery.status, delivery.attempts) == ("pending", 0)
            assert dispatch.deliver_due(utc_now()).delivered == 1
        assert receiver.types() == ["customer.created"]
        # A second retry of a delivered one is refused with a message, not an error page.
        again = browser.post(f"{url}/retry", csrf_from_url=url, follow_redirects=True)
        assert again.status_code == 200 and "only failed deliveries can be retried" in text(again)

    def test_signatures_check_out_for_a_receiver_with_the_shown_secret(self, app, login, admin, agent, receiver):
        secret = SECRET_RE.search(text(register(login(admin), receiver.url))).group(1)
        with app.app_context():
            create_customer(db.session.get(User, agent.id), {"name": "Ana"}, utc_now())
            db.session.commit()
            dispatch.deliver_due(utc_now())
        (request,) = receiver.requests
        assert verify(secret, request["headers"]["Fideliza-Signature"], request["body"], time.time())
