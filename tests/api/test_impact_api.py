"""GET /api/v1/impact over the dataset of tests/services/test_impact.py, the clock at the tests' NOW:
the same figures as the page, rounded, and bad input refused."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import NOW
from tests.services.test_impact import APRIL_TO_AUGUST, build_impact

URL = f"/api/v1/impact?treatment=complaint&from={APRIL_TO_AUGUST[0]}&to={APRIL_TO_AUGUST[1]}"


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    monkeypatch.setattr("crm.api.impact.utc_now", lambda: NOW)
    monkeypatch.setattr("crm.insights.impact_views.utc_now", lambda: NOW)


@pytest.fixture
def data(app):
    with app.app_context():
        return build_impact()


def test_the_figures(api_as, supervisor, data):
    response = api_as(supervisor).get(URL)
    assert response.status_code == 200
    body = response.get_json()
    assert body["treatment"] == {"kind": "moment_type", "moment_type_id": data["complaint"], "code": "complaint",
                                 "name": "Reclamación"}
    assert body["period"] == {"from": "2026-04-01", "to": "2026-08-31", "days": 153,
                              "start": "2026-03-31T22:00:00+00:00", "end": "2026-08-31T22:00:00+00:00"}
    assert (body["window_days"], body["complete_until"], body["currency"]) == (90, "2026-08-17", "EUR")
    assert body["filters"] == {"segment": None, "tier": None}
    assert (body["exposed_customers"], body["window_open"], body["in_figures"], body["unmatched"],
            body["comparable_customers"]) == (6, 2, 3, 1, 5)
    assert body["after"] == {
        "exposed": {"bought": 100.0, "purchases": 1.33, "revenue": "93.33", "churned": 33.33},
        "comparable": {"bought": 61.11, "purchases": 0.83, "revenue": "43.33", "churned": 44.44},
        "difference": {"bought": 38.89, "purchases": 0.5, "revenue": "50.00", "churned": -11.11}}
    assert body["before"]["comparable"] == {"bought": 38.89, "purchases": 0.39, "revenue": "15.00", "churned": 0.0}
    assert body["change"]["difference"]["revenue"] == "58.33"
    assert body["other_currency"] == {"exposed": 1, "comparable": 0}
    assert body["unmatched_strata"] == [{"segment": "Empresa", "tier": "premium", "exposed": 1}]
    particular = body["strata"][2]
    assert {k: particular[k] for k in ("segment", "tier", "exposed", "window_open", "comparable", "matched",
                                       "reference")} == {
        "segment": "Particular", "tier": "standard", "exposed": 2, "window_open": 1, "comparable": 3,
        "matched": True, "reference": "2026-04-15T10:00:00+00:00"}
    assert particular["after"]["comparable"] == {"bought": 66.67, "purchases": 1.0, "revenue": "40.00",
                                                 "churned": 66.67}
    assert particular["difference"] == {"bought": 33.33, "purchases": 0.5, "revenue": "0.00", "churned": -16.67}
    assert body["strata"][3] == {
        "segment": None, "tier": "basic", "exposed": 0, "window_open": 1, "comparable": 0, "matched": False,
        "reference": None, "before": {"exposed": dict.fromkeys(("bought", "purchases", "revenue", "churned")),
                                      "comparable": dict.fromkeys(("bought", "purchases", "revenue", "churned"))},
        "after": {"exposed": dict.fromkeys(("bought", "purchases", "revenue", "churned")),
                  "comparable": dict.fromkeys(("bought", "purchases", "revenue", "churned"))},
        "difference": dict.fromkeys(("bought", "purchases", "revenue", "churned"))}


def test_by_id_or_code_filters_and_compensations(api_as, supervisor, data):
    api = api_as(supervisor)
    assert api.get(URL).get_json() == api.get(URL.replace("complaint", str(data["complaint"]))).get_json()
    empresa = api.get(f"{URL}&segment=Empresa&tier=standard").get_json()
    assert empresa["filters"] == {"segment": "Empresa", "tier": "standard"}
    assert empresa["after"]["difference"]["revenue"] == "150.00"
    blank = api.get(f"{URL}&segment=&tier=")
    assert blank.status_code == 200 and blank.get_json() == api.get(URL).get_json()
    compensation = api.get(URL.replace("complaint", "compensation")).get_json()
    assert compensation["treatment"] == {"kind": "compensation", "moment_type_id": None, "code": None, "name": None}
    assert compensation["exposed_customers"] == 0 and compensation["strata"] == []


def test_the_default_period(api_as, supervisor, data):
    body = api_as(supervisor).get("/api/v1/impact?treatment=complaint").get_json()
    assert (body["period"]["from"], body["period"]["to"], body["period"]["days"]) == ("2026-05-20", "2026-08-17", 90)
    assert body["window_open"] == 0


def test_supervisors_only(app, api_as, agent, admin, data):
    assert api_as(agent).get(URL).status_code == 403
    assert api_as(agent).get("/api/v1/impact?treatment=%00").status_code == 403  # the role is checked first
    assert api_as(admin).get(URL).status_code == 200
    assert app.test_client().get(URL).status_code == 401


@pytest.mark.parametrize("query, field", [
    ("", "treatment"),
    ("treatment=", "treatment"),
    ("treatment=nope", "treatment"),
    ("treatment=999999", "treatment"),
    ("treatment=-1", "treatment"),
    ("treatment=%00", "treatment"),
    ("treatment=" + "9" * 40, "treatment"),
    ("treatment=" + "x" * 100, "treatment"),
    ("treatment=complaint&from=2026-05-01&to=2026-04-01", "to"),
    ("treatment=complaint&from=2025-01-01&to=2026-01-02", "to"),
    ("treatment=complaint&from=2026-02-30", "from"),
    ("treatment=complaint&from=yesterday", "from"),
    ("treatment=complaint&from=0001-01-01&to=0001-01-31", "from"),
    ("treatment=complaint&to=9999-12-31", "to"),
    ("treatment=complaint&from=9999-12-31", "from"),
    ("treatment=complaint&from=2026-04-01%00", "from"),
    ("treatment=complaint&tier=gold", "tier"),
    ("treatment=complaint&segment=%00", "segment"),
    ("treatment=complaint&segment=" + "s" * 61, "segment"),
    ("treatment=complaint&moment_type=1", "moment_type"),  # not a parameter here: refused, not ignored
])
def test_bad_input_is_a_422(api_as, supervisor, data, query, field):
    response = api_as(supervisor).get(f"/api/v1/impact?{query}")
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed" and field in error["fields"]


def number(text: str):
    """A figure as the page shows it in English, as the API sends it."""
    text = text.replace("pp", "").replace("%", "").replace("€", "").replace(",", "").strip()
    return None if text == "—" else Decimal(text)


def test_page_and_api_agree(api_as, login, supervisor, data):
    for query in ("treatment=complaint", "treatment=complaint&segment=Empresa",
                  f"treatment={data['visit']}", "treatment=compensation"):
        body = api_as(supervisor).get(f"{URL.split('?')[0]}?{query}&from=2026-04-01&to=2026-08-31").get_json()
        html = login(supervisor).get(f"/insights/impact?{query}&since=2026-04-01&until=2026-08-31").get_data(
            as_text=True)
        for key in ("bought", "purchases", "revenue", "churned"):
            row = re.search(rf'<tr id="impact-{key}">(.*?)</tr>', html, re.S).group(1)
            for window in ("before", "after"):
                for group in ("exposed", "comparable", "difference"):
                    shown = re.search(rf'class="{window}-{group}">([^<]*)<', row).group(1)
                    sent = body[window][group][key]
                    assert number(shown) == (None if sent is None else Decimal(str(sent))), (query, key, window,
                                                                                             group)
        assert f": {body['exposed_customers']}." in html


def test_documented_in_openapi(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/impact"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"treatment", "from", "to", "segment", "tier"}
    assert "ImpactFigures" in spec["components"]["schemas"]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(args=st.dictionaries(
    st.sampled_from(["treatment", "from", "to", "segment", "tier"]),
    st.one_of(st.text(max_size=40), st.sampled_from(["", "\x00", "9" * 40, "-1", "2026-02-29", "0000-01-01",
                                                     "9999-12-31", "2026-04-01", "compensation", "complaint",
                                                     "premium"])),
    max_size=5))
def test_any_query_string_is_figures_or_a_422(api_as, supervisor, args):
    response = api_as(supervisor).get("/api/v1/impact", query_string=args)
    assert response.status_code in (200, 422), response.get_json()
    assert ("after" in response.get_json()) == (response.status_code == 200)
