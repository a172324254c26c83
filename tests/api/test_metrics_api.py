"""GET /api/v1/metrics: the same figures as the page, rounded, with the previous period's."""
from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.services.test_insights import build_dataset

OCTOBER = "/api/v1/metrics?from=2026-10-01&to=2026-10-31"


@pytest.fixture
def agent2(make_user):
    return make_user("agent", email="agent2@example.es", name="Pablo Ruiz")


@pytest.fixture
def dataset(app, admin, agent, agent2):
    with app.app_context():
        return build_dataset(admin.id, agent.id, agent2.id)


def test_a_period_beside_the_previous_one(api_as, supervisor, dataset):
    response = api_as(supervisor).get(OCTOBER)
    assert response.status_code == 200
    body = response.get_json()
    assert body["period"] == {"from": "2026-10-01", "to": "2026-10-31", "days": 31,
                              "start": "2026-09-30T22:00:00+00:00", "end": "2026-10-31T23:00:00+00:00"}
    assert body["previous_period"] == {"from": "2026-08-31", "to": "2026-09-30", "days": 31,
                                       "start": "2026-08-30T22:00:00+00:00", "end": "2026-09-30T22:00:00+00:00"}
    assert body["currency"] == "EUR"
    assert body["filters"] == {"segment": None, "tier": None, "team_id": None, "agent_id": None, "channel": None,
                               "moment_type_id": None}
    current, previous, change = body["current"], body["previous"], body["change"]
    # rounded to two decimals on the way out
    assert (current["nps"], previous["nps"], change["nps"]) == (0.0, 33.33, -33.33)
    assert (current["csat"], current["ces"], previous["csat"], change["csat"]) == (66.67, 3.5, None, None)
    assert (current["fcr_first"], current["fcr_second"], current["fcr_target"], current["fcr_target_met"]) == (
        40.0, 80.0, 90.0, False)
    assert (current["sla_first_response"], current["sla_resolution"], current["breaches"]) == (33.33, 66.67, 3)
    assert (current["compensations_issued"], current["compensations_value"], current["compensations_cost"]) == (
        2, "15.00", "8.50")
    assert (current["cost_to_serve"], previous["cost_to_serve"], change["cost_to_serve"]) == (
        "157.50", "78.00", "79.50")
    assert (current["revenue"], change["revenue"], current["purchases_other_currency"]) == ("350.50", "320.50", 1)
    assert (current["churn_rate"], previous["churn_rate"], change["customers_lost"]) == (40.0, 16.67, 1)
    assert current["churn_by_segment"][0] == {"segment": "Empresa", "at_start": 2, "lost": 1, "rate": 50.0}
    assert current["retention_by_cohort"][2] == {"month": "2026-01", "customers": 3, "retained": 3, "rate": 100.0}
    assert len(current["retention_by_cohort"]) == 12 and current["retention"] == 42.86


def test_filters(api_as, supervisor, agent2, dataset):
    body = api_as(supervisor).get(f"{OCTOBER}&agent_id={agent2.id}&channel=email").get_json()
    assert (body["current"]["incidents_resolved"], body["current"]["fcr_first"]) == (1, 0.0)
    assert body["filters"]["agent_id"] == agent2.id and body["filters"]["channel"] == "email"
    by_code = api_as(supervisor).get(f"{OCTOBER}&moment_type=visit").get_json()
    by_id = api_as(supervisor).get(f"{OCTOBER}&moment_type={dataset['visit']}").get_json()
    assert by_code == by_id and by_code["current"]["contacts"] == 1
    empty = api_as(supervisor).get(f"{OCTOBER}&segment=&tier=&team_id=&agent_id=&channel=&moment_type=")
    assert empty.status_code == 200
    assert empty.get_json() == api_as(supervisor).get(OCTOBER).get_json()


def test_the_last_30_days_by_default(app, api_as, supervisor):
    from crm.insights.services import today
    from crm.types import utc_now

    body = api_as(supervisor).get("/api/v1/metrics").get_json()
    last = today(app.config["BABEL_DEFAULT_TIMEZONE"], utc_now())
    assert (body["period"]["from"], body["period"]["to"], body["period"]["days"]) == (
        (last - timedelta(days=29)).isoformat(), last.isoformat(), 30)
    assert body["current"]["nps"] is None and body["current"]["revenue"] == "0.00"


def test_supervisors_only(app, api_as, agent, admin):
    assert api_as(agent).get(OCTOBER).status_code == 403
    assert api_as(agent).get("/api/v1/metrics?from=nonsense").status_code == 403  # the role is checked first
    assert api_as(admin).get(OCTOBER).status_code == 200
    assert app.test_client().get(OCTOBER).status_code == 401


@pytest.mark.parametrize("query, field", [
    ("from=2026-10-31&to=2026-10-01", "to"),
    ("from=2025-01-01&to=2026-01-02", "to"),
    ("from=2026-02-30&to=2026-03-01", "from"),
    ("from=yesterday", "from"),
    ("from=0001-01-01&to=0001-01-31", "from"),
    ("to=9999-12-31", "to"),
    ("channel=pigeon", "channel"),
    ("tier=gold", "tier"),
    ("team_id=abc", "team_id"),
    ("team_id=999999", "team_id"),
    ("agent_id=-1", "agent_id"),
    ("moment_type=nope", "moment_type"),
    ("moment_type=%00", "moment_type"),
    ("moment_type=" + "x" * 100, "moment_type"),
    ("segment=%00", "segment"),
    ("team=1", "team"),  # misspelt: refused rather than silently ignored
])
def test_bad_input_is_a_422(api_as, supervisor, query, field):
    response = api_as(supervisor).get(f"/api/v1/metrics?{query}")
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed" and field in error["fields"]


def test_documented_in_openapi(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/metrics"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"from", "to", "segment", "tier", "team_id", "agent_id",
                                                            "channel", "moment_type"}
    assert "MetricFigures" in spec["components"]["schemas"]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(args=st.dictionaries(
    st.sampled_from(["from", "to", "segment", "tier", "team_id", "agent_id", "channel", "moment_type"]),
    st.one_of(st.text(max_size=40), st.sampled_from(["", "\x00", "9" * 40, "-1", "2026-02-29", "0000-01-01",
                                                     "9999-12-31", "2026-10-01T00:00", "1", "phone"])),
    max_size=5))
@example(args={"team_id": "²", "agent_id": "١٢"})  # str.isdigit() says yes to "²"; int() does not
def test_any_query_string_is_figures_or_a_422(api_as, supervisor, args):
    response = api_as(supervisor).get("/api/v1/metrics", query_string=args)
    assert response.status_code in (200, 422), response.get_json()
    assert ("current" in response.get_json()) == (response.status_code == 200)
