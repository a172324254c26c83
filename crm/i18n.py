"""Language and time zone selection, and the formatting filters templates use."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from flask import current_app, g, has_app_context, has_request_context, request, session
from flask_babel import force_locale, get_locale, get_timezone, get_translations
from flask_login import current_user

from crm.config import SUPPORTED_LOCALES


def select_locale() -> str:
    """The user's own setting, then the session's choice, then the browser, then Spanish."""
    if not has_request_context():  # CLI and scheduler: the configured default
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale in SUPPORTED_LOCALES:
        return current_user.locale
    if session.get("locale") in SUPPORTED_LOCALES:
        return session["locale"]
    return request.accept_languages.best_match(SUPPORTED_LOCALES) or current_app.config[
        "BABEL_DEFAULT_LOCALE"]


def supported_language(code: str | None) -> str:
    """`code` when the app speaks it, else the configured default (emails, reports, alerts)."""
    return code if code in SUPPORTED_LOCALES else current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


# The filters call Babel directly with the request's locale and zone: Flask-Babel's
# wrappers cost four times as much per call, and a page formats dozens of values.

_PER_REQUEST = ("_crm_translations", "_crm_locale", "_crm_zone")


def _once(name: str, lookup):
    """`lookup()`, kept on `g` for the rest of the request or job (see forget_translations)."""
    if not has_app_context():
        return lookup()
    value = g.get(name)
    if value is None:
        value = lookup()
        setattr(g, name, value)
    return value


def request_locale():
    """This request's (or job's) Babel locale, looked up once: Flask-Babel's get_locale
    walks its context on every call, and a page asks a hundred times."""
    return _once("_crm_locale", get_locale)


def _request_zone():
    return _once("_crm_zone", get_timezone)


def money(value) -> str:
    if value is None:
        return ""
    return babel_numbers.format_currency(Decimal(value), current_app.config["CRM_CURRENCY"], locale=request_locale())


def when(value: datetime | None, style: str = "medium") -> str:
    if not value:
        return ""
    return babel_dates.format_datetime(value, style, tzinfo=_request_zone(), locale=request_locale())


def number(value) -> str:
    return babel_numbers.format_decimal(value, locale=request_locale()) if value is not None else ""


def _request_translations():
    """The translations for this request, looked up once: Flask-Babel's gettext resolves
    them on every call (about 19 µs in a template, and a page makes hundreds of calls)."""
    return _once("_crm_translations", get_translations)


def forget_translations() -> None:
    """Call after switching language inside one request or app context (force_locale)."""
    for name in _PER_REQUEST:
        g.pop(name, None)


@contextmanager
def in_language(language: str):
    """Render in another language inside this request or job (an email in the customer's)."""
    forget_translations()
    try:
        with force_locale(language):
            yield
    finally:
        forget_translations()


def _gettext(string: str) -> str:
    return _request_translations().ugettext(string)


def _ngettext(singular: str, plural: str, num: int) -> str:
    return _request_translations().ungettext(singular, plural, num)


def init_app(app) -> None:
    from crm import labels

    # Jinja's newstyle wrappers still format %(name)s variables and escape as before.
    app.jinja_env.install_gettext_callables(_gettext, _ngettext, newstyle=True)
    # Requests made inside an outer app context (tests, scripts) share its `g`: each one
    # chooses its own language.
    app.before_request(forget_translations)
    labels.init_app(app)
    app.jinja_env.filters.update(money=money, when=when, number=number)
    app.jinja_env.globals.update(current_locale=lambda: str(request_locale()))
