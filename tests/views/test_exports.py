"""Export downloads on the pages: streamed files, roles, filters carried by the list pages' buttons."""
from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from crm.audit import AuditEvent
from crm.exports.csvstream import EXCEL
from crm.extensions import db
from tests.services.test_exports import HOSTILE_NAME, build_data, rows_of


@pytest.fixture
def data(app, agent, supervisor, admin, customer, moment_type, now):
    return build_data(app, agent, supervisor, admin, customer, moment_type, now)


def export_audits(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "export.started"))


def query_of(page: str, element_id: str, attribute="href") -> dict:
    match = re.search(rf'<[^>]*id="{element_id}"[^>]*>', page)
    assert match, f"no #{element_id} on the page"
    url = html.unescape(re.search(rf'{attribute}="([^"]*)"', match.group(0)).group(1))
    return {"path": urlsplit(url).path, **parse_qs(urlsplit(url).query)}


class TestDownload:
    def test_streamed_csv_with_a_dated_file_name(self, app, login, supervisor, data):
        response = login(supervisor).get("/exports/customers.csv")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert re.fullmatch(r'attachment; filename="fideliza-customers-\d{4}-\d{2}-\d{2}\.csv"',
                            response.headers["Content-Disposition"])
        assert response.headers["Cache-Control"] == "no-store"
        rows = rows_of(response.get_data())
        assert [r["name"] for r in rows] == ["María García Núñez", "'" + HOSTILE_NAME]
        assert export_audits(app) == 1

    def test_streamed_batch_by_batch(self, login, supervisor, data, monkeypatch):
        from crm.exports import services

        monkeypatch.setattr(services, "BATCH", 1)
        response = login(supervisor).get("/exports/commitments.csv")
        assert response.is_streamed
        chunks = list(response.response)  # what the server hands the client, piece by piece
        assert len(chunks) == 1 + 4 and chunks[0].startswith(b"customer_name,")
        html_page = login(supervisor).get("/exports")
        assert len(list(html_page.response)) == 1  # an ordinary page is one piece

    def test_excel_form(self, login, admin, data):
        response = login(admin).get("/exports/purchases.csv?format=excel")
        body = response.get_data()
        assert response.status_code == 200 and body.startswith(b"\xef\xbb\xbfcustomer_email;")
        assert "excel" in response.headers["Content-Disposition"]
        assert [r["amount"] for r in rows_of(body, form=EXCEL)] == ["1234,50", "7,00"]

    def test_twice_the_same_bytes(self, login, supervisor, data):
        browser = login(supervisor)
        for entity in ("customers", "moments", "commitments", "compensations", "purchases"):
            first = browser.get(f"/exports/{entity}.csv").get_data()
            assert first == browser.get(f"/exports/{entity}.csv").get_data() and first.count(b"\r\n") >= 2

    def test_filters_apply(self, login, supervisor, data):
        browser = login(supervisor)
        rows = rows_of(browser.get("/exports/moments.csv?channel=email&from=2026-11-17").get_data())
        assert [r["customer_email"] for r in rows] == ["hostil@example.es"]
        rows = rows_of(browser.get("/exports/commitments.csv?status=open&status=paused").get_data())
        assert len(rows) == 3 and {r["status"] for r in rows} == {"open"}

    @pytest.mark.parametrize("query", ["stage=nope", "owner=1%20OR%201=1", "format=xlsx", "q=%00",
                                       "owner=99999999999999999999999"])
    def test_hostile_filters_are_a_clear_4xx_and_export_nothing(self, app, login, supervisor, data, query):
        response = login(supervisor).get(f"/exports/customers.csv?{query}")
        assert response.status_code == 422
        assert "text/html" in response.headers["Content-Type"]
        field = query.split("=")[0]
        assert f"<li><strong>{field}</strong>: " in response.get_data(as_text=True)
        assert export_audits(app) == 0

    def test_unknown_entity_is_404(self, login, supervisor):
        assert login(supervisor).get("/exports/users.csv").status_code == 404


class TestRoles:
    def test_agents_are_refused(self, app, login, agent, data):
        browser = login(agent)
        assert browser.get("/exports/customers.csv").status_code == 403
        assert browser.get("/exports").status_code == 403
        assert export_audits(app) == 0

    def test_anonymous_is_sent_to_log_in(self, client):
        response = client.get("/exports/customers.csv")
        assert response.status_code == 302 and "/login" in response.headers["Location"]

    def test_agents_see_no_buttons(self, login, agent, data):
        browser = login(agent)
        assert "export-customers" not in browser.get("/customers?q=garc").get_data(as_text=True)
        page = browser.get(f"/customers/{data['maria']}/purchases").get_data(as_text=True)
        assert "export-purchases" not in page


class TestButtonsCarryTheFilters:
    def test_customer_list_buttons_submit_the_search_form(self, login, supervisor, data):
        page = login(supervisor).get("/customers?q=garc&stage=active&segment=Particular").get_data(as_text=True)
        button = query_of(page, "export-customers", "formaction")
        assert button["path"] == "/exports/customers.csv"
        form = re.search(r'<form[^>]*id="customer-search".*?</form>', page, re.S).group(0)
        assert 'id="export-customers"' in form  # so it sends the form's current fields
        assert 'value="garc"' in form and re.search(r'<option value="active"\s+selected', form)

    def test_the_form_fields_make_the_same_export_as_the_list(self, login, supervisor, data):
        browser = login(supervisor)
        rows = rows_of(browser.get("/exports/customers.csv?q=garc&stage=&segment=Particular&owner=&format=csv")
                       .get_data())
        assert [r["email"] for r in rows] == ["maria.garcia@example.es"]
        assert "maria.garcia@example.es" in browser.get("/customers?q=garc&segment=Particular").get_data(as_text=True)

    def test_queue_button(self, login, supervisor, agent, data):
        page = login(supervisor).get(f"/commitments?owner={agent.id}").get_data(as_text=True)
        link = query_of(page, "export-commitments")
        assert link["path"] == "/exports/commitments.csv"
        assert link["owner"] == [str(agent.id)] and link["status"] == ["open", "paused"]

    def test_breach_review_button(self, login, supervisor, data):
        browser = login(supervisor)
        link = query_of(browser.get("/compensations?tier=standard&since=2026-11-01&page=2").get_data(as_text=True),
                        "export-compensations")
        assert link["path"] == "/exports/compensations.csv"
        assert (link["status"], link["tier"], link["since"]) == (["proposed"], ["standard"], ["2026-11-01"])
        assert "page" not in link
        url = "/exports/compensations.csv?status=proposed&tier=standard&since=2026-11-01"
        assert len(rows_of(browser.get(url).get_data())) == 1
        any_status = query_of(browser.get("/compensations?status=").get_data(as_text=True), "export-compensations")
        assert any_status == {"path": "/exports/compensations.csv"}  # "any status": no status filter

    def test_purchases_button(self, login, supervisor, data):
        page = login(supervisor).get(f"/customers/{data['maria']}/purchases").get_data(as_text=True)
        link = query_of(page, "export-purchases")
        assert (link["path"], link["customer"]) == ("/exports/purchases.csv", [str(data["maria"])])

    def test_export_page(self, login, supervisor, data):
        page = login(supervisor).get("/exports").get_data(as_text=True)
        for entity in ("customers", "moments", "commitments", "compensations", "purchases"):
            assert f"/exports/{entity}.csv" in page
        assert 'id="moments-export"' in page and 'value="complaint"' in page
