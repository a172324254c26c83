"""The pages people use, through the test client with real CSRF tokens."""
import re
from datetime import timedelta

import pytest

from crm.customers.models import Customer, StageChange
from crm.extensions import db
from crm.moments.models import Commitment, Moment
from tests.conftest import PASSWORD, csrf_from


def text(response) -> str:
    return response.get_data(as_text=True)


class TestLogin:
    def test_pages_need_a_login_and_come_back_after_it(self, client, browser, agent):
        response = client.get("/customers?q=ana")
        assert response.status_code == 302 and "/login?next=" in response.headers["Location"]
        page = client.get(response.headers["Location"])
        token = csrf_from(text(page))
        done = client.post("/login?next=/customers?q%3Dana", data={
            "email": agent.email, "password": PASSWORD, "csrf_token": token})
        assert done.status_code == 302 and done.headers["Location"] == "/customers?q=ana"

    @pytest.mark.parametrize("target", ["//evil.example", "/\\evil.example", "https://evil.example",
                                        "http://evil.example/x", "javascript:alert(1)"])
    def test_next_never_leaves_the_site(self, client, browser, agent, target):
        token = browser.csrf("/login")
        done = client.post("/login", query_string={"next": target}, data={
            "email": agent.email, "password": PASSWORD, "csrf_token": token})
        assert done.status_code == 302 and done.headers["Location"] == "/"

    def test_wrong_password_is_a_clear_error(self, client, browser, agent):
        response = client.post("/login", data={"email": agent.email, "password": "nope",
                                               "csrf_token": browser.csrf("/login")})
        assert response.status_code == 401 and "Wrong email or password" in text(response)

    def test_throttling_answers_429(self, client, browser, agent):
        for _ in range(5):
            client.post("/login", data={"email": agent.email, "password": "x", "csrf_token": browser.csrf()})
        response = client.post("/login", data={"email": agent.email, "password": PASSWORD,
                                               "csrf_token": browser.csrf()})
        assert response.status_code == 429 and "Too many failed attempts" in text(response)

    def test_login_without_csrf_is_refused(self, client, agent):
        response = client.post("/login", data={"email": agent.email, "password": PASSWORD})
        assert response.status_code == 400
        assert "/" not in response.headers.get("Location", "")

    def test_logout_needs_a_post_with_csrf(self, login, agent):
        b = login(agent)
        assert b.client.get("/logout").status_code == 405
        assert b.client.post("/logout").status_code == 400
        assert b.get("/").status_code == 200
        b.post("/logout", csrf_from_url="/")
        assert b.get("/").status_code == 302

    def test_session_cookie_flags(self, client, browser, agent, app):
        response = client.post("/login", data={"email": agent.email, "password": PASSWORD,
                                               "csrf_token": browser.csrf()})
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


class TestSecurityHeaders:
    def test_every_page_sets_them(self, client):
        response = client.get("/login")
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["Cache-Control"] == "no-store"

    def test_no_inline_scripts_or_styles_in_pages(self, login, supervisor, customer, moment_type):
        b = login(supervisor)
        for url in ["/", f"/customers/{customer}", "/customers", "/commitments", "/account"]:
            html = text(b.get(url))
            assert not re.search(r"<script(?![^>]*\bsrc=)", html), url
            assert " style=" not in html, url


