"""The impact page over the dataset of tests/services/test_impact.py (figures worked out there),
with the clock at the tests' NOW (16 November 2026)."""
from __future__ import annotations

import re

import pytest

from tests.conftest import NOW
from tests.services.test_impact import APRIL_TO_AUGUST, build_impact

PERIOD = f"since={APRIL_TO_AUGUST[0]}&until={APRIL_TO_AUGUST[1]}"


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    monkeypatch.setattr("crm.insights.impact_views.utc_now", lambda: NOW)


@pytest.fixture
def data(app):
    with app.app_context():
        return build_impact()


def table_row(html: str, row_id: str) -> str:
    match = re.search(rf'<tr id="{row_id}"[^>]*>(.*?)</tr>', html, re.S)
    assert match, f"no row {row_id}"
    return match.group(1)


def cell(row_html: str, css: str) -> str:
    match = re.search(rf'<t[dh][^>]* class="{css}">\s*(.*?)\s*</t[dh]>', row_html, re.S)
    assert match, f"no {css} cell"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def test_the_impact_of_a_moment_type(login, supervisor, data):
    response = login(supervisor).get(f"/insights/impact?treatment={data['complaint']}&{PERIOD}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Customers who went through “Reclamación” from Apr 1, 2026 to Aug 31, 2026: 6." in html
    assert "In the figures: 3 of them, against 5 comparable customers." in html
    assert "2 customers are left out because the 90 days after their exposure are not over yet" in html
    assert "Windows are complete for exposures up to Aug 17, 2026." in html
    assert re.search(r"1 customer is left out because nobody of the same segment and tier can be compared:\s*"
                     r"Empresa · Premium \(1\)\.", html)
    bought = table_row(html, "impact-bought")
    assert [cell(bought, f"after-{group}") for group in ("exposed", "comparable", "difference")] == [
        "100%", "61.11%", "+38.89 pp"]
    assert [cell(bought, f"before-{group}") for group in ("exposed", "comparable", "difference")] == [
        "33.33%", "38.89%", "-5.56 pp"]
    revenue = table_row(html, "impact-revenue")
    assert [cell(revenue, f"after-{group}") for group in ("exposed", "comparable", "difference")] == [
        "€93.33", "€43.33", "+€50.00"]
    assert cell(revenue, "change-difference") == "+€58.33"  # 50.00 − (6.67 − 15.00)
    churned = table_row(html, "impact-churned")
    assert cell(churned, "after-difference") == "-11.11 pp"
    assert "1 purchase in another currency is counted as a purchase but not in the revenue." in html
    assert "How it is measured" in html and "Revenue counts purchases in EUR only." in html


def test_the_table_by_segment_and_tier(login, supervisor, data):
    html = login(supervisor).get(f"/insights/impact?treatment=complaint&{PERIOD}").get_data(as_text=True)
    rows = re.findall(r'<tr id="stratum-\d+"[^>]*>(.*?)</tr>', html, re.S)
    shown = [(cell(r, "segment"), cell(r, "tier"), cell(r, "exposed"), cell(r, "window-open"), cell(r, "comparable"),
              cell(r, "reference")) for r in rows]
    assert shown == [("Empresa", "Standard", "1", "0", "2", "Jun 10, 2026"),
                     ("Empresa", "Premium", "1", "0", "0", "May 5, 2026"),
                     ("Particular", "Standard", "2", "1", "3", "Apr 15, 2026"),
                     ("No segment", "Basic", "0", "1", "0", "—")]
    particular = rows[2]
    assert (cell(particular, "bought-exposed"), cell(particular, "bought-comparable")) == ("100%", "66.67%")
    assert (cell(particular, "revenue-exposed"), cell(particular, "churned-comparable")) == ("€40.00", "66.67%")
    assert 'class="muted"' in re.search(r'<tr id="stratum-2"[^>]*>', html).group(0)  # no comparable customers


def test_filters_and_the_compensation_choice(login, supervisor, data):
    b = login(supervisor)
    html = b.get(f"/insights/impact?treatment=complaint&{PERIOD}&segment=Empresa&tier=standard").get_data(
        as_text=True)
    assert len(re.findall(r'<tr id="stratum-\d+"', html)) == 1
    assert cell(table_row(html, "impact-revenue"), "after-difference") == "+€150.00"  # 200.00 − 50.00
    html = b.get(f"/insights/impact?treatment=compensation&{PERIOD}").get_data(as_text=True)
    assert "Customers who received a compensation from Apr 1, 2026 to Aug 31, 2026: 0." in html
    assert "Nobody went through it in this period." in html


def test_a_first_visit_shows_compensations_over_the_default_period(login, supervisor, data):
    response = login(supervisor).get("/insights/impact")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert re.search(r'<option value="compensation" selected>', html)
    assert 'value="2026-05-20"' in html and 'value="2026-08-17"' in html  # 90 days, all windows complete
    assert f'<option value="{data["complaint"]}">Reclamación</option>' in html
    assert "from May 20, 2026 to Aug 17, 2026" in html


def test_in_spanish(login, make_user, data):
    b = login(make_user("supervisor", locale="es"))
    html = b.get(f"/insights/impact?treatment=complaint&{PERIOD}").get_data(as_text=True)
    revenue = table_row(html, "impact-revenue")
    assert cell(revenue, "after-exposed").replace("\xa0", " ") == "93,33 €"
    bought = table_row(html, "impact-bought")
    assert cell(bought, "after-comparable").replace("\xa0", " ") == "61,11 %"
    assert "10 jun 2026" in html


@pytest.mark.parametrize("query", [
    "treatment=nope", "treatment=99999", "treatment=%00", "treatment=" + "9" * 40,
    "treatment=complaint&since=2026-02-30", "treatment=complaint&since=yesterday",
    "treatment=complaint&since=2026-05-01&until=2026-04-01", "treatment=complaint&since=2025-01-01&until=2026-01-02",
    "treatment=complaint&until=99999-01-01", "treatment=complaint&since=0001-01-01&until=0001-01-31",
    "treatment=complaint&segment=Nadie", "treatment=complaint&segment=a%00b", "treatment=complaint&tier=gold",
])
def test_bad_input_is_a_400_with_the_form(login, supervisor, data, query):
    response = login(supervisor).get(f"/insights/impact?{query}")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "<form" in html and ('aria-invalid="true"' in html or "flash-error" in html)
    assert 'id="impact"' not in html


def test_supervisors_and_admins_only(login, client, agent, supervisor, admin, data):
    assert login(agent).get("/insights/impact").status_code == 403
    assert client.get("/insights/impact").status_code in (302, 401)
    assert login(admin).get("/insights/impact").status_code == 200
    # linked from the insights navigation for them, not for agents
    assert 'href="/insights/impact"' in login(supervisor).get("/insights/metrics").get_data(as_text=True)
    assert 'href="/insights/impact"' not in login(agent).get("/customers").get_data(as_text=True)
