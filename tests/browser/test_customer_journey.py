"""An agent's day in the real browser: log in, create a customer, log a complaint,
see its commitments on the timeline and on the home page."""
from __future__ import annotations

import re
from datetime import timedelta, timezone

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm.extensions import db
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

SCREENSHOT = "/tmp/customer-page.png"


def test_agent_creates_customer_logs_complaint_and_sees_commitments(app, ui, agent, moment_type):
    from crm.customers.models import Customer
    from crm.moments.models import Commitment, Moment

    page = ui.new_page(locale="en-US")

    # Log in through /login: the page follows the browser's language (English here).
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    page.get_by_label("Email").fill(agent.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("article.login").get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Hello, {agent.name}")
    expect(page.get_by_text("You have no open commitments.")).to_be_visible()

    # New customer.
    page.get_by_role("link", name="Customers").click()
    page.get_by_role("button", name="New customer").click()  # a link styled as a button
    expect(page.get_by_role("heading", level=1)).to_have_text("New customer")
    page.locator("#name").fill("Rosa Delgado Ferrer")
    page.locator("#email").fill("rosa.delgado@example.es")
    page.locator("#phone").fill("+34 600 111 222")
    page.get_by_role("button", name="Save").click()

    expect(page).to_have_url(re.compile(r"/customers/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Rosa Delgado Ferrer")
    expect(page.get_by_role("status")).to_contain_text("Customer created.")
    customer_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("dl.facts")).to_contain_text("rosa.delgado@example.es")

    # Log a contact: the complaint type, notes and one face in the emotion picker.
    form = page.locator("form#log-moment")
    form.get_by_label("What happened").select_option("complaint")
    form.get_by_label("Notes").fill("Invoice charged twice; promised a call back.")
    picker = form.locator(".emotion-picker")
    expect(picker.locator("input[type=radio]")).to_have_count(5)
    unhappy = picker.locator("label").filter(has=page.locator("input[value='-1']"))
    unhappy.click()
    expect(picker.locator("input[value='-1']")).to_be_checked()
    form.get_by_role("button", name="Log contact").click()

    expect(page).to_have_url(re.compile(rf"/customers/{customer_id}$"))
    expect(page.get_by_role("status")).to_contain_text("Contact logged. 2 commitments created.")
    entry = page.locator("#timeline li.kind-moment")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text("Reclamación")
    expect(entry).to_contain_text("Invoice charged twice; promised a call back.")
    commitments = entry.locator("ul.commitments > li")
    expect(commitments).to_have_count(2)
    expect(commitments.nth(0)).to_contain_text("First response")
    expect(commitments.nth(1)).to_contain_text("Resolution")
    for i in range(2):
        expect(commitments.nth(i).locator("mark.badge")).to_have_text("Open")
        expect(commitments.nth(i).get_by_role("button", name="Mark met")).to_be_visible()
    expect(entry.locator(".emotion-picker button[aria-pressed='true']")).to_have_attribute("value", "-1")
    page.screenshot(path=SCREENSHOT, full_page=True)

    with app.app_context():
        customer = db.session.get(Customer, customer_id)
        assert (customer.name, customer.email, customer.phone, customer.tier) == (
            "Rosa Delgado Ferrer", "rosa.delgado@example.es", "+34 600 111 222", "standard")
        moment = db.session.scalars(select(Moment).where(Moment.customer_id == customer_id)).one()
        assert moment.moment_type_id == moment_type
        assert moment.emotion == -1
        assert moment.staff_id == agent.id
        rows = {c.kind: c for c in db.session.scalars(
            select(Commitment).where(Commitment.moment_id == moment.id))}
        assert set(rows) == {"first_response", "resolution"}
        for kind, hours in (("first_response", 4), ("resolution", 48)):
            c = rows[kind]
            assert (c.status, c.owner_id, c.customer_id) == ("open", agent.id, customer_id)
            assert _utc(c.due_at) - _utc(c.starts_at) == timedelta(hours=hours)
        db.session.remove()

    # The home page lists both open commitments, first response (due sooner) first.
    page.get_by_role("link", name="My work").click()
    expect(page).to_have_url(re.compile(r"/$"))
    rows = page.locator("main table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("First response")
    expect(rows.nth(1)).to_contain_text("Resolution")
    for i in range(2):
        expect(rows.nth(i)).to_contain_text("Rosa Delgado Ferrer")
        expect(rows.nth(i)).to_contain_text("Reclamación")
        expect(rows.nth(i).locator("mark.badge")).to_have_text("Open")
    expect(rows.nth(0).get_by_role("link", name="Rosa Delgado Ferrer")).to_have_attribute(
        "href", f"/customers/{customer_id}")

    ui.assert_no_console_errors()


def _utc(value):
    """SQLite hands back naive datetimes; compare instants either way."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