class TestCustomers:
    def test_create_then_see_the_page(self, login, agent):
        b = login(agent)
        response = b.post("/customers/new", {"name": "Lola Flores", "email": "lola@flores.es",
                                             "phone": "600 123 456", "stage": "prospect", "loyalty": "occasional",
                                             "tier": "standard", "language": "es", "owner_id": str(agent.id)},
                          csrf_from_url="/customers/new")
        assert response.status_code == 302
        page = b.get(response.headers["Location"])
        assert page.status_code == 200 and "Lola Flores" in text(page) and "lola@flores.es" in text(page)

    def test_invalid_form_shows_errors_and_writes_nothing(self, login, agent):
        b = login(agent)
        response = b.post("/customers/new", {"name": "", "email": "nope", "stage": "vip", "owner_id": "abc"},
                          csrf_from_url="/customers/new")
        assert response.status_code == 400
        assert 'aria-invalid="true"' in text(response)
        with b.client.application.app_context():
            assert db.session.query(Customer).count() == 0

    def test_search_page_and_htmx_fragment(self, login, agent, customer):
        b = login(agent)
        page = b.get("/customers?q=garc")
        assert "María García Núñez" in text(page) and "<html" in text(page)
        fragment = b.get("/customers?q=612%20345", headers={"HX-Request": "true"})
        assert "María García Núñez" in text(fragment) and "<html" not in text(fragment)
        assert "No customer matches" in text(b.get("/customers?q=zzzz"))
        assert b.get("/customers?stage=vip").status_code == 200
        # "²" passes str.isdigit() and not int(): a field to check, not a crash.
        refused = b.get("/customers?owner=%C2%B2")
        assert refused.status_code == 200 and "Check the search fields." in text(refused)

    def test_edit(self, login, agent, customer):
        b = login(agent)
        response = b.post(f"/customers/{customer}/edit", {
            "name": "María García", "email": "maria@example.es", "phone": "", "company": "", "segment": "",
            "loyalty": "regular", "tier": "premium", "language": "en", "owner_id": "0"},
            csrf_from_url=f"/customers/{customer}/edit")
        assert response.status_code == 302
        with b.client.application.app_context():
            c = db.session.get(Customer, customer)
            assert (c.name, c.tier, c.loyalty, c.owner_id, c.phone) == ("María García", "premium", "regular",
                                                                         None, None)

    def test_stage_change_needs_a_reason(self, login, agent, customer):
        b = login(agent)
        url = f"/customers/{customer}"
        refused = b.post(f"{url}/stage", {"stage-stage": "at_risk", "stage-reason": ""}, csrf_from_url=url)
        assert refused.status_code == 400
        done = b.post(f"{url}/stage", {"stage-stage": "at_risk", "stage-reason": "Se queja a menudo"},
                      csrf_from_url=url)
        assert done.status_code == 302
        page = text(b.get(url))
        assert "Se queja a menudo" in page and "At risk" in page
        with b.client.application.app_context():
            assert db.session.query(StageChange).filter_by(customer_id=customer).count() == 2

    def test_output_is_escaped(self, login, agent, api_as):
        payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
        created = api_as(agent).post("/api/v1/customers", json={"name": payload, "company": payload})
        assert created.status_code == 201
        b = login(agent)
        for url in [f"/customers/{created.json['id']}", "/customers?q=script"]:
            html = text(b.get(url))
            assert payload not in html and "&lt;script&gt;" in html

    def test_unknown_and_huge_ids_are_404(self, login, agent):
        b = login(agent)
        assert b.get("/customers/999999").status_code == 404
        assert b.get("/customers/99999999999999999999999").status_code == 404
        assert b.get("/customers/-1").status_code == 404


