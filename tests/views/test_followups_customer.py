"""Staff and a customer's follow-ups: the panel, one-off messages, cancelling; survey
answers in the timeline; the renewal date."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select

from crm.customers.models import Customer
from crm.domain import ValidationFailed
from crm.extensions import db
from crm.followups.models import OutboxMessage
from tests.views.test_followups_public import template_data


def text(response) -> str:
    return response.get_data(as_text=True)


def count(model=OutboxMessage) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def templates(app, admin):
    from crm.auth.models import User
    from crm.followups.services import save_template

    now = datetime.now(timezone.utc)
    with app.app_context():
        actor = db.session.get(User, admin.id)
        save_template(actor, template_data("thanks", survey=None, kind="transactional"), now)
        save_template(actor, template_data("nps", survey="nps"), now)
        old = save_template(actor, template_data("retired", survey=None, kind="transactional"), now)
        old.active = False
        db.session.commit()


def schedule(app, agent_id: int, customer_id: int, code: str = "thanks", due_at=None) -> int:
    from crm.auth.models import User
    from crm.followups.services import schedule_followup

    with app.app_context():
        message = schedule_followup(db.session.get(User, agent_id), {
            "customer_id": customer_id, "template": code, "due_at": due_at}, datetime.now(timezone.utc))
        db.session.commit()
        return message.id


def local_input(instant: datetime, app) -> str:
    """What a datetime-local input sends for an instant, in the business's zone."""
    return instant.astimezone(ZoneInfo(app.config["BABEL_DEFAULT_TIMEZONE"])).strftime("%Y-%m-%dT%H:%M")


HTMX = {"HX-Request": "true"}


class TestPanel:
    def test_the_customer_page_loads_the_panel_separately(self, login, agent, customer, templates):
        page = text(login(agent).get(f"/customers/{customer}"))
        assert f'hx-get="/customers/{customer}/followups"' in page
        assert "Schedule message" not in page  # not rendered with the page itself

    def test_panel_lists_messages_with_a_cancel_button_for_waiting_ones(self, app, login, agent, customer,
                                                                       templates):
        first = schedule(app, agent.id, customer)
        second = schedule(app, agent.id, customer, due_at=datetime.now(timezone.utc) + timedelta(days=2))
        with app.app_context():
            db.session.get(OutboxMessage, first).status = "sent"
            db.session.get(OutboxMessage, first).sent_at = datetime.now(timezone.utc)
            db.session.commit()
        fragment = login(agent).get(f"/customers/{customer}/followups", headers=HTMX)
        html = text(fragment)
        assert fragment.status_code == 200 and "<html" not in html
        assert f'id="followup-{first}"' in html and f'id="followup-{second}"' in html
        assert html.index(f'id="followup-{second}"') < html.index(f'id="followup-{first}"')  # newest due first
        assert "Template thanks" in html and "Sent" in html and "Waiting" in html
        assert f"/followups/{second}/cancel" in html and f"/followups/{first}/cancel" not in html
        # only the templates in use are offered
        assert 'value="thanks"' in html and 'value="nps"' in html and 'value="retired"' not in html
        full = text(login(agent).get(f"/customers/{customer}/followups"))
        assert "<html" in full and "Log out" in full and f'id="followup-{second}"' in full

    def test_the_panel_costs_the_same_few_queries_however_many_messages(self, app, login, agent, customer,
                                                                        templates):
        b = login(agent)

        def queries() -> int:
            statements = []

            def seen(*_args):
                statements.append(1)

            with app.app_context():
                engine = db.engine
            event.listen(engine, "before_cursor_execute", seen)
            try:
                assert b.get(f"/customers/{customer}/followups", headers=HTMX).status_code == 200
            finally:
                event.remove(engine, "before_cursor_execute", seen)
            return len(statements)

        schedule(app, agent.id, customer)
        few = queries()
        for _ in range(14):
            schedule(app, agent.id, customer)
        assert queries() == few <= 6

    def test_anonymous_and_unknown_customers(self, app, client, login, agent, customer, templates):
        response = client.get(f"/customers/{customer}/followups")
        assert response.status_code == 302 and "/login" in response.headers["Location"]
        assert login(agent).get("/customers/987654/followups").status_code == 404

    def test_no_email_no_form(self, app, login, agent, customer, templates):
        with app.app_context():
            db.session.get(Customer, customer).email = None
            db.session.commit()
        html = text(login(agent).get(f"/customers/{customer}/followups", headers=HTMX))
        assert "Add an email address" in html and "Schedule message" not in html


