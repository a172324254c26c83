"""API operations mirroring the admin pages: users, teams, the catalog, calendars, compensation
policies and goodwill limits, templates, follow-up rules, the outbox, lifecycle "run now".

Each: the answer, the role refused, bad input refused with the one error shape and nothing written.
"""
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from tests.api.errors import error_of

ENVELOPE = {"items", "total", "page", "per_page", "pages", "has_next"}


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def admin_api(api_as, admin):
    return api_as(admin)


class TestUsers:
    def test_admins_read_and_change_an_account(self, admin_api, agent, app):
        assert admin_api.get(f"/api/v1/users/{agent.id}").get_json()["email"] == agent.email
        changed = admin_api.patch(f"/api/v1/users/{agent.id}", json={"role": "supervisor", "locale": "en"})
        assert changed.status_code == 200
        assert {k: changed.get_json()[k] for k in ("role", "locale", "name")} == {
            "role": "supervisor", "locale": "en", "name": agent.name}
        assert "password" not in changed.get_json() and "password_hash" not in changed.get_json()

    def test_refusals(self, admin_api, api_as, admin, agent, supervisor):
        taken = admin_api.patch(f"/api/v1/users/{agent.id}", json={"email": supervisor.email})
        assert taken.status_code == 409 and "email" in error_of(taken)["fields"]
        demote = admin_api.patch(f"/api/v1/users/{admin.id}", json={"role": "agent"})
        assert demote.status_code == 403 and error_of(demote)["code"] == "forbidden"
        short = admin_api.patch(f"/api/v1/users/{agent.id}", json={"password": "short"})
        assert short.status_code == 422 and "password" in error_of(short)["fields"]
        assert admin_api.patch(f"/api/v1/users/{agent.id}", json={"role": "boss"}).status_code == 422
        assert error_of(admin_api.get("/api/v1/users/999999"))["code"] == "not_found"
        assert api_as(supervisor).patch(f"/api/v1/users/{agent.id}", json={"name": "X"}).status_code == 403
        assert admin_api.get(f"/api/v1/users/{agent.id}").get_json()["role"] == "agent"


class TestTeams:
    def test_create_list_replace(self, admin_api):
        created = admin_api.post("/api/v1/teams", json={"name": "Logística", "kind": "partner",
                                                        "description": "Mensajería"})
        assert created.status_code == 201
        team = created.get_json()
        assert {k: team[k] for k in ("name", "kind", "description")} == {
            "name": "Logística", "kind": "partner", "description": "Mensajería"}
        admin_api.post("/api/v1/teams", json={"name": "Atención"})
        listing = admin_api.get("/api/v1/teams?per_page=1").get_json()
        assert set(listing) == ENVELOPE
        assert (listing["total"], listing["pages"], listing["has_next"]) == (2, 2, True)
        assert [t["name"] for t in listing["items"]] == ["Atención"]  # internal teams first
        replaced = admin_api.put(f"/api/v1/teams/{team['id']}", json={"name": "Transporte"})
        assert replaced.status_code == 200 and replaced.get_json()["kind"] == "internal"

    def test_refusals_write_nothing(self, admin_api, api_as, supervisor, app):
        from crm.auth.models import Team

        admin_api.post("/api/v1/teams", json={"name": "Ventas"})
        duplicate = admin_api.post("/api/v1/teams", json={"name": "VENTAS"})
        assert duplicate.status_code == 409 and "name" in error_of(duplicate)["fields"]
        for body in ({}, {"name": ""}, {"name": "X", "kind": "alien"}, {"name": "X", "extra": 1}):
            assert admin_api.post("/api/v1/teams", json=body).status_code == 422, body
        assert api_as(supervisor).post("/api/v1/teams", json={"name": "Y"}).status_code == 403
        assert api_as(supervisor).get("/api/v1/teams").status_code == 403
        assert admin_api.put("/api/v1/teams/999999", json={"name": "Z"}).status_code == 404
        assert count(app, Team) == 1


