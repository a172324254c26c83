"""GET /insights/report.pdf: a week's report for supervisors, refused to agents."""
from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from crm.extensions import db
from crm.followups.models import OutboxMessage


def test_supervisors_download_the_pdf_of_the_week_asked_for(login, supervisor):
    response = login(supervisor).get("/insights/report.pdf?week=2026-10-07")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "2026-10-05.pdf" in response.headers["Content-Disposition"]
    assert "no-store" in response.headers["Cache-Control"]
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    assert "Key figures" in text  # the browser asks for English
    assert "Oct 5, 2026" in text and "Oct 11, 2026" in text


def test_admins_too_and_the_default_is_the_last_complete_week(app, login, admin):
    from crm.insights.report import last_complete_week
    from crm.types import utc_now

    response = login(admin).get("/insights/report.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    week = last_complete_week(app.config["BABEL_DEFAULT_TIMEZONE"], utc_now())
    assert f"{week.isoformat()}.pdf" in response.headers["Content-Disposition"]


def test_agents_are_refused_and_strangers_sent_to_log_in(client, login, agent):
    assert login(agent).get("/insights/report.pdf").status_code == 403
    response = client.get("/insights/report.pdf")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("week", ["nonsense", "2026-02-30", "2999-01-04", "0001-01-01", "2026-10-07%00",
                                  "x" * 5000])
def test_bad_weeks_are_a_visible_422(login, supervisor, week):
    response = login(supervisor).get(f"/insights/report.pdf?week={week}")
    assert response.status_code == 422
    assert response.mimetype == "text/html"
    assert "week" in response.get_data(as_text=True)


def test_a_conversion_that_runs_out_of_time_is_a_503_page(app, login, supervisor, monkeypatch):
    monkeypatch.setitem(app.config, "CRM_REPORT_TIMEOUT", 0.01)
    response = login(supervisor).get("/insights/report.pdf?week=2026-10-07")
    assert response.status_code == 503
    assert "longer than" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(OutboxMessage).count() == 0


def test_the_dashboard_links_to_the_report(login, supervisor):
    page = login(supervisor).get("/insights/").get_data(as_text=True)
    assert 'href="/insights/report.pdf"' in page
