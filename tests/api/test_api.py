"""The JSON API: token auth, shapes, errors, roles — the same rules as the pages."""
from datetime import datetime, timedelta, timezone

import pytest

from crm.customers.models import Customer
from crm.extensions import db
from crm.moments.models import Moment
from tests.api.errors import error_of


@pytest.fixture
def api(api_as, agent):
    return api_as(agent)


class TestAuth:
    def test_no_token_no_entry(self, client):
        for url in ["/api/v1/customers", "/api/v1/moment-types", "/api/v1/commitments"]:
            response = client.get(url)
            assert response.status_code == 401 and error_of(response)["code"] == "unauthorized"
        bad = client.get("/api/v1/customers", headers={"Authorization": "Bearer fz_nope"})
        assert bad.status_code == 401

    def test_a_session_cookie_is_not_enough(self, login, agent):
        b = login(agent)
        assert b.get("/api/v1/customers").status_code == 401

    def test_admin_only_endpoints(self, api, api_as, admin):
        assert api.get("/api/v1/users").status_code == 403
        assert error_of(api.post("/api/v1/users", json={}))["code"] == "forbidden"
        assert api.post("/api/v1/moment-types", json={"code": "x"}).status_code == 403
        assert api_as(admin).get("/api/v1/users").status_code == 200


class TestCustomers:
    def test_create_read_update_search(self, api, agent):
        created = api.post("/api/v1/customers", json={"name": "Lola Flores", "email": "LOLA@flores.es",
                                                      "phone": "+34 600 123 456", "tier": "premium"})
        assert created.status_code == 201
        body = created.get_json()
        assert body["email"] == "lola@flores.es" and body["stage"] == "prospect" and body["owner_id"] == agent.id
        customer_id = body["id"]
        assert api.get(f"/api/v1/customers/{customer_id}").get_json()["name"] == "Lola Flores"
        patched = api.patch(f"/api/v1/customers/{customer_id}", json={"company": "Flores SL", "owner_id": None})
        assert patched.status_code == 200 and patched.get_json()["company"] == "Flores SL"
        listing = api.get("/api/v1/customers?q=flor&per_page=5").get_json()
        assert listing["total"] == 1 and listing["page"] == 1 and listing["items"][0]["id"] == customer_id
        assert api.get("/api/v1/customers?q=600123").get_json()["total"] == 1
        assert api.get("/api/v1/customers?stage=loyal").get_json()["total"] == 0

    def test_stage_changes_and_history(self, api, customer):
        changed = api.post(f"/api/v1/customers/{customer}/stage", json={"stage": "loyal", "reason": "Compra todo aquí"})
        assert changed.status_code == 201 and changed.get_json()["from_stage"] == "active"
        history = api.get(f"/api/v1/customers/{customer}/stages").get_json()["items"]
        assert [(h["from_stage"], h["to_stage"]) for h in history] == [("active", "loyal"), (None, "active")]
        refused = api.post(f"/api/v1/customers/{customer}/stage", json={"stage": "churned", "reason": ""})
        assert refused.status_code == 422 and "reason" in error_of(refused)["fields"]
        assert api.get(f"/api/v1/customers/{customer}").get_json()["stage"] == "loyal"

    @pytest.mark.parametrize("payload, status, field", [
        ({}, 422, "name"),
        ({"name": ""}, 422, "name"),
        ({"name": "x" * 201}, 422, "name"),
        ({"name": "Ana\u0000"}, 422, "name"),
        ({"name": 12}, 422, "name"),
        ({"name": "Ana", "stage": "vip"}, 422, "stage"),
        ({"name": "Ana", "email": "nope"}, 422, "email"),
        ({"name": "Ana", "owner_id": "7"}, 422, "owner_id"),
        ({"name": "Ana", "owner_id": 99999999}, 422, "owner_id"),
        ({"name": "Ana", "marketing_consent": "maybe"}, 422, "marketing_consent"),
        ({"name": "Ana", "hacker": True}, 422, "hacker"),
    ])
    def test_bad_input_is_a_clear_4xx_and_writes_nothing(self, api, app, payload, status, field):
        response = api.post("/api/v1/customers", json=payload)
        assert response.status_code == status
        assert field in error_of(response)["fields"]
        with app.app_context():
            assert db.session.query(Customer).count() == 0

    def test_malformed_bodies(self, api, app):
        assert api.post("/api/v1/customers", data="{nope", content_type="application/json").status_code in (400, 422)
        assert api.post("/api/v1/customers", json=["a", "list"]).status_code == 422
        big = api.post("/api/v1/customers", json={"name": "x" * (2 * 1024 * 1024)})
        assert big.status_code == 413 and error_of(big)["code"] == "too_large"
        with app.app_context():
            assert db.session.query(Customer).count() == 0

    def test_bad_queries(self, api):
        assert api.get("/api/v1/customers?stage=vip").status_code == 422
        assert api.get("/api/v1/customers?page=abc").status_code == 422
        assert api.get("/api/v1/customers?page=-5&per_page=100000").get_json()["page"] == 1
        assert api.get("/api/v1/customers/0").status_code == 404
        assert error_of(api.get("/api/v1/customers/123456789"))["code"] == "not_found"
        assert api.get("/api/v1/customers/99999999999999999999999").status_code == 404


