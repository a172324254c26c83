"""API: everything held about a customer (supervisors) and erasure (admins)."""
from __future__ import annotations

from sqlalchemy import func, select

from crm.audit import AuditEvent
from crm.customers.models import Customer
from crm.extensions import db
from tests.services.test_privacy import populate


def erased(app, customer_id):
    with app.app_context():
        return db.session.get(Customer, customer_id).erased_at


class TestData:
    def test_supervisor_reads_everything(self, app, api_as, agent, admin, supervisor, customer, moment_type):
        world = populate(app, agent.id, admin.id, customer, moment_type)
        response = api_as(supervisor).get(f"/api/v1/customers/{customer}/data")
        assert response.status_code == 200
        body = response.get_json()
        assert body["customer"]["id"] == customer and len(body["purchases"]) == 1
        assert {m["id"] for m in body["messages"]} == {world["pending"], world["sent"]}
        assert "Pedro" not in response.get_data(as_text=True)
        with app.app_context():
            event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "customer.data_exported"))
            assert (event.user_id, event.entity_id, event.details) == (supervisor.id, customer, {"via": "api"})

    def test_agents_are_refused_and_unknown_is_404(self, api_as, agent, supervisor, customer):
        assert api_as(agent).get(f"/api/v1/customers/{customer}/data").status_code == 403
        missing = api_as(supervisor).get("/api/v1/customers/424242/data")
        assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"


class TestErase:
    def test_admin_erases_then_409(self, app, api_as, agent, admin, customer, moment_type):
        populate(app, agent.id, admin.id, customer, moment_type)
        api = api_as(admin)
        response = api.post(f"/api/v1/customers/{customer}/erase", json={"reason": "Solicitud del cliente"})
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["customer_id"] == customer and body["counts"]["moment_notes"] == 2 and body["erased_at"]
        again = api.post(f"/api/v1/customers/{customer}/erase", json={"reason": "otra"})
        assert again.status_code == 409
        assert again.get_json()["error"]["message"] == "this customer was already erased"
        with app.app_context():
            assert db.session.scalar(select(func.count()).where(AuditEvent.action == "customer.erased")) == 1

    def test_refusals_write_nothing(self, app, api_as, agent, supervisor, admin, customer):
        assert api_as(supervisor).post(f"/api/v1/customers/{customer}/erase",
                                       json={"reason": "x"}).status_code == 403
        assert api_as(agent).post(f"/api/v1/customers/{customer}/erase", json={"reason": "x"}).status_code == 403
        api = api_as(admin)
        missing = api.post(f"/api/v1/customers/{customer}/erase", json={})
        assert missing.status_code == 422 and "reason" in missing.get_json()["error"]["fields"]
        blank = api.post(f"/api/v1/customers/{customer}/erase", json={"reason": "  "})
        assert blank.status_code == 422 and blank.get_json()["error"]["fields"]["reason"]
        assert api.post("/api/v1/customers/999999/erase", json={"reason": "x"}).status_code == 404
        assert erased(app, customer) is None
