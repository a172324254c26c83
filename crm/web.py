"""Helpers every page blueprint shares: role checks, id routes, form errors, paging."""
from __future__ import annotations

from functools import wraps

from flask import abort, request
from flask_login import current_user, login_required
from werkzeug.routing import BaseConverter, ValidationError

from crm.domain import DomainError, ValidationFailed


class IdConverter(BaseConverter):
    """Positive ids that fit an id column (crm.queries.MAX_ID); anything larger is a 404, not an overflow."""

    regex = r"[1-9][0-9]{0,9}"

    def to_python(self, value: str) -> int:
        from crm.queries import MAX_ID

        if int(value) > MAX_ID:
            raise ValidationError()
        return int(value)

    def to_url(self, value) -> str:
        return str(int(value))


def role_required(role: str):
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if not current_user.has_role(role):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def fresh_login_required(view):
    """Decisions that hand out money ask for the password again when the login is old."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        from flask import current_app, flash, redirect, session, url_for
        from flask_babel import gettext as _

        from crm.types import utc_now

        logged_in_at = session.get("auth_at")
        max_age = current_app.config["CRM_FRESH_LOGIN_SECONDS"]
        if not isinstance(logged_in_at, (int, float)) or utc_now().timestamp() - logged_in_at > max_age:
            flash(_("Confirm your password to continue."), "info")
            back = request.form.get("next") or request.referrer or "/"
            return redirect(url_for("auth.reauthenticate", next=back if back.startswith("/") else "/"))
        return view(*args, **kwargs)

    return wrapper


# Any logged-in staff member: agents are the lowest role.
staff_required = role_required("agent")


def apply_errors(form, error: DomainError) -> None:
    """Show a service's domain error next to the fields it is about."""
    fields = error.fields if isinstance(error, ValidationFailed) else {error.field or "": error}
    for name, err in fields.items():
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + [err.translated()]
        else:
            form.form_errors.append(err.translated())


def act(action, success: str) -> bool:
    """Run one service call as the request's transaction: commit and say so, or roll back
    and show the domain error. For buttons whose result is shown on the next page."""
    from flask import flash

    from crm.extensions import db

    try:
        action()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.translated(), "error")
        return False
    db.session.commit()
    flash(success, "success")
    return True


def redirect_back(default: str):
    """Back to the form's `next` when it is a local path, else to `default`."""
    from flask import redirect

    from crm.security import is_safe_next

    target = request.form.get("next")
    return redirect(target if is_safe_next(target) else default)


def page_arg() -> int:
    page = request.args.get("page", 1, type=int)
    return page if page and 0 < page < 10**6 else 1
