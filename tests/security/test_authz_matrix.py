"""The authorization matrix, beyond tests/views/test_security_walk.py.

The walk checks minimum roles (below it 401/403; at or above it "not refused, not a 5xx").
This file pins what it leaves open:
- every API read (GET) × every role × anonymous answers an exact status: 401, 403 or 200;
- objects that belong to one person (an upload and its rejected rows, an API token), reached
  through their path ids by someone else: the exact status per role, and nothing changed.
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.views.test_security_walk import API_ROLES, RANK, concrete, routes

ROLES = [None, "agent", "supervisor", "admin"]
# API reads whose answer for an allowed role is not a plain 200 with the walk's data, and why.
READ_EXCEPTIONS = {
    # The walk's upload is an admin's and still waits for its import: other supervisors get 404
    # (not theirs), the admin gets 404 on its errors (no row was rejected yet).
    "api_import_runs.get_import_run": {"supervisor": 404, "admin": 200},
    "api_import_runs.import_run_errors": {"supervisor": 404, "admin": 404},
}

# Reads that need a query to answer anything but 422.
QUERIES = {"api_impact.get_impact": "?treatment=compensation"}


def expected_read(endpoint: str, role: str | None) -> int:
    needed = API_ROLES[endpoint]
    if needed is None:
        return 200
    if role is None:
        return 401
    if RANK[role] < RANK[needed]:
        return 403
    return READ_EXCEPTIONS.get(endpoint, {}).get(role, 200)


@pytest.mark.parametrize("role", ROLES)
def test_every_api_read_answers_its_exact_status(app, role, make_user, api_as, ids, client):
    caller = api_as(make_user(role)) if role else client
    checked = 0
    for rule, method in routes(app):
        if not rule.rule.startswith("/api/") or method != "GET":
            continue
        response = caller.get(concrete(rule, ids) + QUERIES.get(rule.endpoint, ""))
        response.close()
        assert response.status_code == expected_read(rule.endpoint, role), (rule.rule, role, response.status_code)
        checked += 1
    assert checked >= 40


@pytest.fixture
def owners(app, make_user, api_as, now):
    """Supervisor Ana uploaded a file (one row rejected) and holds an API token."""
    from crm.auth.models import ApiToken, User
    from crm.extensions import db
    from crm.imports.runs import create_run

    ana = make_user("supervisor", email="ana@example.es")
    api_as(ana)
    with app.app_context():
        run = create_run(db.session.get(User, ana.id), "customers", "clientes.csv",
                         "name;email\nAna;ana@example.es\n;no-name\n".encode(), now)
        db.session.commit()
        token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == ana.id))
        return {"owner": ana, "run_id": run.id, "token_id": token_id}


# (method, url, who → exact status). "owner" is the person the object belongs to,
# "other_<role>" anyone else of that role.
OWNED = [
    ("GET", "/api/v1/import-runs/{run_id}",
     {None: 401, "other_agent": 403, "other_supervisor": 404, "owner": 200, "other_admin": 200}),
    ("GET", "/imports/{run_id}",
     {None: 302, "other_agent": 403, "other_supervisor": 404, "owner": 200, "other_admin": 200}),
    ("POST", "/api/v1/account/tokens/{token_id}/revoke",
     {None: 401, "other_agent": 404, "other_supervisor": 404}),
]


@pytest.mark.parametrize("method, url, expected", OWNED, ids=[f"{m} {u}" for m, u, _ in OWNED])
def test_objects_of_one_person_through_their_ids(app, make_user, api_as, login, client, owners, method, url,
                                                 expected):
    from crm.auth.models import ApiToken
    from crm.extensions import db

    target = url.format(**owners)
    for who, status in expected.items():
        if who is None:
            http = client
        elif who == "owner":
            http = api_as(owners["owner"]) if target.startswith("/api/") else login(owners["owner"]).client
        else:
            other = make_user(who.removeprefix("other_"))
            http = api_as(other) if target.startswith("/api/") else login(other).client
        response = getattr(http, method.lower())(target)
        assert response.status_code == status, (method, target, who, response.status_code)
    with app.app_context():  # refused revocations changed nothing
        assert db.session.get(ApiToken, owners["token_id"]).revoked_at is None


def test_the_api_lists_only_ones_own_uploads(app, make_user, api_as, owners):
    other = api_as(make_user("supervisor"))
    assert owners["run_id"] not in [run["id"] for run in other.get("/api/v1/import-runs").json["items"]]
    assert owners["run_id"] in [run["id"] for run in api_as(make_user("admin")).get("/api/v1/import-runs")
                                .json["items"]]
    assert owners["run_id"] in [run["id"] for run in api_as(owners["owner"]).get("/api/v1/import-runs")
                                .json["items"]]
