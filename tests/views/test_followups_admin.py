"""The admins' follow-up pages: templates with a preview, rules, the outbox, the sent mail."""
import html
import re
from email.utils import format_datetime

import pytest
from sqlalchemy import event, func, select

from crm.extensions import db
from crm.followups.models import FollowUpRule, MessageTemplate, OutboxMessage, TemplateText
from crm.followups.transport import FileTransport
from tests.conftest import NOW

TEMPLATES = "/admin/followups/templates"
NEW_TEMPLATE = "/admin/followups/templates/new"
RULES = "/admin/followups/rules"
NEW_RULE = "/admin/followups/rules/new"
OUTBOX = "/admin/followups/outbox"
MAIL = "/admin/followups/mail"

THANKS = {
    "code": "thanks", "name": "Gracias por tu visita", "kind": "transactional", "survey": "", "active": "y",
    "subject_es": "Gracias, {{ first_name }}",
    "body_es": "Hola {{ first_name }}:\n\nGracias por visitarnos.\n\n{{ company_name }}",
    "subject_en": "Thank you, {{ first_name }}",
    "body_en": "Hello {{ first_name }},\n\nThanks for visiting us.\n\n{{ company_name }}",
}


def text(response) -> str:
    return response.get_data(as_text=True)


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def save_template(app, admin, **overrides):
    from crm.auth.models import User
    from crm.followups.services import save_template as save

    data = {**THANKS, "active": True, "survey": None, **overrides}
    with app.app_context():
        template = save(db.session.get(User, admin.id), data, NOW)
        db.session.commit()
        return template.id


def schedule(app, admin, customer, code) -> int:
    from crm.auth.models import User
    from crm.followups.services import schedule_followup

    with app.app_context():
        message = schedule_followup(db.session.get(User, admin.id), {"customer_id": customer, "template": code}, NOW)
        db.session.commit()
        return message.id


def set_message(app, message_id, **values):
    with app.app_context():
        message = db.session.get(OutboxMessage, message_id)
        for name, value in values.items():
            setattr(message, name, value)
        db.session.commit()


def message_status(app, message_id) -> tuple:
    with app.app_context():
        message = db.session.get(OutboxMessage, message_id)
        return message.status, message.attempts


# --- templates ------------------------------------------------------------------------

