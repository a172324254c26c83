"""One error format per audience: JSON `{"error": {code, message, fields}}` for the
API, a friendly page for people. Nothing unexpected leaks a traceback."""
from __future__ import annotations

import sqlite3

from flask import current_app, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError

from crm.domain import N_, DomainError, ValidationFailed

# marshmallow's and webargs' own messages, so API clients get them in their language too.
LIBRARY_MESSAGES = (
    N_("Missing data for required field."),
    N_("Unknown field."),
    N_("Field may not be null."),
    N_("Not a valid integer."),
    N_("Not a valid number."),
    N_("Not a valid string."),
    N_("Not a valid boolean."),
    N_("Not a valid datetime."),
    N_("Not a valid list."),
    N_("Not a valid mapping type."),
    N_("Invalid input type."),
    N_("Invalid value."),
    N_("Invalid JSON body."),
)

HTTP_MESSAGES = {
    400: N_("The request could not be understood."),
    401: N_("You need to log in or send a valid API token."),
    403: N_("You do not have permission to do that."),
    404: N_("There is nothing here."),
    405: N_("That method is not allowed here."),
    409: N_("That conflicts with the current state."),
    413: N_("What you sent is too large."),
    415: N_("Send JSON with Content-Type: application/json."),
    422: N_("Some fields are not valid."),
    429: N_("Too many requests. Wait a moment and try again."),
    500: N_("Something went wrong on our side. It has been logged."),
    503: N_("The service is briefly unavailable. Try again in a few seconds."),
}
HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
              422: "validation_failed", 429: "throttled", 500: "server_error",
              503: "unavailable"}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(status: int, code: str, message: str, fields: dict | None = None):
    if wants_json():
        response = jsonify({"error": {"code": code, "message": message, "fields": fields or {}}})
    else:
        response = make_response(render_template("error.html", status=status, message=message,
                                                 fields=fields or {}))
    response.status_code = status
    return response


def _translate_messages(messages) -> dict[str, list[str]]:
    """webargs nests messages by location ({"json": {"field": [...]}}); flatten that."""
    flat: dict[str, list[str]] = {}

    def walk(prefix, value):
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            flat[prefix or "_schema"] = [_(v) for v in value]
        else:
            flat[prefix or "_schema"] = [str(value)]

    if isinstance(messages, dict):
        for location, inner in messages.items():
            walk("" if location in {"json", "query", "form", "view_args"} else location, inner)
    return flat


def handle_http_exception(error: HTTPException):
    status = error.code or 500
    message = _(HTTP_MESSAGES.get(status, HTTP_MESSAGES[400]))
    data = getattr(error, "data", None) or {}
    fields = _translate_messages(data.get("messages")) if data.get("messages") else None
    if status == 400 and isinstance(error.description, str) and "JSON" in error.description:
        message = _("Invalid JSON body.")
    response = error_response(status, HTTP_CODES.get(status, "error"), message, fields)
    if status == 405 and getattr(error, "valid_methods", None):
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def handle_domain_error(error: DomainError):
    fields = error.translated_fields() if isinstance(error, ValidationFailed) else (
        {error.field: [error.translated()]} if error.field else None)
    message = _(HTTP_MESSAGES[422]) if isinstance(error, ValidationFailed) else error.translated()
    return error_response(error.status, error.code, message, fields)


def handle_csrf_error(error: CSRFError):
    return error_response(400, "csrf", _("The form expired or was sent from elsewhere. "
                                         "Reload the page and try again."))


def database_unavailable(error: BaseException) -> bool:
    """The database went away (restart, failover, network): not a bug, and over in seconds."""
    error = getattr(error, "original_exception", None) or error  # Flask wraps it in a 500
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if isinstance(error.orig, sqlite3.Error):
        # SQLite's OperationalError also means "no such table": only a busy database is passing.
        return isinstance(error, OperationalError) and ("locked" in str(error.orig) or "busy" in str(error.orig))
    return isinstance(error, (OperationalError, InterfaceError))


def release_session(_error=None) -> None:
    """End the request's session even when its connection is dead: rolling back on a lost
    connection raises, which would turn an answered request into a server error."""
    from crm.extensions import db

    try:
        db.session.remove()
    except SQLAlchemyError:
        current_app.logger.warning("the database connection was lost; it is dropped from the pool")
        try:
            db.session().invalidate()
        except SQLAlchemyError:
            pass
        db.session.registry.clear()


def handle_unexpected(error: Exception):
    from crm.requestlog import loggable_path  # the path with a feed's or survey's secret masked

    unavailable = database_unavailable(error)
    if unavailable:
        current_app.logger.warning("database unavailable on %s %s: %s", request.method, loggable_path(),
                                   type(getattr(error, "original_exception", error)).__name__)
    else:
        current_app.logger.exception("unhandled error on %s %s", request.method, loggable_path())
    release_session()
    if unavailable:
        # Whoever is logged in cannot be loaded now: answer as to an anonymous visitor, or the
        # page's language and menu would ask the database again and turn this into a 500.
        from flask import g

        from crm.extensions import login_manager

        g._login_user = login_manager.anonymous_user()
        response = error_response(503, "unavailable", _(HTTP_MESSAGES[503]))
        response.headers["Retry-After"] = "5"
        return response
    return error_response(500, "server_error", _(HTTP_MESSAGES[500]))


def init_app(app) -> None:
    # Registered after Flask-SQLAlchemy's own teardown, so it runs first (teardowns run in
    # reverse) and leaves that one an empty session to remove.
    app.teardown_appcontext(release_session)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(InternalServerError, handle_unexpected)
    if not app.config.get("TESTING"):
        # In tests an unexpected exception must fail loudly, not hide behind a 500 page.
        app.register_error_handler(Exception, handle_unexpected)
