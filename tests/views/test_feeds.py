"""The calendar page (create, regenerate, revoke, shown once) and the public .ics address."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from crm.auth.models import User
from crm.extensions import db
from crm.feeds.models import CalendarFeed

URL_RE = re.compile(r'id="feed-url">http://127\.0\.0\.1:5000/feeds/([A-Za-z0-9_-]{43})\.ics<')


def text(response) -> str:
    return response.get_data(as_text=True)


def feeds(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(CalendarFeed))


def create(browser) -> str:
    response = browser.post("/feeds", csrf_from_url="/feeds")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = text(response)
    secret = URL_RE.search(page).group(1)
    assert f'href="webcal://127.0.0.1:5000/feeds/{secret}.ics"' in page
    return secret


class TestPage:
    def test_anonymous_people_are_sent_to_log_in(self, client):
        response = client.get("/feeds")
        assert response.status_code == 302 and "/login" in response.headers["Location"]
        assert client.post("/feeds").status_code == 400  # no CSRF token: refused before anything else

    @pytest.mark.parametrize("role", ["agent", "supervisor", "admin"])
    def test_every_role_has_a_calendar(self, app, login, make_user, role):
        b = login(make_user(role))
        assert "Create my calendar address" in text(b.get("/feeds"))
        secret = create(b)
        assert b.client.get(f"/feeds/{secret}.ics").status_code == 200

    def test_the_address_is_shown_once(self, app, login, agent):
        b = login(agent)
        secret = create(b)
        later = text(b.get("/feeds"))
        assert secret not in later and "Make a new address" in later
        with app.app_context():
            assert db.session.scalar(select(CalendarFeed.token_hash)) != secret

    def test_the_account_page_links_here(self, login, agent):
        assert 'href="/feeds"' in text(login(agent).get("/account"))

    def test_posts_need_the_csrf_token(self, app, login, agent):
        b = login(agent)
        assert b.client.post("/feeds", data={}).status_code == 400
        assert feeds(app) == 0
        secret = create(b)
        assert b.client.post("/feeds/revoke", data={}).status_code == 400
        assert b.client.get(f"/feeds/{secret}.ics").status_code == 200

    def test_regenerate_makes_the_old_address_stop_working(self, app, login, agent):
        b = login(agent)
        old = create(b)
        new = create(b)
        assert old != new and feeds(app) == 1
        assert b.client.get(f"/feeds/{old}.ics").status_code == 404
        assert b.client.get(f"/feeds/{new}.ics").status_code == 200

    def test_revoke(self, app, login, agent):
        b = login(agent)
        secret = create(b)
        response = b.post("/feeds/revoke", csrf_from_url="/feeds", follow_redirects=True)
        assert "revoked" in text(response) and feeds(app) == 0
        assert b.client.get(f"/feeds/{secret}.ics").status_code == 404


class TestFeed:
    def test_the_calendar_answer(self, app, login, agent, customer, moment_type):
        from crm.moments.services import log_moment

        with app.app_context():
            log_moment(db.session.get(User, agent.id), {"customer_id": customer, "moment_type": moment_type},
                       datetime.now(timezone.utc))
            db.session.commit()
        secret = create(login(agent))
        anonymous = app.test_client()
        response = anonymous.get(f"/feeds/{secret}.ics")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
        assert response.headers["Cache-Control"] == "private, max-age=300"
        assert "Set-Cookie" not in response.headers
        cal = Calendar.from_ical(response.data)
        assert len(cal.walk("VEVENT")) == 2
        with app.app_context():
            assert db.session.scalar(select(CalendarFeed.last_used_at)) is not None

    def test_an_inactive_person_feed_is_gone(self, app, login, agent):
        secret = create(login(agent))
        with app.app_context():
            db.session.get(User, agent.id).active = False
            db.session.commit()
        response = app.test_client().get(f"/feeds/{secret}.ics")
        assert response.status_code == 404

    @pytest.mark.parametrize("path", ["/feeds/" + "a" * 5000 + ".ics", "/feeds/abc%00def.ics",
                                      "/feeds/..%2F..%2Fetc%2Fpasswd.ics", "/feeds/../../etc/passwd.ics",
                                      "/feeds/" + "A" * 43 + ".ics", "/feeds/%C3%B1%C3%B1.ics", "/feeds/.ics"])
    def test_hostile_addresses_are_404(self, app, login, agent, path):
        create(login(agent))
        unknown = app.test_client().get(path)
        assert unknown.status_code == 404
