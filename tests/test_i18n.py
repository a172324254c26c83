"""Both catalogs are complete and in step with the code; pages speak the user's language."""
import re
import subprocess
import sys
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    subprocess.run([str(Path(sys.executable).parent / "pybabel"), "extract", "-F", "babel.cfg", "-k", "N_",
                    "-k", "_l", "-o", str(pot), "."], cwd=ROOT, check=True, capture_output=True)
    with pot.open("rb") as handle:
        return {m.id for m in read_po(handle) if m.id}


@pytest.mark.parametrize("lang", ["es", "en"])
def test_catalog_is_complete(lang, extracted):
    with (ROOT / f"crm/translations/{lang}/LC_MESSAGES/messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    messages = {m.id: m for m in catalog if m.id}
    missing = extracted - set(messages)
    assert not missing, f"run `make extract-messages`: {sorted(map(str, missing))[:10]}"
    for msgid in extracted:
        message = messages[msgid]
        assert not message.fuzzy, msgid
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        assert forms and all(forms), f"untranslated in {lang}: {msgid!r}"
        sources = msgid if isinstance(msgid, tuple) else (msgid,)
        wanted = set(PLACEHOLDER.findall(" ".join(sources)))
        for form in forms:
            assert set(PLACEHOLDER.findall(form)) <= wanted, (msgid, form)
            if not isinstance(msgid, tuple):
                assert set(PLACEHOLDER.findall(form)) == wanted, (msgid, form)


def test_spanish_is_the_default_and_english_on_request(app):
    client = app.test_client()  # a browser that states no language
    spanish = client.get("/login").get_data(as_text=True)
    english = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Iniciar sesión" in spanish and "Log in" not in spanish
    assert "Log in" in english


def test_money_numbers_and_dates_are_localised(app):
    from crm.i18n import in_language, money, number, when

    instant = datetime(2026, 3, 5, 17, 30, tzinfo=timezone.utc)
    with app.test_request_context():
        with in_language("es"):
            assert money(Decimal("1234.5")).replace("\xa0", " ") == "1.234,50 €"
            assert number(1234567) == "1.234.567"
            assert when(instant, "short") == "5/3/26, 18:30"  # Madrid is UTC+1 in March
        with in_language("en"):
            assert money(Decimal("1234.5")) == "€1,234.50"
            assert number(1234567) == "1,234,567"
            assert when(instant, "short").startswith("3/5/26")


def test_api_errors_speak_spanish_when_asked(api_as, agent):
    response = api_as(agent).post("/api/v1/customers", json={}, headers={"Accept-Language": "es"})
    error = response.get_json()["error"]
    assert error["message"] != "Some fields are not valid."
    assert error["fields"]["name"] != ["Missing data for required field."]