class TestTemplates:
    def test_create_through_the_form_stores_both_languages(self, app, login, admin):
        b = login(admin)
        form = text(b.get(NEW_TEMPLATE))
        assert "{{ unsubscribe_url }}" in form and "{{ days_quiet }}" in form  # the variables are explained
        done = b.post(NEW_TEMPLATE, {**THANKS, "save": "1"}, csrf_from_url=NEW_TEMPLATE)
        assert done.status_code == 302 and done.headers["Location"] == TEMPLATES
        with app.app_context():
            template = db.session.scalars(select(MessageTemplate)).one()
            assert (template.code, template.kind, template.survey, template.active) == (
                "thanks", "transactional", None, True)
            texts = {t.language: (t.subject, t.body) for t in template.texts}
        assert texts == {"es": (THANKS["subject_es"], THANKS["body_es"]),
                         "en": (THANKS["subject_en"], THANKS["body_en"])}
        listing = text(b.get(TEMPLATES))
        assert "Gracias por tu visita" in listing and "English, Spanish" in listing

    def test_edit_changes_the_stored_text(self, app, login, admin):
        template_id = save_template(app, admin)
        b = login(admin)
        url = f"{TEMPLATES}/{template_id}"
        page = text(b.get(url))
        assert "Thanks for visiting us." in page and 'value="Thank you, {{ first_name }}"' in page
        done = b.post(url, {**THANKS, "subject_en": "Many thanks, {{ first_name }}", "kind": "marketing",
                            "save": "1"}, csrf_from_url=url)
        assert done.status_code == 302
        with app.app_context():
            template = db.session.get(MessageTemplate, template_id)
            assert template.kind == "marketing"
            assert template.text_for("en").subject == "Many thanks, {{ first_name }}"
            assert count(app, TemplateText) == 2

    def test_preview_renders_with_sample_values_and_saves_nothing(self, app, login, admin):
        from crm.followups.services import PREVIEW_VALUES

        b = login(admin)
        survey_body = THANKS["body_en"] + "\n\nTell us: {{ survey_url }}"
        page = b.post(NEW_TEMPLATE, {**THANKS, "survey": "nps", "body_en": survey_body, "preview": "1"},
                      csrf_from_url=NEW_TEMPLATE)
        body = text(page)
        assert page.status_code == 200
        first = PREVIEW_VALUES["first_name"]
        assert f"Thank you, {first}" in body and f"Gracias, {first}" in body
        frames = re.findall(r'<iframe sandbox srcdoc="([^"]*)"', body)
        assert len(frames) == 2
        english = html.unescape(frames[1])
        assert f"Hello {first}," in english and PREVIEW_VALUES["survey_url"] in english
        assert "<script" not in english.lower()
        # the form comes back filled in, and nothing was stored
        assert "Tell us: {{ survey_url }}" in body
        assert count(app, MessageTemplate) == 0 and count(app, TemplateText) == 0

    @pytest.mark.parametrize("button", ["save", "preview"])
    def test_unknown_variables_and_syntax_errors_are_field_errors(self, app, login, admin, button):
        b = login(admin)
        page = b.post(NEW_TEMPLATE, {**THANKS, "body_es": "Hola {{ nonsense }}", "subject_en": "Hi {{ first_name ",
                                     button: "1"}, csrf_from_url=NEW_TEMPLATE)
        body = text(page)
        assert page.status_code == 400
        errors = re.findall(r'<small id="([a-z_]+)-error" class="error">([^<]*)</small>', body)
        by_field = dict(errors)
        assert "unknown variable nonsense" in by_field["body_es"]
        assert by_field["subject_en"].startswith("line 1:")
        assert set(by_field) == {"body_es", "subject_en"}
        assert count(app, MessageTemplate) == 0 and count(app, TemplateText) == 0

    def test_a_template_that_fails_when_rendered_is_refused(self, app, login, admin):
        b = login(admin)
        page = b.post(NEW_TEMPLATE, {**THANKS, "body_en": "{% if first_name is nosuchtest %}x{% endif %}",
                                     "save": "1"}, csrf_from_url=NEW_TEMPLATE)
        assert page.status_code == 400
        assert re.search(r'id="body_en-error" class="error">the template cannot be rendered', text(page))
        assert count(app, MessageTemplate) == 0

    def test_service_errors_land_on_their_fields(self, app, login, admin):
        save_template(app, admin)
        b = login(admin)
        page = b.post(NEW_TEMPLATE, {**THANKS, "code": "thanks", "body_en": "Visit {{ unsubscribe_url }}",
                                     "save": "1"}, csrf_from_url=NEW_TEMPLATE)
        body = text(page)
        assert page.status_code == 400
        assert re.search(r'id="code-error" class="error">another template has this code', body)
        assert re.search(r'id="kind-error" class="error">only marketing messages carry an unsubscribe link', body)
        assert count(app, MessageTemplate) == 1


# --- rules ------------------------------------------------------------------------------

def rule_form(**overrides) -> dict:
    return {"name": "Gracias tras reclamación", "trigger": "after_moment", "days": "2", "outcome": "resolved",
            "active": "y", **overrides}


