"""The pages customers open from an email, without logging in: the survey and unsubscribe."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from crm.audit import AuditEvent
from crm.customers.models import Customer, StageChange
from crm.extensions import db
from crm.followups.models import OutboxMessage, SurveyResponse
from crm.followups.rules import emotion_for
from crm.moments.models import Moment
from tests.conftest import csrf_from


def tampered(token: str) -> str:
    """The token with one signature character changed. Not the last one: its low bits are
    base64 padding, so changing them can leave the signature bytes, and the token, valid."""
    i = len(token) - 5
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]


def text(response) -> str:
    return response.get_data(as_text=True)


def template_data(code: str, *, survey: str | None, kind: str = "marketing") -> dict:
    link = "{{ survey_url }}" if survey else ""
    footer = "\n\n{{ unsubscribe_url }}" if kind == "marketing" else ""
    return {
        "code": code, "name": f"Template {code}", "kind": kind, "survey": survey,
        "subject_es": "¿Qué tal lo hicimos?", "body_es": f"Hola {{{{ first_name }}}}: {link}{footer}",
        "subject_en": "How did we do?", "body_en": f"Hi {{{{ first_name }}}}: {link}{footer}",
    }


@pytest.fixture
def world(app, admin, agent, supervisor, moment_type):
    """A customer who accepts marketing email, an NPS survey sent by a rule after each
    complaint, a CSAT survey and a transactional note a person can send."""
    from crm.auth.models import User
    from crm.customers.services import create_customer
    from crm.followups.services import save_rule, save_template

    now = datetime.now(timezone.utc)
    with app.app_context():
        actor = db.session.get(User, admin.id)
        nps = save_template(actor, template_data("nps", survey="nps"), now)
        save_template(actor, template_data("csat", survey="csat"), now)
        save_template(actor, template_data("note", survey=None, kind="transactional"), now)
        save_rule(actor, {"name": "NPS after a complaint", "trigger": "after_moment", "template_id": nps.id,
                          "moment_type_id": moment_type}, now)
        customer = create_customer(db.session.get(User, agent.id), {
            "name": "Ana Torres", "email": "ana.torres@example.es", "stage": "active", "language": "en",
            "marketing_consent": True}, now)
        db.session.commit()
        return {"customer": customer.id, "agent": agent.id, "supervisor": supervisor.id}


def survey_after_contact(app, world) -> tuple[int, int, str]:
    """A complaint logged now: the rule writes an NPS survey about it. (message, moment, token)"""
    from crm.auth.models import User
    from crm.followups.render import survey_token
    from crm.moments.services import log_moment

    now = datetime.now(timezone.utc)
    with app.app_context():
        moment = log_moment(db.session.get(User, world["agent"]),
                            {"customer_id": world["customer"], "moment_type": "complaint"}, now)
        db.session.commit()
        message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.moment_id == moment.id))
        return message.id, moment.id, survey_token(message.idempotency_key)


def one_off(app, world, code: str, customer_id: int | None = None) -> tuple[int, str]:
    from crm.auth.models import User
    from crm.followups.render import survey_token
    from crm.followups.services import schedule_followup

    with app.app_context():
        message = schedule_followup(db.session.get(User, world["agent"]), {
            "customer_id": customer_id or world["customer"], "template": code}, datetime.now(timezone.utc))
        db.session.commit()
        return message.id, survey_token(message.idempotency_key)


def answer(client, token: str, **data):
    page = client.get(f"/s/{token}")
    assert page.status_code == 200, text(page)[:300]
    data.setdefault("csrf_token", csrf_from(text(page)))
    return client.post(f"/s/{token}", data=data)


def snapshot(app, customer_id: int) -> dict:
    """Everything an answer could write, to show that a refused one wrote nothing."""
    with app.app_context():
        customer = db.session.get(Customer, customer_id)
        return {
            "answers": db.session.scalar(select(func.count()).select_from(SurveyResponse)),
            "outbox": db.session.scalar(select(func.count()).select_from(OutboxMessage)),
            "stage": customer.stage,
            "stage_changes": db.session.scalar(select(func.count()).select_from(StageChange)),
            "emotions": list(db.session.scalars(select(Moment.emotion).order_by(Moment.id))),
        }


class TestSurvey:
    def test_nps_page_answers_and_sets_the_contacts_emotion(self, app, client, world):
        message_id, moment_id, token = survey_after_contact(app, world)
        page = client.get(f"/s/{token}")
        html = text(page)
        assert page.status_code == 200
        assert "How likely are you to recommend Fideliza to a friend?" in html
        assert html.count('type="radio"') == 11 and 'value="0"' in html and 'value="10"' in html
        assert 'name="viewport"' in html and 'name="comment"' in html
        # a customer's page: no staff navigation, no way into the CRM
        assert "/login" not in html and "Log out" not in html and "Customers" not in html
        done = client.post(f"/s/{token}", data={"score": "9", "comment": "Muy amables",
                                                "csrf_token": csrf_from(html)})
        assert done.status_code == 200 and "Thank you!" in text(done)
        with app.app_context():
            response = db.session.scalar(select(SurveyResponse))
            assert (response.outbox_id, response.customer_id, response.moment_id) == (
                message_id, world["customer"], moment_id)
            assert (response.kind, response.score, response.comment) == ("nps", 9, "Muy amables")
            assert db.session.get(Moment, moment_id).emotion == emotion_for("nps", 9) == 1
            # a promoter: the stage stays, no supervisor is alerted
            assert db.session.get(Customer, world["customer"]).stage == "active"
            assert db.session.scalar(select(OutboxMessage).where(OutboxMessage.user_id.is_not(None))) is None

    def test_detractor_puts_the_customer_at_risk_and_alerts_a_supervisor(self, app, client, world):
        _message_id, moment_id, token = survey_after_contact(app, world)
        assert answer(client, token, score="3", comment="Nadie me llamó").status_code == 200
        with app.app_context():
            assert db.session.get(Moment, moment_id).emotion == emotion_for("nps", 3) == -2
            assert db.session.get(Customer, world["customer"]).stage == "at_risk"
            change = db.session.scalar(select(StageChange).where(StageChange.to_stage == "at_risk"))
            assert (change.from_stage, change.rule, change.user_id) == ("active", "survey_detractor", None)
            alert = db.session.scalar(select(OutboxMessage).where(OutboxMessage.user_id.is_not(None)))
            assert alert.user_id == world["supervisor"] and alert.customer_id == world["customer"]
            assert alert.kind == "transactional" and alert.status == "pending"
            assert "3" in alert.subject

    def test_csat_page_and_answer(self, app, client, world):
        message_id, token = one_off(app, world, "csat")
        html = text(client.get(f"/s/{token}"))
        assert "How satisfied are you" in html and html.count('type="radio"') == 5
        assert 'value="0"' not in html and 'value="6"' not in html
        assert answer(client, token, score="4").status_code == 200
        with app.app_context():
            response = db.session.scalar(select(SurveyResponse))
            assert (response.outbox_id, response.kind, response.score, response.comment, response.moment_id) == (
                message_id, "csat", 4, "", None)
            assert db.session.get(Customer, world["customer"]).stage == "active"

    def test_unhappy_csat_is_a_detractor_too(self, app, client, world):
        _message_id, token = one_off(app, world, "csat")
        assert answer(client, token, score="1").status_code == 200
        with app.app_context():
            assert db.session.get(Customer, world["customer"]).stage == "at_risk"
            assert db.session.scalar(select(OutboxMessage.user_id).where(
                OutboxMessage.user_id.is_not(None))) == world["supervisor"]

    def test_a_score_in_the_link_is_preselected(self, app, client, world):
        _message_id, token = one_off(app, world, "nps")
        html = text(client.get(f"/s/{token}?score=7"))
        assert re.search(r'<input checked id="score-7"[^>]*value="7">', html) and html.count("checked") == 1
        assert client.head(f"/s/{token}?score=7").status_code == 200
        for junk in ("11", "-1", "abc", ""):
            assert "checked" not in text(client.get(f"/s/{token}", query_string={"score": junk}))

    def test_an_answered_survey_answers_409(self, app, client, world):
        _message_id, token = one_off(app, world, "nps")
        page = client.get(f"/s/{token}")
        csrf = csrf_from(text(page))
        assert client.post(f"/s/{token}", data={"score": "8", "csrf_token": csrf}).status_code == 200
        again = client.post(f"/s/{token}", data={"score": "2", "csrf_token": csrf})
        assert again.status_code == 409 and "already been answered" in text(again)
        assert client.get(f"/s/{token}").status_code == 409
        with app.app_context():
            assert list(db.session.scalars(select(SurveyResponse.score))) == [8]
            assert db.session.get(Customer, world["customer"]).stage == "active"

    def test_tampered_or_foreign_tokens_answer_404(self, app, client, world):
        from crm.followups.render import unsubscribe_token

        _message_id, token = one_off(app, world, "nps")
        _note_id, note_token = one_off(app, world, "note")  # a genuine message without a survey
        csrf = csrf_from(text(client.get(f"/s/{token}")))
        with app.app_context():
            foreign = unsubscribe_token(world["customer"])
        before = snapshot(app, world["customer"])
        flipped = tampered(token)
        for bad in (flipped, "x" + token, "nonsense", foreign, note_token, "a" * 600):
            got = client.get(f"/s/{bad}")
            assert got.status_code == 404, bad
            assert "This link does not work" in text(got) and "survey link is not valid" in text(got)
            assert client.post(f"/s/{bad}", data={"score": "5", "csrf_token": csrf}).status_code == 404
        assert snapshot(app, world["customer"]) == before

    def test_an_expired_link_answers_410(self, app, client, world):
        message_id, token = one_off(app, world, "nps")
        csrf = csrf_from(text(client.get(f"/s/{token}")))
        days = app.config["CRM_SURVEY_DAYS"]
        with app.app_context():
            message = db.session.get(OutboxMessage, message_id)
            message.status = "sent"
            message.sent_at = datetime.now(timezone.utc) - timedelta(days=days, minutes=1)
            db.session.commit()
        before = snapshot(app, world["customer"])
        got = client.get(f"/s/{token}")
        assert got.status_code == 410 and "expired" in text(got)
        assert client.post(f"/s/{token}", data={"score": "9", "csrf_token": csrf}).status_code == 410
        assert snapshot(app, world["customer"]) == before

    def test_a_link_still_in_date_works(self, app, client, world):
        message_id, token = one_off(app, world, "nps")
        days = app.config["CRM_SURVEY_DAYS"]
        with app.app_context():
            message = db.session.get(OutboxMessage, message_id)
            message.status = "sent"
            message.sent_at = datetime.now(timezone.utc) - timedelta(days=days) + timedelta(hours=1)
            db.session.commit()
        assert answer(client, token, score="10").status_code == 200

    @pytest.mark.parametrize("kind, score", [("nps", "11"), ("nps", "-1"), ("nps", "abc"), ("nps", None),
                                             ("nps", ""), ("nps", "9.5"), ("nps", "1e1"), ("nps", "0x9"),
                                             ("csat", "0"), ("csat", "6"), ("csat", "99999"), ("nps", "²"),
                                             ("nps", "--5"), ("csat", "-+1")])
    def test_bad_scores_answer_422_and_write_nothing(self, app, client, world, kind, score):
        _message_id, moment_id, token = survey_after_contact(app, world)
        if kind == "csat":
            _message_id, token = one_off(app, world, "csat")
        before = snapshot(app, world["customer"])
        data = {"comment": "Hola"} if score is None else {"score": score, "comment": "Hola"}
        refused = answer(client, token, **data)
        html = text(refused)
        assert refused.status_code == 422
        assert 'id="score-error"' in html and 'aria-describedby="score-error"' in html
        assert ("choose a score" in html) if score in (None, "") else ("must be a whole number from" in html)
        assert "Hola</textarea>" in html  # what was typed is kept
        assert snapshot(app, world["customer"]) == before
        # the link still works afterwards
        assert answer(client, token, score="4").status_code == 200

    def test_a_too_long_comment_is_refused(self, app, client, world):
        _message_id, token = one_off(app, world, "nps")
        before = snapshot(app, world["customer"])
        refused = answer(client, token, score="9", comment="x" * 2001)
        assert refused.status_code == 422 and 'id="comment-error"' in text(refused)
        assert snapshot(app, world["customer"]) == before

    def test_an_answer_needs_the_forms_csrf_token(self, app, client, world):
        _message_id, token = one_off(app, world, "nps")
        client.get(f"/s/{token}")
        before = snapshot(app, world["customer"])
        assert client.post(f"/s/{token}", data={"score": "9"}).status_code == 400
        assert snapshot(app, world["customer"]) == before

    def test_the_page_speaks_the_emails_language(self, app, client, world):
        with app.app_context():
            db.session.get(Customer, world["customer"]).language = "es"
            db.session.commit()
        _message_id, token = one_off(app, world, "nps")
        with app.app_context():
            assert db.session.scalar(select(OutboxMessage.language)) == "es"
        html = text(client.get(f"/s/{token}"))  # the test client asks for English
        assert '<html lang="es"' in html


@pytest.fixture
def waiting(app, world):
    """A marketing survey and a transactional note, both waiting to be sent."""
    marketing, _ = one_off(app, world, "nps")
    transactional, _ = one_off(app, world, "note")
    with app.app_context():
        from crm.followups.render import unsubscribe_token

        return {"marketing": marketing, "transactional": transactional,
                "token": unsubscribe_token(world["customer"])}


def statuses(app, waiting) -> tuple[str, str]:
    with app.app_context():
        return (db.session.get(OutboxMessage, waiting["marketing"]).status,
                db.session.get(OutboxMessage, waiting["transactional"]).status)


def unsubscribed(app, customer_id) -> tuple:
    with app.app_context():
        customer = db.session.get(Customer, customer_id)
        return customer.unsubscribed_at, customer.marketing_consent


class TestUnsubscribe:
    def test_opening_the_link_changes_nothing(self, app, client, world, waiting):
        for _ in range(2):
            page = client.get(f"/u/{waiting['token']}")
            assert page.status_code == 200
            assert "Stop marketing emails from Fideliza?" in text(page)
            assert "/login" not in text(page)
        assert client.head(f"/u/{waiting['token']}").status_code == 200
        assert unsubscribed(app, world["customer"]) == (None, True)
        assert statuses(app, waiting) == ("pending", "pending")

    def test_the_page_button_unsubscribes_and_cancels_marketing_only(self, app, client, world, waiting):
        page = text(client.get(f"/u/{waiting['token']}"))
        done = client.post(f"/u/{waiting['token']}", data={"csrf_token": csrf_from(page)})
        assert done.status_code == 200 and "You are unsubscribed" in text(done)
        at, consent = unsubscribed(app, world["customer"])
        assert at is not None and consent is False
        assert statuses(app, waiting) == ("cancelled", "pending")
        with app.app_context():
            event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "customer.unsubscribed"))
            assert event.details == {"how": "page"}
        again = text(client.get(f"/u/{waiting['token']}"))
        assert "You already unsubscribed" in again and "Yes, unsubscribe me" not in again

    def test_one_click_from_a_mail_client_needs_no_csrf_token(self, app, app_client, world, waiting):
        done = app_client.post(f"/u/{waiting['token']}", data={"List-Unsubscribe": "One-Click"})
        assert done.status_code == 200 and done.mimetype == "text/plain"
        assert "no more marketing email" in text(done)
        assert unsubscribed(app, world["customer"])[0] is not None
        assert statuses(app, waiting) == ("cancelled", "pending")
        with app.app_context():
            event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "customer.unsubscribed"))
            assert event.details == {"how": "one-click"}

    def test_it_is_idempotent(self, app, app_client, world, waiting):
        app_client.post(f"/u/{waiting['token']}", data={"List-Unsubscribe": "One-Click"})
        first = unsubscribed(app, world["customer"])
        again = app_client.post(f"/u/{waiting['token']}", data={"List-Unsubscribe": "One-Click"})
        assert again.status_code == 200 and unsubscribed(app, world["customer"]) == first
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.action == "customer.unsubscribed")) == 1

    def test_the_page_speaks_the_customers_language(self, app, client, world, waiting):
        with app.app_context():
            db.session.get(Customer, world["customer"]).language = "es"
            db.session.commit()
        assert '<html lang="es"' in text(client.get(f"/u/{waiting['token']}"))

    def test_bad_tokens_answer_404_and_change_nothing(self, app, app_client, world, waiting):
        from crm.followups.render import survey_token, unsubscribe_token

        with app.app_context():
            foreign = survey_token("manual:whatever")
            nobody = unsubscribe_token(987654321)
        token = waiting["token"]
        for bad in (tampered(token), "nonsense", foreign, nobody, "a" * 600):
            assert app_client.get(f"/u/{bad}").status_code == 404
            # No language asked for: the default, Spanish.
            assert "enlace para darse de baja no es válido" in text(app_client.get(f"/u/{bad}"))
            assert app_client.post(f"/u/{bad}", data={"List-Unsubscribe": "One-Click"}).status_code == 404
            assert app_client.post(f"/u/{bad}", data={}).status_code == 404
        assert unsubscribed(app, world["customer"]) == (None, True)
        assert statuses(app, waiting) == ("pending", "pending")


@pytest.fixture
def app_client(app):
    """A mail client: no cookies, no language preference, no CSRF token."""
    return app.test_client()
