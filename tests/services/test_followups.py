"""Follow-up services: template and rule validation, planning, consent and unsubscribe."""
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from crm.auth.models import User
from crm.customers.models import Customer
from crm.customers.services import create_customer
from crm.domain import Conflict, ValidationFailed
from crm.extensions import db
from crm.followups import services
from crm.followups.dispatch import dispatch
from crm.followups.models import FollowUpRule, MessageTemplate, OutboxMessage
from crm.followups.transport import FileTransport
from crm.moments.services import log_moment
from tests.followups.conftest import PLAIN_TEMPLATE, SURVEY_TEMPLATE

WIN_BACK = {
    "code": "win-back", "name": "Win back", "kind": "marketing",
    "subject_es": "Te echamos de menos", "body_es": "Hace {{ days_quiet }} días, {{ first_name }}.",
    "subject_en": "We miss you", "body_en": "It has been {{ days_quiet }} days, {{ first_name }}.",
}
RENEWAL = {
    "code": "renewal", "name": "Renewal", "kind": "transactional",
    "subject_es": "Renovación el {{ renewal_date }}", "body_es": "Tu plan se renueva el {{ renewal_date }}.",
    "subject_en": "Renewal on {{ renewal_date }}", "body_en": "Your plan renews on {{ renewal_date }}.",
}


@pytest.fixture
def people(ctx, agent, admin):
    return {"agent": db.session.get(User, agent.id), "admin": db.session.get(User, admin.id)}


def count(*where):
    return db.session.scalar(select(func.count()).select_from(OutboxMessage).where(*where))


def new_customer(people, now, **data):
    data.setdefault("name", "Ana Torres")
    return create_customer(people["agent"], data, now)


class TestTemplates:
    def test_unknown_variables_and_bad_syntax_are_refused_per_field(self, people, now):
        data = {**PLAIN_TEMPLATE, "body_es": "Hola {{ nombre }}", "subject_en": "Hi {{ first_name "}
        with pytest.raises(ValidationFailed) as caught:
            services.save_template(people["admin"], data, now)
        fields = caught.value.fields
        assert set(fields) == {"body_es", "subject_en"}
        assert "nombre" in fields["body_es"].translated()
        assert "1: unexpected end of template" in fields["subject_en"].translated()  # "línea 1: …"
        assert db.session.scalar(select(func.count()).select_from(MessageTemplate)) == 0

    def test_both_languages_are_required_and_codes_are_unique(self, people, now):
        with pytest.raises(ValidationFailed) as caught:
            services.save_template(people["admin"], {**PLAIN_TEMPLATE, "body_en": ""}, now)
        assert set(caught.value.fields) == {"body_en"}
        services.save_template(people["admin"], PLAIN_TEMPLATE, now)
        with pytest.raises(ValidationFailed) as caught:
            services.save_template(people["admin"], {**PLAIN_TEMPLATE, "name": "Other"}, now)
        assert set(caught.value.fields) == {"code"}

    def test_survey_and_unsubscribe_rules(self, people, now):
        no_link = {**SURVEY_TEMPLATE, "body_es": "Sin enlace"}
        with pytest.raises(ValidationFailed) as caught:
            services.save_template(people["admin"], no_link, now)
        assert set(caught.value.fields) == {"body_es"}
        transactional = {**PLAIN_TEMPLATE, "body_es": "Baja: {{ unsubscribe_url }}"}
        with pytest.raises(ValidationFailed) as caught:
            services.save_template(people["admin"], transactional, now)
        assert "kind" in caught.value.fields

    def test_an_edit_may_not_break_the_rules_that_send_it(self, people, now, moment_type):
        template = services.save_template(people["admin"], PLAIN_TEMPLATE, now)
        services.save_rule(people["admin"], {"name": "After", "trigger": "after_moment", "template_id": template.id,
                                             "moment_type_id": moment_type, "days": 1}, now)
        with pytest.raises(ValidationFailed) as caught:
            services.save_template(people["admin"], {**PLAIN_TEMPLATE, "body_es": "{{ renewal_date }}"}, now,
                                   template)
        assert "renewal_date" in caught.value.fields["body_es"].translated()


