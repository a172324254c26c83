"""The weekly PDF report: its week, its figures (the same as the metrics API's, in
Spanish), the Monday email to supervisors, and the child process's limits."""
from __future__ import annotations

import email
import io
import re
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from babel import numbers as babel_numbers
from flask_babel import gettext
from pypdf import PdfReader

from crm.auth.models import User
from crm.domain import ValidationFailed
from crm.extensions import db
from crm.followups.models import OutboxMessage
from crm.i18n import in_language
from crm.insights import report
from tests.conftest import NOW
from tests.services.test_insights import build_dataset

ZONE = "Europe/Madrid"


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return text.replace("\xa0", " ").replace("\u202f", " ")


def spanish(value, kind: str) -> str:
    """A figure as the metrics API sends it, written the Spanish way."""
    if kind == "money":
        shown = babel_numbers.format_currency(Decimal(value), "EUR", locale="es")
    elif kind == "percent":
        shown = babel_numbers.format_percent(Decimal(str(value)) / 100, locale="es", decimal_quantization=False)
    else:
        shown = babel_numbers.format_decimal(value, format="#,##0.##", locale="es")
    return shown.replace("\xa0", " ").replace("\u202f", " ")


@pytest.fixture
def agent2(make_user):
    return make_user("agent", email="agent2@example.es", name="Pablo Ruiz")


@pytest.fixture
def dataset(app, admin, agent, agent2):
    with app.app_context():
        return build_dataset(admin.id, agent.id, agent2.id)


class TestWeek:
    @pytest.mark.parametrize("value, monday", [
        ("2026-10-05", date(2026, 10, 5)),     # a Monday is its own week
        ("2026-10-11", date(2026, 10, 5)),     # a Sunday belongs to the week before it
        (date(2026, 10, 1), date(2026, 9, 28)),
        (" 2026-11-16 ", date(2026, 11, 16)),  # today, the week under way
    ])
    def test_any_day_names_its_monday(self, value, monday):
        assert report.week_of(value, ZONE, NOW) == monday

    def test_default_is_the_last_complete_week_in_the_company_zone(self):
        # Monday 16 November 10:00 UTC: the last complete week is 9 to 15 November.
        assert report.week_of(None, ZONE, NOW) == date(2026, 11, 9)
        assert report.week_of("", ZONE, NOW) == date(2026, 11, 9)
        # Sunday 15 November 23:30 UTC is already Monday the 16th in Madrid.
        assert report.week_of(None, ZONE, datetime(2026, 11, 15, 23, 30, tzinfo=timezone.utc)) == date(2026, 11, 9)
        assert report.week_of(None, "UTC", datetime(2026, 11, 15, 23, 30, tzinfo=timezone.utc)) == date(2026, 11, 2)

    @pytest.mark.parametrize("value", ["nonsense", "2026-02-30", "16/11/2026", "2026-11-17", "0001-01-01", 20261116])
    def test_bad_or_future_days_are_refused(self, value):
        with pytest.raises(ValidationFailed) as caught:
            report.week_of(value, ZONE, NOW)
        assert list(caught.value.fields) == ["week"]


@pytest.mark.parametrize("week, first, last", [("2026-10-01", "2026-09-28", "2026-10-04"),
                                               ("2026-10-07", "2026-10-05", "2026-10-11")])
def test_the_pdf_holds_the_same_figures_as_the_metrics_api(app, api_as, supervisor, dataset, week, first, last):
    body = api_as(supervisor).get(f"/api/v1/metrics?from={first}&to={last}").get_json()
    current, previous = body["current"], body["previous"]
    with app.test_request_context():
        week_start = report.week_of(week, ZONE, NOW)
        assert week_start.isoformat() == first
        data = report.gather(week_start, zone=ZONE, now=NOW)
        assert data["period"].start.isoformat() == body["period"]["start"]
        assert data["period"].end.isoformat() == body["period"]["end"]
        text = pdf_text(report.html_to_pdf(report.render_html(data, "es")).data)
        with in_language("es"):
            labels = {key: str(label) for key, label in report.FIGURE_LABELS.items()}
            headings = [gettext("Key figures"), gettext("Breaches and compensations"), gettext("Journey map")]
            broken = gettext("Commitments broken this week")
    lines = text.splitlines()
    for key, kind in (("nps", "points"), ("csat", "percent"), ("fcr_first", "percent"), ("breaches", "count"),
                      ("compensations_issued", "count"), ("compensations_value", "money"),
                      ("compensations_cost", "money"), ("cost_to_serve", "money")):
        shown = [spanish(v, kind) if v is not None else "—" for v in (current[key], previous[key])]
        row = f"{labels[key]} {shown[0]} {shown[1]}"
        assert any(line.startswith(row) for line in lines), (row, text)
    for heading in headings:
        assert heading in lines
    # The breaches of the week are listed, one row each (the API counts them too).
    listed = text[text.index(broken):text.index(headings[2])]
    breach_rows = re.findall(r"^\d{1,2}/\d{1,2}/\d{2}, \d{1,2}:\d{2} ", listed, re.M)  # each row starts with its due date
    assert len(breach_rows) == current["breaches"]
    assert current["breaches"] > 0 and current["compensations_issued"] + previous["compensations_issued"] > 0