class TestSchedule:
    def post(self, b, customer, **data):
        data = {f"fu-{k}": v for k, v in data.items()}
        return b.post(f"/customers/{customer}/followups", data, csrf_from_url=f"/customers/{customer}/followups")

    def test_schedule_a_message_for_later_in_local_time(self, app, login, agent, customer, templates):
        b = login(agent)
        when = (datetime.now(timezone.utc) + timedelta(days=3)).replace(second=0, microsecond=0)
        done = self.post(b, customer, template="thanks", due_at=local_input(when, app))
        assert done.status_code == 302 and done.headers["Location"] == f"/customers/{customer}"
        assert "Message scheduled." in text(b.get(done.headers["Location"]))
        with app.app_context():
            message = db.session.scalar(select(OutboxMessage))
            assert message.due_at == when and message.due_at.tzinfo is not None
            assert (message.customer_id, message.created_by_id, message.status) == (customer, agent.id, "pending")
            assert message.template.code == "thanks" and message.to_address == "maria.garcia@example.es"

    def test_without_an_instant_it_is_due_now(self, app, login, agent, customer, templates):
        before = datetime.now(timezone.utc)
        self.post(login(agent), customer, template="thanks", due_at="")
        with app.app_context():
            due = db.session.scalar(select(OutboxMessage.due_at))
            assert before <= due <= datetime.now(timezone.utc)

    @pytest.mark.parametrize("shift, fragment", [
        (-timedelta(hours=2), "must be between now and a year from now"),
        (timedelta(days=400), "must be between now and a year from now")])
    def test_past_or_far_future_instants_are_refused(self, app, login, agent, customer, templates, shift,
                                                      fragment):
        b = login(agent)
        done = self.post(b, customer, template="thanks", due_at=local_input(datetime.now(timezone.utc) + shift, app))
        assert done.status_code == 302
        page = text(b.get(done.headers["Location"]))
        assert "Send at: " + fragment in page
        with app.app_context():
            assert count() == 0

    @pytest.mark.parametrize("data, fragment", [
        ({"template": "nope", "due_at": ""}, "Message: no such template"),
        ({"template": "retired", "due_at": ""}, "Message: this template is no longer in use"),
        ({"template": "", "due_at": ""}, "Message: no such template"),
        ({"template": "thanks", "due_at": "tomorrow"}, "Send at:"),
        ({"template": "thanks", "due_at": "2026-02-30T10:00"}, "Send at:")])
    def test_bad_input_is_a_visible_error_and_writes_nothing(self, app, login, agent, customer, templates, data,
                                                             fragment):
        b = login(agent)
        done = self.post(b, customer, **data)
        assert done.status_code == 302
        page = text(b.get(done.headers["Location"]))
        assert "flash-error" in page and fragment in page
        with app.app_context():
            assert count() == 0

    def test_a_customer_without_email_is_refused(self, app, login, agent, customer, templates):
        with app.app_context():
            db.session.get(Customer, customer).email = None
            db.session.commit()
        b = login(agent)
        page = text(b.get(self.post(b, customer, template="thanks").headers["Location"]))
        assert "Customer: the customer has no email address" in page
        with app.app_context():
            assert count() == 0

    def test_marketing_needs_consent(self, app, login, agent, customer, templates):
        b = login(agent)
        page = text(b.get(self.post(b, customer, template="nps").headers["Location"]))
        assert "has not agreed to marketing email" in page
        with app.app_context():
            assert count() == 0

    def test_scheduling_needs_a_login_and_csrf(self, app, client, login, agent, customer, templates):
        refused = client.post(f"/customers/{customer}/followups", data={"fu-template": "thanks"})
        assert refused.status_code in (302, 400)
        b = login(agent)
        assert b.client.post(f"/customers/{customer}/followups", data={"fu-template": "thanks"}).status_code == 400
        with app.app_context():
            assert count() == 0