class TestMomentTypes:
    def test_read_one_and_change_some_fields(self, admin_api, api_as, agent, moment_type):
        assert api_as(agent).get(f"/api/v1/moment-types/{moment_type}").get_json()["code"] == "complaint"
        changed = admin_api.patch(f"/api/v1/moment-types/{moment_type}", json={
            "name": "Queja", "warn_ratio": "0.5", "objective_metric": "csat", "objective_target": 80})
        assert changed.status_code == 200
        body = changed.get_json()
        assert (body["name"], body["code"], body["warn_ratio"], body["objective_metric"]) == (
            "Queja", "complaint", "0.50", "csat")
        assert len(body["service_levels"]) == 3  # not sent: kept

    def test_refusals(self, admin_api, api_as, supervisor, moment_type):
        admin_api.post("/api/v1/moment-types", json={"code": "visit", "name": "Visita", "phase": "interact",
                                                      "channel": "in_person"})
        taken = admin_api.patch(f"/api/v1/moment-types/{moment_type}", json={"code": "visit"})
        assert taken.status_code == 409 and "code" in error_of(taken)["fields"]
        bad = admin_api.patch(f"/api/v1/moment-types/{moment_type}", json={"phase": "later", "cost": "-1"})
        assert bad.status_code == 422 and {"phase", "cost"} <= set(error_of(bad)["fields"])
        assert admin_api.patch(f"/api/v1/moment-types/{moment_type}", json={"calendar_id": 999}).status_code == 422
        assert api_as(supervisor).patch(f"/api/v1/moment-types/{moment_type}", json={"name": "Y"}).status_code == 403
        assert admin_api.patch("/api/v1/moment-types/999999", json={"name": "Y"}).status_code == 404
        assert admin_api.get(f"/api/v1/moment-types/{moment_type}").get_json()["name"] == "Reclamación"


class TestCalendars:
    BODY = {"name": "Madrid", "timezone": "Europe/Madrid", "hours": {"0": [["09:00", "14:00"]]}}

    def test_holidays_and_closures_as_on_the_page(self, admin_api, api_as, agent):
        created = admin_api.post("/api/v1/calendars", json={**self.BODY, "country": "es", "subdivision": "md",
                                                             "closures": ["2026-12-24", "2026-12-24"]})
        assert created.status_code == 201
        body = created.get_json()
        assert (body["country"], body["subdivision"], body["closures"]) == ("ES", "MD", ["2026-12-24"])
        assert api_as(agent).get(f"/api/v1/calendars/{body['id']}").get_json()["name"] == "Madrid"
        changed = admin_api.patch(f"/api/v1/calendars/{body['id']}", json={
            "country": None, "subdivision": None, "closures": ["2026-12-31"]})
        assert changed.status_code == 200
        assert (changed.get_json()["country"], changed.get_json()["closures"]) == (None, ["2026-12-31"])
        bad = admin_api.patch(f"/api/v1/calendars/{body['id']}", json={"closures": ["24/12/2026"]})
        assert bad.status_code == 422 and "closures" in error_of(bad)["fields"]
        assert admin_api.get(f"/api/v1/calendars/{body['id']}").get_json()["closures"] == ["2026-12-31"]
        assert admin_api.get("/api/v1/calendars/999999").status_code == 404