class TestRules:
    def test_create_list_and_edit(self, app, login, admin, moment_type):
        template_id = save_template(app, admin)
        b = login(admin)
        done = b.post(NEW_RULE, rule_form(template_id=str(template_id), moment_type_id=str(moment_type)),
                      csrf_from_url=NEW_RULE)
        assert done.status_code == 302 and done.headers["Location"] == RULES
        with app.app_context():
            rule = db.session.scalars(select(FollowUpRule)).one()
            assert (rule.trigger, rule.template_id, rule.moment_type_id, rule.outcome, rule.days, rule.active) == (
                "after_moment", template_id, moment_type, "resolved", 2, True)
            rule_id = rule.id
        listing = text(b.get(RULES))
        assert "2 business days after a contact of type Reclamación with outcome Resolved" in listing
        assert "Gracias por tu visita" in listing

        url = f"{RULES}/{rule_id}"
        assert 'value="Gracias tras reclamación"' in text(b.get(url))
        done = b.post(url, {"name": "Sin noticias", "trigger": "inactivity", "days": "90",
                            "template_id": str(template_id), "moment_type_id": str(moment_type), "outcome": ""},
                      csrf_from_url=url)
        assert done.status_code == 302
        with app.app_context():
            rule = db.session.get(FollowUpRule, rule_id)
            # another trigger drops the contact type; an unticked box turns the rule off
            assert (rule.name, rule.trigger, rule.days, rule.moment_type_id, rule.active) == (
                "Sin noticias", "inactivity", 90, None, False)
        assert "After 90 days without any contact" in text(b.get(RULES))

    def test_a_template_the_trigger_cannot_fill_is_refused(self, app, login, admin, moment_type):
        template_id = save_template(app, admin, code="renewal",
                                    body_es="Tu renovación es el {{ renewal_date }}.",
                                    body_en="Your renewal is on {{ renewal_date }}.")
        b = login(admin)
        page = b.post(NEW_RULE, rule_form(template_id=str(template_id), moment_type_id=str(moment_type)),
                      csrf_from_url=NEW_RULE)
        assert page.status_code == 400
        assert re.search(r'id="template_id-error" class="error">this template uses renewal_date, '
                         r'which this trigger cannot fill', text(page))
        assert count(app, FollowUpRule) == 0
        # the same template is fine before a renewal
        done = b.post(NEW_RULE, rule_form(template_id=str(template_id), trigger="before_renewal", days="30"),
                      csrf_from_url=NEW_RULE)
        assert done.status_code == 302 and count(app, FollowUpRule) == 1

    def test_bad_input_is_a_form_error(self, app, login, admin, moment_type):
        b = login(admin)
        assert "there is none yet" in text(b.get(NEW_RULE))
        template_id = save_template(app, admin)
        for data, field in [
            (rule_form(template_id=str(template_id), moment_type_id="0"), "moment_type_id"),
            (rule_form(template_id=str(template_id), trigger="inactivity", days="0"), "days"),
            (rule_form(template_id=str(template_id), moment_type_id=str(moment_type), days="-1"), "days"),
            (rule_form(template_id=str(template_id), moment_type_id=str(moment_type), days="abc"), "days"),
            (rule_form(template_id="999999", moment_type_id=str(moment_type)), "template_id"),
            (rule_form(template_id=str(template_id), moment_type_id=str(moment_type), trigger="bogus"), "trigger"),
        ]:
            page = b.post(NEW_RULE, data, csrf_from_url=NEW_RULE)
            assert page.status_code == 400, data
            assert f'id="{field}-error"' in text(page), data
        assert count(app, FollowUpRule) == 0

    def test_list_shows_counts_per_status_and_the_last_error_without_a_query_per_rule(
            self, app, login, admin, customer):
        template_id = save_template(app, admin)
        with app.app_context():
            rules = [FollowUpRule(name=f"Regla {n}", trigger="inactivity", template_id=template_id, days=30 + n)
                     for n in range(3)]
            db.session.add_all(rules)
            db.session.commit()
            rule_ids = [r.id for r in rules]
        first, second = schedule(app, admin, customer, "thanks"), schedule(app, admin, customer, "thanks")
        set_message(app, first, rule_id=rule_ids[0])
        set_message(app, second, rule_id=rule_ids[0], status="failed")
        set_message(app, schedule(app, admin, customer, "thanks"), rule_id=rule_ids[1], status="sent")
        with app.app_context():
            db.session.get(FollowUpRule, rule_ids[2]).last_error = "this message has no value for days_quiet"
            db.session.commit()
        b = login(admin)
        b.get(RULES)  # warm up: the session user and the like

        def selects() -> int:
            statements = []
            with app.app_context():
                engine = db.engine
            listener = lambda *args: statements.append(args[2])  # noqa: E731
            event.listen(engine, "before_cursor_execute", listener)
            try:
                page = text(b.get(RULES))
            finally:
                event.remove(engine, "before_cursor_execute", listener)
            return page, len([s for s in statements if s.lstrip().upper().startswith("SELECT")])

        page, with_three = selects()
        row = re.search(r'<tr id="rule-%d">.*?</tr>' % rule_ids[0], page, re.S).group(0)
        assert "Waiting: 1" in row and "Failed: 1" in row and "Sent" not in row
        assert "Sent: 1" in re.search(r'<tr id="rule-%d">.*?</tr>' % rule_ids[1], page, re.S).group(0)
        assert "Last error" in page and "this message has no value for days_quiet" in page
        with app.app_context():
            db.session.add_all([FollowUpRule(name=f"Más {n}", trigger="inactivity", template_id=template_id,
                                             days=60 + n) for n in range(5)])
            db.session.commit()
        _, with_eight = selects()
        assert with_eight == with_three


# --- the outbox -----------------------------------------------------------------------------

