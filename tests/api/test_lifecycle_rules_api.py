"""/api/v1/lifecycle-rules: supervisors read the rules, admins change them; refusals write nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.customers.models import LifecycleRule
from crm.extensions import db
from tests.api.errors import error_of

URL = "/api/v1/lifecycle-rules"


def stored(app) -> dict:
    with app.app_context():
        return {row.code: (row.enabled, row.params) for row in db.session.scalars(select(LifecycleRule))}


def test_supervisors_read_the_rules_in_their_order(app, api_as, supervisor):
    response = api_as(supervisor).get(URL)
    assert response.status_code == 200
    rules = response.get_json()["items"]
    assert [r["code"] for r in rules] == ["first_purchase", "regular_purchases", "exclusive", "promoter",
                                          "survey_detractor", "repeated_breaches", "inactivity"]
    regular = rules[1]
    assert regular == {"code": "regular_purchases", "enabled": True, "stage": "active", "loyalty": "regular",
                       "params": {"purchases": 3, "days": 180}, "updated_at": None}
    assert rules[4]["loyalty"] is None and rules[3]["params"]["referral_types"] == ["recomendacion"]
    assert len(stored(app)) == 7


def test_agents_may_not_read_and_supervisors_may_not_change(api_as, agent, supervisor, app):
    assert api_as(agent).get(URL).status_code == 403
    assert api_as(supervisor).put(f"{URL}/inactivity", json={"enabled": False}).status_code == 403
    assert api_as(agent).put(f"{URL}/inactivity", json={"enabled": False}).status_code == 403
    assert app.test_client().get(URL).status_code == 401
    assert stored(app).get("inactivity", (True,))[0] is True


def test_an_admin_changes_a_rule(app, api_as, admin):
    api = api_as(admin)
    response = api.put(f"{URL}/repeated_breaches", json={"enabled": False, "params": {"breaches": 3}})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["enabled"], body["params"]) == (False, {"breaches": 3, "days": 30})
    assert body["updated_at"] is not None
    assert stored(app)["repeated_breaches"] == (False, {"breaches": 3, "days": 30})
    # what is left out stays
    assert api.put(f"{URL}/repeated_breaches", json={"params": {"days": 60}}).get_json()["enabled"] is False
    assert stored(app)["repeated_breaches"] == (False, {"breaches": 3, "days": 60})


@pytest.mark.parametrize(("body", "field"), [
    ({"params": {"days": 0}}, "days"),
    ({"params": {"days": "ten"}}, "days"),
    ({"params": {"days": 10**30}}, "days"),
    ({"params": {"hours": 3}}, "hours"),
    ({"params": {"referral_types": "nadie"}}, "referral_types"),
    ({"params": {"referral_types": [1, 2]}}, "referral_types"),
    ({"params": "days=3"}, "params"),
    ({"enabled": "maybe"}, "enabled"),
    ({"colour": "red"}, "colour"),
])
def test_bad_changes_are_refused_and_nothing_is_stored(app, api_as, admin, body, field):
    api = api_as(admin)
    api.get(URL)
    before = stored(app)
    rule = "promoter" if "referral_types" in str(body) else "inactivity"
    response = api.put(f"{URL}/{rule}", json=body)
    assert response.status_code == 422, response.get_json()
    error = error_of(response)
    assert field in str(error["fields"])
    assert stored(app) == before


def test_unknown_rules_and_bodies(api_as, admin):
    api = api_as(admin)
    assert api.put(f"{URL}/nope", json={"enabled": True}).status_code == 404
    assert api.put(f"{URL}/{'x' * 41}", json={"enabled": True}).status_code == 404
    assert api.put(f"{URL}/inactivity", data="{not json", content_type="application/json").status_code == 400
    assert api.put(f"{URL}/inactivity", json=[1, 2]).status_code == 422
