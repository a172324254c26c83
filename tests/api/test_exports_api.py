"""GET /api/v1/exports/<entity>.csv: the same streamed files as the pages, for supervisors' tokens."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.audit import AuditEvent
from crm.exports.csvstream import EXCEL
from crm.extensions import db
from tests.services.test_exports import build_data, rows_of


@pytest.fixture
def data(app, agent, supervisor, admin, customer, moment_type, now):
    return build_data(app, agent, supervisor, admin, customer, moment_type, now)


def audits(app) -> list[AuditEvent]:
    with app.app_context():
        events = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export.started")))
        for e in events:
            db.session.expunge(e)
        return events


def test_same_bytes_as_the_page(api_as, login, supervisor, data, app):
    api = api_as(supervisor)
    for entity in ("customers", "moments", "commitments", "compensations", "purchases"):
        response = api.get(f"/api/v1/exports/{entity}.csv?format=excel")
        assert response.status_code == 200 and response.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert response.headers["Content-Disposition"].startswith(f'attachment; filename="fideliza-{entity}-')
        assert response.get_data() == login(supervisor).get(f"/exports/{entity}.csv?format=excel").get_data()
    (event, *_rest) = audits(app)
    assert (event.user_id, event.entity, event.details["via"], event.details["form"]) == (
        supervisor.id, "customers", "api", "excel")


def test_filters_with_the_api_spellings(api_as, admin, data):
    api = api_as(admin)
    rows = rows_of(api.get(f"/api/v1/exports/moments.csv?customer_id={data['other']}&since=2026-11-01").get_data())
    assert [r["customer_email"] for r in rows] == ["hostil@example.es"]
    rows = rows_of(api.get("/api/v1/exports/purchases.csv?format=excel&from=2026-11-01&to=2026-11-12").get_data(),
                   EXCEL)
    assert [r["amount"] for r in rows] == ["1234,50"]


def test_agents_get_403_and_strangers_401(api_as, agent, client, data, app):
    response = api_as(agent).get("/api/v1/exports/customers.csv")
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"
    assert client.get("/api/v1/exports/customers.csv").status_code == 401
    assert client.get("/api/v1/exports/customers.csv", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert audits(app) == []


@pytest.mark.parametrize("query,field", [("stage=gone", "stage"), ("owner_id=abc", "owner"),
                                         ("format=pdf", "format"), ("q=" + "x" * 300, "q")])
def test_bad_filters_are_422_json_naming_them(api_as, supervisor, data, app, query, field):
    response = api_as(supervisor).get(f"/api/v1/exports/customers.csv?{query}")
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed" and field in error["fields"]
    assert audits(app) == []


def test_unknown_entity_is_404_json(api_as, supervisor):
    response = api_as(supervisor).get("/api/v1/exports/secrets.csv")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


def test_documented_in_openapi(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/exports/{entity}.csv"]["get"]
    assert "text/csv" in operation["responses"]["200"]["content"]
