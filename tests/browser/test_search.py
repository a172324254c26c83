"""The customer list searches as you type (htmx), without submitting the form."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from crm.extensions import db
from tests.conftest import NOW

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


@pytest.fixture
def other_customer(app, agent):
    from crm.auth.models import User
    from crm.customers.services import create_customer

    with app.app_context():
        c = create_customer(db.session.get(User, agent.id), {
            "name": "Pedro Sánchez Ruiz", "email": "pedro.sanchez@example.es", "phone": "+34 699 000 111",
            "company": "Ferretería Ruiz", "stage": "active"}, NOW)
        db.session.commit()
        return c.id


def test_type_ahead_search_updates_results(ui, agent, customer, other_customer):
    page = ui.login(ui.new_page(locale="en-US"), agent)
    page.goto("/customers")
    results = page.locator("#results")
    expect(results).to_contain_text("2 customers")
    expect(results.locator("tbody tr")).to_have_count(2)
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    with page.expect_response(lambda r: "/customers?" in r.url and "q=talleres" in r.url) as answer:
        page.locator("#q").press_sequentially("talleres", delay=20)
    assert answer.value.request.headers.get("hx-request") == "true", "not an htmx request"

    expect(results.locator("tbody tr")).to_have_count(1)
    expect(results).to_contain_text("1 customer")
    match = results.get_by_role("link", name="María García Núñez")
    expect(match).to_be_visible()
    expect(match).to_have_attribute("href", f"/customers/{customer}")
    expect(results).not_to_contain_text("Pedro Sánchez Ruiz")
    expect(page.locator("#q")).to_have_value("talleres")  # the box was not replaced
    expect(page).to_have_url(re.compile(r"/customers\?.*q=talleres"))  # hx-push-url
    assert page.evaluate("window.__sameDocument") is True, "the form was submitted (full page load)"

    # Clearing the box brings everyone back; a miss offers to create a customer.
    page.locator("#q").fill("")
    expect(results.locator("tbody tr")).to_have_count(2)
    page.locator("#q").press_sequentially("zzzz", delay=20)
    expect(results).to_contain_text("No customer matches.")
    expect(results.get_by_role("link", name="Create one")).to_have_attribute("href", "/customers/new")
    assert page.evaluate("window.__sameDocument") is True
    ui.assert_no_console_errors()
