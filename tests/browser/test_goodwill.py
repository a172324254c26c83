"""An agent grants a compensation on the spot: the form loads when its section opens (htmx)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm.extensions import db
from tests.conftest import NOW

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


@pytest.fixture
def contact(app, agent, admin, customer, moment_type):
    from crm.auth.models import User
    from crm.compensations.services import set_goodwill_limit
    from crm.moments.services import log_moment

    with app.app_context():
        log_moment(db.session.get(User, agent.id), {"customer_id": customer, "moment_type": "complaint"}, NOW)
        set_goodwill_limit(db.session.get(User, admin.id), "agent", "20", datetime.now(timezone.utc))
        db.session.commit()


def test_goodwill_form_loads_on_open_and_grants(app, ui, agent, customer, contact):
    from crm.compensations.models import Compensation

    page = ui.login(ui.new_page(locale="en-US"), agent)
    page.goto(f"/customers/{customer}")
    expect(page.locator("form[action*='/compensations/goodwill'] select")).to_have_count(0)  # not rendered yet
    page.get_by_text("Grant a compensation now").click()
    form = page.locator("form[action*='/compensations/goodwill']")
    expect(form.locator("select[name='gw-kind']")).to_be_visible()
    form.locator("select[name='gw-kind']").select_option("gift")
    form.locator("input[name='gw-value']").fill("12,50")
    form.locator("textarea[name='gw-reason']").fill("Casco de regalo por el retraso")
    form.get_by_role("button", name="Grant").click()
    expect(page.get_by_text("Compensation granted and issued.")).to_be_visible()
    expect(page.locator("#ledger-h + table")).to_contain_text("Gift")
    with app.app_context():
        granted = db.session.scalar(select(Compensation))
        assert (granted.kind, str(granted.value), granted.status) == ("gift", "12.50", "issued")
    ui.assert_no_console_errors()
