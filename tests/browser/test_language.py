"""The language switch in the nav: anyone can use it, and a logged-in user's choice
is kept in their profile, so it follows them to a new browser.

The Spanish catalog is still being translated, so Spanish pages are recognised by
their <html lang> and the switch's label (always "English" there), not by their text.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from crm.extensions import db

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def _switch(page):
    return page.locator("form#language-form button")


def expect_spanish(page):
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(_switch(page)).to_have_text("English")
    expect(_switch(page)).to_have_attribute("value", "en")


def expect_english(page):
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(_switch(page)).to_have_text("Español")
    expect(_switch(page)).to_have_attribute("value", "es")


def stored_locale(app, user_id):
    from crm.auth.models import User

    with app.app_context():
        locale = db.session.get(User, user_id).locale
        db.session.remove()
        return locale


def test_language_switch_for_visitors(ui):
    page = ui.new_page(locale="es-ES")
    page.goto("/login")
    expect_spanish(page)

    _switch(page).click()
    expect(page).to_have_url(re.compile(r"/login\??$"))  # back where the switch was used
    expect_english(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")

    _switch(page).click()
    expect_spanish(page)
    ui.assert_no_console_errors()


def test_language_choice_is_kept_in_the_profile(app, ui, agent):
    assert stored_locale(app, agent.id) is None
    page = ui.login(ui.new_page(locale="es-ES"), agent)
    expect_spanish(page)  # no choice yet: the browser's language

    page.goto("/customers")
    _switch(page).click()
    expect(page).to_have_url(re.compile(r"/customers\??$"))
    expect_english(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Customers")
    assert stored_locale(app, agent.id) == "en"

    # A new browser that asks for Spanish: the login page follows the browser, but
    # once logged in the profile's English wins.
    page = ui.new_page(locale="es-ES")
    page.goto("/login")
    expect_spanish(page)
    ui.login(page, agent)
    expect_english(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Hello, {agent.name}")

    # And back to Spanish, which a browser asking for English then gets after login.
    _switch(page).click()
    expect_spanish(page)
    assert stored_locale(app, agent.id) == "es"
    page = ui.login(ui.new_page(locale="en-US"), agent)
    expect_spanish(page)
    ui.assert_no_console_errors()
