"""The public service charter at a stable address: /charter (page) and /charter.pdf.

Anyone may read it, logged in or not. The language comes from ?lang= only (else the
company's default), so one address always shows the same text whoever opens it.
"""
from __future__ import annotations

import threading

from babel import Locale
from babel.dates import format_date, get_day_names, get_timezone_location
from flask import Blueprint, current_app, make_response, render_template, request

from crm.charter import build_charter, catalog_version
from crm.config import SUPPORTED_LOCALES
from crm.i18n import in_language
from crm.insights.report import html_to_pdf
from crm.types import utc_now

bp = Blueprint("charter", __name__)

_pdf_lock = threading.Lock()


def _language() -> str:
    wanted = request.args.get("lang", "")
    return wanted if wanted in SUPPORTED_LOCALES else current_app.config["BABEL_DEFAULT_LOCALE"]


def _zone_name(zone: str, language: str) -> str:
    if zone in ("UTC", "Etc/UTC", "GMT", "Etc/GMT"):
        return "UTC"
    try:
        return get_timezone_location(zone, locale=language)
    except (LookupError, ValueError):
        return zone


def _place(country: str | None, subdivision: str | None, language: str) -> str:
    if not country:
        return ""
    name = Locale.parse(language).territories.get(country, country)
    return f"{name} ({subdivision})" if subdivision else name


def _render(template: str, language: str, now) -> str:
    with in_language(language):
        return render_template(
            template, charter=build_charter(now), language=language, now=now,
            company=current_app.config["CRM_COMPANY_NAME"],
            other_languages=[code for code in SUPPORTED_LOCALES if code != language],
            day_names=get_day_names("wide", locale=language),
            zone_name=lambda zone: _zone_name(zone, language),
            place=lambda country, subdivision: _place(country, subdivision, language),
            day=lambda value: format_date(value, "long", locale=language),
            language_name=lambda code: Locale.parse(code).display_name.capitalize())


@bp.get("/charter")
def page():
    response = make_response(_render("charter/page.html", _language(), utc_now()))
    response.headers["Content-Language"] = _language()
    return response


@bp.get("/charter.pdf")
def pdf():
    """Made once per language, catalog version and day (upcoming closures change with the date)."""
    language, now = _language(), utc_now()
    key = (language, catalog_version(), now.date())
    cache = current_app.extensions.setdefault("charter_pdf", {})
    cached = cache.get(language)
    data = cached[1] if cached and cached[0] == key else None
    if data is None:
        data = html_to_pdf(_render("charter/print.html", language, now)).data
        with _pdf_lock:
            cache[language] = (key, data)  # one version kept per language
    response = make_response(data)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Language"] = language
    response.headers["Content-Disposition"] = f'inline; filename="charter-{language}.pdf"'
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
