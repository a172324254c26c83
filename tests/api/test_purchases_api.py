"""API for purchases: record one, list them with filters; every refusal writes nothing."""
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from crm.audit import AuditEvent
from crm.customers.models import Customer, Purchase
from crm.extensions import db
from tests.api.errors import error_of

PURCHASE_FIELDS = {"id", "customer_id", "amount", "currency", "purchased_on", "description", "created_by_id",
                   "created_at"}


def counts(app) -> tuple[int, int]:
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(Purchase)),
                db.session.scalar(select(func.count()).select_from(AuditEvent)
                                  .where(AuditEvent.action == "purchase.recorded")))


@pytest.fixture
def api(api_as, agent):
    return api_as(agent)


def record(api, customer, **extra):
    body = {"customer_id": customer, "amount": "49.90", "purchased_on": "2026-01-15", **extra}
    response = api.post("/api/v1/purchases", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


class TestRecord:
    def test_record_a_purchase(self, app, api, agent, customer):
        body = record(api, customer, amount="12,50", description="Cámara y cubierta")
        assert set(body) == PURCHASE_FIELDS
        assert (body["customer_id"], body["amount"], body["currency"], body["purchased_on"], body["description"],
                body["created_by_id"]) == (customer, "12.50", "EUR", "2026-01-15", "Cámara y cubierta", agent.id)
        assert datetime.fromisoformat(body["created_at"]).tzinfo is not None
        with app.app_context():
            assert db.session.get(Customer, customer).last_activity_at == datetime(2026, 1, 15, tzinfo=timezone.utc)
        assert counts(app) == (1, 1)

    @pytest.mark.parametrize("amount, stored", [(12.5, "12.50"), (7, "7.00"), ("1000000", "1000000.00"),
                                                ("0.01", "0.01")])
    def test_numbers_and_strings(self, api, customer, amount, stored):
        assert record(api, customer, amount=amount)["amount"] == stored

    def test_currency_and_optional_fields(self, api, customer):
        body = record(api, customer, currency="usd", description=None)
        assert (body["currency"], body["description"]) == ("USD", "")
        assert record(api, customer, currency=None)["currency"] == "EUR"

    @pytest.mark.parametrize("payload, field", [
        ({"amount": "-1"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": "12,505"}, "amount"),
        ({"amount": 12.505}, "amount"),
        ({"amount": "1e9"}, "amount"),
        ({"amount": 1e9}, "amount"),
        ({"amount": "1000000.01"}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": None}, "amount"),
        ({"amount": [1]}, "amount"),
        ({"amount": {"$gt": 0}}, "amount"),
        ({"amount": "12\u0000"}, "amount"),
        ({"amount": "' OR 1=1 --"}, "amount"),
        ({"currency": "EURO"}, "currency"),
        ({"currency": "ABC"}, "currency"),
        ({"currency": 978}, "currency"),
        ({"purchased_on": "2026-13-01"}, "purchased_on"),
        ({"purchased_on": "15/01/2026"}, "purchased_on"),
        ({"purchased_on": "2026-01-15T10:00:00+00:00"}, "purchased_on"),
        ({"purchased_on": "1999-12-31"}, "purchased_on"),
        ({"purchased_on": (date.today() + timedelta(days=3)).isoformat()}, "purchased_on"),
        ({"purchased_on": 20260115}, "purchased_on"),
        ({"purchased_on": None}, "purchased_on"),
        ({"description": "x" * 501}, "description"),
        ({"description": "<script>\u0000</script>"}, "description"),
        ({"description": 5}, "description"),
        ({"customer_id": 987654}, "customer_id"),
        ({"customer_id": "1"}, "customer_id"),
        ({"customer_id": 10**30}, "customer_id"),
        ({"customer_id": None}, "customer_id"),
        ({"extra": 1}, "extra"),
    ])
    def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(self, app, api, customer, payload, field):
        body = {"customer_id": customer, "amount": "10", "purchased_on": "2026-01-15", **payload}
        response = api.post("/api/v1/purchases", json=body)
        assert response.status_code == 422, response.get_json()
        error = error_of(response)
        assert error["code"] == "validation_failed" and field in error["fields"]
        assert counts(app) == (0, 0)
        with app.app_context():
            assert db.session.get(Customer, customer).last_activity_at is None

    def test_missing_fields_are_named(self, app, api):
        error = error_of(api.post("/api/v1/purchases", json={}))
        assert {"customer_id", "amount", "purchased_on"} <= set(error["fields"])
        assert counts(app) == (0, 0)

    def test_malformed_bodies(self, app, api):
        assert api.post("/api/v1/purchases", data="{nope", content_type="application/json").status_code in (400, 422)
        assert api.post("/api/v1/purchases", json=["a", "list"]).status_code == 422
        big = api.post("/api/v1/purchases", json={"description": "x" * (2 * 1024 * 1024)})
        assert big.status_code == 413
        assert counts(app) == (0, 0)

    def test_errors_in_spanish(self, api, customer):
        response = api.post("/api/v1/purchases", json={"customer_id": customer, "amount": "12,505",
                                                       "purchased_on": "2026-01-15"},
                            headers={"Accept-Language": "es"})
        assert response.status_code == 422 and response.get_json()["error"]["fields"]["amount"]

    def test_needs_a_token(self, app, client, login, agent, customer):
        body = {"customer_id": customer, "amount": "10", "purchased_on": "2026-01-15"}
        assert client.post("/api/v1/purchases", json=body).status_code == 401
        assert client.get("/api/v1/purchases").status_code == 401
        assert login(agent).client.post("/api/v1/purchases", json=body).status_code == 401  # a cookie is not enough
        assert counts(app) == (0, 0)


class TestList:
    @pytest.fixture
    def history(self, app, api, agent, customer):
        from crm.auth.models import User
        from crm.customers.services import create_customer

        with app.app_context():
            other = create_customer(db.session.get(User, agent.id), {"name": "Luis Ortega"},
                                    datetime.now(timezone.utc)).id
            db.session.commit()
        made = [record(api, customer, amount="10", purchased_on="2026-01-10"),
                record(api, customer, amount="20", purchased_on="2026-03-01"),
                record(api, customer, amount="30", purchased_on="2026-03-01"),
                record(api, other, amount="40", purchased_on="2026-02-15")]
        return customer, other, [m["id"] for m in made]

    def test_the_standard_list_shape_newest_first(self, api, history):
        customer, other, ids = history
        body = api.get("/api/v1/purchases").get_json()
        assert set(body) == {"items", "total", "page", "per_page", "pages", "has_next"}
        assert (body["total"], body["page"], body["per_page"], body["pages"]) == (4, 1, 25, 1)
        assert [p["id"] for p in body["items"]] == [ids[2], ids[1], ids[3], ids[0]]
        assert set(body["items"][0]) == PURCHASE_FIELDS

    def test_filters_and_pages(self, api, history):
        customer, other, ids = history
        mine = api.get(f"/api/v1/purchases?customer_id={customer}&per_page=2").get_json()
        assert ([p["id"] for p in mine["items"]], mine["total"], mine["pages"]) == ([ids[2], ids[1]], 3, 2)
        page2 = api.get(f"/api/v1/purchases?customer_id={customer}&per_page=2&page=2").get_json()
        assert [p["id"] for p in page2["items"]] == [ids[0]]
        period = api.get("/api/v1/purchases?from=2026-02-15&to=2026-03-01").get_json()
        assert [p["id"] for p in period["items"]] == [ids[2], ids[1], ids[3]]
        assert api.get(f"/api/v1/purchases?customer_id={other}&to=2026-02-14").get_json()["total"] == 0
        assert api.get("/api/v1/purchases?customer_id=987654").get_json()["total"] == 0
        assert api.get("/api/v1/purchases?customer_id=-3").get_json()["items"] == []
        assert api.get(f"/api/v1/purchases?customer_id={10**30}").get_json()["total"] == 0
        clamped = api.get("/api/v1/purchases?page=-5&per_page=100000").get_json()
        assert (clamped["page"], clamped["per_page"]) == (1, 100)

    @pytest.mark.parametrize("query, field", [("from=yesterday", "from"), ("to=2026-02-30", "to"),
                                              ("page=abc", "page"), ("customer_id=x", "customer_id")])
    def test_bad_queries(self, api, query, field):
        response = api.get(f"/api/v1/purchases?{query}")
        assert response.status_code == 422 and field in error_of(response)["fields"]

    def test_the_document_describes_purchases(self, client):
        doc = client.get("/api/v1/openapi.json").get_json()
        assert {"get", "post"} <= set(doc["paths"]["/api/v1/purchases"])
        assert {"PurchaseCreate", "Purchase", "PurchasePage"} <= set(doc["components"]["schemas"])
