"""Accessibility in the real browser: axe-core (npm, tests/browser/axe/, installed by
scripts/ensure-axe.sh) on the main pages finds no serious or critical violation, and every
form on them can be filled and sent with the keyboard alone, its focus visible."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}
# axe rules switched off, each with its reason. (None so far: violations are fixed in the templates.)
DISABLED_RULES: dict[str, str] = {}

PUBLIC_PAGES = ["/login", "/s/{survey_token}"]
# Not here: /customers/<id>/log-details, an htmx fragment of the customer page (checked within it).
STAFF_PAGES = [
    "/", "/customers", "/customers?q=Mar%C3%ADa", "/customers/new", "/customers/{customer_id}",
    "/customers/{customer_id}/edit", "/commitments", "/compensations",
    "/compensations/goodwill/{customer_id}", "/insights/", "/insights/journey", "/insights/metrics",
    "/insights/profitability", "/insights/blueprint", "/admin", "/admin/users", "/admin/users/new",
    "/admin/teams", "/admin/teams/new", "/admin/moment-types", "/admin/moment-types/{type_id}",
    "/admin/calendars", "/admin/calendars/{calendar_id}", "/admin/compensation-policies",
    "/admin/compensation-policies/new", "/admin/lifecycle-rules", "/admin/followups/templates",
    "/admin/followups/rules", "/admin/followups/outbox", "/imports/", "/imports/{run_id}", "/exports",
    "/admin/webhooks", "/admin/webhooks/new", "/account", "/feeds",
]


# The pages' CSP forbids inline scripts (rightly): the test's context lets axe in.
def axe_violations(page) -> list[str]:
    if not AXE.exists():  # never a skip
        pytest.fail(f"axe-core is missing at {AXE}: run scripts/ensure-axe.sh (make test does)", pytrace=False)
    page.add_script_tag(path=str(AXE))
    rules = {rule: {"enabled": False} for rule in DISABLED_RULES}
    result = page.evaluate("rules => axe.run(document, {resultTypes: ['violations'], rules})", rules)
    found = []
    for violation in result["violations"]:
        if violation["impact"] in BLOCKING:
            targets = "; ".join(" ".join(node["target"]) for node in violation["nodes"][:4])
            found.append(f"{page.url}: {violation['impact']} {violation['id']}: {violation['help']} — {targets}")
    return found


def visit_all(ui, page, urls, ids) -> list[str]:
    found = []
    for url in urls:
        response = page.goto(url.format(**ids))
        assert response.status == 200, (url, response.status)
        found += axe_violations(page)
    return found


def test_main_pages_have_no_serious_accessibility_violation(ui, admin, ids):
    anonymous = ui.new_page(locale="es-ES", bypass_csp=True)
    found = visit_all(ui, anonymous, PUBLIC_PAGES, ids)
    staff = ui.login(ui.new_page(locale="es-ES", bypass_csp=True), admin)
    found += visit_all(ui, staff, STAFF_PAGES, ids)
    assert found == [], "\n".join(found)


# --- keyboard ------------------------------------------------------------------------------------

RECORD_FOCUS = """() => {
  window.__stops = [];
  document.addEventListener('focusin', event => {
    const el = event.target, style = getComputedStyle(el);
    const ring = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
    const shadow = !!style.boxShadow && style.boxShadow !== 'none';
    window.__stops.push({tag: el.tagName.toLowerCase(), name: el.getAttribute('name'), type: el.getAttribute('type'),
                         form: el.form ? (el.form.id || el.form.getAttribute('action') || '') : null,
                         visible: ring || shadow});
  }, true);
  const parts = {date: 3, time: 3, 'datetime-local': 6, month: 2, week: 2};  // each part is a Tab stop
  return [...document.querySelectorAll('a[href], button, input, select, textarea, summary, [tabindex]')]
    .filter(el => el.tabIndex >= 0 && !el.disabled && el.offsetParent !== null
                  && !el.closest('details:not([open]) > :not(summary)'))
    .reduce((stops, el) => stops + (parts[el.type] || 1), 0);
}"""


def load_lazy_panels(page) -> None:
    """Scroll to each panel htmx loads once it is on screen (`hx-trigger="intersect once"`) and
    wait until its own content replaced the fallback link. Without this the walk raced the panels:
    Tab scrolled them into view half-way round, and on a slow machine they arrived after it."""
    from playwright.sync_api import expect
    for panel in page.locator('[hx-trigger*="intersect"]').all():
        panel.scroll_into_view_if_needed()
        expect(panel.locator(f':scope > a[href="{panel.get_attribute("hx-get")}"]')).to_have_count(0, timeout=30_000)
    page.evaluate("() => window.scrollTo(0, 0)")


def tab_through(page) -> list[dict]:
    """Every element Tab stops on, once round the page (date and time fields stop once per part)."""
    page.wait_for_load_state("networkidle")  # panels htmx loads after the page
    load_lazy_panels(page)
    focusable = page.evaluate(RECORD_FOCUS)
    page.locator("body").focus()
    for _ in range(2 * focusable + 10):  # a margin: browsers differ in the parts a field has
        page.keyboard.press("Tab")
    return page.evaluate("() => window.__stops")


def form_controls(page) -> list[dict]:
    """The form fields a keyboard user must reach: those folded in a closed <details> count once
    their <summary> is reached (Enter opens it: see the keyboard-alone test below)."""
    return page.evaluate("""() => [...document.querySelectorAll('form')].flatMap(form =>
      [...form.elements].filter(el => !el.disabled && el.type !== 'hidden' && el.offsetParent !== null
                                      && el.tabIndex >= 0 && !el.closest('details:not([open])'))
        .map(el => ({tag: el.tagName.toLowerCase(), name: el.getAttribute('name'), type: el.getAttribute('type'),
                     form: form.id || form.getAttribute('action') || ''})))""")


def test_every_form_on_the_main_pages_is_reachable_by_keyboard_with_visible_focus(ui, admin, ids):
    problems = []
    anonymous = ui.new_page(locale="es-ES", bypass_csp=True)
    staff = ui.login(ui.new_page(locale="es-ES", bypass_csp=True), admin)
    for page, urls in ((anonymous, PUBLIC_PAGES), (staff, STAFF_PAGES)):
        for url in urls:
            page.goto(url.format(**ids))
            stops = tab_through(page)
            reached = {(s["form"], s["name"], s["tag"]) for s in stops}
            for control in form_controls(page):
                if control["type"] == "radio":  # a radio group is one Tab stop; arrows move inside it
                    continue
                if (control["form"], control["name"], control["tag"]) not in reached:
                    problems.append(f"{url}: Tab never reaches {control}")
            summaries = page.locator("details:not([open]) > summary").count()
            if summaries and sum(s["tag"] == "summary" for s in stops) < summaries:
                problems.append(f"{url}: Tab skips a folded section's <summary>")
            problems += [f"{url}: focus not visible on {s}" for s in stops if not s["visible"]]
    assert problems == [], "\n".join(problems)


def test_the_login_and_a_customer_are_done_by_keyboard_alone(app, ui, admin):
    """Tab and type and Enter: log in, then create a customer (opening its folded section and
    choosing a stage), without touching the mouse."""
    from sqlalchemy import select

    from crm.customers.models import Customer
    from crm.extensions import db
    from tests.conftest import PASSWORD

    page = ui.new_page(locale="en-US")
    page.goto("/login")
    page.locator("body").focus()
    typed = {"email": admin.email, "password": PASSWORD}
    for _ in range(30):
        page.keyboard.press("Tab")
        name = page.evaluate("() => document.activeElement.getAttribute('name')")
        if name in typed:
            page.keyboard.type(typed.pop(name))
        if not typed:
            break
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/$"))

    page.goto("/customers/new")
    page.locator("body").focus()
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.getAttribute('name')") == "name":
            break
    page.keyboard.type("Teclado Sin Ratón")
    for _ in range(10):  # on to the folded "More" section: Enter opens it, its fields follow
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.tagName") == "SUMMARY":
            break
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.getAttribute('name')") == "stage"
    default = page.evaluate("() => document.activeElement.value")
    page.keyboard.press("ArrowDown")  # a select changes by arrow keys
    chosen = page.evaluate("() => document.activeElement.value")
    assert chosen != default
    for _ in range(30):  # on to the form's own button
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.type === 'submit' && !!document.activeElement.form"
                         " && document.activeElement.form.querySelector('[name=stage]') !== null"):
            break
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/customers/\d+$"))
    assert page.locator("h1").inner_text() == "Teclado Sin Ratón"
    with app.app_context():
        saved = db.session.scalar(select(Customer).where(Customer.name == "Teclado Sin Ratón"))
        assert saved is not None and saved.stage == chosen
    ui.assert_no_console_errors()