class TestMoments:
    def test_log_a_contact_and_see_its_commitments(self, login, agent, customer, moment_type, app):
        b = login(agent)
        url = f"/customers/{customer}"
        response = b.post(f"{url}/moments", {"moment_type": "complaint", "notes": "Llega tarde el pedido",
                                             "emotion": "-1", "outcome": "pending",
                                             "staff_id": str(agent.id)}, csrf_from_url=url)
        assert response.status_code == 302
        page = text(b.get(url))
        assert "Llega tarde el pedido" in page and "2 commitments created" in page
        assert "First response" in page and "Resolution" in page
        home = text(b.get("/"))
        assert home.count("Mark met") == 2 and "María García Núñez" in home
        with app.app_context():
            moment = db.session.query(Moment).one()
            assert (moment.emotion, moment.channel, moment.staff_id) == (-1, "phone", agent.id)
        # A contact that follows it joins its incident and makes no new commitments.
        response = b.post(f"{url}/moments", {"moment_type": "complaint", "notes": "Vuelve a llamar",
                                             "outcome": "pending", "staff_id": str(agent.id),
                                             "follows_moment_id": str(moment.id)}, csrf_from_url=url)
        assert response.status_code == 302 and response.headers["Location"].endswith(url)
        assert "Contact logged. 0 commitments created." in text(b.get(url))

    def test_logging_with_bad_values_writes_nothing(self, login, agent, customer, moment_type, app):
        b = login(agent)
        url = f"/customers/{customer}"
        for data in ({"moment_type": ""}, {"moment_type": "complaint", "emotion": "7"},
                     {"moment_type": "complaint", "notes": "a\x00b"},
                     {"moment_type": "complaint", "notes": "x" * 6000},
                     {"moment_type": "unknown"},
                     {"moment_type": "complaint", "follows_moment_id": "123456"},
                     {"moment_type": "complaint", "occurred_at": "yesterday"}):
            data.setdefault("outcome", "pending")
            data.setdefault("staff_id", str(agent.id))
            response = b.post(f"{url}/moments", data, csrf_from_url=url)
            assert response.status_code == 400, data
        with app.app_context():
            assert db.session.query(Moment).count() == 0

    def test_mark_met_and_emotion(self, login, agent, customer, moment_type, app, api_as):
        created = api_as(agent).post("/api/v1/moments", json={"customer_id": customer, "moment_type": "complaint"})
        commitment_id = created.json["commitments"][0]["id"]
        b = login(agent)
        response = b.post(f"/commitments/{commitment_id}/met", {"next": "//evil.example"}, csrf_from_url="/")
        assert response.status_code == 302 and response.headers["Location"] == f"/customers/{customer}"
        again = b.post(f"/commitments/{commitment_id}/met", {}, csrf_from_url="/")
        assert again.status_code == 409
        face = b.post(f"/moments/{created.json['id']}/emotion", {"emotion": "2"}, csrf_from_url="/",
                      headers={"HX-Request": "true"})
        assert face.status_code == 200 and 'aria-pressed="true"' in text(face)
        assert b.post(f"/moments/{created.json['id']}/emotion", {"emotion": "9"}, csrf_from_url="/").status_code == 422
        with app.app_context():
            assert db.session.get(Commitment, commitment_id).status == "met"
            assert db.session.get(Moment, created.json["id"]).emotion == 2


class TestQueues:
    def test_home_lists_only_my_open_commitments_soonest_first(self, login, agent, make_user, customer,
                                                               moment_type, api_as, now):
        other = make_user("agent", name="Otra Persona")
        api_as(other).post("/api/v1/moments", json={"customer_id": customer, "moment_type": "complaint"})
        api_as(agent).post("/api/v1/moments", json={"customer_id": customer, "moment_type": "complaint",
                                                    "notes": "mine"})
        home = text(login(agent).get("/"))
        assert home.count("Mark met") == 2
        first, resolution = home.index("First response"), home.index("Resolution")
        assert first < resolution  # 4 hours comes before 48 hours

    def test_supervisor_queue_shows_overdue_first(self, login, supervisor, agent, customer, moment_type, api_as):
        from datetime import datetime, timezone

        api = api_as(agent)
        old = datetime.now(timezone.utc) - timedelta(hours=10)
        api.post("/api/v1/moments", json={"customer_id": customer, "moment_type": "complaint",
                                          "occurred_at": old.isoformat()})
        api.post("/api/v1/moments", json={"customer_id": customer, "moment_type": "complaint"})
        page = text(login(supervisor).get("/commitments"))
        assert "4 open commitments" in page
        rows = re.findall(r'<tr class="([^"]*)">', page)
        assert rows[0] == "overdue" and rows.count("overdue") == 1
        assert login(agent).get("/commitments").status_code == 403


class TestAdmin:
    def test_catalog_form_round_trip(self, login, admin, app):
        b = login(admin)
        url = "/admin/moment-types/new"
        response = b.post(url, {
            "code": "entrega", "name": "Entrega a domicilio", "phase": "interact", "channel": "partner",
            "team_id": "0", "owner_role": "agent", "cost": "9,90", "objective": "A tiempo",
            "participants": "Envíos Levante: entrega\nTaller: monta", "physical_evidence": "Albarán",
            "sl-standard-first": "", "sl-standard-resolution": "48", "sl-premium-resolution": "24",
            "active": "y"}, csrf_from_url=url)
        assert response.status_code == 302  # "9,90": the decimal comma Spanish users type
        from crm.moments.catalog import get_moment_type

        with app.app_context():
            mt = get_moment_type("entrega")
            assert mt.participants == [{"who": "Envíos Levante", "does": "entrega"}, {"who": "Taller", "does": "monta"}]
            assert {(s.tier, s.first_response_hours, s.resolution_hours and int(s.resolution_hours))
                    for s in mt.service_levels} == {("standard", None, 48), ("premium", None, 24)}
            assert mt.physical_evidence == "Albarán" and str(mt.cost) == "9.90"
        edit = text(b.get(f"/admin/moment-types/{mt.id}"))
        assert "Envíos Levante: entrega" in edit and 'value="48.00"' in edit

    def test_users_and_teams(self, login, admin, app):
        b = login(admin)
        created = b.post("/admin/teams/new", {"name": "Envíos Levante", "kind": "partner", "description": ""},
                         csrf_from_url="/admin/teams/new")
        assert created.status_code == 302
        dup = b.post("/admin/teams/new", {"name": "envíos levante", "kind": "partner"},
                     csrf_from_url="/admin/teams/new")
        assert dup.status_code == 400 and "already exists" in text(dup)
        made = b.post("/admin/users/new", {"name": "Nuevo", "email": "nuevo@example.es", "role": "agent",
                                           "team_id": "0", "password": "longenough", "active": "y"},
                      csrf_from_url="/admin/users/new")
        assert made.status_code == 302
        assert "nuevo@example.es" in text(b.get("/admin/users"))


