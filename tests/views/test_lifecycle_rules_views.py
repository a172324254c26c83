"""Admin → Lifecycle rules: who may see and change them, validation, CSRF, and "Run now"."""
from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from crm.customers.models import Customer, LifecycleRule, Purchase, StageChange
from crm.extensions import db

URL = "/admin/lifecycle-rules"


def text(response):
    return response.get_data(as_text=True)


def full_form(**changes) -> dict:
    """Every field as the page shows it with the defaults (checkboxes ticked), then `changes`."""
    data = {
        "first_purchase_enabled": "y", "regular_purchases_enabled": "y", "regular_purchases_purchases": "3",
        "regular_purchases_days": "180", "exclusive_enabled": "y", "exclusive_months": "6",
        "promoter_enabled": "y", "promoter_days": "90", "promoter_referral_types": "recomendacion",
        "survey_detractor_enabled": "y", "survey_detractor_days": "30", "repeated_breaches_enabled": "y",
        "repeated_breaches_breaches": "2", "repeated_breaches_days": "30", "inactivity_enabled": "y",
        "inactivity_days": "180",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def stored(app) -> dict:
    with app.app_context():
        return {row.code: (row.enabled, row.params) for row in db.session.scalars(select(LifecycleRule))}


def test_agents_and_supervisors_may_not_see_nor_change_the_rules(login, agent, supervisor):
    for user in (agent, supervisor):
        b = login(user)
        assert b.get(URL).status_code == 403
        assert b.post(URL, full_form()).status_code == 403
        assert b.post(URL + "/run").status_code == 403
        assert "/admin/lifecycle-rules" not in text(b.get("/"))


def test_the_page_shows_every_rule_with_its_settings(app, login, admin):
    b = login(admin)
    assert f'href="{URL}"' in text(b.get("/admin"))
    page = text(b.get(URL))
    for code in ("first_purchase", "regular_purchases", "exclusive", "promoter", "survey_detractor",
                 "repeated_breaches", "inactivity"):
        assert f'id="rule-{code}"' in page and f'name="{code}_enabled"' in page
    assert re.search(r'name="regular_purchases_days"[^>]*value="180"', page)
    assert 'value="recomendacion"' in page
    assert "every one of the last calendar months" in page  # how "only from us" is read
    assert "The rules have not run yet." in page
    assert len(stored(app)) == 7  # seeded with their defaults on first sight
    b.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es"
    assert b.get(URL).status_code == 200


def test_a_scheduled_run_is_shown_as_such(app, login, admin, runner):
    assert runner.invoke(args=["crm", "apply-lifecycle-rules"]).exit_code == 0
    page = text(login(admin).get(URL))
    assert re.search(r"the nightly run or the command line\.\s+0 customers changed\.", page)


def test_an_admin_changes_the_rules(app, login, admin):
    b = login(admin)
    done = b.post(URL, full_form(inactivity_enabled=None, inactivity_days="365", exclusive_months=" 4 "),
                  csrf_from_url=URL)
    assert done.status_code == 302 and done.headers["Location"].endswith(URL)
    rules = stored(app)
    assert rules["inactivity"] == (False, {"days": 365}) and rules["exclusive"] == (True, {"months": 4})
    assert rules["regular_purchases"] == (True, {"purchases": 3, "days": 180})
    page = text(b.get(URL))
    assert "Lifecycle rules saved." in page and "Last changed by Lucía Rivera" in page
    assert re.search(r'name="inactivity_days"[^>]*value="365"', page)
    assert '<input id="inactivity_enabled" name="inactivity_enabled" type="checkbox" value="y">' in page
    assert '<input checked id="exclusive_enabled"' in page


@pytest.mark.parametrize(("changes", "message"), [
    ({"inactivity_days": "abc"}, "must be a whole number between 1 and 3660"),
    ({"inactivity_days": ""}, "This field is required."),
    ({"exclusive_months": "99"}, "must be a whole number between 1 and 36"),
    ({"regular_purchases_purchases": "0"}, "must be a whole number between 1 and 1000"),
    ({"regular_purchases_days": "1234567"}, "Field cannot be longer than 6 characters."),
    ({"promoter_referral_types": "recomendacion, nadie"}, "no moment type has the code nadie"),
    ({"promoter_referral_types": "a b"}, "use lower-case letters, digits, - and _ only"),
    ({"promoter_referral_types": "x\x00"}, "contains characters that are not allowed"),
])
def test_bad_settings_are_refused_and_nothing_is_stored(app, login, admin, changes, message):
    b = login(admin)
    b.get(URL)
    before = stored(app)
    response = b.post(URL, full_form(**changes), csrf_from_url=URL)
    assert response.status_code == 422
    assert message in text(response) and 'aria-invalid="true"' in text(response)
    assert stored(app) == before


def test_without_the_csrf_token_nothing_is_stored(app, login, admin):
    b = login(admin)
    b.get(URL)
    before = stored(app)
    assert b.client.post(URL, data=full_form(inactivity_days="365")).status_code == 400
    assert b.client.post(URL, data={**full_form(), "csrf_token": "forged"}).status_code == 400
    assert b.client.post(URL + "/run").status_code == 400
    assert stored(app) == before


def test_run_now_applies_the_rules(app, login, admin):
    with app.app_context():
        customer = Customer(name="Compradora", sort_name="compradora")
        db.session.add(customer)
        db.session.flush()
        db.session.add(Purchase(customer_id=customer.id, amount=10, currency="EUR", purchased_on=date.today()))
        db.session.commit()
        customer_id = customer.id
    b = login(admin)
    done = b.post(URL + "/run", csrf_from_url=URL)
    assert done.status_code == 302
    page = text(b.get(URL))
    assert "Lifecycle rules applied: 1 customer changed." in page
    assert re.search(r"run by Lucía Rivera\.\s+1 customer changed\.", page)
    with app.app_context():
        assert db.session.get(Customer, customer_id).stage == "new"
        assert db.session.scalar(select(StageChange.rule).where(StageChange.customer_id == customer_id)) == \
            "first_purchase"
    # The customer's history names the rule in words, in the reader's language.
    history = text(b.get(f"/customers/{customer_id}"))
    assert "rule: First purchase" in history and "first_purchase" not in history
    b.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es"
    assert "regla: Primera compra" in text(b.get(f"/customers/{customer_id}"))