def test_the_lists_are_bounded_and_at_risk_customers_come_latest_first(app, ctx, agent, monkeypatch):
    from crm.customers.services import change_stage, create_customer

    actor = db.session.get(User, agent.id)
    people = [create_customer(actor, {"name": f"Cliente {n}", "stage": "active"}, NOW) for n in range(4)]
    for n, person in enumerate(people[:3]):
        change_stage(actor, person, "at_risk", "Se queja", datetime(2026, 11, 1 + n, 9, tzinfo=timezone.utc))
    db.session.flush()
    monkeypatch.setattr(report, "AT_RISK_ROWS", 2)
    data = report.gather(date(2026, 11, 9), zone=ZONE, now=NOW)
    assert [c.name for c, _ in data["at_risk"]] == ["Cliente 2", "Cliente 1"]
    assert data["at_risk_total"] == 3
    tiers = {row["tier"]: row["customers"] for row in data["tiers"]}
    assert sum(tiers.values()) == 4


def test_the_pdf_speaks_the_language_asked_for(app, ctx):
    data = report.gather(date(2026, 11, 9), zone=ZONE, now=NOW)
    english = pdf_text(report.html_to_pdf(report.render_html(data, "en")).data)
    assert "Key figures" in english and "Weekly report" in english
    assert "No commitment was broken this week." in english


class TestChildProcess:
    def test_a_child_over_its_time_limit_is_stopped_with_a_clear_error(self, app, ctx):
        with pytest.raises(report.ReportFailed) as caught:
            report.html_to_pdf("<p>hola</p>", timeout=0.05)
        assert caught.value.status == 503
        assert caught.value.message.startswith("the PDF took longer than") and caught.value.params == {"seconds": "0.05"}

    def test_a_child_over_its_memory_limit_is_stopped_with_a_clear_error(self, app, ctx):
        with pytest.raises(report.ReportFailed) as caught:
            report.html_to_pdf("<p>hola</p>" * 2000, memory_mb=100)
        assert caught.value.message.startswith("the PDF needed more than") and caught.value.params == {"mb": 100}

    def test_the_child_fetches_nothing_but_data_urls(self, app, ctx, tmp_path):
        secret = tmp_path / "secret.css"
        secret.write_text("p { color: red }")
        html = (f'<link rel="stylesheet" href="file://{secret}"><img src="http://127.0.0.1:9/x.png">'
                '<img src="data:image/svg+xml,%3Csvg xmlns=%22http://www.w3.org/2000/svg%22 width=%221%22/%3E">'
                "<p>hola</p>")
        result = report.html_to_pdf(html)
        assert "hola" in pdf_text(result.data)
        assert result.peak_rss_mb and result.peak_rss_mb > 10


class TestMondayEmail:
    @pytest.fixture
    def staff(self, make_user):
        return {"es": make_user("supervisor", email="sup.es@example.es", name="Sofía Vega"),
                "en": make_user("supervisor", email="sup.en@example.es", name="Sam Reed", locale="en"),
                "gone": make_user("supervisor", email="gone@example.es"),
                "agent": make_user("agent"), "admin": make_user("admin")}

    def test_one_row_per_active_supervisor_with_the_pdf_and_nothing_new_on_a_rerun(self, app, staff):
        from crm.scheduler import weekly_report_job

        with app.app_context():
            db.session.get(User, staff["gone"].id).active = False
            db.session.commit()
        weekly_report_job(app)
        with app.app_context():
            rows = db.session.query(OutboxMessage).order_by(OutboxMessage.user_id).all()
            assert [row.user_id for row in rows] == [staff["es"].id, staff["en"].id]
            week = report.last_complete_week(ZONE, rows[0].created_at)
            for row, who, language in ((rows[0], staff["es"], "es"), (rows[1], staff["en"], "en")):
                assert row.idempotency_key == f"report:weekly:{week.isoformat()}:{who.id}"
                assert (row.to_address, row.language, row.status, row.customer_id) == (
                    who.email, language, "pending", None)
                message = email.message_from_bytes(row.message)
                assert message.get_content_type() == "multipart/mixed"
                assert message["To"].endswith(f"<{who.email}>")
                pdfs = [part for part in message.walk() if part.get_content_type() == "application/pdf"]
                assert len(pdfs) == 1 and pdfs[0].get_filename().endswith(f"{week.isoformat()}.pdf")
                text = pdf_text(pdfs[0].get_payload(decode=True))
                with in_language(language):
                    assert gettext("Key figures") in text
                alternative = [part.get_content_type() for part in message.walk()]
                assert "text/plain" in alternative and "text/html" in alternative
        weekly_report_job(app)  # a rerun, or a second scheduler
        with app.app_context():
            assert db.session.query(OutboxMessage).count() == 2

    def test_a_supervisor_added_later_gets_the_week_without_duplicates(self, app, ctx, staff, make_user):
        first = report.send_weekly_report(NOW)
        db.session.commit()
        late = make_user("supervisor", email="late@example.es")
        second = report.send_weekly_report(NOW)
        db.session.commit()
        assert len(first) == 3 and len(second) == 1  # the three supervisors, then the new one
        assert db.session.get(OutboxMessage, second[0]).user_id == late.id
        assert report.send_weekly_report(NOW) == []

    def test_messages_without_attachments_are_unchanged(self, app, ctx):
        from crm.followups.render import build_message

        plain = email.message_from_bytes(build_message(
            key="k", to_address="a@example.es", to_name="A", language="es", subject="Hola", body="Hola",
            marketing=False, unsubscribe=None, survey=None).message)
        assert plain.get_content_type() == "multipart/alternative"

    def test_the_job_is_scheduled_on_monday_mornings_in_the_company_zone(self, app):
        from crm.scheduler import build_scheduler

        job = build_scheduler(app).get_job("weekly_report")
        assert str(job.trigger.timezone) == app.config["BABEL_DEFAULT_TIMEZONE"]
        fields = {f.name: str(f) for f in job.trigger.fields}
        assert (fields["day_of_week"], fields["hour"], fields["minute"]) == ("mon", "8", "0")
        assert (job.coalesce, job.max_instances) == (True, 1)
