"""API operations mirroring the agents' and supervisors' pages: a contact's emotion, the
customer's timeline, profitability and decisions, the dashboard, blueprints, the weekly
report and the charter as PDF files."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from tests.api.errors import error_of

ENVELOPE = {"items", "total", "page", "per_page", "pages", "has_next"}


@pytest.fixture
def agent_api(api_as, agent):
    return api_as(agent)


@pytest.fixture
def supervisor_api(api_as, supervisor):
    return api_as(supervisor)


@pytest.fixture
def moment(agent_api, customer, moment_type):
    response = agent_api.post("/api/v1/moments", json={"customer_id": customer, "moment_type": "complaint"})
    assert response.status_code == 201
    return response.get_json()


class TestEmotion:
    def test_set_and_clear(self, agent_api, moment):
        url = f"/api/v1/moments/{moment['id']}/emotion"
        assert agent_api.post(url, json={"emotion": -2}).get_json()["emotion"] == -2
        assert agent_api.post(url, json={"emotion": None}).get_json()["emotion"] is None

    @pytest.mark.parametrize("body", [{"emotion": 3}, {"emotion": "1"}, {"emotion": 1.5}, {}, {"emotion": 1, "x": 1}])
    def test_bad_values_are_refused_and_change_nothing(self, agent_api, moment, body, app):
        from crm.moments.models import Moment

        url = f"/api/v1/moments/{moment['id']}/emotion"
        agent_api.post(url, json={"emotion": 1})
        refused = agent_api.post(url, json=body)
        assert refused.status_code == 422 and error_of(refused)["fields"]
        with app.app_context():
            assert db.session.get(Moment, moment["id"]).emotion == 1

    def test_unknown_contact_and_no_token(self, agent_api, client):
        assert error_of(agent_api.post("/api/v1/moments/999999/emotion", json={"emotion": 1}))["code"] == "not_found"
        assert client.post("/api/v1/moments/1/emotion", json={"emotion": 1}).status_code == 401


class TestTimeline:
    def test_contacts_stage_changes_and_paging(self, agent_api, customer, moment):
        agent_api.post(f"/api/v1/customers/{customer}/stage", json={"stage": "loyal", "reason": "Compra mucho"})
        body = agent_api.get(f"/api/v1/customers/{customer}/timeline").get_json()
        assert set(body) == ENVELOPE and body["total"] is None and body["has_next"] is False
        kinds = [entry["kind"] for entry in body["items"]]
        assert sorted(kinds) == ["moment", "stage_change", "stage_change"]
        contact = next(entry for entry in body["items"] if entry["kind"] == "moment")
        assert contact["moment"]["id"] == moment["id"] and contact["stage_change"] is None
        assert len(contact["moment"]["commitments"]) == 2
        first = agent_api.get(f"/api/v1/customers/{customer}/timeline?per_page=2").get_json()
        assert (len(first["items"]), first["has_next"]) == (2, True)
        second = agent_api.get(f"/api/v1/customers/{customer}/timeline?per_page=2&page=2").get_json()
        assert (len(second["items"]), second["has_next"]) == (1, False)

    def test_stage_history_pages(self, agent_api, customer):
        body = agent_api.get(f"/api/v1/customers/{customer}/stages?per_page=1").get_json()
        assert set(body) == ENVELOPE and body["total"] == 1 and body["items"][0]["to_stage"] == "active"

    def test_refusals(self, agent_api):
        assert error_of(agent_api.get("/api/v1/customers/999999/timeline"))["code"] == "not_found"
        assert agent_api.get("/api/v1/customers/1/timeline?page=x").status_code == 422


class TestProfitability:
    def test_summary_list_and_decision(self, supervisor_api, customer, moment, app):
        from crm.insights.models import CustomerDecision

        summary = supervisor_api.get("/api/v1/profitability")
        assert summary.status_code == 200
        body = summary.get_json()
        assert body["rule"]["mode"] == "thresholds" and body["tiers"]["standard"] == 1
        assert body["period"]["days"] == 365
        listing = supervisor_api.get("/api/v1/profitability/customers").get_json()
        assert set(listing) == ENVELOPE and listing["total"] is None
        [row] = listing["items"]
        assert (row["customer_id"], row["contact_cost"], row["profit"], row["decision"]) == (
            customer, "18.00", "-18.00", None)
        url = f"/api/v1/profitability/{customer}/decision"
        for bad in ({"decision": "maybe", "reason": "x"}, {"decision": "keep", "reason": ""}, {"decision": "keep"}):
            assert supervisor_api.post(url, json=bad).status_code == 422, bad
        decided = supervisor_api.post(url, json={"decision": "keep", "reason": "Cliente histórico"})
        assert decided.status_code == 201 and decided.get_json()["profit"] == "-18.00"
        listed = supervisor_api.get("/api/v1/profitability/customers").get_json()["items"][0]["decision"]
        assert (listed["decision"], listed["reason"]) == ("keep", "Cliente histórico")
        top = supervisor_api.get("/api/v1/profitability/customers?show=top").get_json()
        assert (top["total"], top["pages"]) == (1, 1)
        assert supervisor_api.get("/api/v1/profitability/customers?show=best").status_code == 422
        assert error_of(supervisor_api.post("/api/v1/profitability/999999/decision",
                                            json={"decision": "end", "reason": "x"}))["code"] == "not_found"
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(CustomerDecision)) == 1

    def test_roles(self, api_as, agent, supervisor, customer):
        assert api_as(agent).get("/api/v1/profitability").status_code == 403
        assert api_as(agent).post(f"/api/v1/profitability/{customer}/decision",
                                  json={"decision": "keep", "reason": "x"}).status_code == 403
        assert api_as(supervisor).put("/api/v1/profitability/rule", json={
            "mode": "thresholds", "premium": 100, "standard": 0, "period_days": 90}).status_code == 403

    def test_tier_rule(self, api_as, admin):
        api = api_as(admin)
        saved = api.put("/api/v1/profitability/rule", json={"mode": "percentiles", "premium": "10",
                                                            "standard": 30, "period_days": 90, "active": True})
        assert saved.status_code == 200
        assert saved.get_json() == {"mode": "percentiles", "premium": "10.00", "standard": "30.00",
                                    "period_days": 90, "active": True}
        for bad, field in (({"premium": "80", "standard": "30"}, "standard"), ({"period_days": 0}, "period_days"),
                           ({"mode": "magic"}, "mode"), ({"premium": "NaN"}, "premium")):
            refused = api.put("/api/v1/profitability/rule", json={
                "mode": "percentiles", "premium": "10", "standard": "30", "period_days": 90, **bad})
            assert refused.status_code == 422 and field in error_of(refused)["fields"], bad
        assert api.get("/api/v1/profitability").get_json()["rule"]["premium"] == "10.00"


class TestDashboardAndBlueprints:
    def test_dashboard(self, supervisor_api, api_as, agent, moment):
        body = supervisor_api.get("/api/v1/dashboard").get_json()
        assert set(body) == {"now", "today", "figures"}
        assert body["today"]["pending"] == {"count": 0, "value": "0.00", "cost": "0.00"}
        assert [row["key"] for row in body["figures"]["rows"]][:2] == ["nps", "csat"]
        assert api_as(agent).get("/api/v1/dashboard").status_code == 403

    def test_blueprints(self, supervisor_api, moment_type, moment):
        listing = supervisor_api.get("/api/v1/blueprints")
        assert listing.status_code == 200
        [row] = listing.get_json()["touchpoints"]
        assert (row["code"], row["volume"], row["physical_evidence"]) == ("complaint", 1, "")
        one = supervisor_api.get(f"/api/v1/blueprints/{moment_type}").get_json()
        assert one["moment_type"]["code"] == "complaint" and one["figures"]["volume"] == 1
        assert one["previous"]["volume"] == 0
        assert supervisor_api.get("/api/v1/blueprints/999999").status_code == 404
        assert supervisor_api.get("/api/v1/blueprints?from=2026-02-30").status_code == 422
        assert supervisor_api.get("/api/v1/blueprints?segmnet=x").status_code == 422


class TestFiles:
    def test_weekly_report_pdf(self, supervisor_api, api_as, agent):
        from crm.types import utc_now

        response = supervisor_api.get("/api/v1/reports/weekly.pdf?lang=en")
        assert response.status_code == 200 and response.mimetype == "application/pdf"
        assert response.data.startswith(b"%PDF") and "attachment" in response.headers["Content-Disposition"]
        future = (utc_now() + timedelta(days=30)).date().isoformat()
        assert "week" in error_of(supervisor_api.get(f"/api/v1/reports/weekly.pdf?week={future}"))["fields"]
        assert "lang" in error_of(supervisor_api.get("/api/v1/reports/weekly.pdf?lang=fr"))["fields"]
        assert api_as(agent).get("/api/v1/reports/weekly.pdf").status_code == 403

    def test_charter_pdf(self, agent_api, client, moment_type):
        response = agent_api.get("/api/v1/charter.pdf?lang=en")
        assert response.status_code == 200 and response.data.startswith(b"%PDF")
        assert response.headers["Content-Language"] == "en"
        assert agent_api.get("/api/v1/charter.pdf?language=en").status_code == 422
        assert client.get("/api/v1/charter.pdf").status_code == 401