class TestRules:
    def test_rule_validation(self, people, now, moment_type):
        renewal = services.save_template(people["admin"], RENEWAL, now)
        cases = [
            ({"trigger": "after_moment", "template_id": renewal.id, "days": 1}, {"moment_type_id", "template_id"}),
            ({"trigger": "after_moment", "template_id": renewal.id, "moment_type_id": moment_type, "days": 1},
             {"template_id"}),  # renewal_date: a contact cannot fill it
            ({"trigger": "before_renewal", "template_id": renewal.id, "days": 0}, {"days"}),
            ({"trigger": "before_renewal", "template_id": renewal.id, "days": -3}, {"days"}),
            ({"trigger": "sometimes", "template_id": 999, "days": "x"}, {"trigger", "template_id", "days"}),
        ]
        for data, fields in cases:
            with pytest.raises(ValidationFailed) as caught:
                services.save_rule(people["admin"], {"name": "R", **data}, now)
            assert set(caught.value.fields) == fields, data
        assert db.session.scalar(select(func.count()).select_from(FollowUpRule)) == 0
        rule = services.save_rule(people["admin"], {"name": "R", "trigger": "before_renewal",
                                                    "template_id": renewal.id, "days": 30}, now)
        assert (rule.trigger, rule.days, rule.moment_type_id) == ("before_renewal", 30, None)

    def test_a_template_that_fails_to_render_shows_on_the_rule_and_the_contact_is_still_logged(
            self, people, now, moment_type):
        # Fine with the preview's values, fails for a nine-letter name: the last safety net.
        broken = services.save_template(people["admin"], {
            **PLAIN_TEMPLATE, "body_es": "{{ 10 // (customer_name|length - 9) }}"}, now)
        rule = services.save_rule(people["admin"], {"name": "Broken", "trigger": "after_moment",
                                                    "template_id": broken.id, "moment_type_id": moment_type}, now)
        customer = new_customer(people, now, name="Ana Pérez", email="ana@example.es")
        moment = log_moment(people["agent"], {"customer_id": customer.id, "moment_type": "complaint"}, now)
        assert moment.id and count() == 0
        assert "cannot be rendered" in rule.last_error


class TestPlanning:
    def test_renewal_reminders_once_per_renewal(self, people, now):
        renewal = services.save_template(people["admin"], RENEWAL, now)
        services.save_rule(people["admin"], {"name": "R", "trigger": "before_renewal", "template_id": renewal.id,
                                             "days": 30}, now)
        soon = new_customer(people, now, name="Soon", email="soon@example.es")
        later = new_customer(people, now, name="Later", email="later@example.es")
        mute = new_customer(people, now, name="No email")
        soon.renewal_date, later.renewal_date, mute.renewal_date = (
            now.date() + timedelta(days=10), now.date() + timedelta(days=90), now.date() + timedelta(days=5))
        assert services.plan_followups(now) == 1
        assert services.plan_followups(now + timedelta(days=1)) == 0  # once per renewal
        message = db.session.scalar(select(OutboxMessage))
        assert message.customer_id == soon.id
        assert message.subject == "Renovación el " + "26 de noviembre de 2026"
        # Sixty days on, the later customer's window opens.
        assert services.plan_followups(now + timedelta(days=61)) == 1

    def test_quiet_customers_get_one_win_back_per_quiet_spell_and_only_with_consent(self, people, now,
                                                                                   moment_type):
        template = services.save_template(people["admin"], WIN_BACK, now)
        services.save_rule(people["admin"], {"name": "Q", "trigger": "inactivity", "template_id": template.id,
                                             "days": 90}, now)
        fan = new_customer(people, now, name="Fan", email="fan@example.es", marketing_consent=True,
                           stage="active")
        shy = new_customer(people, now, name="Shy", email="shy@example.es", stage="active")
        for customer in (fan, shy):
            log_moment(people["agent"], {"customer_id": customer.id, "moment_type": "complaint"}, now)
        assert services.plan_followups(now + timedelta(days=89)) == 0
        assert services.plan_followups(now + timedelta(days=91)) == 1
        assert services.plan_followups(now + timedelta(days=200)) == 0  # same quiet spell
        message = db.session.scalar(select(OutboxMessage))
        assert message.customer_id == fan.id and "91" in message.message.decode()
        # A new contact starts a new spell.
        back = now + timedelta(days=210)
        log_moment(people["agent"], {"customer_id": fan.id, "moment_type": "complaint", "occurred_at": back},
                   back)
        assert services.plan_followups(back + timedelta(days=91)) == 1
        assert count(OutboxMessage.customer_id == shy.id) == 0

    def test_a_planning_run_is_bounded(self, people, now):
        renewal = services.save_template(people["admin"], RENEWAL, now)
        services.save_rule(people["admin"], {"name": "R", "trigger": "before_renewal", "template_id": renewal.id,
                                             "days": 30}, now)
        for n in range(7):
            new_customer(people, now, name=f"C{n}", email=f"c{n}@example.es").renewal_date = date(2026, 12, 1)
        assert services.plan_followups(now, limit=5) == 5
        assert services.plan_followups(now, limit=5) == 2
        assert services.plan_followups(now, limit=5) == 0


