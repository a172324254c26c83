"""Messages leave through a real SMTP server: headers, both parts, links that work, retries."""
from __future__ import annotations

import email
import re
from datetime import timedelta
from email import policy
from urllib.parse import urlsplit

from sqlalchemy import func, select

from crm.auth.models import User
from crm.customers.models import Customer
from crm.extensions import db
from crm.followups import services
from crm.followups.dispatch import dispatch
from crm.followups.models import OutboxMessage, SurveyResponse
from crm.followups.render import message_id
from crm.followups.rules import retry_delay
from crm.followups.transport import transport_from_config
from crm.moments.services import log_moment
from tests.conftest import NOW, csrf_from

SLACK = timedelta(seconds=1)


def schedule(app, user, customer_id, template, due=None):
    with app.app_context():
        message = services.schedule_followup(db.session.get(User, user.id), {
            "customer_id": customer_id, "template": template, "due_at": due}, NOW)
        db.session.commit()
        return message.id, message.idempotency_key


def run_dispatch(app, now=NOW, **kw):
    with app.app_context():
        return dispatch(transport_from_config(), now, **kw)


def parsed(raw: bytes):
    return email.message_from_bytes(raw, policy=policy.default)


def test_a_marketing_survey_arrives_whole_and_its_links_work(app, client, smtp, agent, templates, fan):
    message_row, key = schedule(app, agent, fan, "survey")
    result = run_dispatch(app)
    assert (result.sent, result.failed, result.retrying) == (1, 0, 0)
    assert smtp.count() == 1
    envelope_from, recipients, raw = smtp.messages[0]
    assert recipients == ["inigo@example.es"]
    mail = parsed(raw)
    with app.app_context():
        assert mail["Message-ID"] == message_id(key)
        assert envelope_from == "no-reply@fideliza.localhost"
    assert mail["Subject"] == "Íñigo, ¿cómo lo hicimos?"
    assert mail["To"].addresses[0].addr_spec == "inigo@example.es"
    assert mail["To"].addresses[0].display_name == "Íñigo Fernández"
    assert mail["Date"] is not None and mail["Content-Language"] == "es"
    unsubscribe = mail["List-Unsubscribe"].strip("<>")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    survey = re.search(r"http://\S+/s/\S+", text).group(0)
    assert "Hola Íñigo:" in text and unsubscribe in text  # the visible unsubscribe link
    assert f'href="{survey}"' in html and f'href="{unsubscribe}"' in html

    # The survey link: open it, answer, and the answer is recorded once.
    path = urlsplit(survey).path
    page = client.get(path)
    assert page.status_code == 200
    answer = client.post(path, data={"score": "9", "comment": "Muy bien", "csrf_token": csrf_from(page.text)})
    assert answer.status_code == 200
    with app.app_context():
        response = db.session.scalar(select(SurveyResponse))
        assert (response.score, response.comment, response.customer_id) == (9, "Muy bien", fan)

    # One-click unsubscribe as a mail client does it: a POST without any CSRF token.
    schedule(app, agent, fan, "survey", due=NOW + timedelta(days=2))
    one_click = client.post(urlsplit(unsubscribe).path, data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    with app.app_context():
        customer = db.session.get(Customer, fan)
        assert customer.unsubscribed_at is not None and customer.marketing_consent is False
        statuses = sorted(db.session.scalars(select(OutboxMessage.status)))
        assert statuses == ["cancelled", "sent"]
    assert run_dispatch(app, NOW + timedelta(days=3)).sent == 0
    assert smtp.count() == 1


def test_transactional_messages_carry_no_unsubscribe_header(app, smtp, agent, templates, customer):
    schedule(app, agent, customer, "hello")
    assert run_dispatch(app).sent == 1
    mail = parsed(smtp.messages[0][2])
    assert mail["List-Unsubscribe"] is None and mail["Subject"] == "Hola María García Núñez"
    assert "unsubscribe" not in mail.get_body(("plain",)).get_content().lower()


def test_english_customers_get_the_english_text(app, smtp, agent, templates):
    from crm.customers.services import create_customer

    with app.app_context():
        customer = create_customer(db.session.get(User, agent.id), {
            "name": "John Smith", "email": "john@example.com", "language": "en"}, NOW)
        db.session.commit()
        customer_id = customer.id
    schedule(app, agent, customer_id, "hello")
    run_dispatch(app)
    mail = parsed(smtp.messages[0][2])
    assert mail["Subject"] == "Hello John Smith" and mail["Content-Language"] == "en"
    assert "Thanks for coming, John." in mail.get_body(("plain",)).get_content()


def test_nothing_leaves_before_it_is_due(app, smtp, agent, templates, customer):
    schedule(app, agent, customer, "hello", due=NOW + timedelta(hours=3))
    assert run_dispatch(app).sent == 0
    assert run_dispatch(app, NOW + timedelta(hours=3)).sent == 1
    assert run_dispatch(app, NOW + timedelta(hours=4)).sent == 0  # exactly once
    assert smtp.count() == 1


def test_smtp_down_messages_wait_back_off_and_all_leave_later(app, monkeypatch, agent, templates, customer):
    from tests.smtp_sink import SmtpSink, free_port

    port = free_port()
    monkeypatch.setitem(app.config, "CRM_SMTP_URL", f"smtp://127.0.0.1:{port}?timeout=2")
    for _ in range(5):
        schedule(app, agent, customer, "hello")
    result = run_dispatch(app)
    assert (result.sent, result.retrying, result.failed) == (0, 5, 0)
    with app.app_context():
        rows = list(db.session.scalars(select(OutboxMessage)))
        assert {(r.status, r.attempts) for r in rows} == {("pending", 1)}
        assert all("cannot reach" in r.last_error for r in rows)
        # Timed from the claim, which the dispatcher's clock puts a hair after NOW.
        assert all(NOW + retry_delay(1) <= r.due_at < NOW + retry_delay(1) + SLACK for r in rows)
    # Still down a little later: the second attempt backs off twice as long.
    assert run_dispatch(app, NOW + retry_delay(1) + SLACK).retrying == 5
    with app.app_context():
        assert {r.attempts for r in db.session.scalars(select(OutboxMessage))} == {2}
    sink = SmtpSink(port=port).start()
    try:
        later = NOW + retry_delay(1) + retry_delay(2) + 2 * SLACK
        assert run_dispatch(app, later - timedelta(seconds=10)).sent == 0  # not due yet
        assert run_dispatch(app, later).sent == 5
        assert sink.count() == 5 and set(sink.ids.values()) == {1}
    finally:
        sink.stop()
    with app.app_context():
        assert {r.status for r in db.session.scalars(select(OutboxMessage))} == {"sent"}


def test_a_refused_recipient_fails_for_good_and_an_admin_can_retry(app, smtp, agent, admin, templates, customer):
    smtp.refuse["maria.garcia@example.es"] = "550 5.1.1 no such mailbox"
    message, _ = schedule(app, agent, customer, "hello")
    result = run_dispatch(app)
    assert (result.sent, result.failed) == (0, 1)
    with app.app_context():
        row = db.session.get(OutboxMessage, message)
        assert row.status == "failed" and "550" in row.last_error
        del smtp.refuse["maria.garcia@example.es"]
        services.retry_message(db.session.get(User, admin.id), row, NOW)
        db.session.commit()
    assert run_dispatch(app, NOW + timedelta(seconds=1)).sent == 1
    with app.app_context():
        assert db.session.get(OutboxMessage, message).status == "sent"


def test_temporary_refusals_retry_until_they_give_up(app, smtp, agent, templates, customer):
    from crm.followups.rules import MAX_ATTEMPTS

    smtp.refuse["maria.garcia@example.es"] = "450 4.2.1 mailbox busy"
    message, _ = schedule(app, agent, customer, "hello")
    at = NOW
    for attempt in range(1, MAX_ATTEMPTS + 1):
        run_dispatch(app, at)
        with app.app_context():
            row = db.session.get(OutboxMessage, message)
            assert row.attempts == attempt
            expected = "failed" if attempt == MAX_ATTEMPTS else "pending"
            assert row.status == expected, (attempt, row.status)
        at += retry_delay(attempt) + SLACK
    assert smtp.count() == 0


def test_a_rule_after_a_resolved_complaint_sends_the_survey_on_the_next_business_day(
        app, smtp, admin, agent, templates, fan, moment_type):
    with app.app_context():
        actor = db.session.get(User, admin.id)
        services.save_rule(actor, {"name": "Survey", "trigger": "after_moment", "template_id": templates["survey"],
                                   "moment_type_id": moment_type, "outcome": "resolved", "days": 1}, NOW)
        moment = log_moment(db.session.get(User, agent.id), {
            "customer_id": fan, "moment_type": "complaint", "outcome": "resolved"}, NOW)
        log_moment(db.session.get(User, agent.id), {"customer_id": fan, "moment_type": "complaint"}, NOW)
        db.session.commit()
        rows = list(db.session.scalars(select(OutboxMessage)))
        # Only the resolved one; with no calendar the next day is plain clock time.
        assert [(r.moment_id, r.due_at) for r in rows] == [(moment.id, NOW + timedelta(days=1))]
    assert run_dispatch(app, NOW + timedelta(hours=23)).sent == 0
    assert run_dispatch(app, NOW + timedelta(days=1)).sent == 1


def test_outbox_rows_are_written_once_per_trigger(app, admin, agent, templates, fan, moment_type):
    from crm.followups.outbox import Draft, write

    with app.app_context():
        customer = db.session.get(Customer, fan)
        template = services.template_by_code("hello")
        draft = Draft(key="test:once", customer=customer, template=template, due_at=NOW)
        assert len(write([draft], NOW)) == 1
        assert write([draft], NOW) == []  # the same cause again writes nothing
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_a_malformed_address_is_refused_before_anything_is_written(app, api_as, agent, templates, customer):
    with app.app_context():
        # Legacy data, straight into the table: the forms would refuse it.
        db.session.execute(Customer.__table__.update().values(email="maria@@example..es"))
        db.session.commit()
    response = api_as(agent).post("/api/v1/followups", json={"customer_id": customer, "template": "hello"})
    assert response.status_code == 422
    assert "not valid" in response.json["error"]["fields"]["customer_id"][0]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
