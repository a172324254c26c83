"""The journey map's emotion curve in a real browser: drawn under the app's CSP (no console
error, no blocked style), named and described for assistive technology, and readable in
Spanish and English (the numbers in the language's own format)."""
from __future__ import annotations

import os
import re

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _
from playwright.sync_api import expect

from tests.services.test_journey import build_journey

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

OCTOBER = "/insights/journey?since=2026-10-01&until=2026-10-31"


@pytest.fixture
def data(app, admin, agent):
    with app.app_context():
        return build_journey(admin.id, agent.id)


def translated(app, language: str, text: str) -> str:
    with app.test_request_context(), force_locale(language):
        return _(text)


@pytest.mark.parametrize("locale, language, values", [
    ("en-US", "en", ["+1.67", "0", "-0.6", "+1.5"]),
    ("es-ES", "es", ["+1,67", "0", "-0,6", "+1,5"]),
])
def test_the_emotion_curve(app, ui, supervisor, data, locale, language, values):
    page = ui.login(ui.new_page(locale=locale), supervisor)
    page.goto(OCTOBER)
    expect(page.locator("html")).to_have_attribute("lang", language)
    chart = page.get_by_role("img", name=translated(app, language, "Emotion curve"), exact=True)
    expect(chart).to_have_count(1)
    expect(chart).to_be_visible()
    expect(chart).to_have_attribute("lang", language)
    description = translated(app, language, "Pain points: %(names)s.") % {"names": "Entrega, Reclamación"}
    expect(chart).to_have_accessible_description(re.compile(re.escape(description)))
    # the values and the names are text, in the page's number format
    expect(chart.locator("g.current text.value")).to_have_text(values)
    expect(chart.locator("text.x-label")).to_have_text(["Visita", "Entrega", "Reclamación", "Renovación", "Reseña"])
    expect(chart.locator("g.pain")).to_have_count(2)
    expect(chart.locator("polyline.previous")).not_to_have_count(0)
    # really drawn: the zero axis spans the plot, the red pain marks have a size
    box = chart.locator("line.zero-axis").bounding_box()
    assert box and box["width"] > 300
    mark = chart.locator("g.pain path").first.bounding_box()
    assert mark and mark["width"] > 8 and mark["height"] > 8
    fill = chart.locator("g.pain path").first.evaluate("el => getComputedStyle(el).fill")
    assert fill == "rgb(185, 28, 28)"
    # nothing blocked by the Content-Security-Policy (a violation is a console error)
    ui.assert_no_console_errors()
    shots = os.environ.get("CRM_SCREENSHOTS")
    if shots:  # for a person to look at: CRM_SCREENSHOTS=/tmp/shots
        os.makedirs(shots, exist_ok=True)
        page.locator("#emotion-curve-figure").screenshot(path=os.path.join(shots, f"emotion-curve-{language}.png"))
