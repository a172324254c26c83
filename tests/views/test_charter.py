"""The public service charter: /charter and /charter.pdf, built from the catalog."""
from __future__ import annotations

import html
import io
import re

import pytest
from pypdf import PdfReader
from sqlalchemy import event

from crm.extensions import db
from tests.conftest import NOW

SHOP = {"name": "Tienda", "timezone": "Europe/Madrid", "country": "ES", "subdivision": "MD",
        "hours": {**{str(d): [["09:00", "14:00"], ["16:00", "19:00"]] for d in range(5)}, "5": [["10:00", "13:00"]]},
        "is_default": True}


def save(app, admin, what, data, existing=None):
    from crm.auth.models import User
    from crm.calendars.services import save_calendar
    from crm.compensations.services import save_policy
    from crm.moments.catalog import save_moment_type

    service = {"type": save_moment_type, "policy": save_policy, "calendar": save_calendar}[what]
    with app.app_context():
        actor = db.session.get(User, admin.id)
        row = service(actor, db.session.get(*existing) if existing else None, data, NOW)
        db.session.commit()
        return row.id


@pytest.fixture
def catalog(app, admin, moment_type):
    """The complaint type (three tiers) with a premium policy and a catch-all apology, a second
    type in another phase, an inactive type, and the shop's default calendar."""
    save(app, admin, "calendar", SHOP)
    save(app, admin, "policy", {"moment_type_id": moment_type, "tier": "premium", "kind": "discount",
                                "value": "25.00"})
    save(app, admin, "policy", {"moment_type_id": moment_type, "kind": "credit", "value": "10.00"})
    save(app, admin, "policy", {"kind": "apology"})
    welcome = save(app, admin, "type", {
        "code": "welcome", "name": "Llamada de bienvenida", "phase": "discover", "channel": "email",
        "service_levels": [{"tier": "basic", "first_response_hours": 1, "resolution_hours": ""}]})
    save(app, admin, "type", {"code": "old", "name": "Tipo retirado", "phase": "retain", "channel": "postal",
                              "active": False,
                              "service_levels": [{"tier": "basic", "first_response_hours": 3}]})
    return {"complaint": moment_type, "welcome": welcome}


def page_text(response) -> str:
    body = response.get_data(as_text=True)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def rows(response) -> list[str]:
    """The text of each commitment row (tier, first response, resolution, compensation) on the page."""
    body = response.get_data(as_text=True)
    tables = re.findall(r'<table class="promises">.*?<tbody>(.*?)</tbody>', body, re.S)
    found = [re.sub(r"<[^>]+>", " ", row) for table in tables for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)]
    return [html.unescape(re.sub(r"\s+", " ", row)).strip() for row in found]


