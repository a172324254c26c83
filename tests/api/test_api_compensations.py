"""API for business time and compensations: pause/resume, review, decisions, goodwill, calendars."""
from datetime import datetime, timedelta, timezone

import pytest

from crm.extensions import db
from tests.api.errors import error_of


@pytest.fixture
def breached(app, api_as, agent, admin, customer, moment_type):
    """A complaint logged two days ago, swept: two breached commitments with proposals."""
    from crm.auth.models import User
    from crm.compensations.services import save_policy
    from crm.moments.sweep import sweep_commitments

    with app.app_context():
        save_policy(db.session.get(User, admin.id), None, {"kind": "discount", "value": "10"},
                    datetime.now(timezone.utc))
        db.session.commit()
    occurred = datetime.now(timezone.utc) - timedelta(days=3)
    moment = api_as(agent).post("/api/v1/moments", json={"customer_id": customer, "moment_type": "complaint",
                                                         "occurred_at": occurred.isoformat()}).get_json()
    with app.app_context():
        sweep_commitments(datetime.now(timezone.utc))
        db.session.commit()
    return moment


def test_breached_commitments_carry_their_compensation(api_as, agent, breached):
    listing = api_as(agent).get("/api/v1/commitments?status=breached").get_json()
    assert listing["total"] == 2
    for item in listing["items"]:
        assert item["breached_at"] == item["due_at"] and isinstance(item["compensation_id"], int)


def test_review_approve_issue_and_roles(api_as, agent, supervisor, breached):
    agent_api, boss = api_as(agent), api_as(supervisor)
    listing = boss.get("/api/v1/compensations?status=proposed").get_json()
    assert listing["total"] == 2
    first, second = (item["id"] for item in listing["items"])
    assert {k: listing["items"][0][k] for k in ("kind", "value", "status")} == {
        "kind": "discount", "value": "10.00", "status": "proposed"}
    assert agent_api.post(f"/api/v1/compensations/{first}/approve", json={}).status_code == 403
    approved = boss.post(f"/api/v1/compensations/{first}/approve", json={"value": "7.5", "note": "ok"})
    assert approved.status_code == 200 and approved.get_json()["value"] == "7.50"
    assert error_of(boss.post(f"/api/v1/compensations/{first}/approve", json={}))["code"] == "conflict"
    issued = boss.post(f"/api/v1/compensations/{first}/issue")
    assert issued.status_code == 200 and issued.get_json()["status"] == "issued"
    assert boss.post(f"/api/v1/compensations/{second}/reject", json={"reason": ""}).status_code == 422
    assert boss.post(f"/api/v1/compensations/{second}/reject", json={}).status_code == 422
    rejected = boss.post(f"/api/v1/compensations/{second}/reject", json={"reason": "Ya compensado"})
    assert rejected.get_json()["status"] == "rejected"
    assert boss.post(f"/api/v1/compensations/{second}/approve", json={}).status_code == 409
    assert boss.post("/api/v1/compensations/999999/issue").status_code == 404
    assert boss.post(f"/api/v1/compensations/{first}/approve", json={"value": "-3"}).status_code in (409, 422)
    assert boss.get("/api/v1/compensations?status=gone").status_code == 422


def test_pause_and_resume(api_as, agent, customer, moment_type):
    api = api_as(agent)
    moment = api.post("/api/v1/moments", json={"customer_id": customer, "moment_type": "complaint"}).get_json()
    commitment = moment["commitments"][0]["id"]
    paused = api.post(f"/api/v1/commitments/{commitment}/pause")
    assert paused.status_code == 200 and paused.get_json()["status"] == "paused"
    assert error_of(api.post(f"/api/v1/commitments/{commitment}/pause"))["code"] == "conflict"
    resumed = api.post(f"/api/v1/commitments/{commitment}/resume").get_json()
    assert resumed["status"] == "open" and resumed["paused_at"] is None
    assert resumed["due_at"] >= moment["commitments"][0]["due_at"]
    api.post(f"/api/v1/commitments/{commitment}/met")
    assert api.post(f"/api/v1/commitments/{commitment}/pause").status_code == 409


def test_goodwill_on_the_spot(app, api_as, agent, admin, customer, moment_type):
    from crm.auth.models import User
    from crm.compensations.services import set_goodwill_limit

    with app.app_context():
        set_goodwill_limit(db.session.get(User, admin.id), "agent", "20", datetime.now(timezone.utc))
        db.session.commit()
    api = api_as(agent)
    moment = api.post("/api/v1/moments", json={"customer_id": customer, "moment_type": "complaint"}).get_json()
    granted = api.post(f"/api/v1/moments/{moment['id']}/goodwill",
                       json={"kind": "gift", "value": 15, "reason": "Casco de regalo"})
    assert granted.status_code == 201 and granted.get_json()["status"] == "issued"
    too_much = api.post(f"/api/v1/moments/{moment['id']}/goodwill", json={"kind": "gift", "value": 25, "reason": "x"})
    assert too_much.status_code == 403 and "value" in error_of(too_much)["fields"]
    assert api.post(f"/api/v1/moments/{moment['id']}/goodwill", json={"kind": "cash", "value": 1,
                                                                      "reason": "x"}).status_code == 422


def test_calendars(api_as, admin, agent):
    api = api_as(admin)
    body = {"name": "Tienda", "timezone": "Europe/Madrid", "country": "ES", "subdivision": "MD",
            "hours": {"0": [["09:00", "14:00"], ["16:00", "19:00"]]}, "closures": ["2026-12-24"], "is_default": True}
    created = api.post("/api/v1/calendars", json=body)
    assert created.status_code == 201 and created.get_json()["hours"] == body["hours"]
    calendar_id = created.get_json()["id"]
    bad = api.patch(f"/api/v1/calendars/{calendar_id}", json={"hours": {"0": [["14:00", "09:00"]]}})
    assert bad.status_code == 422 and "hours" in error_of(bad)["fields"]
    assert api.patch(f"/api/v1/calendars/{calendar_id}", json={"hours": {}}).status_code == 422
    assert api_as(agent).post("/api/v1/calendars", json=body).status_code == 403
    assert [c["name"] for c in api_as(agent).get("/api/v1/calendars").get_json()["items"]] == ["Tienda"]