class TestLanguage:
    def test_browser_language_then_user_setting(self, client, login, agent, app):
        assert '<html lang="en"' in text(client.get("/login", headers={"Accept-Language": "en-US,en"}))
        assert '<html lang="es"' in text(client.get("/login", headers={"Accept-Language": "fr"}))
        b = login(agent)
        b.post("/language", {"locale": "es", "next": "/account"}, csrf_from_url="/account")
        assert '<html lang="es"' in text(b.get("/", headers={"Accept-Language": "en"}))
        with app.app_context():
            from crm.auth.models import User

            assert db.session.get(User, agent.id).locale == "es"

    def test_unknown_language_is_refused_politely(self, browser):
        response = browser.post("/language", {"locale": "xx"}, csrf_from_url="/login")
        assert response.status_code == 302


class TestAccount:
    def test_password_change_checks_the_current_one(self, login, agent, app):
        b = login(agent)
        wrong = b.post("/account", {"pw-current": "not-it", "pw-new": "brand-new-pass"}, csrf_from_url="/account")
        assert wrong.status_code == 400 and "not your current password" in text(wrong)
        from tests.conftest import PASSWORD

        done = b.post("/account", {"pw-current": PASSWORD, "pw-new": "brand-new-pass"}, csrf_from_url="/account")
        assert done.status_code == 302
        with app.app_context():
            from crm.auth.models import User

            assert db.session.get(User, agent.id).check_password("brand-new-pass")

    def test_a_new_token_is_shown_once_and_works(self, login, agent, client):
        b = login(agent)
        page = text(b.post("/account", {"tok-name": "Zapier"}, csrf_from_url="/account"))
        secret = re.search(r'id="new-token">(fz_[^<]+)<', page).group(1)
        assert client.get("/api/v1/customers", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
        later = text(b.get("/account"))
        assert secret not in later and "Zapier" in later and secret[:10] in later


def test_the_log_forms_more_part_loads_when_opened_and_posts_without_it(app, login, agent, customer, moment_type):
    """The customer page carries the log form's first fields; "More" comes from its own request,
    and a contact logged without ever opening it takes the defaults (handled by the agent)."""
    from sqlalchemy import select

    from crm.extensions import db
    from crm.moments.models import Moment

    b = login(agent)
    page = b.get(f"/customers/{customer}").get_data(as_text=True)
    assert 'name="staff_id"' not in page and f"/customers/{customer}/log-details" in page
    more = b.get(f"/customers/{customer}/log-details").get_data(as_text=True)
    assert 'name="staff_id"' in more and 'name="follows_moment_id"' in more
    response = b.post(f"/customers/{customer}/moments", {"moment_type": "complaint", "notes": "Sin abrir Más"},
                      csrf_from_url=f"/customers/{customer}")
    assert response.status_code == 302
    with app.app_context():
        moment = db.session.scalar(select(Moment))
        assert (moment.staff_id, moment.channel, moment.follows_moment_id) == (agent.id, "phone", None)
    bad = b.post(f"/customers/{customer}/moments", {"moment_type": "complaint", "staff_id": "abc"},
                 csrf_from_url=f"/customers/{customer}")
    assert bad.status_code == 400 and 'name="staff_id"' in bad.get_data(as_text=True)  # shown with its error
