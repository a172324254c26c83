"""The supervisor dashboard page: who may see it, what it shows, in both languages, at a fixed cost."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import event

from crm.extensions import db
from tests.conftest import NOW
from tests.services.test_dashboard import Data, utc


def text(response):
    return response.get_data(as_text=True)


def count_of(page: str, panel: str) -> int:
    match = re.search(rf'<article id="{panel}">.*?data-count="(\d+)"', page, re.S)
    assert match, f"no {panel} panel"
    return int(match.group(1))


def table_rows(page: str, table_id: str) -> list[str]:
    match = re.search(rf'<table id="{table_id}">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert match, f"no table {table_id}"
    return re.findall(r"<tr.*?</tr>", match.group(1), re.S)


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    monkeypatch.setattr("crm.insights.dashboard_views.utc_now", lambda: NOW)


@pytest.fixture
def shown(app, admin, agent):
    """A breach today and one yesterday (in Madrid), one at risk, a proposed compensation,
    a detractor and a promoter this week, and a customer moved to at risk."""
    with app.app_context():
        data = Data(admin.id, agent.id)
        ana, bruno = data.customer("Ana Ruiz"), data.customer("Bruno Díaz")
        data.commitment(ana, "first_response", "breached", utc(11, 15, 23, 30))   # 00:30 today in Madrid
        data.commitment(bruno, "resolution", "breached", utc(11, 15, 22, 30))     # 23:30 yesterday
        data.commitment(bruno, "first_response", "open", NOW + timedelta(hours=2), warn=NOW - timedelta(hours=1))
        data.compensation(ana, "proposed", "1234.50", "600.25")
        data.compensation(ana, "issued", "10.00", "10.00")
        data.survey(bruno, "nps", 3, NOW - timedelta(days=2), "Tardaron una semana")
        data.survey(ana, "nps", 10, NOW - timedelta(days=2), "Genial")
        data.stage(bruno, "at_risk", NOW - timedelta(days=2))
        db.session.commit()
        return {"ana": ana.id, "bruno": bruno.id}


def test_agents_are_refused_and_strangers_sent_to_log_in(client, login, agent):
    assert login(agent).get("/insights/").status_code == 403
    assert 'href="/insights/"' not in text(login(agent).get("/"))
    anonymous = client.get("/insights/")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_supervisors_and_admins_see_it_and_find_it_in_the_menu(login, make_user, role):
    response = login(make_user(role)).get("/insights/")
    page = text(response)
    assert response.status_code == 200
    assert '<a href="/insights/">Dashboard</a>' in page
    assert re.search(r'<tr id="figure-nps">.*?href="/insights/metrics#metric-nps"', page, re.S)


def test_the_page_shows_today_and_the_week(login, supervisor, shown):
    page = text(login(supervisor).get("/insights/"))
    assert count_of(page, "breached-today") == 1
    assert count_of(page, "at-risk-now") == 1
    assert count_of(page, "pending-compensations") == 1
    assert count_of(page, "new-detractors") == 1
    assert count_of(page, "moved-at-risk") == 1
    assert "Value €1,234.50, cost €600.25" in page
    assert 'href="/compensations"' in page
    assert "Today, Nov 16, 2026" in page
    [breach] = table_rows(page, "breached-list")
    assert f'href="/customers/{shown["ana"]}"' in breach and "Reclamación" in breach and "First response" in breach
    assert 'datetime="2026-11-15T23:30:00+00:00"' in breach
    [risk] = table_rows(page, "at-risk-list")
    assert "Bruno Díaz" in risk and 'datetime="2026-11-16T12:00:00+00:00"' in risk
    [unhappy] = table_rows(page, "detractor-list")
    assert f'href="/customers/{shown["bruno"]}"' in unhappy and "Tardaron una semana" in unhappy
    assert "<td>3</td>" in unhappy and "Genial" not in page


def test_the_key_figures_trend(login, supervisor, shown):
    page = text(login(supervisor).get("/insights/"))
    # The three contacts logged for the commitments fall in this period: cost went up, which is worse.
    cost = re.search(r'<tr id="figure-cost_to_serve">.*?</tr>', page, re.S).group(0)
    assert 'data-direction="up"' in cost and 'data-good="false"' in cost and "Worse" in cost
    assert '<td class="current">€54.00</td>' in cost and '<td class="change">+€54.00</td>' in cost
    nps = re.search(r'<tr id="figure-nps">.*?</tr>', page, re.S).group(0)
    assert 'data-direction="none"' in nps and "Not comparable" in nps  # no answers before


def test_in_spanish(login, make_user, shown):
    page = text(login(make_user("supervisor", locale="es")).get("/insights/"))
    assert '<html lang="es"' in page
    assert "1234,50\xa0€" in page or "1.234,50\xa0€" in page
    assert "16 nov 2026" in page
    [breach] = table_rows(page, "breached-list")
    assert "Primera respuesta" in breach
    assert ">Métricas</a>" in page


def _statements(app, browser) -> int:
    seen = []

    def listener(*_args):
        seen.append(1)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        assert browser.get("/insights/").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return len(seen)


def test_the_page_makes_the_same_few_queries_however_much_data(app, login, supervisor, admin, agent, monkeypatch):
    # The source tables alone (the daily rollup has its own tests: tests/services/test_rollup.py).
    monkeypatch.setitem(app.config, "CRM_ROLLUPS", False)
    browser = login(supervisor)
    empty = _statements(app, browser)
    with app.app_context():
        data = Data(admin.id, agent.id)
        for i in range(15):
            customer = data.customer()
            data.commitment(customer, "resolution", "breached", utc(11, 16, 2, i))
            data.commitment(customer, "first_response", "open", NOW + timedelta(hours=i + 1),
                            warn=NOW - timedelta(minutes=1))
            data.survey(customer, "csat", 1, NOW - timedelta(hours=i + 1))
        db.session.commit()
    full = _statements(app, browser)
    page = text(browser.get("/insights/"))
    assert len(table_rows(page, "breached-list")) == len(table_rows(page, "at-risk-list")) == 10
    assert len(table_rows(page, "detractor-list")) == 10
    assert empty == full == 1 + 4 + 16  # the logged-in user, today's panel, two periods of metrics
