"""Every form of every page, filled with the Big List of Naughty Strings through Hypothesis.

The walk: log in as an admin (who sees every page), GET each page of the URL map, read its
forms (action, method, fields and their current values), and submit each form a few times
with naughty strings in its text fields (the others keep the page's values, CSRF included).
Pass: never a 5xx, and when the answer refuses (4xx, or the form shown again with its
field errors) no table gained or lost a row — nothing half-written.

The corpus is tests/data/blns.json (Big List of Naughty Strings, MIT: tests/data/blns.LICENSE).
"""
from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.views.test_security_walk import concrete, routes

BLNS = [s for s in json.loads((Path(__file__).parents[1] / "data" / "blns.json").read_text()) if s]
EXAMPLES_PER_FORM = 5
# Forms not posted, and why.
SKIPPED_ACTIONS = {
    "/logout",  # ends the walk's own session
    "/language",  # a cookie and a redirect, nothing stored; would switch the walk's language
}
# Tables a refused form may still write to, and why.
REFUSALS_MAY_WRITE = {
    "login_attempts",  # a refused login is counted: that is the throttle
    "request_log",
}
TEXT_TYPES = {"text", "email", "search", "password", "url", "tel", "textarea", "number", "date", "time",
              "datetime-local", "color", "month", "week"}
naughty = st.sampled_from(BLNS) | st.text(max_size=40)


class _Forms(HTMLParser):
    """The page's forms: action, method and fields (name → kind, value)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._form = None
        self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = {"action": a.get("action") or "", "method": (a.get("method") or "get").lower(),
                          "fields": {}, "choices": {}}
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input" and a.get("name"):
            kind = (a.get("type") or "text").lower()
            if kind in {"submit", "button", "image", "reset", "file"}:
                return
            if kind in {"checkbox", "radio"}:
                if "checked" in a:
                    self._form["fields"][a["name"]] = (kind, a.get("value", "on"))
                return
            self._form["fields"][a["name"]] = (kind, a.get("value") or "")
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self._form["fields"][a["name"]] = ("textarea", "")
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
            self._form["fields"][a["name"]] = ("select", None)
        elif tag == "option" and self._select:
            kind, value = self._form["fields"][self._select]
            option = a.get("value", "")
            if value is None or "selected" in a:
                self._form["fields"][self._select] = ("select", option)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._form is not None and self._textarea:
            kind, value = self._form["fields"][self._textarea]
            self._form["fields"][self._textarea] = (kind, value + data)


def page_forms(html: str, page_url: str) -> list[dict]:
    parser = _Forms()
    parser.feed(html)
    for form in parser.forms:
        form["url"] = urlsplit(urljoin(page_url, form["action"] or page_url))._replace(scheme="", netloc="").geturl()
        form["page"] = page_url
    return parser.forms


def row_counts(app) -> dict[str, int]:
    from crm.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                for t in db.metadata.sorted_tables}


def every_form(app, http, ids) -> list[dict]:
    """Each distinct form of every page an admin can open, once."""
    seen, forms = set(), []
    for rule, method in routes(app):
        if method != "GET" or rule.rule.startswith("/api/") or rule.endpoint == "static":
            continue
        url = concrete(rule, ids)
        response = http.get(url)
        if response.status_code != 200 or not response.mimetype == "text/html":
            response.close()
            continue
        for form in page_forms(response.get_data(as_text=True), url):
            key = (urlsplit(form["url"]).path, form["method"], tuple(sorted(form["fields"])))
            if key in seen or urlsplit(form["url"]).path in SKIPPED_ACTIONS:
                continue
            seen.add(key)
            forms.append(form)
    return forms


def test_every_form_survives_naughty_strings(app, login, admin, ids):
    http = login(admin).client
    forms = every_form(app, http, ids)
    posted = [f for f in forms if f["method"] == "post"]
    assert len(posted) >= 30 and len(forms) > len(posted), [f["url"] for f in forms]  # the walk found them
    outcomes: dict[str, set[int]] = {}

    def check(form):
        text_fields = sorted(name for name, (kind, _) in form["fields"].items()
                             if kind in TEXT_TYPES or (kind == "hidden" and name != "csrf_token"))
        if not text_fields:
            text_fields = sorted(name for name in form["fields"] if name != "csrf_token")

        @settings(max_examples=EXAMPLES_PER_FORM, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(values=st.fixed_dictionaries({name: naughty for name in text_fields}))
        def submit(values):
            data = {name: value for name, (_, value) in form["fields"].items() if value is not None}
            data.update(values)
            before = row_counts(app)
            if form["method"] == "post":
                response = http.post(form["url"], data=data)
            else:
                response = http.get(form["url"], query_string=data)
            status = response.status_code
            shown_again = status == 200 and ('aria-invalid="true"' in response.get_data(as_text=True)
                                             or 'class="flash flash-error"' in response.get_data(as_text=True))
            response.close()
            outcomes.setdefault(form["url"], set()).add(status)
            assert status < 500, (form["page"], form["url"], values, status)
            refused = 400 <= status < 500 or (form["method"] == "post" and shown_again)
            if refused:
                after = row_counts(app)
                changed = {t: (before[t], after[t]) for t in before
                           if before[t] != after[t] and t not in REFUSALS_MAY_WRITE}
                assert not changed, ("half-written", form["url"], status, values, changed)

        submit()

    for form in forms:
        check(form)
    assert set(outcomes) >= {f["url"] for f in forms}


@pytest.mark.parametrize("string", BLNS[::40])
def test_the_login_form_refuses_naughty_credentials_cleanly(client, string):
    """Anonymous: the login form, the one form everyone can reach."""
    from tests.conftest import csrf_from

    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"email": string, "password": string, "csrf_token": token})
    assert response.status_code in (400, 401, 429), response.status_code  # refused, and said so
