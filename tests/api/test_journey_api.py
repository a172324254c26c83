"""GET /api/v1/journey: the journey map's numbers, rounded, with the previous period's curve."""
from __future__ import annotations

import pytest

from tests.services.test_journey import build_journey

OCTOBER = "/api/v1/journey?from=2026-10-01&to=2026-10-31"


@pytest.fixture
def data(app, admin, agent):
    with app.app_context():
        return build_journey(admin.id, agent.id)


def touchpoints(body, key="phases"):
    return {t["code"]: t for p in body[key] for t in p["touchpoints"]}


def test_the_journey(api_as, supervisor, data):
    response = api_as(supervisor).get(OCTOBER)
    assert response.status_code == 200
    body = response.get_json()
    assert body["period"]["from"] == "2026-10-01" and body["previous_period"]["from"] == "2026-08-31"
    assert body["filters"] == {"segment": None, "customer_id": None}
    assert [p["phase"] for p in body["phases"]] == ["discover", "evaluate", "interact", "retain", "refer"]
    t = touchpoints(body)
    complaint = t["complaint"]
    assert {k: complaint[k] for k in ("moment_type_id", "name", "phase", "team", "external_partner", "volume",
                                      "cost", "emotion", "emotions_logged", "survey_answers", "sla", "sla_met",
                                      "sla_breached", "fcr_second", "incidents_resolved", "pain",
                                      "pain_reasons")} == {
        "moment_type_id": data["complaint"], "name": "Reclamación", "phase": "interact",
        "team": "Atención al cliente", "external_partner": False, "volume": 6, "cost": "108.00", "emotion": -0.6,
        "emotions_logged": 3, "survey_answers": 2, "sla": 66.67, "sla_met": 2, "sla_breached": 1,
        "fcr_second": 66.67, "incidents_resolved": 3, "pain": True, "pain_reasons": ["emotion", "objective"]}
    assert complaint["objective"] == {"metric": "fcr_second", "target": 90.0, "actual": 66.67, "met": False}
    assert t["delivery"]["external_partner"] is True and t["delivery"]["objective"]["met"] is False
    assert t["visit"]["emotion"] == 1.67 and t["visit"]["objective"]["met"] is True
    assert t["review"]["csat"] == 100.0
    interact = body["phases"][2]
    assert (interact["volume"], interact["cost"], interact["emotion"], interact["sla"], interact["pain_points"]) == (
        8, "128.00", -0.43, 60.0, 2)
    assert [(p["code"], p["emotion"], p["previous_emotion"], p["pain"]) for p in body["curve"]] == [
        ("visit", 1.67, -1.0, False), ("delivery", 0.0, None, True), ("complaint", -0.6, None, True),
        ("renewal", None, 2.0, False), ("review", 1.5, None, False)]
    assert set(touchpoints(body, "previous_phases")) == {"visit", "renewal"}


def test_filters(api_as, supervisor, data):
    api = api_as(supervisor)
    body = api.get(f"{OCTOBER}&segment=Particular").get_json()
    assert body["filters"] == {"segment": "Particular", "customer_id": None}
    assert touchpoints(body)["complaint"]["fcr_second"] == 100.0
    body = api.get(f"{OCTOBER}&customer_id={data['b']}").get_json()
    assert body["filters"]["customer_id"] == data["b"]
    assert touchpoints(body)["complaint"]["volume"] == 4
    assert api.get("/api/v1/journey").status_code == 200  # the last 30 days


@pytest.mark.parametrize("query, field", [
    ("from=2026-10-31&to=2026-10-01", "to"), ("from=tomorrow", "from"), ("from=2024-01-01&to=2026-01-01", "to"),
    ("customer_id=abc", "customer_id"), ("customer_id=999999", "customer_id"), ("customer_id=-1", "customer_id"),
    ("segment=" + "x" * 61, "segment"), ("segment=a%00b", "segment"), ("team_id=1", "team_id"),
])
def test_bad_input_is_a_422(api_as, supervisor, data, query, field):
    response = api_as(supervisor).get(f"/api/v1/journey?{query}")
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert field in str(body)


def test_roles(api_as, client, agent):
    assert api_as(agent).get(OCTOBER).status_code == 403
    assert client.get(OCTOBER).status_code == 401
