"""The profitability page: who sees it, keep-or-end decisions, and the admin's tier rule."""
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm.customers.models import Customer, Purchase
from crm.extensions import db
from crm.insights.models import CustomerDecision, TierRuleSetting
from crm.moments.models import Moment

URL = "/insights/profitability"


def text(response):
    return response.get_data(as_text=True)


@pytest.fixture
def customers(app, moment_type):
    """A loss-making customer (one contact, no purchases) and a profitable one."""
    now = datetime.now(timezone.utc)
    with app.app_context():
        loss = Customer(name="Pérdidas Gómez", sort_name="perdidas gomez")
        gain = Customer(name="Ganancias Ruiz", sort_name="ganancias ruiz")
        db.session.add_all([loss, gain])
        db.session.flush()
        db.session.add(Moment(customer_id=loss.id, moment_type_id=moment_type, channel="phone",
                              occurred_at=now - timedelta(days=2), cost=Decimal("18.00")))
        db.session.add(Purchase(customer_id=gain.id, amount=Decimal("2500.00"), currency="EUR",
                                purchased_on=date.today() - timedelta(days=3)))
        db.session.commit()
        return {"loss": loss.id, "gain": gain.id}


def test_agents_cannot_see_the_page_nor_decide(login, agent, customers):
    b = login(agent)
    assert b.get(URL).status_code == 403
    assert b.post(f"{URL}/{customers['loss']}/decision", {f"c{customers['loss']}-decision": "keep",
                                                          f"c{customers['loss']}-reason": "x"}).status_code == 403
    assert b.post(f"{URL}/rule", {"mode": "thresholds"}).status_code == 403


def test_supervisors_see_the_unprofitable_and_the_ranking(login, supervisor, customers):
    b = login(supervisor)
    page = text(b.get(URL))
    assert "Pérdidas Gómez" in page and "Ganancias Ruiz" not in page
    assert f'href="/customers/{customers["loss"]}"' in page
    assert 'data-profit="-18.00"' in page and "Record decision" in page
    assert 'data-tier="standard">2<' in page
    assert 'id="tier-rule"' not in page  # the rule form is the admin's
    top = text(b.get(URL + "?show=top"))
    assert top.index("Ganancias Ruiz") < top.index("Pérdidas Gómez") and 'data-profit="2500.00"' in top
    assert b.get(URL + "?show=nonsense&page=abc").status_code == 200


def test_a_decision_is_recorded_and_shown(app, login, supervisor, customers):
    b = login(supervisor)
    cid = customers["loss"]
    done = b.post(f"{URL}/{cid}/decision?show=unprofitable", {f"c{cid}-decision": "end",
                                                              f"c{cid}-reason": "Solo reclama, nunca compra"},
                  csrf_from_url=URL)
    assert done.status_code == 302 and done.headers["Location"].startswith(URL)
    page = text(b.get(URL))
    assert "End the relationship" in page and "Solo reclama, nunca compra" in page and "Decide again" in page
    with app.app_context():
        decision = db.session.scalar(select(CustomerDecision))
        assert (decision.customer_id, decision.decision, decision.user_id, decision.profit) == \
            (cid, "end", supervisor.id, Decimal("-18.00"))


@pytest.mark.parametrize("form", [
    {"decision": "", "reason": "Sin motivo"},
    {"decision": "keep", "reason": "   "},
    {"decision": "destroy", "reason": "x"},
    {"decision": "keep", "reason": "a\x00b"},
    {"decision": "keep", "reason": "x" * 1001},
])
def test_bad_decisions_are_refused_and_nothing_is_written(app, login, supervisor, customers, form):
    b = login(supervisor)
    cid = customers["loss"]
    response = b.post(f"{URL}/{cid}/decision", {f"c{cid}-{k}": v for k, v in form.items()}, csrf_from_url=URL)
    assert response.status_code == 422
    assert 'class="error"' in text(response) or "flash-error" in text(response)
    with app.app_context():
        assert db.session.scalar(select(func.count(CustomerDecision.id))) == 0


def test_decisions_need_csrf_and_a_real_customer(login, supervisor, customers):
    b = login(supervisor)
    cid = customers["loss"]
    no_token = b.client.post(f"{URL}/{cid}/decision", data={f"c{cid}-decision": "keep", f"c{cid}-reason": "x"})
    assert no_token.status_code == 400
    missing = b.post(f"{URL}/999999999/decision", {"c999999999-decision": "keep", "c999999999-reason": "x"})
    assert missing.status_code == 404
    assert b.post(f"{URL}/0/decision", {}).status_code == 404


RULE = {"mode": "percentiles", "premium": "10", "standard": "40", "period_days": "180", "active": "y"}


def test_supervisors_cannot_change_the_rule(app, login, supervisor, customers):
    assert login(supervisor).post(f"{URL}/rule", RULE, csrf_from_url=URL).status_code == 403
    with app.app_context():
        assert db.session.get(TierRuleSetting, 1) is None


def test_admins_set_the_rule(app, login, admin, customers):
    b = login(admin)
    page = text(b.get(URL))
    assert 'id="tier-rule"' in page and "Nightly recomputation is off." in page
    saved = b.post(f"{URL}/rule", RULE, csrf_from_url=URL)
    assert saved.status_code == 302
    with app.app_context():
        row = db.session.get(TierRuleSetting, 1)
        assert (row.mode, row.premium_value, row.standard_value, row.period_days, row.active, row.updated_by_id) == \
            ("percentiles", Decimal("10.00"), Decimal("40.00"), 180, True, admin.id)
    page = text(b.get(URL))
    assert "the top 10 percent of customers by profit are premium" in page
    assert "Tiers are recomputed every night." in page


@pytest.mark.parametrize("changes, message", [
    ({"premium": "60", "standard": "50"}, "at most 100 percent"),
    ({"mode": "thresholds", "premium": "0", "standard": "100"}, "more than the profit for standard"),
    ({"premium": "diez"}, "must be a number"),
    ({"period_days": "-3"}, "whole number between"),
    ({"mode": "lottery"}, "Not a valid choice"),
    ({"premium": ""}, "This field is required"),
])
def test_bad_rules_are_refused(app, login, admin, customers, changes, message):
    response = login(admin).post(f"{URL}/rule", {**RULE, **changes}, csrf_from_url=URL)
    assert response.status_code == 422 and message in text(response)
    with app.app_context():
        assert db.session.get(TierRuleSetting, 1) is None