class TestPoliciesAndGoodwill:
    def test_policies(self, admin_api, api_as, supervisor, moment_type, app):
        from crm.compensations.models import CompensationPolicy

        created = admin_api.post("/api/v1/compensation-policies", json={
            "moment_type_id": moment_type, "tier": "premium", "kind": "discount", "value": "10",
            "escalate_after": 2, "escalated_value": "20"})
        assert created.status_code == 201
        policy = created.get_json()
        assert (policy["value"], policy["escalated_value"], policy["requires_approval"]) == ("10.00", "20.00", True)
        clash = admin_api.post("/api/v1/compensation-policies", json={
            "moment_type_id": moment_type, "tier": "premium", "kind": "gift"})
        assert clash.status_code == 409
        replaced = admin_api.put(f"/api/v1/compensation-policies/{policy['id']}", json={
            "moment_type_id": moment_type, "tier": "premium", "kind": "credit", "value": "5",
            "requires_approval": False})
        assert replaced.status_code == 200
        assert (replaced.get_json()["kind"], replaced.get_json()["escalated_value"]) == ("credit", None)
        for body in ({"kind": "cash"}, {"kind": "gift", "value": "-3"}, {"kind": "gift", "escalated_value": "9"},
                     {"kind": "gift", "cap_period_days": 0}, {"kind": "gift", "value": "NaN"}):
            assert admin_api.post("/api/v1/compensation-policies", json=body).status_code == 422, body
        listing = admin_api.get("/api/v1/compensation-policies").get_json()
        assert set(listing) == ENVELOPE and [p["kind"] for p in listing["items"]] == ["credit"]
        assert api_as(supervisor).get("/api/v1/compensation-policies").status_code == 403
        assert count(app, CompensationPolicy) == 1

    def test_goodwill_limits(self, admin_api, api_as, supervisor):
        limits = admin_api.get("/api/v1/goodwill-limits").get_json()
        assert [(row["role"], row["max_value"]) for row in limits["items"]] == [("agent", "0.00"),
                                                                               ("supervisor", "0.00")]
        changed = admin_api.put("/api/v1/goodwill-limits/agent", json={"max_value": "25,5"})
        assert changed.status_code == 422  # a JSON number or a decimal string with a point
        changed = admin_api.put("/api/v1/goodwill-limits/agent", json={"max_value": "25.5"})
        assert changed.get_json() == {"role": "agent", "max_value": "25.50"}
        assert admin_api.put("/api/v1/goodwill-limits/agent", json={"max_value": -1}).status_code == 422
        assert admin_api.put("/api/v1/goodwill-limits/admin", json={"max_value": 1}).status_code == 404
        assert api_as(supervisor).put("/api/v1/goodwill-limits/agent", json={"max_value": 99}).status_code == 403
        assert admin_api.get("/api/v1/goodwill-limits").get_json()["items"][0]["max_value"] == "25.50"


TEMPLATE = {
    "code": "thanks", "name": "Thank you", "kind": "transactional",
    "subject_es": "Gracias, {{ first_name }}", "body_es": "Hola {{ customer_name }}.",
    "subject_en": "Thank you, {{ first_name }}", "body_en": "Hello {{ customer_name }}.",
}


class TestTemplatesAndRules:
    def test_templates(self, admin_api, api_as, agent, app):
        from crm.followups.models import MessageTemplate

        created = admin_api.post("/api/v1/templates", json=TEMPLATE)
        assert created.status_code == 201
        template = created.get_json()
        assert {t["language"]: t["subject"] for t in template["texts"]} == {
            "es": "Gracias, {{ first_name }}", "en": "Thank you, {{ first_name }}"}
        replaced = admin_api.put(f"/api/v1/templates/{template['id']}", json={**TEMPLATE, "name": "Gracias",
                                                                             "active": False})
        assert replaced.status_code == 200 and (replaced.get_json()["name"], replaced.get_json()["active"]) == (
            "Gracias", False)
        assert admin_api.get(f"/api/v1/templates/{template['id']}").get_json()["name"] == "Gracias"
        unknown = admin_api.post("/api/v1/templates", json={**TEMPLATE, "code": "x", "body_en": "{{ nope }}"})
        assert unknown.status_code == 422 and "body_en" in error_of(unknown)["fields"]
        assert admin_api.post("/api/v1/templates", json=TEMPLATE).status_code == 422  # the code is taken
        assert admin_api.post("/api/v1/templates", json={**TEMPLATE, "code": "y", "subject_es": None}
                              ).status_code == 422
        assert api_as(agent).post("/api/v1/templates", json={**TEMPLATE, "code": "z"}).status_code == 403
        assert api_as(agent).get(f"/api/v1/templates/{template['id']}").status_code == 403
        assert api_as(agent).get("/api/v1/templates").get_json()["total"] == 1
        assert count(app, MessageTemplate) == 1

    def test_rules(self, admin_api, api_as, supervisor, moment_type, app):
        from crm.followups.models import FollowUpRule

        template_id = admin_api.post("/api/v1/templates", json=TEMPLATE).get_json()["id"]
        created = admin_api.post("/api/v1/followup-rules", json={
            "name": "Thanks", "trigger": "after_moment", "template_id": template_id, "moment_type_id": moment_type,
            "days": 1})
        assert created.status_code == 201
        rule = created.get_json()
        assert (rule["trigger"], rule["days"], rule["active"], rule["last_error"]) == ("after_moment", 1, True, None)
        replaced = admin_api.put(f"/api/v1/followup-rules/{rule['id']}", json={
            "name": "Quiet ones", "trigger": "inactivity", "template_id": template_id, "days": 90})
        assert replaced.status_code == 200
        assert (replaced.get_json()["trigger"], replaced.get_json()["moment_type_id"]) == ("inactivity", None)
        for body in ({"name": "R", "trigger": "after_moment", "template_id": template_id},
                     {"name": "R", "trigger": "inactivity", "template_id": template_id, "days": 0},
                     {"name": "R", "trigger": "later", "template_id": template_id},
                     {"name": "R", "trigger": "inactivity", "template_id": 999999, "days": 3}):
            assert admin_api.post("/api/v1/followup-rules", json=body).status_code == 422, body
        listing = admin_api.get("/api/v1/followup-rules").get_json()
        assert set(listing) == ENVELOPE and [r["name"] for r in listing["items"]] == ["Quiet ones"]
        assert api_as(supervisor).get("/api/v1/followup-rules").status_code == 403
        assert count(app, FollowUpRule) == 1


