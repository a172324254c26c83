"""One click on a face of a timeline entry records the customer's emotion in place (htmx)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.extensions import db
from tests.conftest import NOW

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

DUPLICATE_IDS_JS = """() => {
  const seen = {};
  for (const el of document.querySelectorAll('[id]')) (seen[el.id] ||= []).push(el.tagName);
  return Object.entries(seen).filter(([, tags]) => tags.length > 1).map(([id, tags]) => `${id}: ${tags}`);
}"""


@pytest.fixture
def moment_id(app, agent, customer, moment_type):
    from crm.auth.models import User
    from crm.moments.services import log_moment

    with app.app_context():
        moment = log_moment(db.session.get(User, agent.id), {
            "customer_id": customer, "moment_type": "complaint", "notes": "Late delivery",
            "emotion": 0}, NOW)
        db.session.commit()
        return moment.id


def test_one_click_emotion_updates_in_place(app, ui, agent, customer, moment_id):
    from crm.moments.models import Moment

    page = ui.login(ui.new_page(locale="en-US"), agent)
    page.goto(f"/customers/{customer}")
    # htmx targets the picker by id: an id used twice on the page swaps the wrong element.
    assert page.evaluate(DUPLICATE_IDS_JS) == [], "duplicate ids on the customer page"
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    picker = page.locator(f"#moment-{moment_id} .emotion-picker")
    pressed = picker.locator("button[aria-pressed='true']")
    expect(picker.get_by_role("button")).to_have_count(5)
    expect(pressed).to_have_count(1)
    expect(pressed).to_have_attribute("value", "0")

    for value, name in ((2, "Delighted"), (-2, "Very unhappy")):  # twice: the swapped-in faces work too
        with page.expect_response(lambda r: r.url.endswith(f"/moments/{moment_id}/emotion")) as answer:
            picker.get_by_role("button", name=name, exact=True).click()
        response = answer.value
        assert response.status == 200
        assert response.request.headers.get("hx-request") == "true", "not an htmx request"
        expect(pressed).to_have_count(1)
        expect(pressed).to_have_attribute("value", str(value))
        expect(pressed).to_have_accessible_name(name)
        expect(picker.locator("button[aria-pressed='false']")).to_have_count(4)
        with app.app_context():
            assert db.session.get(Moment, moment_id).emotion == value
            db.session.remove()

    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    expect(page).to_have_url(f"{ui.base_url}/customers/{customer}")
    # The rest of the page is untouched: the log form keeps its own five faces.
    expect(page.locator("#log-moment .emotion-picker input[type=radio]")).to_have_count(5)
    expect(page.locator("#timeline .emotion-picker")).to_have_count(1)
    ui.assert_no_console_errors()