class TestConsentAndUnsubscribe:
    def test_marketing_needs_consent_and_unsubscribing_cancels_and_sticks(self, people, now, tmp_path, app):
        services.save_template(people["admin"], SURVEY_TEMPLATE, now)
        services.save_template(people["admin"], PLAIN_TEMPLATE, now)
        customer = new_customer(people, now, email="ana@example.es")
        with pytest.raises(ValidationFailed) as caught:
            services.schedule_followup(people["agent"], {"customer_id": customer.id, "template": "survey"}, now)
        assert caught.value.fields["customer_id"].message == "the customer has not agreed to marketing email"
        customer.marketing_consent = True
        later = now + timedelta(days=1)
        for code in ("survey", "hello"):
            services.schedule_followup(people["agent"], {"customer_id": customer.id, "template": code,
                                                         "due_at": later}, now)
        assert services.unsubscribe(customer, now, how="page") == 1
        assert {m.kind: m.status for m in db.session.scalars(select(OutboxMessage))} == {
            "marketing": "cancelled", "transactional": "pending"}
        assert services.unsubscribe(customer, now, how="page") == 0  # idempotent
        customer.marketing_consent = True  # someone ticks the box again: "ever" still holds
        with pytest.raises(ValidationFailed):
            services.schedule_followup(people["agent"], {"customer_id": customer.id, "template": "survey"}, now)
        cancelled = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "marketing"))
        with pytest.raises(Conflict):
            services.retry_message(people["admin"], cancelled, now)

    def test_a_marketing_message_claimed_after_an_unsubscribe_does_not_leave(self, people, now, tmp_path, app):
        services.save_template(people["admin"], SURVEY_TEMPLATE, now)
        customer = new_customer(people, now, email="ana@example.es", marketing_consent=True)
        services.schedule_followup(people["agent"], {"customer_id": customer.id, "template": "survey"}, now)
        # Straight in the table, as a concurrent request would, without cancelling.
        db.session.execute(Customer.__table__.update().values(unsubscribed_at=now))
        db.session.commit()
        result = dispatch(FileTransport(str(tmp_path)), now)
        assert (result.sent, result.cancelled) == (0, 1)
        assert list(tmp_path.iterdir()) == []

    def test_the_file_transport_writes_one_eml_per_message(self, people, now, tmp_path):
        services.save_template(people["admin"], PLAIN_TEMPLATE, now)
        customer = new_customer(people, now, email="ana@example.es")
        message = services.schedule_followup(people["agent"], {"customer_id": customer.id, "template": "hello"},
                                             now)
        db.session.commit()
        assert dispatch(FileTransport(str(tmp_path)), now).sent == 1
        files = list(tmp_path.iterdir())
        assert [f.name for f in files] == [f"{message.id:09d}.eml"]
        assert b"Subject: Hola Ana Torres" in files[0].read_bytes()


def test_templates_that_only_fail_when_run_are_refused(people, now):
    for body in ("{% if first_name is nosuchtest %}x{% endif %}", "{{ first_name|nosuchfilter }}",
                 "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "{{ first_name.__class__ }}"):
        with pytest.raises(ValidationFailed) as caught:
            services.save_template(people["admin"], {**PLAIN_TEMPLATE, "body_es": body}, now)
        assert set(caught.value.fields) == {"body_es"}, body
    assert db.session.scalar(select(func.count()).select_from(MessageTemplate)) == 0


def test_planning_skips_unusable_addresses_without_looping(people, now):
    renewal = services.save_template(people["admin"], RENEWAL, now)
    services.save_rule(people["admin"], {"name": "R", "trigger": "before_renewal", "template_id": renewal.id,
                                         "days": 30}, now)
    for n in range(6):
        customer = new_customer(people, now, name=f"C{n}", email=f"c{n}@example.es")
        customer.renewal_date = date(2026, 12, 1)
        if n % 2:
            customer.email = "broken@@example"  # legacy data
    assert services.plan_followups(now, limit=2) == 2
    assert services.plan_followups(now, limit=2) == 1
    assert services.plan_followups(now) == 0


def test_planning_in_steps_commits_each_and_stops_at_the_cap(people, now, monkeypatch):
    from crm.followups import jobs

    renewal = services.save_template(people["admin"], RENEWAL, now)
    services.save_rule(people["admin"], {"name": "R", "trigger": "before_renewal", "template_id": renewal.id,
                                         "days": 30}, now)
    for n in range(7):
        new_customer(people, now, name=f"C{n}", email=f"c{n}@example.es").renewal_date = date(2026, 12, 1)
    commits = []
    real_commit = db.session.commit
    monkeypatch.setattr(db.session, "commit", lambda: (commits.append(1), real_commit()))
    assert jobs.plan(now, step=2, cap=5) == 5
    assert len(commits) == 3  # 2 + 2 + 1
    assert jobs.plan(now, step=2, cap=5) == 2
    assert jobs.plan(now, step=2, cap=5) == 0
