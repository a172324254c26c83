"""The JSON API under /api/v1: bearer tokens, the same services and roles as the pages."""
from __future__ import annotations

from contextlib import contextmanager
from functools import wraps

from flask import abort, g, request

from crm.extensions import api, csrf


def authenticate_request():
    """Every API call needs `Authorization: Bearer <token>`; cookies are never enough,
    which is what makes the API safe to leave without CSRF tokens."""
    from crm.auth.services import user_for_token
    from crm.extensions import db
    from crm.types import utc_now

    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    user = user_for_token(secret.strip(), utc_now()) if scheme.lower() == "bearer" else None
    if user is None:
        abort(401)
    g.api_user = user
    if db.session.dirty:
        db.session.commit()  # the token's last-used mark


@contextmanager
def transaction():
    """The request's one transaction: committed when the service succeeds, rolled back
    when it refuses, so a refused request leaves nothing behind."""
    from crm.domain import DomainError
    from crm.extensions import db

    try:
        yield
    except DomainError:
        db.session.rollback()
        raise
    db.session.commit()


def api_user():
    return g.api_user


def require_role(role: str):
    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not g.api_user.has_role(role):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def api_blueprint(name: str, import_name: str, **options):
    """An API blueprint: token authentication on every call, no CSRF (no cookies)."""
    from flask_smorest import Blueprint

    blueprint = Blueprint(name, import_name, **options)
    blueprint.before_request(authenticate_request)
    return blueprint


def _decimal_as_string(converter, field, ret, **kwargs) -> dict:
    """A Decimal with `as_string` travels as "12.50": document a string, not a number
    (found by schemathesis: every money field broke its documented type)."""
    from marshmallow import fields

    if isinstance(field, fields.Decimal) and field.as_string:
        return {"type": "string", "format": "decimal", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
    return {}


def register_api(app) -> None:
    from crm.api import (
        account,
        compensations,
        customers,
        exports,
        followups,
        impact,
        import_runs,
        imports,
        insights,
        lifecycle,
        moments,
        privacy,
        profitability,
        purchases,
        reports,
        users,
        webhooks,
    )

    api.ma_plugin.converter.add_attribute_function(_decimal_as_string)
    for module in (customers, moments, users, compensations, followups, purchases, insights, lifecycle, impact,
                   imports, exports, privacy, webhooks, account, profitability, reports, import_runs):
        csrf.exempt(module.blp)
        api.register_blueprint(module.blp)