class TestPage:
    def test_public_without_login_and_linked_from_the_login_page(self, client, catalog):
        response = client.get("/charter?lang=en")
        assert response.status_code == 200
        assert 'href="/charter?lang=en"' in client.get("/login").get_data(as_text=True)

    def test_shows_each_active_type_with_hours_and_compensation(self, client, catalog):
        text = page_text(client.get("/charter?lang=en"))
        assert "Reclamación" in text and "Llamada de bienvenida" in text
        assert "Resolve on first contact" in text  # the objective
        # Most specific policy per tier: premium has its own, the type's credit covers the rest.
        assert "Premium Within 1 business hour Within 24 business hours Discount: €25.00" in text
        assert "Standard Within 4 business hours Within 48 business hours Credit: €10.00" in text
        assert "Basic Within 8 business hours Within 72 business hours Credit: €10.00" in text
        # The other type falls back to the catch-all apology; its missing resolution is no promise.
        assert "Basic Within 1 business hour No time commitment Apology" in text
        # Phases in journey order, channels, opening hours with split shifts, zone, holidays.
        assert text.index("Discover") < text.index("Llamada de bienvenida") < text.index("Interact") \
            < text.index("Reclamación")
        assert "Phone" in text and "Email" in text
        assert "Monday 09:00–14:00 and 16:00–19:00" in text
        assert "Saturday 10:00–13:00" in text and "Sunday Closed" in text
        assert "Spain (Madrid)" in text and "public holidays in Spain (MD)" in text

    def test_hides_inactive_types(self, client, catalog):
        text = page_text(client.get("/charter?lang=en"))
        assert "Tipo retirado" not in text and "Post" not in text

    def test_spanish_by_default_english_on_request(self, client, catalog):
        spanish = client.get("/charter")  # the client's browser asks for English: the URL decides
        body = spanish.get_data(as_text=True)
        assert '<html lang="es"' in body and "Interactuar" in body and "25,00" in body
        assert 'href="/charter?lang=en"' in body  # the language switch
        english = client.get("/charter?lang=en").get_data(as_text=True)
        assert '<html lang="en"' in english and "Interact" in english and "€25.00" in english
        assert 'href="/charter?lang=es"' in english

    @pytest.mark.parametrize("lang", ["fr", "", "EN", "x" * 500, "es%00"])
    def test_bad_language_falls_back_to_the_default(self, client, catalog, lang):
        response = client.get(f"/charter?lang={lang}")
        assert response.status_code == 200
        assert '<html lang="es"' in response.get_data(as_text=True)

    def test_catalog_text_is_escaped(self, app, client, admin, catalog):
        from crm.moments.models import MomentType

        save(app, admin, "type", {"name": "<script>alert(1)</script>", "objective": "<b>fast</b>"},
             existing=(MomentType, catalog["welcome"]))
        body = client.get("/charter?lang=en").get_data(as_text=True)
        assert "<script>alert(1)</script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
        assert "<b>fast</b>" not in body and "&lt;b&gt;fast&lt;/b&gt;" in body

    def test_empty_catalog_still_renders(self, client):
        response = client.get("/charter?lang=en")
        assert response.status_code == 200
        assert "We have not published any commitments yet." in page_text(response)

    def test_query_count_does_not_grow_with_the_catalog(self, app, client, admin, catalog):
        def count():
            seen = []

            def listener(_conn, _cursor, statement, *_args):
                seen.append(statement)

            with app.app_context():
                engine = db.engine
            event.listen(engine, "before_cursor_execute", listener)
            try:
                assert client.get("/charter?lang=en").status_code == 200
            finally:
                event.remove(engine, "before_cursor_execute", listener)
            return len(seen)

        before = count()
        for n in range(5):
            mt = save(app, admin, "type", {
                "code": f"extra{n}", "name": f"Extra {n}", "phase": "retain", "channel": "chat",
                "service_levels": [{"tier": "basic", "first_response_hours": 2, "resolution_hours": 5}]})
            save(app, admin, "policy", {"moment_type_id": mt, "kind": "gift", "value": "5"})
        assert count() == before <= 5


class TestPdf:
    def test_pdf_holds_the_same_commitments_as_the_page(self, client, catalog):
        for lang in ("en", "es"):
            response = client.get(f"/charter.pdf?lang={lang}")
            assert response.status_code == 200
            assert response.headers["Content-Type"] == "application/pdf"
            pdf = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
            pdf = re.sub(r"\s+", " ", pdf)
            page_rows = rows(client.get(f"/charter?lang={lang}"))
            assert len(page_rows) == 4
            for row in page_rows:
                assert row in pdf, (row, pdf)
            assert "Reclamación" in pdf and "Llamada de bienvenida" in pdf and "Tipo retirado" not in pdf

    def test_pdf_is_cached_until_the_catalog_changes(self, app, client, admin, catalog, monkeypatch):
        from crm import charter_views

        made = []
        real = charter_views.html_to_pdf

        def counting(markup):
            made.append(markup)
            return real(markup)

        monkeypatch.setattr(charter_views, "html_to_pdf", counting)
        app.extensions.pop("charter_pdf", None)  # another test's catalog may have had the same version
        first = client.get("/charter.pdf?lang=en").data
        assert client.get("/charter.pdf?lang=en").data == first and len(made) == 1
        client.get("/charter.pdf?lang=es")
        assert len(made) == 2  # one per language
        save(app, admin, "policy", {"tier": "basic", "kind": "gift", "value": "7.50"})
        changed = client.get("/charter.pdf?lang=en")
        assert len(made) == 3
        assert "Gift: €7.50" in " ".join(p.extract_text() for p in PdfReader(io.BytesIO(changed.data)).pages)
