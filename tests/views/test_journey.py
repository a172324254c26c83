"""The journey map and service blueprint pages, and the objective fields of the catalog form."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select

from crm.extensions import db
from crm.moments.models import MomentType
from tests.services.test_journey import build_journey

OCTOBER = "since=2026-10-01&until=2026-10-31"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def data(app, admin, agent):
    with app.app_context():
        return build_journey(admin.id, agent.id)


def row(html: str, type_id: int) -> str:
    match = re.search(rf'<tr id="touchpoint-{type_id}"[^>]*>(.*?)</tr>', html, re.S)
    assert match, f"no row for touchpoint {type_id}"
    return match.group(0)


def cell(row_html: str, css: str) -> str:
    match = re.search(rf'<td class="{css}">\s*([^<]*?)\s*(<|$)', row_html, re.S)
    assert match, f"no {css} cell"
    return match.group(1)


def chart(html: str) -> ET.Element:
    match = re.search(r"<svg .*?</svg>", html, re.S)
    assert match, "no chart"
    return ET.fromstring(match.group(0))


def test_the_journey_map(login, supervisor, data):
    response = login(supervisor).get(f"/insights/journey?{OCTOBER}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    phases = re.findall(r'<section class="journey-phase" id="phase-(\w+)"', html)
    assert phases == ["discover", "evaluate", "interact", "retain", "refer"]
    complaint = row(html, data["complaint"])
    assert 'class="touchpoint pain-point"' in complaint and "Pain point" in complaint
    assert (cell(complaint, "volume"), cell(complaint, "emotion"), cell(complaint, "sla"), cell(complaint, "cost")) == (
        "6", "-0.6", "66.67%", "€108.00")
    assert "Target: 90%" in complaint and "Actual: 66.67%" in complaint and "Missed" in complaint
    assert "3 logged, 2 survey answers" in complaint
    visit = row(html, data["visit"])
    assert 'class="touchpoint"' in visit and "Pain point" not in visit
    assert (cell(visit, "volume"), cell(visit, "emotion")) == ("3", "1.67")
    assert "Target: 1" in visit and "Met" in visit
    delivery = row(html, data["delivery"])
    assert "External partner" in delivery and "Pain point" in delivery
    pains = re.search(r'<section id="pain-points".*?</section>', html, re.S).group(0)
    assert pains.count('class="pain-point"') == 2 and "objective missed" in pains
    svg = chart(html)
    assert svg.get("role") == "img" and svg.find(f"{SVG}title").text == "Emotion curve"
    assert len([g for g in svg.iter(f"{SVG}g") if "pain" in (g.get("class") or "").split()]) == 2
    assert any(p.get("class") == "curve previous" for p in svg.iter(f"{SVG}polyline"))


def test_the_default_period_and_a_customer(login, supervisor, data):
    b = login(supervisor)
    assert b.get("/insights/journey").status_code == 200
    html = b.get(f"/insights/journey?{OCTOBER}&customer_id={data['b']}").get_data(as_text=True)
    assert "The journey of Bruno Empresa." in html
    assert cell(row(html, data["complaint"]), "volume") == "4"
    html = b.get(f"/insights/journey?{OCTOBER}&segment=Particular").get_data(as_text=True)
    assert cell(row(html, data["visit"]), "emotion") == "2"
    assert f'id="touchpoint-{data["review"]}"' not in html


def test_in_spanish_numbers_and_labels_follow_the_language(app, login, supervisor, data):
    b = login(supervisor)
    html = b.get(f"/insights/journey?{OCTOBER}", headers={"Accept-Language": "es"}).get_data(as_text=True)
    svg = chart(html)
    assert svg.get("lang") == "es"
    with app.test_request_context(), force_locale("es"):
        assert svg.find(f"{SVG}title").text == _("Emotion curve")
    values = [g.find(f"{SVG}text").text for g in svg.iter(f"{SVG}g") if "current" in (g.get("class") or "")]
    assert "+1,67" in values and "-0,6" in values


@pytest.mark.parametrize("query", [
    "since=yesterday", "since=2026-10-31&until=2026-10-01", "since=2024-01-01&until=2026-10-01",
    "customer_id=abc", "customer_id=999999", "customer_id=" + "9" * 40, "segment=Nadie", "segment=a%00b",
    "since=2026-13-40", "until=99999-01-01",
])
def test_bad_filters_are_a_400_with_the_form(login, supervisor, data, query):
    response = login(supervisor).get(f"/insights/journey?{query}")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "<form" in html and ('aria-invalid="true"' in html or "flash-error" in html)


@pytest.mark.parametrize("url", ["/insights/journey", "/insights/blueprint", "/insights/blueprint/1"])
def test_supervisors_only(login, client, agent, url):
    assert login(agent).get(url).status_code == 403
    assert client.get(url).status_code in (302, 401)


def test_the_blueprint_of_a_moment_type(login, supervisor, data):
    b = login(supervisor)
    response = b.get(f"/insights/blueprint/{data['complaint']}?{OCTOBER}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    order = [m.start() for m in (re.search(pattern, html) for pattern in (
        'id="lane-physical_evidence"', 'id="lane-customer_action"', "Line of interaction",
        'id="lane-frontstage_action"', "Line of visibility", 'id="lane-backstage_action"',
        "Line of internal interaction", 'id="lane-support_process"'))]
    assert order == sorted(order)
    assert "Revisión con el taller" in html and "Taller: revisa el caso" in html and "Escuchar y resolver" in html
    assert "Supervisor" in re.search(r"Owner role</dt><dd>(.*?)</dd>", html).group(1)
    figures = re.search(r'<table id="blueprint-figures".*?</table>', html, re.S).group(0)
    assert re.search(r'id="figure-volume"><th scope="row">Contacts</th><td>6</td><td>0</td>', figures)
    assert "€108.00" in figures and "66.67%" in figures and "-0.6" in figures and "Pain point" in figures
    assert "Missed" in re.search(r'id="blueprint-objective">(.*?)</dd>', html, re.S).group(1)
    partner = b.get(f"/insights/blueprint/{data['delivery']}?{OCTOBER}").get_data(as_text=True)
    assert "External partner" in re.search(r'id="blueprint-team">(.*?)</dd>', partner, re.S).group(1)
    assert b.get("/insights/blueprint/999999").status_code == 404
    assert b.get(f"/insights/blueprint/{data['complaint']}?since=nope").status_code == 400


def test_the_blueprint_list(login, supervisor, data):
    response = login(supervisor).get(f"/insights/blueprint?{OCTOBER}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    rows = re.findall(r'<tr id="blueprint-(\d+)" class="([^"]*)"', html)
    assert [int(i) for i, _css in rows] == [data[k] for k in ("visit", "delivery", "complaint", "renewal", "review")]
    assert dict((int(i), css) for i, css in rows)[data["complaint"]] == "pain-point"
    assert f'href="/insights/blueprint/{data["complaint"]}?since=2026-10-01' in html


def test_page_and_api_show_the_same_numbers(login, api_as, supervisor, data):
    html = login(supervisor).get(f"/insights/journey?{OCTOBER}").get_data(as_text=True)
    body = api_as(supervisor).get("/api/v1/journey?from=2026-10-01&to=2026-10-31").get_json()
    for phase in body["phases"]:
        for t in phase["touchpoints"]:
            r = row(html, t["moment_type_id"])
            assert cell(r, "volume") == str(t["volume"])
            shown = cell(r, "emotion").replace("−", "-")
            assert (shown == "—") if t["emotion"] is None else float(shown) == t["emotion"]
            assert cell(r, "cost") == f"€{t['cost']}"
            sla = cell(r, "sla")
            assert (sla == "—") if t["sla"] is None else float(sla.rstrip("%")) == t["sla"]
            assert ("pain-point" in r) == t["pain"]


# --- the catalog form ---------------------------------------------------------------

GOOD_TYPE = {"code": "entrega", "name": "Entrega", "phase": "interact", "channel": "partner", "team_id": "0",
             "owner_role": "agent", "cost": "9.90", "objective_metric": "sla", "objective_target": "95"}


def test_the_admin_form_saves_an_objective(app, login, admin):
    b = login(admin)
    assert b.post("/admin/moment-types/new", GOOD_TYPE, csrf_from_url="/admin/moment-types/new").status_code == 302
    with app.app_context():
        mt = db.session.scalar(select(MomentType).where(MomentType.code == "entrega"))
        assert (mt.objective_metric, mt.objective_target) == ("sla", Decimal("95.00"))
        type_id = mt.id
    form = b.get(f"/admin/moment-types/{type_id}").get_data(as_text=True)
    assert re.search(r'<option value="sla"[^>]*selected', form) and 'value="95.00"' in form
    edited = {**GOOD_TYPE, "objective_metric": "emotion", "objective_target": "-0,5"}
    assert b.post(f"/admin/moment-types/{type_id}", edited, csrf_from_url="/admin/moment-types/new").status_code == 302
    with app.app_context():
        mt = db.session.get(MomentType, type_id)
        assert (mt.objective_metric, mt.objective_target) == ("emotion", Decimal("-0.50"))


@pytest.mark.parametrize("bad", [
    {"objective_target": "120"}, {"objective_metric": "emotion", "objective_target": "3"},
    {"objective_metric": "", "objective_target": "50"}, {"objective_target": ""}, {"objective_metric": "speed"},
    {"objective_target": "diez"},
])
def test_the_admin_form_refuses_bad_objectives_without_writing(app, login, admin, bad):
    b = login(admin)
    response = b.post("/admin/moment-types/new", {**GOOD_TYPE, **bad}, csrf_from_url="/admin/moment-types/new")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'aria-invalid="true"' in html
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(MomentType)) == 0