class TestCancel:
    def test_cancel_a_waiting_message(self, app, login, agent, customer, templates):
        message_id = schedule(app, agent.id, customer)
        b = login(agent)
        done = b.post(f"/followups/{message_id}/cancel", csrf_from_url=f"/customers/{customer}")
        assert done.status_code == 302 and done.headers["Location"] == f"/customers/{customer}"
        assert "Message cancelled." in text(b.get(done.headers["Location"]))
        with app.app_context():
            message = db.session.get(OutboxMessage, message_id)
            assert message.status == "cancelled" and message.cancelled_at is not None

    def test_a_sent_message_cannot_be_cancelled(self, app, login, agent, customer, templates):
        message_id = schedule(app, agent.id, customer)
        with app.app_context():
            db.session.get(OutboxMessage, message_id).status = "sent"
            db.session.commit()
        b = login(agent)
        done = b.post(f"/followups/{message_id}/cancel", csrf_from_url=f"/customers/{customer}")
        assert "only messages that have not been sent can be cancelled" in text(b.get(done.headers["Location"]))
        with app.app_context():
            assert db.session.get(OutboxMessage, message_id).status == "sent"

    def test_anonymous_unknown_and_without_csrf(self, app, client, login, agent, customer, templates):
        message_id = schedule(app, agent.id, customer)
        assert client.post(f"/followups/{message_id}/cancel").status_code in (302, 400)
        b = login(agent)
        assert b.client.post(f"/followups/{message_id}/cancel").status_code == 400
        assert b.post("/followups/987654/cancel", csrf_from_url=f"/customers/{customer}").status_code == 404
        with app.app_context():
            assert db.session.get(OutboxMessage, message_id).status == "pending"


class TestTimeline:
    def test_survey_answers_appear_in_the_timeline(self, app, login, agent, supervisor, customer, templates):
        from crm.auth.models import User
        from crm.followups.render import survey_token
        from crm.followups.services import answer_survey

        with app.app_context():
            db.session.get(Customer, customer).marketing_consent = True
            db.session.commit()
        happy, unhappy = schedule(app, agent.id, customer, "nps"), schedule(app, agent.id, customer, "nps")
        now = datetime.now(timezone.utc)
        with app.app_context():
            assert db.session.get(User, supervisor.id) is not None
            for message_id, score, comment, at in ((happy, 10, "", now), (unhappy, 3, "Tardaron mucho",
                                                                         now + timedelta(minutes=1))):
                token = survey_token(db.session.get(OutboxMessage, message_id).idempotency_key)
                answer_survey(token, {"score": str(score), "comment": comment}, at)
            db.session.commit()
        html = text(login(agent).get(f"/customers/{customer}"))
        assert "NPS survey answer: 10" in html and "NPS survey answer: 3" in html
        assert "Tardaron mucho" in html
        assert html.count("Detractor</mark>") == 1
        assert html.index("NPS survey answer: 3") < html.index("NPS survey answer: 10")  # newest first
        assert "rule: Detractor survey answer" in html  # the stage change the answer caused, by its rule

    def test_the_timeline_pages_over_survey_answers_too(self, app, ctx, agent, customer, templates):
        from crm.customers.services import get_customer, timeline
        from crm.followups.models import SurveyResponse

        now = datetime.now(timezone.utc)
        messages = [schedule(app, agent.id, customer) for _ in range(3)]
        for i, message_id in enumerate(messages):
            db.session.add(SurveyResponse(outbox_id=message_id, customer_id=customer, kind="csat", score=4,
                                          comment="", answered_at=now + timedelta(minutes=i)))
        db.session.flush()
        page = timeline(get_customer(customer), per_page=2)
        assert [kind for kind, _ in page.items] == ["survey", "survey"] and page.has_next
        assert [item.outbox_id for _, item in page.items] == [messages[2], messages[1]]