@pytest.fixture
def messages(app, admin, customer):
    """Two waiting messages of different templates; the second then failed."""
    save_template(app, admin)
    save_template(app, admin, code="welcome", name="Bienvenida", subject_es="Bienvenida, {{ first_name }}",
                  subject_en="Welcome, {{ first_name }}")
    waiting, failed = schedule(app, admin, customer, "thanks"), schedule(app, admin, customer, "welcome")
    set_message(app, failed, status="failed", attempts=12, last_error="550 mailbox unavailable")
    return waiting, failed


class TestOutbox:
    def test_counts_and_the_status_filter(self, app, login, admin, messages):
        b = login(admin)
        everything = text(b.get(OUTBOX))
        assert "Gracias, María" in everything and "Bienvenida, María" in everything
        assert re.search(r'Waiting: <span class="count-pending">1</span>', everything)
        assert re.search(r'Failed: <span class="count-failed">1</span>', everything)
        failed = text(b.get(f"{OUTBOX}?status=failed"))
        assert "Bienvenida, María" in failed and "550 mailbox unavailable" in failed
        assert "Gracias, María" not in failed
        assert "No messages." in text(b.get(f"{OUTBOX}?status=sent"))
        # staff alerts are in the outbox too, marked as such
        set_message(app, messages[0], user_id=admin.id, status="sent")
        alerts = text(b.get(f"{OUTBOX}?status=sent"))
        assert "Gracias, María" in alerts and "Staff alert" in alerts
        bogus = b.get(f"{OUTBOX}?status=bogus&page=x")
        assert bogus.status_code == 200 and "Check the filters." in text(bogus)

    def test_detail_shows_headers_text_and_html(self, app, login, admin, messages):
        b = login(admin)
        page = text(b.get(f"{OUTBOX}/{messages[0]}"))
        assert "<h1>Gracias, María</h1>" in page
        assert "Message-ID" in page and "maria.garcia@example.es" in page
        assert "Gracias por visitarnos." in page  # the plain-text part
        frame = re.search(r'<iframe sandbox srcdoc="([^"]*)"', page)
        assert frame and "<p>Hola María:</p>" in html.unescape(frame.group(1))
        assert b.get(f"{OUTBOX}/999999").status_code == 404

    def test_retry_puts_a_failed_message_back(self, app, login, admin, messages):
        waiting, failed = messages
        b = login(admin)
        done = b.post(f"{OUTBOX}/{failed}/retry", {"next": f"{OUTBOX}?status=failed"}, csrf_from_url=OUTBOX)
        assert done.status_code == 302 and done.headers["Location"] == f"{OUTBOX}?status=failed"
        assert message_status(app, failed) == ("pending", 0)
        assert "The message will be sent again." in text(b.get(OUTBOX))
        # a waiting message cannot be retried: said, and nothing changes
        refused = b.post(f"{OUTBOX}/{waiting}/retry", {}, csrf_from_url=OUTBOX)
        assert refused.status_code == 302 and refused.headers["Location"] == f"{OUTBOX}/{waiting}"
        assert "only failed messages can be retried" in text(b.get(refused.headers["Location"]))
        assert message_status(app, waiting) == ("pending", 0)

    def test_cancel(self, app, login, admin, messages):
        waiting, failed = messages
        b = login(admin)
        for message_id in (waiting, failed):
            done = b.post(f"{OUTBOX}/{message_id}/cancel", {}, csrf_from_url=OUTBOX)
            assert done.status_code == 302
            assert message_status(app, message_id)[0] == "cancelled"
        again = b.post(f"{OUTBOX}/{waiting}/cancel", {}, csrf_from_url=OUTBOX)
        assert "only messages that have not been sent can be cancelled" in text(b.get(again.headers["Location"]))
        assert b.post(f"{OUTBOX}/999999/cancel", {}, csrf_from_url=OUTBOX).status_code == 404

    def test_actions_need_the_csrf_token(self, app, login, admin, messages):
        b = login(admin)
        assert b.client.post(f"{OUTBOX}/{messages[1]}/retry").status_code == 400
        assert message_status(app, messages[1])[0] == "failed"