class TestCatalogAndMoments:
    def test_moment_types_expose_their_service_levels(self, api, moment_type):
        [mt] = api.get("/api/v1/moment-types").get_json()["items"]
        assert {k: mt[k] for k in ("id", "code", "name", "phase", "channel", "cost")} == {
            "id": moment_type, "code": "complaint", "name": "Reclamación", "phase": "interact",
            "channel": "phone", "cost": "18.00"}
        levels = {sl["tier"]: (sl["first_response_hours"], sl["resolution_hours"]) for sl in mt["service_levels"]}
        assert levels["standard"] == ("4.00", "48.00")

    def test_admin_creates_a_moment_type(self, api_as, admin):
        response = api_as(admin).post("/api/v1/moment-types", json={
            "code": "resena", "name": "Reseña", "phase": "refer", "channel": "web", "cost": 1.5,
            "participants": [{"who": "Atención al cliente", "does": "responde"}],
            "service_levels": [{"tier": "standard", "first_response_hours": "24"}]})
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["service_levels"] == [
            {"tier": "standard", "first_response_hours": "24.00", "resolution_hours": None}]
        dup = api_as(admin).post("/api/v1/moment-types", json={"code": "resena", "name": "x", "phase": "refer",
                                                               "channel": "web"})
        assert dup.status_code == 409
        bad = api_as(admin).post("/api/v1/moment-types", json={"code": "Bad Code!", "name": "x", "phase": "nope",
                                                               "channel": "web", "service_levels": [{"tier": "gold"}]})
        assert bad.status_code == 422 and {"code", "phase", "service_levels"} <= set(error_of(bad)["fields"])

    def test_log_a_moment_and_get_its_commitments(self, api, customer, moment_type):
        occurred = datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc)
        response = api.post("/api/v1/moments", json={
            "customer_id": customer, "moment_type": "complaint", "emotion": -2, "notes": "Pedido roto",
            "occurred_at": occurred.isoformat()})
        assert response.status_code == 201, response.get_json()
        body = response.get_json()
        assert body["moment_type"] == "complaint" and body["emotion"] == -2
        due = {c["kind"]: c["due_at"] for c in body["commitments"]}
        assert datetime.fromisoformat(due["first_response"]) == occurred + timedelta(hours=4)
        assert datetime.fromisoformat(due["resolution"]) == occurred + timedelta(hours=48)
        assert {c["status"] for c in body["commitments"]} == {"open"}
        follow = api.post("/api/v1/moments", json={"customer_id": customer, "moment_type": moment_type,
                                                   "follows_moment_id": body["id"], "outcome": "resolved"})
        assert follow.status_code == 201 and follow.get_json()["incident_id"] == body["id"]
        listed = api.get(f"/api/v1/commitments?customer_id={customer}&status=met").get_json()
        assert listed["total"] == 2

    @pytest.mark.parametrize("payload, field", [
        ({"moment_type": "complaint"}, "customer_id"),
        ({"customer_id": "1", "moment_type": "complaint"}, "customer_id"),
        ({"customer_id": 424242, "moment_type": "complaint"}, "customer_id"),
        ({"moment_type": "nope"}, "moment_type"),
        ({"moment_type": ["complaint"]}, "moment_type"),
        ({"emotion": 5}, "emotion"),
        ({"emotion": "happy"}, "emotion"),
        ({"occurred_at": "2026-11-20T09:30:00"}, "occurred_at"),
        ({"occurred_at": "not a date"}, "occurred_at"),
        ({"occurred_at": "2999-01-01T00:00:00+00:00"}, "occurred_at"),
        ({"channel": "pigeon"}, "channel"),
        ({"notes": "\u0000"}, "notes"),
        ({"cost": "lots"}, "cost"),
        ({"follows_moment_id": 99999}, "follows_moment_id"),
    ])
    def test_bad_moments_write_nothing(self, api, app, customer, moment_type, payload, field):
        body = {"customer_id": customer, "moment_type": "complaint", **payload}
        if "customer_id" not in payload and field == "customer_id":
            body.pop("customer_id")
        response = api.post("/api/v1/moments", json=body)
        assert response.status_code == 422, response.get_json()
        assert field in error_of(response)["fields"]
        with app.app_context():
            assert db.session.query(Moment).count() == 0

    def test_mark_met(self, api, customer, moment_type):
        created = api.post("/api/v1/moments", json={"customer_id": customer, "moment_type": "complaint"}).get_json()
        commitment_id = created["commitments"][0]["id"]
        met = api.post(f"/api/v1/commitments/{commitment_id}/met")
        assert met.status_code == 200 and met.get_json()["status"] == "met"
        assert error_of(api.post(f"/api/v1/commitments/{commitment_id}/met"))["code"] == "conflict"
        assert api.post("/api/v1/commitments/987654/met").status_code == 404
        assert api.get("/api/v1/commitments?status=lost").status_code == 422