class TestRenewalDate:
    def edit(self, b, customer, renewal):
        form = text(b.get(f"/customers/{customer}/edit"))
        assert 'name="renewal_date"' in form and 'type="date"' in form
        return b.post(f"/customers/{customer}/edit", {
            "name": "María García Núñez", "email": "maria.garcia@example.es", "loyalty": "occasional",
            "tier": "standard", "language": "es", "owner_id": "0", "renewal_date": renewal},
            csrf_from_url=f"/customers/{customer}/edit")

    def renewal(self, app, customer):
        with app.app_context():
            return db.session.get(Customer, customer).renewal_date

    def test_set_show_and_clear(self, app, login, agent, customer):
        b = login(agent)
        done = self.edit(b, customer, "2027-03-01")
        assert done.status_code == 302
        assert self.renewal(app, customer) == date(2027, 3, 1)
        page = text(b.get(f"/customers/{customer}"))
        assert "March 1, 2027" in page
        assert 'value="2027-03-01"' in text(b.get(f"/customers/{customer}/edit"))
        assert self.edit(b, customer, "").status_code == 302
        assert self.renewal(app, customer) is None

    @pytest.mark.parametrize("bad", ["2027-02-30", "next year", "01/03/2027", "2027-3-1x"])
    def test_bad_dates_are_refused_on_the_field(self, app, login, agent, customer, bad):
        b = login(agent)
        self.edit(b, customer, "2027-03-01")
        refused = self.edit(b, customer, bad)
        assert refused.status_code == 400
        assert 'id="renewal_date-error"' in text(refused) and "is not a valid date" in text(refused)
        assert self.renewal(app, customer) == date(2027, 3, 1)

    def test_the_service_takes_dates_and_iso_strings_only(self, app, ctx, agent, customer):
        from crm.auth.models import User
        from crm.customers.services import create_customer, get_customer, update_customer

        actor = db.session.get(User, agent.id)
        now = datetime.now(timezone.utc)
        row = get_customer(customer)
        assert update_customer(actor, row, {"renewal_date": "2027-06-30"}, now).renewal_date == date(2027, 6, 30)
        assert update_customer(actor, row, {"renewal_date": date(2028, 1, 2)}, now).renewal_date == date(2028, 1, 2)
        for bad in ("2027-02-30", "30/06/2027", "20270630", "٢٠٢٧-٠٦-٣٠", 20270630, True, ["2027-06-30"],
                    datetime(2027, 6, 30, tzinfo=timezone.utc)):
            with pytest.raises(ValidationFailed) as failed:
                update_customer(actor, row, {"renewal_date": bad}, now)
            assert set(failed.value.fields) == {"renewal_date"}
        assert get_customer(customer).renewal_date == date(2028, 1, 2)
        assert update_customer(actor, row, {"renewal_date": None}, now).renewal_date is None
        created = create_customer(actor, {"name": "Con renovación", "renewal_date": "2027-01-15"}, now)
        assert created.renewal_date == date(2027, 1, 15)
        assert create_customer(actor, {"name": "Sin renovación"}, now).renewal_date is None


def test_the_panel_offers_only_templates_a_person_can_send(app, login, agent, admin, customer):
    from crm.auth.models import User
    from crm.extensions import db
    from crm.followups.services import save_template
    from tests.conftest import NOTICE_TEMPLATE, NOW
    from tests.followups.conftest import PLAIN_TEMPLATE

    with app.app_context():
        actor = db.session.get(User, admin.id)
        save_template(actor, PLAIN_TEMPLATE, NOW)
        save_template(actor, NOTICE_TEMPLATE, NOW)  # needs a compensation: only a rule sends it
        db.session.commit()
    page = login(agent).get(f"/customers/{customer}/followups").get_data(as_text=True)
    assert 'value="hello"' in page and 'value="compensation-notice"' not in page
