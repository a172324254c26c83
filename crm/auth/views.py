"""Log in and out, and each person's own settings: language, password, API tokens."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from crm.auth import services
from crm.auth.forms import LanguageForm, LoginForm, PasswordForm, ReauthForm, TokenForm
from crm.config import SUPPORTED_LOCALES
from crm.domain import DomainError
from crm.extensions import db
from crm.forms import ActionForm
from crm.security import is_safe_next
from crm.types import utc_now
from crm.web import apply_errors

bp = Blueprint("auth", __name__)


def _home_url() -> str:
    return url_for("moments.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = request.values.get("next")
    if current_user.is_authenticated:
        return redirect(next_url if is_safe_next(next_url) else _home_url())
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.email.data, form.password.data,
                                         request.remote_addr or "unknown", utc_now())
        except (services.InvalidCredentials, services.LoginThrottled) as exc:
            db.session.commit()  # the failed attempt must count even though login failed
            form.form_errors.append(exc.translated())
            status = exc.status
        else:
            db.session.commit()
            locale = session.get("locale")
            session.clear()  # no session fixation: a fresh session for the new identity
            if locale and not user.locale:
                session["locale"] = locale  # the language chosen on the login page stays
            login_user(user, remember=form.remember.data)
            session["auth_at"] = utc_now().timestamp()
            return redirect(next_url if is_safe_next(next_url) else _home_url())
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form, next_url=next_url if is_safe_next(next_url) else None), status


@bp.route("/reauthenticate", methods=["GET", "POST"])
@login_required
def reauthenticate():
    """Confirm the password before a sensitive decision; the login counts as fresh again."""
    form = ReauthForm()
    next_url = request.values.get("next")
    status = 200
    if form.validate_on_submit():
        try:
            services.authenticate(current_user.email, form.password.data, request.remote_addr or "unknown",
                                  utc_now())
        except (services.InvalidCredentials, services.LoginThrottled) as exc:
            db.session.commit()
            form.password.errors.append(exc.translated())
            status = exc.status
        else:
            db.session.commit()
            session["auth_at"] = utc_now().timestamp()
            return redirect(next_url if is_safe_next(next_url) else _home_url())
    elif request.method == "POST":
        status = 400
    return render_template("auth/reauthenticate.html", form=form,
                           next_url=next_url if is_safe_next(next_url) else None), status


@bp.route("/logout", methods=["POST"])
def logout():
    if ActionForm().validate_on_submit():
        logout_user()
        session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/language", methods=["POST"])
def set_language():
    """Anyone may switch language; a logged-in user keeps the choice in their profile."""
    form = LanguageForm()
    if not form.validate_on_submit() or form.locale.data not in SUPPORTED_LOCALES:
        flash(_("Choose one of the offered languages."), "error")
    else:
        session["locale"] = form.locale.data
        if current_user.is_authenticated:
            services.update_user(current_user, current_user, {"locale": form.locale.data}, utc_now())
            db.session.commit()
    back = request.form.get("next")
    return redirect(back if is_safe_next(back) else (_home_url() if current_user.is_authenticated
                                                      else url_for("auth.login")))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    password_form = PasswordForm(prefix="pw")
    token_form = TokenForm(prefix="tok")
    new_secret = None
    status = 200
    if password_form.submit_ok():
        if not current_user.check_password(password_form.current.data):
            password_form.current.errors.append(_("That is not your current password."))
            status = 400
        else:
            try:
                services.update_user(current_user, current_user, {"password": password_form.new.data}, utc_now())
                db.session.commit()
                flash(_("Your password has been changed."), "success")
                return redirect(url_for("auth.account"))
            except DomainError as exc:
                db.session.rollback()
                apply_errors(password_form, exc)
                status = exc.status
    elif token_form.submit_ok():
        _token, new_secret = services.issue_token(current_user, current_user, token_form.name.data, utc_now())
        db.session.commit()
    elif request.method == "POST":
        status = 400
    return render_template("auth/account.html", password_form=password_form, token_form=token_form,
                           language_form=LanguageForm(locale=str(current_user.locale or "")),
                           tokens=services.tokens_of(current_user), new_secret=new_secret,
                           action_form=ActionForm()), status


@bp.route("/account/tokens/<id:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id: int):
    if ActionForm().validate_on_submit():
        services.revoke_token(current_user, token_id, utc_now())
        db.session.commit()
        flash(_("The token has been revoked."), "success")
    return redirect(url_for("auth.account"))