class TestUsers:
    def test_admin_lists_and_creates_users(self, api_as, admin):
        api = api_as(admin)
        created = api.post("/api/v1/users", json={"email": "nueva@example.es", "name": "Nueva", "role": "agent",
                                                  "password": "long-enough"})
        assert created.status_code == 201 and "password" not in created.get_json()
        assert "password_hash" not in created.get_json()
        listing = api.get("/api/v1/users").get_json()
        assert listing["total"] == 2 and {u["email"] for u in listing["items"]} == {admin.email, "nueva@example.es"}
        short = api.post("/api/v1/users", json={"email": "x@example.es", "name": "X", "role": "agent", "password": "1"})
        assert short.status_code == 422 and "password" in error_of(short)["fields"]


class TestLanguageOfErrors:
    def test_errors_follow_accept_language(self, api):
        response = api.post("/api/v1/customers", json={}, headers={"Accept-Language": "es"})
        english = api.post("/api/v1/customers", json={}, headers={"Accept-Language": "en"})
        assert english.get_json()["error"]["message"] == "Some fields are not valid."
        assert response.get_json()["error"]["message"] != "" and response.status_code == 422


class TestOpenAPI:
    def test_document_describes_every_endpoint(self, client):
        doc = client.get("/api/v1/openapi.json").get_json()
        assert doc["openapi"].startswith("3.")
        paths = doc["paths"]
        expected = {
            "/api/v1/customers": {"get", "post"},
            "/api/v1/customers/{customer_id}": {"get", "patch"},
            "/api/v1/customers/{customer_id}/stage": {"post"},
            "/api/v1/customers/{customer_id}/stages": {"get"},
            "/api/v1/moment-types": {"get", "post"},
            "/api/v1/moments": {"post"},
            "/api/v1/commitments": {"get"},
            "/api/v1/commitments/{commitment_id}/met": {"post"},
            "/api/v1/users": {"get", "post"},
        }
        for path, methods in expected.items():
            assert methods <= set(paths[path]), path
        assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
        assert "MomentCreate" in doc["components"]["schemas"]