@pytest.mark.parametrize("role", ["agent", "supervisor"])
def test_only_admins_see_these_pages(app, login, make_user, admin, messages, role):
    b = login(make_user(role))
    with app.app_context():
        template_id = db.session.scalar(select(MessageTemplate.id).limit(1))
    for url in (TEMPLATES, NEW_TEMPLATE, f"{TEMPLATES}/{template_id}", RULES, NEW_RULE, OUTBOX,
                f"{OUTBOX}/{messages[0]}", MAIL, f"{MAIL}/000000001.eml"):
        assert b.get(url).status_code == 403, url
    for url in (NEW_TEMPLATE, NEW_RULE, f"{OUTBOX}/{messages[1]}/retry", f"{OUTBOX}/{messages[0]}/cancel"):
        assert b.post(url, {**THANKS, "save": "1"}, csrf_from_url="/").status_code == 403, url
    assert message_status(app, messages[1])[0] == "failed" and message_status(app, messages[0])[0] == "pending"
    assert count(app, MessageTemplate) == 2


# --- sent mail ------------------------------------------------------------------------------------

@pytest.fixture
def mail_dir(app, tmp_path):
    previous = app.config["CRM_MAIL_DIR"], app.config.get("CRM_SMTP_URL")
    app.config["CRM_MAIL_DIR"], app.config["CRM_SMTP_URL"] = str(tmp_path / "mail"), None
    yield tmp_path / "mail"
    app.config["CRM_MAIL_DIR"], app.config["CRM_SMTP_URL"] = previous


@pytest.fixture
def sent(app, mail_dir, messages):
    """Both messages written by the file transport, as the dispatcher writes them."""
    transport = FileTransport(str(mail_dir))
    with app.app_context():
        for message_id in messages:
            row = db.session.get(OutboxMessage, message_id)
            transport.send("crm@example.es", row.to_address,
                           f"Date: {format_datetime(NOW)}\r\n".encode() + row.message, name=f"{row.id:09d}")
    return [f"{message_id:09d}.eml" for message_id in messages]


class TestSentMail:
    def test_lists_the_files_newest_first(self, app, login, admin, sent):
        page = text(login(admin).get(MAIL))
        assert page.index("Bienvenida, María") < page.index("Gracias, María")
        assert sent[0] in page and sent[1] in page and "maria.garcia@example.es" in page

    def test_pages_read_only_their_own_files(self, app, mail_dir, sent):
        from crm.followups import mailbox

        (mail_dir / "notes.txt").write_text("not mail")
        (mail_dir / "000000999.part").write_bytes(b"half written")
        with app.test_request_context():
            first = mailbox.list_mail(str(mail_dir), page=1, per_page=1)
            second = mailbox.list_mail(str(mail_dir), page=2, per_page=1)
            assert first.total == 2 and first.has_next and not second.has_next
            assert [m.name for m in first.items + second.items] == sorted(sent, reverse=True)
            assert second.items[0].subject == "Gracias, María" and second.items[0].date == NOW
            assert mailbox.list_mail(str(mail_dir / "missing")).items == []

    def test_one_email_and_its_download(self, app, login, admin, sent):
        b = login(admin)
        page = text(b.get(f"{MAIL}/{sent[0]}"))
        assert "<h1>Gracias, María</h1>" in page and "Gracias por visitarnos." in page
        assert "<iframe sandbox srcdoc=" in page
        raw = b.get(f"{MAIL}/{sent[0]}?download=1")
        assert raw.status_code == 200 and raw.mimetype == "message/rfc822"
        assert raw.headers["Content-Disposition"] == f'attachment; filename="{sent[0]}"'
        assert raw.data.startswith(b"Date: ") and b"Subject:" in raw.data

    @pytest.mark.parametrize("name", [
        "..%2F..%2Fetc%2Fpasswd", "..", "%2e%2e", "000000001.eml%00", "000000001.eml.bak", "00000001.eml",
        "0000000001.eml", "%D9%A0%D9%A0%D9%A0%D9%A0%D9%A0%D9%A0%D9%A0%D9%A0%D9%A1.eml", "000000001.eml%0A",
        "000000404.eml",
    ])
    def test_anything_but_a_mail_file_is_not_found(self, app, login, admin, mail_dir, sent, name):
        (mail_dir.parent / "secret.eml").write_text("Subject: secret\n\nsecret")
        response = login(admin).get(f"{MAIL}/{name}")
        assert response.status_code == 404
        assert "secret" not in text(response)

    def test_with_an_smtp_server_nothing_is_listed(self, app, login, admin, sent):
        app.config["CRM_SMTP_URL"] = "smtp://mail.example.es:587?starttls=1"
        b = login(admin)
        page = text(b.get(MAIL))
        assert "SMTP server" in page and "Gracias, María" not in page
        assert b.get(f"{MAIL}/{sent[0]}").status_code == 404
