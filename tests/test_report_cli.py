"""`flask crm report weekly --out FILE.pdf [--week YYYY-MM-DD]`."""
from __future__ import annotations

import io

from flask_babel import gettext
from pypdf import PdfReader

from crm.i18n import in_language

SECTIONS = ("Key figures", "Breaches and compensations", "Journey map", "Top pain points", "Customers at risk",
            "Profitability by service tier")


def text_of(path) -> str:
    data = path.read_bytes()
    assert data.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_writes_a_pdf_with_every_section_in_the_company_language(app, runner, tmp_path):
    out = tmp_path / "semana.pdf"
    result = runner.invoke(args=["crm", "report", "weekly", "--out", str(out), "--week", "2026-11-11",
                                 "--now", "2026-11-16T10:00:00+00:00"])
    assert result.exit_code == 0, result.output
    assert "2026-11-09" in result.output and str(out) in result.output
    text = text_of(out)
    with app.test_request_context(), in_language(app.config["BABEL_DEFAULT_LOCALE"]):
        headings = [gettext(section) for section in SECTIONS]
    lines = text.splitlines()
    for heading in headings:
        assert heading in lines, (heading, text)


def test_english_on_request_and_the_last_complete_week_by_default(runner, tmp_path):
    out = tmp_path / "week.pdf"
    result = runner.invoke(args=["crm", "report", "weekly", "--out", str(out), "--language", "en",
                                 "--now", "2026-11-16T10:00:00+00:00"])
    assert result.exit_code == 0, result.output
    assert "2026-11-09" in result.output
    text = text_of(out)
    for section in SECTIONS:
        assert section in text
    assert "Nov 9, 2026" in text and "Nov 15, 2026" in text


def test_bad_input_fails_cleanly_and_writes_nothing(runner, tmp_path):
    out = tmp_path / "nothing.pdf"
    for args in (["--week", "2026-02-30"], ["--week", "2999-01-01"], ["--now", "yesterday"]):
        result = runner.invoke(args=["crm", "report", "weekly", "--out", str(out), *args])
        assert result.exit_code != 0
        assert "Traceback" not in result.output
        assert not out.exists()
    result = runner.invoke(args=["crm", "report", "weekly"])
    assert result.exit_code == 2 and "--out" in result.output
