"""Follow-ups in a real browser: a customer answers the survey on a phone (tap a score, send,
thank-you), and staff use the follow-ups panel htmx loads into the customer page."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm.extensions import db
from tests.browser.conftest import TIMEOUT_MS

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

PHONE = {"width": 390, "height": 844}
OVERFLOW_JS = "() => document.documentElement.scrollWidth - window.innerWidth"


@pytest.fixture
def survey_path(app, admin, agent):
    from crm.auth.models import User
    from crm.customers.services import create_customer
    from crm.followups.render import survey_token
    from crm.followups.services import save_template, schedule_followup

    now = datetime.now(timezone.utc)
    with app.app_context():
        save_template(db.session.get(User, admin.id), {
            "code": "nps", "name": "NPS", "kind": "marketing", "survey": "nps",
            "subject_es": "¿Nos recomendarías?", "body_es": "{{ survey_url }}\n\n{{ unsubscribe_url }}",
            "subject_en": "Would you recommend us?", "body_en": "{{ survey_url }}\n\n{{ unsubscribe_url }}"}, now)
        customer = create_customer(db.session.get(User, agent.id), {
            "name": "Pablo Ruiz", "email": "pablo@example.es", "language": "en", "stage": "active",
            "marketing_consent": True}, now)
        message = schedule_followup(db.session.get(User, agent.id), {
            "customer_id": customer.id, "template": "nps"}, now)
        db.session.commit()
        return f"/s/{survey_token(message.idempotency_key)}"


def phone_page(ui):
    """A touch phone's browser; its console is watched like every other page's."""
    context = ui.browser.new_context(base_url=ui.base_url, locale="en-US", viewport=PHONE, has_touch=True,
                                     is_mobile=True, device_scale_factor=3)
    context.set_default_timeout(TIMEOUT_MS)
    ui.contexts.append(context)
    page = context.new_page()
    page.on("console", lambda msg: ui._console(page, msg))
    page.on("pageerror", lambda exc: ui.errors.append(f"{page.url}: uncaught: {exc}"))
    return page


def test_answer_the_survey_on_a_phone(app, ui, survey_path):
    from crm.followups.models import SurveyResponse

    page = phone_page(ui)
    page.goto(survey_path)
    expect(page.get_by_role("group", name="How likely are you to recommend")).to_be_visible()
    assert page.evaluate(OVERFLOW_JS) <= 0, "the survey page scrolls sideways on a phone"
    scores = page.locator(".scores label")
    expect(scores).to_have_count(11)
    # Every score is a target a thumb can hit, and they wrap onto a second row.
    boxes = [scores.nth(i).bounding_box() for i in range(11)]
    assert min(min(box["width"], box["height"]) for box in boxes) >= 44
    assert len({round(box["y"]) for box in boxes}) > 1
    assert max(box["x"] + box["width"] for box in boxes) <= PHONE["width"]
    page.locator("label[for='score-9'] span").tap()
    expect(page.get_by_role("radio", name="9")).to_be_checked()
    page.get_by_label("Anything you would like to tell us?").fill("Very kind on the phone")
    page.get_by_role("button", name="Send my answer").tap()
    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    with app.app_context():
        answer = db.session.scalar(select(SurveyResponse))
        assert (answer.kind, answer.score, answer.comment) == ("nps", 9, "Very kind on the phone")
    ui.assert_no_console_errors()


def test_the_survey_works_by_keyboard(app, ui, survey_path):
    from crm.followups.models import SurveyResponse

    page = phone_page(ui)
    page.goto(survey_path + "?score=6")
    expect(page.get_by_role("radio", name="6")).to_be_checked()
    page.get_by_role("radio", name="6").focus()
    page.keyboard.press("ArrowRight")  # native radio group: arrows move the choice
    expect(page.get_by_role("radio", name="7")).to_be_checked()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Anything you would like to tell us?")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Send my answer")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    with app.app_context():
        assert db.session.scalar(select(SurveyResponse.score)) == 7
    ui.assert_no_console_errors()


def test_staff_panel_loads_into_the_customer_page(app, ui, agent, admin):
    """The customer page's follow-ups panel arrives by htmx once it is on screen; its forms work."""
    from crm.auth.models import User
    from crm.customers.services import create_customer
    from crm.followups.models import OutboxMessage
    from crm.followups.services import save_template

    now = datetime.now(timezone.utc)
    with app.app_context():
        save_template(db.session.get(User, admin.id), {
            "code": "thanks", "name": "Thank you note", "kind": "transactional",
            "subject_es": "Gracias", "body_es": "Gracias, {{ first_name }}.",
            "subject_en": "Thanks", "body_en": "Thanks, {{ first_name }}."}, now)
        customer = create_customer(db.session.get(User, agent.id), {
            "name": "Elena Soto", "email": "elena@example.es", "stage": "active"}, now).id
        db.session.commit()
    page = ui.login(ui.new_page(), agent)
    page.goto(f"/customers/{customer}")
    panel = page.locator("#followups")
    panel.scroll_into_view_if_needed()
    expect(panel.get_by_text("No follow-up emails for this customer.")).to_be_visible()
    panel.get_by_label("Message").select_option("thanks")
    panel.get_by_role("button", name="Schedule message").click()
    expect(page.get_by_text("Message scheduled.")).to_be_visible()
    panel.scroll_into_view_if_needed()
    expect(panel.locator("tbody tr")).to_have_count(1)
    panel.get_by_role("button", name="Cancel").click()
    expect(page.get_by_text("Message cancelled.")).to_be_visible()
    with app.app_context():
        assert db.session.scalar(select(OutboxMessage.status)) == "cancelled"
    ui.assert_no_console_errors()