class TestOutboxMessage:
    def test_admins_read_one_message(self, admin_api, api_as, agent, customer):
        template_id = admin_api.post("/api/v1/templates", json=TEMPLATE).get_json()["id"]
        assert template_id
        message = api_as(agent).post("/api/v1/followups", json={"customer_id": customer, "template": "thanks"})
        assert message.status_code == 201
        shown = admin_api.get(f"/api/v1/outbox/{message.get_json()['id']}")
        assert shown.status_code == 200
        assert (shown.get_json()["status"], shown.get_json()["to_address"]) == ("pending", "maria.garcia@example.es")
        assert api_as(agent).get(f"/api/v1/outbox/{message.get_json()['id']}").status_code == 403
        assert error_of(admin_api.get("/api/v1/outbox/999999"))["code"] == "not_found"


class TestLifecycleRunNow:
    def test_run_moves_customers_once(self, admin_api, api_as, supervisor, agent, app, now):
        from crm.auth.models import User
        from crm.customers.models import Customer, Purchase
        from crm.customers.services import create_customer
        from crm.types import utc_now

        with app.app_context():
            prospect = create_customer(db.session.get(User, agent.id), {"name": "Nuevo", "stage": "prospect"}, now)
            db.session.add(Purchase(customer_id=prospect.id, amount=20, currency="EUR",
                                    purchased_on=utc_now().date() - timedelta(days=1), created_at=utc_now()))
            db.session.commit()
            prospect_id = prospect.id
        assert api_as(supervisor).post("/api/v1/lifecycle-rules/run").status_code == 403
        first = admin_api.post("/api/v1/lifecycle-rules/run")
        assert first.status_code == 200
        body = first.get_json()
        assert set(body) == {"customers", "stage_moves", "loyalty_changes", "disabled"}
        assert body["customers"] == 1 and body["stage_moves"]["first_purchase"] == 1
        with app.app_context():
            assert db.session.get(Customer, prospect_id).stage == "new"
        assert admin_api.post("/api/v1/lifecycle-rules/run").get_json()["customers"] == 0


def test_every_date_in_the_closures_is_checked(admin_api):
    """A long closure list is refused whole: no half-written calendar."""
    days = [(date(2027, 1, 1) + timedelta(days=n)).isoformat() for n in range(400)]
    refused = admin_api.post("/api/v1/calendars", json={**TestCalendars.BODY, "closures": days})
    assert refused.status_code == 422 and "closures" in error_of(refused)["fields"]
    assert admin_api.get("/api/v1/calendars").get_json()["total"] == 0
