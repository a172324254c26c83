"""The data-rights page: the JSON download (supervisors, audited) and erasure (admins, CSRF,
typed confirmation and a reason)."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from crm.audit import AuditEvent
from crm.customers.models import Customer
from crm.extensions import db
from tests.services.test_privacy import populate


@pytest.fixture
def world(app, agent, admin, customer, moment_type):
    return populate(app, agent.id, admin.id, customer, moment_type)


def text(response) -> str:
    return response.get_data(as_text=True)


def audited(app, action: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).where(AuditEvent.action == action))


def erased_at(app, customer_id):
    with app.app_context():
        return db.session.get(Customer, customer_id).erased_at


def erase(b, customer, **data):
    form = {"confirmation": "María García Núñez", "reason": "Petición por email del 20/11", **data}
    return b.post(f"/privacy/customers/{customer}/erase", form, csrf_from_url=f"/privacy/customers/{customer}")


class TestExport:
    def test_supervisors_download_everything_and_it_is_audited(self, app, login, supervisor, world, customer):
        response = login(supervisor).get(f"/privacy/customers/{customer}/export.json")
        assert response.status_code == 200 and response.mimetype == "application/json"
        assert response.headers["Content-Disposition"] == f'attachment; filename="customer-{customer}.json"'
        assert response.headers["Cache-Control"] == "no-store"
        document = json.loads(response.data)
        assert document["customer"]["email"] == "maria.garcia@example.es" and len(document["moments"]) == 2
        assert audited(app, "customer.data_exported") == 1

    def test_agents_and_strangers_cannot(self, app, login, agent, client, world, customer):
        b = login(agent)
        assert b.get(f"/privacy/customers/{customer}/export.json").status_code == 403
        assert b.get(f"/privacy/customers/{customer}").status_code == 403
        assert client.get(f"/privacy/customers/{customer}/export.json").status_code == 302
        assert audited(app, "customer.data_exported") == 0

    def test_unknown_customer(self, login, supervisor):
        assert login(supervisor).get("/privacy/customers/999999/export.json").status_code == 404

    def test_the_customer_page_links_to_data_rights(self, login, supervisor, agent, customer):
        assert f'href="/privacy/customers/{customer}"' in text(login(supervisor).get(f"/customers/{customer}"))
        assert "/privacy/" not in text(login(agent).get(f"/customers/{customer}"))

    def test_supervisors_see_no_erase_form(self, login, supervisor, admin, customer):
        assert 'id="erase-form"' not in text(login(supervisor).get(f"/privacy/customers/{customer}"))
        assert 'id="erase-form"' in text(login(admin).get(f"/privacy/customers/{customer}"))


class TestErase:
    def test_an_admin_erases(self, app, login, admin, world, customer):
        b = login(admin)
        response = erase(b, customer)
        assert response.status_code == 302 and response.headers["Location"].endswith(f"/customers/{customer}")
        page = text(b.get(f"/customers/{customer}"))
        assert 'id="erased-notice"' in page and "María" not in page and "maria.garcia" not in page
        assert f"— erased #{customer}" in page
        assert erased_at(app, customer) is not None and audited(app, "customer.erased") == 1
        assert 'id="erase-form"' not in text(b.get(f"/privacy/customers/{customer}"))

    def test_twice_is_409(self, app, login, admin, world, customer):
        b = login(admin)
        erase(b, customer)
        again = b.post(f"/privacy/customers/{customer}/erase",
                       {"confirmation": f"— erased #{customer}", "reason": "otra vez"},
                       csrf_from_url=f"/customers/{customer}")
        assert again.status_code == 409 and "already erased" in text(again)
        assert audited(app, "customer.erased") == 1

    def test_csrf_is_required(self, app, login, admin, world, customer):
        b = login(admin)
        response = b.client.post(f"/privacy/customers/{customer}/erase",
                                 data={"confirmation": "María García Núñez", "reason": "x"})
        assert response.status_code == 400 and erased_at(app, customer) is None

    @pytest.mark.parametrize("data, status, message", [
        ({"confirmation": "Maria Garcia"}, 422, "type the customer"),
        ({"confirmation": ""}, 400, "required"),
        ({"reason": ""}, 400, "required"),
        ({"reason": "x" * 501}, 400, "500"),
    ])
    def test_refusals_explain_and_write_nothing(self, app, login, admin, world, customer, data, status, message):
        response = erase(login(admin), customer, **data)
        assert response.status_code == status and message in text(response)
        assert erased_at(app, customer) is None and audited(app, "customer.erased") == 0

    @pytest.mark.parametrize("role", ["agent", "supervisor"])
    def test_only_admins(self, app, login, make_user, world, customer, role):
        b = login(make_user(role))
        response = b.post(f"/privacy/customers/{customer}/erase",
                          {"confirmation": "María García Núñez", "reason": "x"}, csrf_from_url="/account")
        assert response.status_code == 403 and erased_at(app, customer) is None
