"""The JSON API under /api/v1: bearer tokens, the same services and roles as the pages."""
from __future__ import annotations

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


def register_api(app) -> None:
    from crm.api import (
        compensations,
        customers,
        exports,
        followups,
        impact,
        imports,
        insights,
        lifecycle,
        moments,
        privacy,
        purchases,
        users,
    )

    for module in (customers, moments, users, compensations, followups, purchases, insights, lifecycle, impact,
                   imports, exports, privacy):
        csrf.exempt(module.blp)
        api.register_blueprint(module.blp)
