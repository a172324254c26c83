"""Supervisors review breaches and decide compensations; agents pause, resume and grant goodwill."""
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from crm.compensations.models import Compensation
from crm.extensions import db
from crm.followups.models import OutboxMessage
from crm.moments.models import Commitment


def text(response):
    return response.get_data(as_text=True)


@pytest.fixture
def proposals(app, api_as, agent, admin, customer, moment_type):
    from crm.auth.models import User
    from crm.compensations.services import save_policy
    from crm.moments.sweep import sweep_commitments

    now = datetime.now(timezone.utc)
    with app.app_context():
        save_policy(db.session.get(User, admin.id), None, {"kind": "gift", "value": "12", "cost": "5"}, now)
        db.session.commit()
    api_as(agent).post("/api/v1/moments", json={"customer_id": customer, "moment_type": "complaint",
                                                "occurred_at": (now - timedelta(days=3)).isoformat()})
    with app.app_context():
        sweep_commitments(now)
        db.session.commit()
        return [c.id for c in db.session.scalars(select(Compensation).order_by(Compensation.id))]


def test_review_page_lists_totals_and_digest(login, supervisor, proposals):
    page = text(login(supervisor).get("/compensations"))
    assert "2 compensations" in page and "Reclamación" in page
    assert re.search(r"Proposed</td><td>2</td>", page)
    assert "Breaches by moment type" in page
    filtered = text(login(supervisor).get("/compensations?status=issued"))
    assert "Nothing to review" in filtered


def test_agents_cannot_review_or_decide(login, agent, proposals):
    b = login(agent)
    assert b.get("/compensations").status_code == 403
    assert b.post(f"/compensations/{proposals[0]}/approve", {"value": "1"}, csrf_from_url="/").status_code == 403


def test_approve_issue_reject_through_the_page(app, login, supervisor, proposals, notice_rule):
    b = login(supervisor)
    done = b.post(f"/compensations/{proposals[0]}/approve", {"value": "10,50", "note": "Buen cliente",
                                                              "next": "/compensations?status=approved"},
                  csrf_from_url="/compensations")
    assert done.status_code == 302 and done.headers["Location"] == "/compensations?status=approved"
    b.post(f"/compensations/{proposals[0]}/issue", {}, csrf_from_url="/compensations")
    refused = b.post(f"/compensations/{proposals[1]}/reject", {"reason": ""}, csrf_from_url="/compensations")
    assert refused.status_code == 302
    b.post(f"/compensations/{proposals[1]}/reject", {"reason": "Ya se le regaló un casco"},
           csrf_from_url="/compensations")
    with app.app_context():
        first, second = (db.session.get(Compensation, i) for i in proposals)
        assert (first.status, str(first.value), first.decision_note) == ("issued", "10.50", "Buen cliente")
        assert (second.status, second.decision_note) == ("rejected", "Ya se le regaló un casco")
        assert db.session.scalar(select(OutboxMessage.compensation_id)) == first.id


def test_approval_asks_for_a_fresh_login(app, login, supervisor, proposals):
    b = login(supervisor)
    with b.client.session_transaction() as session:
        session["auth_at"] = datetime.now(timezone.utc).timestamp() - 3600
    stale = b.post(f"/compensations/{proposals[0]}/approve", {"value": "12", "next": "/compensations"},
                   csrf_from_url="/compensations")
    assert stale.status_code == 302 and stale.headers["Location"].startswith("/reauthenticate")
    with app.app_context():
        assert db.session.get(Compensation, proposals[0]).status == "proposed"
    wrong = b.post("/reauthenticate?next=/compensations", {"password": "nope"}, csrf_from_url="/reauthenticate")
    assert wrong.status_code == 401
    from tests.conftest import PASSWORD

    ok = b.post("/reauthenticate?next=/compensations", {"password": PASSWORD}, csrf_from_url="/reauthenticate")
    assert ok.status_code == 302 and ok.headers["Location"] == "/compensations"
    again = b.post(f"/compensations/{proposals[0]}/approve", {"value": "12"}, csrf_from_url="/compensations")
    assert again.status_code == 302
    with app.app_context():
        assert db.session.get(Compensation, proposals[0]).status == "approved"


def test_customer_page_shows_counts_and_ledger(login, agent, customer, proposals):
    page = text(login(agent).get(f"/customers/{customer}"))
    assert "0 met, 2 broken, 0 open" in page
    assert page.count("Gift") >= 2 and "First response commitment broken" in page


def test_pause_and_resume_buttons(app, login, agent, customer, moment_type, api_as):
    moment = api_as(agent).post("/api/v1/moments", json={"customer_id": customer, "moment_type": "complaint"}).json
    commitment_id = moment["commitments"][0]["id"]
    b = login(agent)
    url = f"/customers/{customer}"
    assert "Pause: waiting on the customer" in text(b.get(url))
    b.post(f"/commitments/{commitment_id}/pause", {}, csrf_from_url=url)
    page = text(b.get(url))
    assert "Resume" in page and "Commitment paused" in page
    again = b.post(f"/commitments/{commitment_id}/pause", {}, csrf_from_url=url)
    assert again.status_code == 302 and "only an open commitment" in text(b.get(url))
    b.post(f"/commitments/{commitment_id}/resume", {}, csrf_from_url=url)
    with app.app_context():
        assert db.session.get(Commitment, commitment_id).status == "open"


def test_goodwill_from_the_customer_page(app, login, agent, admin, customer, moment_type, api_as):
    from crm.auth.models import User
    from crm.compensations.services import set_goodwill_limit

    api_as(agent).post("/api/v1/moments", json={"customer_id": customer, "moment_type": "complaint"})
    b = login(agent)
    url = f"/customers/{customer}"
    assert "Grant a compensation now" not in text(b.get(url))  # no limit set: no form
    with app.app_context():
        set_goodwill_limit(db.session.get(User, admin.id), "agent", "15", datetime.now(timezone.utc))
        db.session.commit()
    page = text(b.get(url))
    assert "Grant a compensation now" in page
    fragment = text(b.get(f"/compensations/goodwill/{customer}", headers={"HX-Request": "true"}))
    assert "<html" not in fragment and "Up to" in fragment
    moment_id = re.search(r'name="gw-moment_id"[^>]*>\s*<option value="(\d+)"', fragment).group(1)
    assert "<html" in text(b.get(f"/compensations/goodwill/{customer}"))  # without JavaScript: its own page
    too_much = b.post(f"/compensations/goodwill/{customer}", {"gw-moment_id": moment_id, "gw-kind": "gift",
                                                               "gw-value": "30", "gw-reason": "x"}, csrf_from_url=url)
    assert too_much.status_code == 302 and "ask a supervisor" in text(b.get(url))
    b.post(f"/compensations/goodwill/{customer}", {"gw-moment_id": moment_id, "gw-kind": "gift", "gw-value": "9,90",
                                                   "gw-reason": "Casco de regalo"}, csrf_from_url=url)
    with app.app_context():
        granted = db.session.scalar(select(Compensation))
        assert (granted.status, str(granted.value)) == ("issued", "9.90")


def test_totals_cover_every_status_whatever_the_list_shows(app, login, supervisor, proposals):
    b = login(supervisor)
    b.post(f"/compensations/{proposals[0]}/reject", {"reason": "no"}, csrf_from_url="/compensations")
    page = text(b.get("/compensations?status=proposed"))
    assert re.search(r"Proposed</td><td>1</td>", page) and re.search(r"Rejected</td><td>1</td>", page)
    assert "1 compensation" in page
